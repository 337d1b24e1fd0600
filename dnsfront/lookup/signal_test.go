package lookup

import (
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/hstest"
)

func TestSignalName(t *testing.T) {
	long := strings.Repeat("a", 63) + "."
	for _, c := range []struct {
		child, ns, want string
	}{
		{"child.example.", "ns1.ops.test.", "_dsboot.child.example._signal.ns1.ops.test."},
		{`a\.b.example.`, "ns1.ops.test.", `_dsboot.a\.b.example._signal.ns1.ops.test.`},
		{".", "ns1.ops.test.", "_dsboot._signal.ns1.ops.test."},
		// 255 bytes at most (RFC 9615 §4.4: no signal for longer names).
		{long + long + long + "example.", long + "test.", ""},
	} {
		got, ok := SignalName(c.child, c.ns)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("SignalName(%s, %s) = %q, %v; want %q", c.child, c.ns, got, ok, c.want)
		}
	}
}

func TestSplitSignal(t *testing.T) {
	for _, c := range []struct {
		name string
		want []string // prefix|ns of each split
	}{
		{"_dsboot.child.example._signal.ns1.ops.test.", []string{"_dsboot.child.example.|ns1.ops.test."}},
		{"_signal.ns1.ops.test.", []string{"|ns1.ops.test."}},
		{"a._signal.b._signal.c.", []string{"a.|b._signal.c.", "a._signal.b.|c."}},
		{"x._signal.", []string{"x.|."}},
		// A label that holds an escaped dot is not _signal.
		{`x\._signal.ns1.ops.test.`, nil},
		{`_signal\.x.ops.test.`, nil},
		{"x_signal.ns1.ops.test.", nil},
		{"_signals.ns1.ops.test.", nil},
		{"ops.test.", nil},
	} {
		var got []string
		for at := 0; ; {
			prefix, ns, next, ok := SplitSignal(c.name, at)
			if !ok {
				break
			}
			if next <= at {
				t.Fatalf("%s: next %d after %d", c.name, next, at)
			}
			got, at = append(got, prefix+"|"+ns), next
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("SplitSignal(%s): %q, want %q", c.name, got, c.want)
		}
	}
}

