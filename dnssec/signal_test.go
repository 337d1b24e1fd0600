package dnssec

import (
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// TestSignals: a zone is signalled (RFC 9615) when it publishes the CDS
// and CDNSKEY records of its keys and Options.Signals does not turn it
// off; not with CDSOff (none of the signer's) nor CDSDelete (a zone
// leaving DNSSEC bootstraps nothing). Its signal records are its apex
// RRsets under the signal's name.
func TestSignals(t *testing.T) {
	keys := map[string]*Key{}
	var all []*Key
	for _, z := range []string{"on.example.", "off.example.", "gone.example.", "quiet.example."} {
		keys[z] = newTestKey(t, z, dns.ED25519, FlagsCSK)
		all = append(all, keys[z])
	}
	modes := map[string]CDSMode{"off.example.": CDSOff, "gone.example.": CDSDelete}
	s, _ := newTestSigner(t, Options{
		CDS:     func(z string) CDSMode { return modes[z] },
		Signals: func(z string) bool { return z != "quiet.example." },
	}, all...)
	const owner = "_dsboot.on.example._signal.NS1.ops.example."
	for z, want := range map[string]bool{"on.example.": true, "off.example.": false, "gone.example.": false, "quiet.example.": false} {
		zz := s.Zone(z)
		if zz.Signals() != want {
			t.Errorf("%s: Signals() %v, want %v", z, zz.Signals(), want)
		}
		for _, typ := range []uint16{dns.TypeCDS, dns.TypeCDNSKEY} {
			got := zz.SignalRecords(typ, owner)
			if !want {
				if got != nil {
					t.Errorf("%s: signal %s %v, want none", z, dns.Type(typ), got)
				}
				continue
			}
			apex, _, err := zz.CDS(typ)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(apex) || len(got) == 0 {
				t.Fatalf("%s: signal %s %v, want the apex's %v", z, dns.Type(typ), got, apex)
			}
			for i := range got {
				g, a := dns.Copy(got[i]), dns.Copy(apex[i])
				if g.Header().Name != owner {
					t.Errorf("%s: signal owner %s, want %s", z, g.Header().Name, owner)
				}
				g.Header().Name = a.Header().Name
				if !dns.IsDuplicate(g, a) || g.Header().Ttl != a.Header().Ttl {
					t.Errorf("%s: signal record %v, want the apex's %v", z, got[i], apex[i])
				}
			}
			if apex[0].Header().Name != z {
				t.Errorf("%s: the apex's records were changed: owner %s", z, apex[0].Header().Name)
			}
		}
	}
}

// TestSignalSigners: a CDS or CDNSKEY RRset below the apex (a signal
// that the zone holds for another) is signed as the zone's other data,
// by the ZSK of a KSK/ZSK pair; at the apex by the keys that sign the
// DNSKEY RRset (RFC 7344 §4.1).
func TestSignalSigners(t *testing.T) {
	ksk := newTestKey(t, zone, dns.ECDSAP256SHA256, FlagsCSK)
	zsk := newTestKey(t, zone, dns.ECDSAP256SHA256, FlagsZSK)
	s, _ := newTestSigner(t, Options{}, ksk, zsk)
	z := s.Zone(zone)
	tags := func(owner string) []uint16 {
		t.Helper()
		set := rrs(t, owner+" 3600 IN CDS 4711 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF")
		sigs, err := z.Sign(set)
		if err != nil {
			t.Fatal(err)
		}
		verify(t, z, sigs, set, t0)
		var out []uint16
		for _, r := range sigs.RRSIGs {
			out = append(out, r.(*dns.RRSIG).KeyTag)
		}
		slices.Sort(out)
		return out
	}
	if got := tags("_dsboot.child.example._signal.ns1." + zone); !slices.Equal(got, []uint16{zsk.Tag}) {
		t.Errorf("a signal's CDS signed by %v, want the ZSK %d alone", got, zsk.Tag)
	}
	want := []uint16{ksk.Tag, zsk.Tag}
	slices.Sort(want)
	if got := tags(zone); !slices.Equal(got, want) {
		t.Errorf("the apex's CDS signed by %v, want %v", got, want)
	}
}
