package lookup

import (
	"testing"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/hstest"
)

// TestLookup: what the pure lookup finds, in DNS terms, for every kind of
// result; the handler tables check the replies written from them.
func TestLookup(t *testing.T) {
	v := newTestSpace(t).View()
	for _, c := range []struct {
		name    string
		qtype   uint16
		kind    Kind
		chain   int    // CNAME records before the final name
		final   string // Result.Name
		records int    // len(Result.Records)
		negTTL  uint32 // for negative kinds
	}{
		{"example.org.", dns.TypeA, KindRefused, 0, "example.org.", 0, 0},
		{"pool.test.", dns.TypeAXFR, KindRefused, 0, "pool.test.", 0, 0},
		{"Web.pool.test.", dns.TypeA, KindPool, 0, "Web.pool.test.", 0, 0},
		{"_http._tcp.web.pool.test.", dns.TypeURI, KindPool, 0, "_http._tcp.web.pool.test.", 0, 0},
		{"w1.web.pool.test.", dns.TypeA, KindElement, 0, "w1.web.pool.test.", 0, 0},
		{"w1.web.pool.test.", dns.TypeAAAA, KindNoData, 0, "w1.web.pool.test.", 0, 5},
		{"dead.pool.test.", dns.TypeA, KindNoData, 0, "dead.pool.test.", 0, 5},
		{"nope.web.pool.test.", dns.TypeA, KindNXDomain, 0, "nope.web.pool.test.", 0, 5},
		{"_tcp.web.pool.test.", dns.TypeSRV, KindNoData, 0, "_tcp.web.pool.test.", 0, 5},
		{"web.pool.test.", dns.TypeANY, KindStatic, 0, "web.pool.test.", 1, 0},
		{"ns1.pool.test.", dns.TypeA, KindStatic, 0, "ns1.pool.test.", 1, 0},
		{"pool.test.", dns.TypeANY, KindStatic, 0, "pool.test.", 1, 0},
		{"x.wild.pool.test.", dns.TypeTXT, KindWildcard, 0, "x.wild.pool.test.", 1, 0},
		{"x.wild.pool.test.", dns.TypeA, KindNoData, 0, "x.wild.pool.test.", 0, 30},
		{"www.pool.test.", dns.TypeTXT, KindStatic, 1, "txt.pool.test.", 1, 0},
		{"www.pool.test.", dns.TypeCNAME, KindStatic, 0, "www.pool.test.", 1, 0},
		{"alias.pool.test.", dns.TypeA, KindPool, 1, "web.pool.test.", 0, 0},
		{"gone.pool.test.", dns.TypeA, KindNXDomain, 1, "nope.web.pool.test.", 0, 5},
		{"host.sub.pool.test.", dns.TypeA, KindReferral, 0, "host.sub.pool.test.", 1, 0},
		{"sub.pool.test.", dns.TypeA, KindReferral, 0, "sub.pool.test.", 1, 0},
		{"sub.pool.test.", dns.TypeDNSKEY, KindReferral, 0, "sub.pool.test.", 1, 0},
		// DS at the cut: the parent's NODATA (RFC 4035 §3.1.4.1); below it,
		// the child's (a referral).
		{"Sub.pool.test.", dns.TypeDS, KindNoData, 0, "Sub.pool.test.", 0, 30},
		{"host.sub.pool.test.", dns.TypeDS, KindReferral, 0, "host.sub.pool.test.", 1, 0},
		{"pool.test.", dns.TypeDS, KindNoData, 0, "pool.test.", 0, 30},
		{"nothing.pool.test.", dns.TypeA, KindNXDomain, 0, "nothing.pool.test.", 0, 30},
		{"deep.pool.test.", dns.TypeA, KindNoData, 0, "deep.pool.test.", 0, 30},
	} {
		var r Result
		Lookup(v, c.name, Lower(c.name), c.qtype, &r)
		if r.Kind != c.kind || len(r.Chain) != c.chain || r.Name != c.final || len(r.Records) != c.records {
			t.Errorf("%s %s: %s, chain %d, final %s, %d records; want %s, %d, %s, %d", c.name, dns.TypeToString[c.qtype],
				r.Kind, len(r.Chain), r.Name, len(r.Records), c.kind, c.chain, c.final, c.records)
		}
		if (c.kind == KindNXDomain || c.kind == KindNoData) && r.NegTTL != c.negTTL {
			t.Errorf("%s %s: negative TTL %d, want %d", c.name, dns.TypeToString[c.qtype], r.NegTTL, c.negTTL)
		}
		if c.kind == KindPool && (r.Set == nil || r.Set.Len() == 0 || r.Pool == nil) {
			t.Errorf("%s %s: pool result without a set to choose from", c.name, dns.TypeToString[c.qtype])
		}
	}
}