// TestFindSignal: which names of a zone are signal names or empty
// non-terminals above them: for a signalled child and each of its name
// servers outside it whose signal name's closest zone is the one asked,
// with no cut above it there.
func TestFindSignal(t *testing.T) {
	zone := func(origin, body string) handlespace.ZoneDef {
		return handlespace.ZoneDef{Origin: origin, File: origin + "zone", Records: hstest.RRs(t,
			"$ORIGIN "+origin+"\n@ 300 IN SOA ns1.ops.test. hostmaster 1 3600 600 86400 60\n"+body)}
	}
	hs := handlespace.New(handlespace.Options{RegistrarID: 7})
	if err := hs.ApplyZones([]handlespace.ZoneDef{
		zone("ops.test.", "@ NS ns1\nns1 A 192.0.2.1\ndel NS ns.del\nns.del A 192.0.2.2\n"),
		// A zone of its own for the signals under ns2 (RFC 9615 §5.1).
		zone("_signal.ns2.ops.test.", "@ NS ns1.ops.test.\n"),
		zone("c1.example.", "@ NS ns1.ops.test.\n@ NS ns.c1.example.\n@ NS ns2.ops.test.\n@ NS x.del.ops.test.\nns A 192.0.2.3\n"),
		zone("c2.example.", "@ NS NS1.OPS.TEST.\n"),
		zone("quiet.example.", "@ NS ns1.ops.test.\n"),
	}); err != nil {
		t.Fatal(err)
	}
	v := hs.View()
	signalled := func(origin string) bool { return origin != "quiet.example." }
	for _, c := range []struct {
		zone, name string
		want       SignalKind
		child      string
	}{
		{"ops.test.", "_dsboot.c1.example._signal.ns1.ops.test.", SignalRRsets, "c1.example."},
		{"ops.test.", "_dsboot.c2.example._signal.ns1.ops.test.", SignalRRsets, "c2.example."},
		{"ops.test.", "_signal.ns1.ops.test.", SignalENT, ""},
		{"ops.test.", "example._signal.ns1.ops.test.", SignalENT, ""},
		{"ops.test.", "c1.example._signal.ns1.ops.test.", SignalENT, ""},
		{"ops.test.", "c3.example._signal.ns1.ops.test.", SignalNone, ""},
		{"ops.test.", "_dsboot.c3.example._signal.ns1.ops.test.", SignalNone, ""},
		{"ops.test.", "x._dsboot.c1.example._signal.ns1.ops.test.", SignalNone, ""},
		// Signals off for the child.
		{"ops.test.", "_dsboot.quiet.example._signal.ns1.ops.test.", SignalNone, ""},
		{"ops.test.", "quiet.example._signal.ns1.ops.test.", SignalNone, ""},
		// ns1 is not a name server of c1's in-child name server's zone.
		{"c1.example.", "_dsboot.c1.example._signal.ns.c1.example.", SignalNone, ""},
		// Under ns2, the signals are the zone _signal.ns2.ops.test.'s.
		{"_signal.ns2.ops.test.", "_dsboot.c1.example._signal.ns2.ops.test.", SignalRRsets, "c1.example."},
		{"_signal.ns2.ops.test.", "example._signal.ns2.ops.test.", SignalENT, ""},
		{"ops.test.", "_dsboot.c1.example._signal.ns2.ops.test.", SignalNone, ""},
		// Below the delegation del.ops.test.: the child zone's, not ours.
		{"ops.test.", "_dsboot.c1.example._signal.x.del.ops.test.", SignalNone, ""},
		{"ops.test.", "_signal.x.del.ops.test.", SignalNone, ""},
		{"ops.test.", "ns1.ops.test.", SignalNone, ""},
	} {
		kind, child := FindSignal(v, v.Zone(c.zone), c.name, signalled)
		got := ""
		if child != nil {
			got = child.Origin
		}
		if kind != c.want || got != c.child {
			t.Errorf("FindSignal(%s, %s) = %d, %q; want %d, %q", c.zone, c.name, kind, got, c.want, c.child)
		}
	}
}

// fakeSignaller signs the zones of signed, signals every signed zone,
// and gives one CDS record as a signal's.
type fakeSignaller map[string]bool

func (s fakeSignaller) Signed(origin string) bool    { return s[origin] }
func (s fakeSignaller) Signalled(origin string) bool { return s[origin] }
func (s fakeSignaller) SignalRecords(origin string, typ uint16, owner string) []dns.RR {
	return []dns.RR{&dns.CDS{DS: dns.DS{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeCDS, Class: dns.ClassINET, Ttl: 60},
		KeyTag: 1, Algorithm: 13, DigestType: 2, Digest: strings.Repeat("ab", 32)}}}
}

