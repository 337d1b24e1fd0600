package msgsign

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/lookup"
	"github.com/poolnsd/poolnsd/dnssec"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/hstest"
)

// The tests of what Sign and Denial promise, on their own: replies built
// from real lookup results as dnsfront's dns.Msg renderer builds them
// (msg), signed with a real key, and every RRSIG checked by miekg/dns's
// RRSIG.Verify against the zone's DNSKEY; a second key of the same zone
// that the signer does not have verifies none of them.

// t0 is the signer's clock.
var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

const zoneExtra = `del    300  IN NS  ns.del.pool.test.
ns.del 300  IN A   192.0.2.98
del    300  IN DS  12345 13 2 ` + "49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE75E5FC4B6BE1B8D93E21ACD8" + `
mx.del 300  IN A   192.0.2.97
mx2    300  IN MX  10 mx.del.pool.test.
mx2    300  IN MX  20 mx1.pool.test.
multi  300  IN TXT "one"
multi  600  IN TXT "two"
`

type fixture struct {
	v     *handlespace.View
	z     *dnssec.Zone
	key   *dns.DNSKEY // the zone's
	other *dns.DNSKEY // another key of the zone's name, not the signer's
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	tm := dnssec.Timing{Created: t0.Add(-time.Hour), Publish: t0.Add(-time.Hour), Activate: t0.Add(-time.Hour)}
	k, err := dnssec.Generate("pool.test.", dns.ECDSAP256SHA256, dnssec.FlagsCSK, tm)
	if err != nil {
		t.Fatal(err)
	}
	if err := dnssec.AddKey(dir, k, t0); err != nil {
		t.Fatal(err)
	}
	other, err := dnssec.Generate("pool.test.", dns.ECDSAP256SHA256, dnssec.FlagsCSK, tm)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := dnssec.Load(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	s := dnssec.NewSigner(dnssec.Options{Now: func() time.Time { return t0 }})
	s.SetKeys(ks)
	hs := handlespace.New(handlespace.Options{RegistrarID: 7})
	web := handlespace.DefaultPoolSpec()
	if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "pool.test.", File: "test.zone",
		Records: hstest.RRs(t, hstest.Zone+zoneExtra),
		Pools: []handlespace.PoolDef{{Handle: "web", Spec: web, Elements: []*handlespace.Element{
			hstest.Elem("w1", "10.0.0.1", 8080, 1)}}},
	}}); err != nil {
		t.Fatal(err)
	}
	return &fixture{v: hs.View(), z: s.Zone("pool.test."), key: k.DNSKEY, other: other.DNSKEY}
}

// msg looks name up and builds the reply as the dns.Msg renderer does
// (the kinds that it builds for a signed zone).
func (f *fixture) msg(t *testing.T, name string, qtype uint16) (*lookup.Result, *dns.Msg) {
	t.Helper()
	r := new(lookup.Result)
	lookup.Lookup(f.v, name, name, qtype, r)
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Rcode = r.Kind.Rcode()
	m.Answer = append(m.Answer, r.Chain...)
	switch r.Kind {
	case lookup.KindStatic:
		m.Answer = append(m.Answer, r.Records...)
		m.Extra = append(m.Extra, r.Glue...)
	case lookup.KindReferral:
		m.Ns = append(m.Ns, r.Records...)
		m.Extra = append(m.Extra, r.Glue...)
	case lookup.KindNXDomain, lookup.KindNoData:
		m.Ns = append(m.Ns, r.SOA())
	default:
		t.Fatalf("%s %s: kind %d, not a dns.Msg renderer's", name, dns.TypeToString[qtype], r.Kind)
	}
	return r, m
}