// TestLookupAllocs: the lookups of the query path allocate nothing.
func TestLookupAllocs(t *testing.T) {
	v := newTestSpace(t).View()
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"web.pool.test.", dns.TypeA}, {"w1.web.pool.test.", dns.TypeA}, {"ns1.pool.test.", dns.TypeA},
		{"nothing.pool.test.", dns.TypeA}, {"dead.pool.test.", dns.TypeA}} {
		if n := testing.AllocsPerRun(100, func() { var r Result; Lookup(v, q.name, q.name, q.qtype, &r) }); n != 0 {
			t.Errorf("%s %s: %.0f allocations per lookup, want 0", q.name, dns.TypeToString[q.qtype], n)
		}
	}
}

// TestLookupDSParentSide: with the parent and the child zone served here,
// a DS query at the child's apex is answered from the parent's side of the
// cut (RFC 4035 §3.1.4.1), with the parent's DS RRset; every other query
// there from the child's apex.
func TestLookupDSParentSide(t *testing.T) {
	hs := handlespace.New(handlespace.Options{RegistrarID: 7})
	parent := hstest.Zone + "secure 300 IN NS ns.secure.pool.test.\n" +
		"secure 300 IN DS 4711 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n"
	child := `$ORIGIN secure.pool.test.
@  300 IN SOA ns hostmaster 1 3600 600 86400 60
@  300 IN NS ns
ns 300 IN A 192.0.2.98
`
	other := `$ORIGIN other.test.
@  300 IN SOA ns hostmaster 1 3600 600 86400 60
@  300 IN NS ns
ns 300 IN A 192.0.2.97
`
	if err := hs.ApplyZones([]handlespace.ZoneDef{
		{Origin: "pool.test.", File: "p.zone", Records: hstest.RRs(t, parent)},
		{Origin: "secure.pool.test.", File: "c.zone", Records: hstest.RRs(t, child)},
		{Origin: "other.test.", File: "o.zone", Records: hstest.RRs(t, other)},
	}); err != nil {
		t.Fatal(err)
	}
	checkZoneKinds(t, hs.View(), []zoneKind{
		{"secure.pool.test.", dns.TypeDS, KindStatic, "pool.test."},
		{"SECURE.pool.test.", dns.TypeDS, KindStatic, "pool.test."},
		{"secure.pool.test.", dns.TypeNS, KindStatic, "secure.pool.test."},
		{"secure.pool.test.", dns.TypeDNSKEY, KindNoData, "secure.pool.test."},
		{"ns.secure.pool.test.", dns.TypeDS, KindNoData, "secure.pool.test."},
		{"pool.test.", dns.TypeDS, KindNoData, "pool.test."},   // no parent served
		{"other.test.", dns.TypeDS, KindNoData, "other.test."}, // no parent served
	})
}