// TestSignalPlaces: a zone's signals, one per name server, each
// published or why not; and what SignalPlaces says is what a query of
// the signal's name finds (Lookup, then Signal as the handler calls it).
func TestSignalPlaces(t *testing.T) {
	zone := func(origin, body string) handlespace.ZoneDef {
		return handlespace.ZoneDef{Origin: origin, File: origin + "zone", Records: hstest.RRs(t,
			"$ORIGIN "+origin+"\n@ 300 IN SOA ns1.ops.test. hostmaster 1 3600 600 86400 60\n"+body)}
	}
	long := strings.Repeat("a", 63)
	longChild := long + "." + long + "." + long + ".example."
	hs := handlespace.New(handlespace.Options{RegistrarID: 7})
	if err := hs.ApplyZones([]handlespace.ZoneDef{
		zone("ops.test.", "@ NS ns1\nns1 A 192.0.2.1\ndel NS ns.del\nns.del A 192.0.2.2\n"+
			"_dsboot.c3.example._signal.ns1 TXT \"by hand\"\n"),
		zone("_signal.ns2.ops.test.", "@ NS ns1.ops.test.\n"),
		zone("un.test.", "@ NS ns1.ops.test.\n"),
		zone("c1.example.", "@ NS ns1.ops.test.\n@ NS ns.c1.example.\n@ NS ns2.ops.test.\n@ NS x.del.ops.test.\n"+
			"@ NS ns.un.test.\n@ NS ns.elsewhere.net.\n@ NS NS1.OPS.TEST.\nns A 192.0.2.3\n"),
		zone("c3.example.", "@ NS ns1.ops.test.\n"),
		zone(longChild, "@ NS "+long+".ops.test.\n"),
		// The parent of c1 and c4, served here: it holds c4's DS, not c1's.
		zone("example.", "@ NS ns1.ops.test.\nc1 NS ns1.ops.test.\nc4 NS ns1.ops.test.\n"+
			"c4 DS 12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE75E5FC4B6BE1B8D93E21ACD8\n"),
		zone("c4.example.", "@ NS ns1.ops.test.\n@ NS ns2.ops.test.\n"),
	}); err != nil {
		t.Fatal(err)
	}
	v := hs.View()
	s := fakeSignaller{"ops.test.": true, "_signal.ns2.ops.test.": true, "c1.example.": true, "c3.example.": true, "c4.example.": true,
		longChild: true}
	type place struct {
		ns, zone string
		why      SignalWhy
	}
	for child, want := range map[string][]place{
		"c1.example.": {
			{"ns1.ops.test.", "ops.test.", SignalPublished},
			{"ns.c1.example.", "", SignalInside},
			{"ns2.ops.test.", "_signal.ns2.ops.test.", SignalPublished},
			{"x.del.ops.test.", "ops.test.", SignalBelowCut},
			{"ns.un.test.", "un.test.", SignalUnsigned},
			{"ns.elsewhere.net.", "", SignalNotServed},
		},
		"c3.example.": {{"ns1.ops.test.", "ops.test.", SignalZoneFile}},
		"c4.example.": {{"ns1.ops.test.", "ops.test.", SignalParentDS}, {"ns2.ops.test.", "_signal.ns2.ops.test.", SignalParentDS}},
		longChild:     {{long + ".ops.test.", "", SignalTooLong}},
	} {
		c := v.Zone(child)
		got := SignalPlaces(v, c, s.Signed)
		var gotP []place
		for _, p := range got {
			z := ""
			if p.Zone != nil {
				z = p.Zone.Origin
			}
			gotP = append(gotP, place{p.NS, z, p.Why})
			if wantName, ok := SignalName(child, p.NS); p.Why != SignalInside && p.Why != SignalTooLong && (!ok || p.Name != wantName) {
				t.Errorf("%s under %s: name %q, want %q", child, p.NS, p.Name, wantName)
			}
			if p.Name == "" {
				continue
			}
			// What a CDS query of the name finds.
			var r Result
			Lookup(v, p.Name, p.Name, dns.TypeCDS, &r)
			if MayBeSignal(r.Kind) {
				Signal(v, p.Name, &r, s)
			}
			served := r.Signal == SignalRRsets && r.Kind == KindStatic && len(r.Records) == 1
			if served != (p.Why == SignalPublished) {
				t.Errorf("%s under %s: SignalPlaces says %v; a query finds kind %d, signal %d, %d records", child, p.NS, p.Why, r.Kind, r.Signal, len(r.Records))
			}
		}
		if fmt.Sprint(gotP) != fmt.Sprint(want) {
			t.Errorf("SignalPlaces(%s):\n got %v\nwant %v", child, gotP, want)
		}
	}
	if p := ParentDS(v, v.Zone("c4.example.")); p == nil || p.Origin != "example." {
		t.Errorf("ParentDS(c4.example.) = %v, want example.", p)
	}
	for _, c := range []string{"c1.example.", "c3.example.", "ops.test."} {
		if p := ParentDS(v, v.Zone(c)); p != nil {
			t.Errorf("ParentDS(%s) = %s, want none", c, p.Origin)
		}
	}
	// A zone without signals lists its places all the same: whether it
	// is signalled is the caller's.
	if got := SignalPlaces(v, v.Zone("un.test."), s.Signed); len(got) != 1 || got[0].Why != SignalPublished {
		t.Errorf("SignalPlaces(un.test.) = %v", got)
	}
}