// rrsets splits a section into its RRsets (by owner and type, RRSIGs by
// the type they cover) and their RRSIGs.
func rrsets(section []dns.RR) (sets map[string][]dns.RR, sigs map[string][]*dns.RRSIG, order []string) {
	sets, sigs = map[string][]dns.RR{}, map[string][]*dns.RRSIG{}
	for _, rr := range section {
		h := rr.Header()
		if sig, ok := rr.(*dns.RRSIG); ok {
			k := strings.ToLower(h.Name) + "/" + dns.TypeToString[sig.TypeCovered]
			sigs[k] = append(sigs[k], sig)
			continue
		}
		k := strings.ToLower(h.Name) + "/" + dns.TypeToString[h.Rrtype]
		if sets[k] == nil {
			order = append(order, k)
		}
		sets[k] = append(sets[k], rr)
	}
	return sets, sigs, order
}

// verify checks that the RRsets of a section named in signed each have
// one RRSIG, valid at t0, that the zone's key verifies and the other key
// does not, that the others have none, and returns the section's RRsets
// in order.
func (f *fixture) verify(t *testing.T, what string, section []dns.RR, signed ...string) []string {
	t.Helper()
	sets, sigs, order := rrsets(section)
	for _, k := range order {
		want := slices.Contains(signed, k)
		if !want {
			if len(sigs[k]) != 0 {
				t.Errorf("%s: %s signed; want it unsigned", what, k)
			}
			continue
		}
		if len(sigs[k]) != 1 {
			t.Errorf("%s: %s has %d RRSIGs, want 1", what, k, len(sigs[k]))
			continue
		}
		sig := sigs[k][0]
		if err := sig.Verify(f.key, sets[k]); err != nil {
			t.Errorf("%s: %s: RRSIG does not verify with the zone's key: %v", what, k, err)
		}
		if !sig.ValidityPeriod(t0) {
			t.Errorf("%s: %s: RRSIG not valid at %v: %d..%d", what, k, t0, sig.Inception, sig.Expiration)
		}
		if err := sig.Verify(f.other, sets[k]); err == nil {
			t.Errorf("%s: %s: RRSIG verifies with another key", what, k)
		}
	}
	for k := range sigs {
		if sets[k] == nil {
			t.Errorf("%s: an RRSIG of %s, which the section lacks", what, k)
		}
	}
	return order
}

// TestSignAnswers: the answer section's RRsets are each followed by
// their verified RRSIG; additional data of the zone is signed; a
// zone file's RRset of two TTLs is signed at the first (RFC 2181 §5.2)
// without changing the view's records.
func TestSignAnswers(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name   string
		qtype  uint16
		answer []string
		extra  []string
	}{
		{"txt.pool.test.", dns.TypeTXT, []string{"txt.pool.test./TXT"}, nil},
		{"www.pool.test.", dns.TypeTXT, []string{"www.pool.test./CNAME", "txt.pool.test./TXT"}, nil},
		{"mail.pool.test.", dns.TypeMX, []string{"mail.pool.test./MX"}, []string{"mx1.pool.test./A"}},
		// Glue below a delegation is the child's: unsigned.
		{"mx2.pool.test.", dns.TypeMX, []string{"mx2.pool.test./MX"}, []string{"mx.del.pool.test./A", "mx1.pool.test./A"}},
		{"multi.pool.test.", dns.TypeTXT, []string{"multi.pool.test./TXT"}, nil},
	} {
		r, m := f.msg(t, c.name, c.qtype)
		before := fmt.Sprint(r.Records, r.Chain, r.Glue)
		if err := Sign(f.z, r, m, c.qtype); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		what := c.name + " " + dns.TypeToString[c.qtype]
		if got := f.verify(t, what+" answer", m.Answer, c.answer...); !slices.Equal(got, c.answer) {
			t.Errorf("%s: answer RRsets %q, want %q", what, got, c.answer)
		}
		ours := slices.DeleteFunc(slices.Clone(c.extra), func(k string) bool { return strings.Contains(k, ".del.") })
		if got := f.verify(t, what+" additional", m.Extra, ours...); !slices.Equal(got, c.extra) {
			t.Errorf("%s: additional RRsets %q, want %q", what, got, c.extra)
		}
		// Each RRset's RRSIG right after it.
		for i, rr := range m.Answer {
			if sig, ok := rr.(*dns.RRSIG); ok && (i == 0 || m.Answer[i-1].Header().Rrtype != sig.TypeCovered) {
				t.Errorf("%s: RRSIG %d not after its RRset", what, i)
			}
		}
		if m.Rcode != dns.RcodeSuccess || len(m.Ns) != 0 {
			t.Errorf("%s: rcode %d, authority %v", what, m.Rcode, m.Ns)
		}
		if after := fmt.Sprint(r.Records, r.Chain, r.Glue); after != before {
			t.Errorf("%s: signing changed the view's records:\n%s\n%s", what, before, after)
		}
	}
	_, m := f.msg(t, "multi.pool.test.", dns.TypeTXT)
	r, _ := f.msg(t, "multi.pool.test.", dns.TypeTXT)
	if err := Sign(f.z, r, m, dns.TypeTXT); err != nil {
		t.Fatal(err)
	}
	for _, rr := range m.Answer {
		if rr.Header().Ttl != 300 {
			t.Errorf("multi: %v; want TTL 300, the first record's", rr)
		}
		if sig, ok := rr.(*dns.RRSIG); ok && sig.OrigTtl != 300 {
			t.Errorf("multi: RRSIG original TTL %d, want 300", sig.OrigTtl)
		}
	}
	if ttl := f.v.Zone("pool.test.").Nodes["multi.pool.test."].RRs[dns.TypeTXT][1].Header().Ttl; ttl != 600 {
		t.Errorf("multi: the zone's second record has TTL %d now, want 600 as written", ttl)
	}
}