// TestLookupEscapedDots: a label may hold a dot, escaped (`a\.b`, one
// label; RFC 4343 §2.1). The parent of a zone, a delegation above a name
// and a wildcard's closest encloser are found label by label, not by
// cutting the name at its first dot: cut there, `a\.sub.pool.test.` (a
// label under pool.test.) was below the delegation sub.pool.test.,
// `x.a\.wild.pool.test.` was matched by *.wild.pool.test., and the DS of
// the zone `a\.b.example.` was asked of the zone b.example. instead of its
// parent example.
func TestLookupEscapedDots(t *testing.T) {
	hs := handlespace.New(handlespace.Options{RegistrarID: 7})
	parent := `$ORIGIN example.
@      300 IN SOA ns hostmaster 1 3600 600 86400 60
@      300 IN NS ns
ns     300 IN A 192.0.2.90
a\.b   300 IN NS ns.a\.b.example.
a\.b   300 IN DS 4711 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.a\.b 300 IN A 192.0.2.91
`
	sibling := `$ORIGIN b.example.
@  300 IN SOA ns hostmaster 1 3600 600 86400 60
@  300 IN NS ns
ns 300 IN A 192.0.2.92
`
	child := `$ORIGIN a\.b.example.
@  300 IN SOA ns hostmaster 1 3600 600 86400 60
@  300 IN NS ns
ns 300 IN A 192.0.2.91
`
	if err := hs.ApplyZones([]handlespace.ZoneDef{
		{Origin: "pool.test.", File: "p.zone", Records: hstest.RRs(t, hstest.Zone)},
		{Origin: "example.", File: "e.zone", Records: hstest.RRs(t, parent)},
		{Origin: "b.example.", File: "b.zone", Records: hstest.RRs(t, sibling)},
		{Origin: `a\.b.example.`, File: "c.zone", Records: hstest.RRs(t, child)},
	}); err != nil {
		t.Fatal(err)
	}
	checkZoneKinds(t, hs.View(), []zoneKind{
		// The DS of the zone a\.b.example. is its parent example.'s.
		{`a\.b.example.`, dns.TypeDS, KindStatic, "example."},
		{`A\.B.example.`, dns.TypeDS, KindStatic, "example."},
		{`a\.b.example.`, dns.TypeNS, KindStatic, `a\.b.example.`},
		{`ns.a\.b.example.`, dns.TypeA, KindStatic, `a\.b.example.`},
		{"b.example.", dns.TypeDS, KindNoData, "b.example."},
		// One label under pool.test., not below the delegation sub.
		{`a\.sub.pool.test.`, dns.TypeA, KindNXDomain, "pool.test."},
		{`x.a\.sub.pool.test.`, dns.TypeA, KindNXDomain, "pool.test."},
		{"x.sub.pool.test.", dns.TypeA, KindReferral, "pool.test."},
		// Its closest encloser is pool.test., which has no wildcard.
		{`x.a\.wild.pool.test.`, dns.TypeTXT, KindNXDomain, "pool.test."},
		{`a\.b.wild.pool.test.`, dns.TypeTXT, KindWildcard, "pool.test."},
	})
}

// TestParentName: one label up, an escaped dot being part of its label.
func TestParentName(t *testing.T) {
	for _, c := range [][2]string{
		{"x.example.", "example."}, {"example.", "."}, {".", "."},
		{`a\.b.example.`, "example."}, {`a\..example.`, "example."},
		{`a\\.b.example.`, "b.example."}, // an escaped backslash, then a dot
		{`a\046b.example.`, "example."}, {`a\\\.b.c.`, "c."},
	} {
		if got := parentName(c[0]); got != c[1] {
			t.Errorf("parentName(%q) = %q, want %q", c[0], got, c[1])
		}
	}
}

// zoneKind is a question and the kind of result and zone it finds.
type zoneKind struct {
	name  string
	qtype uint16
	kind  Kind
	zone  string
}

// checkZoneKinds looks each question up in v: its result's kind and zone,
// and for KindStatic one record, of the type asked.
func checkZoneKinds(t *testing.T, v *handlespace.View, cases []zoneKind) {
	t.Helper()
	for _, c := range cases {
		var r Result
		Lookup(v, c.name, Lower(c.name), c.qtype, &r)
		origin := "no zone"
		if r.Zone != nil {
			origin = r.Zone.Origin
		}
		if r.Kind != c.kind || origin != c.zone {
			t.Errorf("%s %s: %s in %s, want %s in %s", c.name, dns.TypeToString[c.qtype], r.Kind, origin, c.kind, c.zone)
			continue
		}
		if c.kind == KindStatic && (len(r.Records) != 1 || r.Records[0].Header().Rrtype != c.qtype) {
			t.Errorf("%s %s: records %v", c.name, dns.TypeToString[c.qtype], r.Records)
		}
	}
}
