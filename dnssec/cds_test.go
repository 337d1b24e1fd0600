package dnssec

import (
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// cdsOf returns the zone's CDS and CDNSKEY RRsets, each checked: its
// signatures verify and are made by the keys that sign the DNSKEY RRset;
// the tags of the keys that signed the CDS RRset are returned too.
func cdsOf(t *testing.T, z *Zone, now time.Time) (cds []*dns.CDS, cdnskey []*dns.CDNSKEY, signers []uint16) {
	t.Helper()
	for _, typ := range []uint16{dns.TypeCDS, dns.TypeCDNSKEY} {
		rrs, sigs, err := z.CDS(typ)
		if err != nil {
			t.Fatal(err)
		}
		if len(rrs) == 0 {
			if sigs != nil {
				t.Errorf("%s: signatures without records", dns.TypeToString[typ])
			}
			continue
		}
		verify(t, z, sigs, rrs, now)
		var tags []uint16
		for _, s := range sigs.RRSIGs {
			tags = append(tags, s.(*dns.RRSIG).KeyTag)
		}
		slices.Sort(tags)
		var want []uint16
		for _, k := range z.keySigners {
			want = append(want, k.Tag)
		}
		slices.Sort(want)
		if !slices.Equal(tags, want) {
			t.Errorf("%s signed by %v; want the DNSKEY RRset's signers %v", dns.TypeToString[typ], tags, want)
		}
		for _, rr := range rrs {
			if h := rr.Header(); h.Name != z.origin || h.Ttl != z.s.opts.DNSKEYTTL || h.Rrtype != typ {
				t.Errorf("record %v: want owner %s, TTL %d (the DNSKEY RRset's)", rr, z.origin, z.s.opts.DNSKEYTTL)
			}
			switch r := rr.(type) {
			case *dns.CDS:
				cds = append(cds, r)
			case *dns.CDNSKEY:
				cdnskey = append(cdnskey, r)
			}
		}
		if typ == dns.TypeCDS {
			signers = tags
		}
	}
	return cds, cdnskey, signers
}

// TestCDSRollover: the CDS and CDNSKEY RRsets through the key rollover of
// docs/dnssec.md, step by step: they hold the DS (SHA-256) and the DNSKEY
// of the keys whose DS the parent should hold then (`poolnsd dnssec ds`),
// and are signed by a key of the DS set the parent holds at that step.
func TestCDSRollover(t *testing.T) {
	dir := t.TempDir()
	var (
		t1 = t0.Add(24 * time.Hour) // step 1: NEW published
		t3 = t1.Add(2 * time.Hour)  // step 3: NEW signs, OLD retired
		t5 = t3.Add(48 * time.Hour) // step 5: OLD deleted
	)
	old := writeKey(t, dir, zone, dns.ECDSAP256SHA256, Timing{Publish: t0.Add(-48 * time.Hour), Activate: t0.Add(-48 * time.Hour), Inactive: t3, Delete: t5})
	nw := writeKey(t, dir, zone, dns.ECDSAP256SHA256, Timing{Publish: t1, Activate: t3})
	for _, c := range []struct {
		step string
		at   time.Time
		ds   []*Key // the CDS and CDNSKEY RRsets' keys
		// parentDS: the DS set the parent holds during the step (the
		// CDS RRset must be signed by one of them, RFC 7344 §4.1).
		parentDS []*Key
	}{
		{"before: OLD alone", t0, []*Key{old}, []*Key{old}},
		{"1-2: NEW published: OLD's and NEW's DS (the parent adds NEW's)", t1, []*Key{old, nw}, []*Key{old}},
		{"3-4: NEW signs, OLD retired: NEW's DS (the parent removes OLD's)", t3, []*Key{nw}, []*Key{old, nw}},
		{"5: OLD deleted", t5, []*Key{nw}, []*Key{nw}},
	} {
		t.Run(c.step, func(t *testing.T) {
			ks, err := Load(dir, c.at)
			if err != nil {
				t.Fatal(err)
			}
			s := NewSigner(Options{Now: func() time.Time { return c.at }})
			s.SetKeys(ks)
			z := s.Zone(zone)
			if !z.PublishesCDS() || z.cdsMode != CDSKeys {
				t.Fatalf("the zone publishes no CDS by default (mode %s)", z.cdsMode)
			}
			cds, cdnskey, signers := cdsOf(t, z, c.at)
			var gotDS, wantDS, gotKeys, wantKeys []string
			for _, r := range cds {
				ds := r.DS
				ds.Hdr.Rrtype = dns.TypeDS
				gotDS = append(gotDS, ds.String())
			}
			for _, r := range cdnskey {
				k := r.DNSKEY
				k.Hdr.Rrtype = dns.TypeDNSKEY
				gotKeys = append(gotKeys, k.String())
			}
			for _, k := range c.ds {
				ds := k.DS()
				ds.Hdr.Ttl = DefaultDNSKEYTTL
				wantDS = append(wantDS, ds.String())
				key := *k.DNSKEY
				key.Hdr.Ttl = DefaultDNSKEYTTL
				wantKeys = append(wantKeys, key.String())
			}
			for _, l := range [][]string{gotDS, wantDS, gotKeys, wantKeys} {
				slices.Sort(l)
			}
			if !slices.Equal(gotDS, wantDS) {
				t.Errorf("CDS (as DS):\n%v\nwant\n%v", gotDS, wantDS)
			}
			if !slices.Equal(gotKeys, wantKeys) {
				t.Errorf("CDNSKEY (as DNSKEY):\n%v\nwant\n%v", gotKeys, wantKeys)
			}
			for _, r := range cds {
				if r.DigestType != dns.SHA256 {
					t.Errorf("CDS digest type %d, want 2 (SHA-256)", r.DigestType)
				}
			}
			// The same set as `poolnsd dnssec ds` prints.
			var parent []uint16
			for _, k := range ks.Zone(zone).ParentDS() {
				parent = append(parent, k.Tag)
			}
			var cdsTags []uint16
			for _, r := range cds {
				cdsTags = append(cdsTags, r.KeyTag)
			}
			slices.Sort(parent)
			slices.Sort(cdsTags)
			if !slices.Equal(parent, cdsTags) {
				t.Errorf("CDS of keys %v; ParentDS (poolnsd dnssec ds) gives %v", cdsTags, parent)
			}
			if !slices.ContainsFunc(c.parentDS, func(k *Key) bool { return slices.Contains(signers, k.Tag) }) {
				t.Errorf("CDS signed by %v, none of them in the parent's DS set at this step", signers)
			}
		})
	}
}

// TestCDSKSKZSK: with a KSK and a ZSK, the CDS and CDNSKEY RRsets are the
// KSK's alone, and signed by the KSK (the key of the parent's DS), not
// only by the ZSK that signs the zone's other RRsets.
func TestCDSKSKZSK(t *testing.T) {
	ksk := newTestKey(t, zone, dns.ECDSAP256SHA256, FlagsCSK)
	zsk := newTestKey(t, zone, dns.ECDSAP256SHA256, FlagsZSK)
	s, _ := newTestSigner(t, Options{}, ksk, zsk)
	z := s.Zone(zone)
	cds, cdnskey, signers := cdsOf(t, z, t0)
	if len(cds) != 1 || cds[0].KeyTag != ksk.Tag || len(cdnskey) != 1 || cdnskey[0].Flags != FlagsCSK {
		t.Errorf("CDS %v, CDNSKEY %v; want the KSK's (%d) alone", cds, cdnskey, ksk.Tag)
	}
	if !slices.Contains(signers, ksk.Tag) {
		t.Errorf("CDS signed by %v; want the KSK %d among them", signers, ksk.Tag)
	}
	// An ordinary RRset is signed by the ZSK alone: the CDS RRset is
	// signed otherwise on purpose.
	sigs, err := z.Sign(rrs(t, "pool.example. 300 IN TXT x"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs.RRSIGs) != 1 || sigs.RRSIGs[0].(*dns.RRSIG).KeyTag != zsk.Tag {
		t.Errorf("TXT signed by %v; want the ZSK %d alone", sigs.RRSIGs, zsk.Tag)
	}
}

// TestCDSModes: CDSOff publishes nothing (and the apex's denial lists
// neither type); CDSDelete the records of RFC 8078 §4, signed.
func TestCDSModes(t *testing.T) {
	key := newTestKey(t, zone, dns.ED25519, FlagsCSK)
	modes := map[string]CDSMode{"off.example.": CDSOff, "gone.example.": CDSDelete}
	other := newTestKey(t, "off.example.", dns.ED25519, FlagsCSK)
	gone := newTestKey(t, "gone.example.", dns.ED25519, FlagsCSK)
	s, _ := newTestSigner(t, Options{CDS: func(z string) CDSMode { return modes[z] }}, key, other, gone)

	off := s.Zone("off.example.")
	if off.PublishesCDS() || off.cdsMode != CDSOff {
		t.Errorf("off.example.: publishes CDS %v, mode %s; want none, off", off.PublishesCDS(), off.cdsMode)
	}
	if cds, cdnskey, _ := cdsOf(t, off, t0); len(cds)+len(cdnskey) != 0 {
		t.Errorf("off.example.: CDS %v, CDNSKEY %v; want none", cds, cdnskey)
	}
	sigs, err := off.NoData("off.example.", dns.TypeCDS, []uint16{dns.TypeSOA, dns.TypeNS}, 300)
	if err != nil {
		t.Fatal(err)
	}
	if bm := sigs.NSEC.TypeBitMap; slices.Contains(bm, dns.TypeCDS) || slices.Contains(bm, dns.TypeCDNSKEY) || !slices.Contains(bm, dns.TypeDNSKEY) {
		t.Errorf("off.example.: apex bit map %v; want DNSKEY, no CDS or CDNSKEY", typeNames(bm))
	}

	z := s.Zone("gone.example.")
	cds, cdnskey, _ := cdsOf(t, z, t0)
	if len(cds) != 1 || cds[0].String() != "gone.example.\t3600\tIN\tCDS\t0 0 0 00" {
		t.Errorf("gone.example.: CDS %v; want 0 0 0 00", cds)
	}
	if len(cdnskey) != 1 || cdnskey[0].String() != "gone.example.\t3600\tIN\tCDNSKEY\t0 3 0 AA==" {
		t.Errorf("gone.example.: CDNSKEY %v; want 0 3 0 AA==", cdnskey)
	}
	// The default zone: its key's.
	if cds, _, _ := cdsOf(t, s.Zone(zone), t0); len(cds) != 1 || cds[0].KeyTag != key.Tag {
		t.Errorf("%s: CDS %v; want its key's", zone, cds)
	}
}