// TestSignDenials: a negative answer becomes a compact denial (RFC 9824):
// NOERROR, the SOA and the name's NSEC record, each with a verified
// RRSIG; the NSEC's next name is \000.<name> and its types those the
// name has (or, at a pool's name, can answer) less the one asked, or
// RRSIG NSEC NXNAME for a name that does not exist.
func TestSignDenials(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name  string
		qtype uint16
		kind  lookup.Kind
		types []uint16
	}{
		{"nope.pool.test.", dns.TypeA, lookup.KindNXDomain, []uint16{dns.TypeRRSIG, dns.TypeNSEC, 128}},
		{"txt.pool.test.", dns.TypeA, lookup.KindNoData, []uint16{dns.TypeTXT, dns.TypeRRSIG, dns.TypeNSEC}},
		{"ns1.pool.test.", dns.TypeMX, lookup.KindNoData, []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeRRSIG, dns.TypeNSEC}},
		{"ns1.pool.test.", dns.TypeAAAA, lookup.KindStatic, nil},
		{"b.deep.pool.test.", dns.TypeTXT, lookup.KindNoData, []uint16{dns.TypeRRSIG, dns.TypeNSEC}}, // an empty non-terminal
		{"web.pool.test.", dns.TypeTXT, lookup.KindNoData, []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV, dns.TypeRRSIG, dns.TypeNSEC}},
	} {
		what := c.name + " " + dns.TypeToString[c.qtype]
		r := new(lookup.Result)
		lookup.Lookup(f.v, c.name, c.name, c.qtype, r)
		if r.Kind != c.kind {
			t.Errorf("%s: kind %d, want %d", what, r.Kind, c.kind)
			continue
		}
		if c.types == nil {
			continue
		}
		r, m := f.msg(t, c.name, c.qtype)
		if err := Sign(f.z, r, m, c.qtype); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 0 {
			t.Errorf("%s: rcode %s, answer %v; want NOERROR, none", what, dns.RcodeToString[m.Rcode], m.Answer)
		}
		f.verify(t, what, m.Ns, "pool.test./SOA", c.name+"/NSEC")
		var nsec *dns.NSEC
		for _, rr := range m.Ns {
			if n, ok := rr.(*dns.NSEC); ok {
				nsec = n
			}
		}
		if nsec == nil {
			t.Errorf("%s: no NSEC in %v", what, m.Ns)
			continue
		}
		if nsec.NextDomain != `\000.`+c.name || !slices.Equal(nsec.TypeBitMap, c.types) {
			t.Errorf("%s: NSEC %v; want next \\000.%s, types %v", what, nsec, c.name, c.types)
		}
		// Denial gives the same record.
		sigs, err := Denial(f.z, r, c.qtype)
		if err != nil || sigs.NSEC.String() != nsec.String() {
			t.Errorf("%s: Denial %v, %v; Sign's %v", what, sigs.NSEC, err, nsec)
		}
	}
	// At a signal name, the signal's types; above one, none.
	for kind, types := range map[lookup.SignalKind][]uint16{
		lookup.SignalRRsets: {dns.TypeRRSIG, dns.TypeNSEC, dns.TypeCDS, dns.TypeCDNSKEY},
		lookup.SignalENT:    {dns.TypeRRSIG, dns.TypeNSEC},
	} {
		name := "_dsboot.child.example._signal.ns1.pool.test."
		r := &lookup.Result{Kind: lookup.KindNoData, Zone: f.v.Zone("pool.test."), Name: name, Qtype: dns.TypeA, Signal: kind, NegTTL: 30}
		sigs, err := Denial(f.z, r, dns.TypeA)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sigs.NSEC.TypeBitMap, types) {
			t.Errorf("signal kind %d: NSEC types %v, want %v", kind, sigs.NSEC.TypeBitMap, types)
		}
		f.verify(t, "signal denial", sigs.AppendTo([]dns.RR{sigs.NSEC}), name+"/NSEC")
	}
}

// TestSignReferrals: a referral's NS RRset and glue stay unsigned; the
// delegation's DS RRset is added with its verified RRSIG, or the NSEC
// record of the cut (NS RRSIG NSEC) that proves it has none; a DS query
// at the cut denies the same way.
func TestSignReferrals(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name, cut string
		ds        bool
	}{
		{"www.del.pool.test.", "del.pool.test.", true},
		{"x.sub.pool.test.", "sub.pool.test.", false},
	} {
		r, m := f.msg(t, c.name, dns.TypeA)
		if r.Kind != lookup.KindReferral {
			t.Fatalf("%s: kind %d, want a referral", c.name, r.Kind)
		}
		glue := len(m.Extra)
		if err := Sign(f.z, r, m, dns.TypeA); err != nil {
			t.Fatal(err)
		}
		proof := c.cut + "/NSEC"
		if c.ds {
			proof = c.cut + "/DS"
		}
		if got, want := f.verify(t, c.name+" authority", m.Ns, proof), []string{c.cut + "/NS", proof}; !slices.Equal(got, want) {
			t.Errorf("%s: authority %q, want %q", c.name, got, want)
		}
		f.verify(t, c.name+" glue", m.Extra)
		if len(m.Extra) != glue || glue == 0 {
			t.Errorf("%s: %d additional records, %d before signing", c.name, len(m.Extra), glue)
		}
		if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 0 {
			t.Errorf("%s: rcode %d, answer %v", c.name, m.Rcode, m.Answer)
		}
		for _, rr := range m.Ns {
			if n, ok := rr.(*dns.NSEC); ok && (n.NextDomain != strings.Replace(c.cut, ".", `\000.`, 1) ||
				!slices.Equal(n.TypeBitMap, []uint16{dns.TypeNS, dns.TypeRRSIG, dns.TypeNSEC})) {
				t.Errorf("%s: NSEC %v; want the cut's, types NS RRSIG NSEC", c.name, n)
			}
		}
		if c.ds {
			continue
		}
		// DS at the cut without one: the same NSEC.
		r = &lookup.Result{Kind: lookup.KindNoData, Zone: f.v.Zone("pool.test."), Name: c.cut, Qtype: dns.TypeDS, NegTTL: 30}
		sigs, err := Denial(f.z, r, dns.TypeDS)
		if err != nil || !slices.Equal(sigs.NSEC.TypeBitMap, []uint16{dns.TypeNS, dns.TypeRRSIG, dns.TypeNSEC}) {
			t.Errorf("DS at %s: %v, %v", c.cut, sigs.NSEC, err)
		}
	}
}
