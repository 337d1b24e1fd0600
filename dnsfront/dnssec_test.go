package dnsfront

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnssec"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/nettest"
)

// The signed answers (answer_dnssec.go), in DNS terms: pool.test. signed by
// one key, every RRset of every kind of answer checked against it.

// secureZone adds a delegation with a DS RRset to testZone.
const secureZone = testZone + `secure 300 IN NS ns.sub.pool.test.
secure 300 IN DS 4711 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
`

// newSignedSpace is newTestSpace with secureZone, the pools web, dead and
// big (n elements).
func newSignedSpace(t testing.TB, n int) *handlespace.Handlespace {
	t.Helper()
	ts := newTestSpace(t, bigPool(n, 5))
	v := ts.View().Zone("pool.test.")
	var pools []handlespace.PoolDef
	for _, h := range []string{"web", "dead", "big"} {
		pv := v.Pool(h)
		var elems []*handlespace.Element
		for _, e := range pv.Elements() {
			c := *e
			elems = append(elems, &c)
		}
		pools = append(pools, handlespace.PoolDef{Handle: h, Spec: pv.Spec, Elements: elems})
	}
	hs := handlespace.New(handlespace.Options{RegistrarID: 7})
	if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "pool.test.", File: "test.zone", Records: mustRRs(t, secureZone), Pools: pools}}); err != nil {
		t.Fatal(err)
	}
	pv := hs.View().Zone("pool.test.").Pool("dead")
	if err := hs.Update("dead.pool.test.", pv.Elements()[0].ID, func(x *handlespace.Element) { x.Health = handlespace.HealthDown }); err != nil {
		t.Fatal(err)
	}
	return hs
}

// newTestSigner returns a signer of pool.test. with one new key (a
// combined signing key of alg) and the key's DNSKEY.
func newTestSigner(t testing.TB, alg uint8) (*dnssec.Signer, *dns.DNSKEY) {
	t.Helper()
	return newTestSignerOpts(t, alg, dnssec.Options{})
}

// newTestSignerOpts is newTestSigner with the signer's options.
func newTestSignerOpts(t testing.TB, alg uint8, opts dnssec.Options) (*dnssec.Signer, *dns.DNSKEY) {
	t.Helper()
	k, err := dnssec.Generate("pool.test.", alg, dnssec.FlagsCSK, dnssec.Timing{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := k.Write(dir); err != nil {
		t.Fatal(err)
	}
	ks, err := dnssec.Load(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := dnssec.NewSigner(opts)
	s.SetKeys(ks)
	key := dns.Copy(k.DNSKEY).(*dns.DNSKEY)
	return s, key
}

// queryDO sends one question with EDNS (size) and the DO bit as given.
func queryDO(t testing.TB, h *Handler, name string, qtype uint16, tcp bool, size int, do bool) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(uint16(size), do)
	w := newRecorder(tcp)
	h.ServeDNS(w, m)
	if w.err != nil || w.n != 1 || w.msg == nil {
		t.Fatalf("%s %s: %d replies, err %v", name, dns.TypeToString[qtype], w.n, w.err)
	}
	if !tcp && len(w.raw) > size {
		t.Fatalf("%s %s: UDP reply of %d bytes, over %d", name, dns.TypeToString[qtype], len(w.raw), size)
	}
	return w.msg
}

type rrsetKey struct {
	name string
	typ  uint16
}

// rrsets groups a section's records (but RRSIG and OPT) into RRsets, in
// order of first appearance, and its RRSIGs by what they cover.
func rrsets(sec []dns.RR) (keys []rrsetKey, sets map[rrsetKey][]dns.RR, sigs map[rrsetKey][]*dns.RRSIG) {
	sets, sigs = map[rrsetKey][]dns.RR{}, map[rrsetKey][]*dns.RRSIG{}
	for _, rr := range sec {
		h := rr.Header()
		switch s := rr.(type) {
		case *dns.OPT:
		case *dns.RRSIG:
			k := rrsetKey{strings.ToLower(h.Name), s.TypeCovered}
			sigs[k] = append(sigs[k], s)
		default:
			k := rrsetKey{strings.ToLower(h.Name), h.Rrtype}
			if _, ok := sets[k]; !ok {
				keys = append(keys, k)
			}
			sets[k] = append(sets[k], rr)
		}
	}
	return keys, sets, sigs
}

// checkSigs checks a reply's signatures with key: every RRSIG verifies
// and is valid now, and every RRset of the answer and authority sections
// has one, but the NS RRset of a referral (the child's); in the additional
// section, the RRsets of want are signed and the others are not. It
// returns the RRSIGs of the answer section.
func checkSigs(t *testing.T, m *dns.Msg, key *dns.DNSKEY, signedExtra func(rrsetKey) bool) []*dns.RRSIG {
	t.Helper()
	q := m.Question[0]
	where := q.Name + " " + dns.TypeToString[q.Qtype]
	var answerSigs []*dns.RRSIG
	for i, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		keys, sets, sigs := rrsets(sec)
		for k, ss := range sigs {
			if sets[k] == nil {
				t.Errorf("%s: section %d: RRSIG of %s %s without its RRset", where, i, k.name, dns.TypeToString[k.typ])
			}
			if i == 0 {
				answerSigs = append(answerSigs, ss...)
			}
		}
		for _, k := range keys {
			want := true
			switch {
			case i == 1 && k.typ == dns.TypeNS && !m.Authoritative:
				want = false
			case i == 2:
				want = signedExtra != nil && signedExtra(k)
			}
			ss := sigs[k]
			if !want {
				if len(ss) > 0 {
					t.Errorf("%s: %s %s signed, want unsigned", where, k.name, dns.TypeToString[k.typ])
				}
				continue
			}
			if len(ss) != 1 {
				t.Errorf("%s: %s %s has %d RRSIGs, want 1", where, k.name, dns.TypeToString[k.typ], len(ss))
				continue
			}
			if err := ss[0].Verify(key, sets[k]); err != nil {
				t.Errorf("%s: %s %s: signature does not verify: %v", where, k.name, dns.TypeToString[k.typ], err)
			}
			if ttl := sets[k][0].Header().Ttl; ss[0].OrigTtl != ttl || ss[0].Hdr.Ttl != ttl {
				t.Errorf("%s: %s %s: RRSIG TTL %d, original TTL %d; want the RRset's, %d", where, k.name, dns.TypeToString[k.typ], ss[0].Hdr.Ttl, ss[0].OrigTtl, ttl)
			}
			if !ss[0].ValidityPeriod(time.Now()) {
				t.Errorf("%s: %s %s: signature not valid now", where, k.name, dns.TypeToString[k.typ])
			}
		}
	}
	return answerSigs
}

// nsecOf returns a section's NSEC record, nil if none.
func nsecOf(sec []dns.RR) *dns.NSEC {
	for _, rr := range sec {
		if n, ok := rr.(*dns.NSEC); ok {
			return n
		}
	}
	return nil
}

func typeNames(ts []uint16) string {
	var s []string
	for _, t := range ts {
		s = append(s, dns.Type(t).String())
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

// TestSignedAnswers: with DO, every kind of answer of a signed zone carries
// valid signatures, and negative answers are compact denials (RFC 9824).
func TestSignedAnswers(t *testing.T) {
	signer, key := newTestSigner(t, dns.ECDSAP256SHA256)
	h := NewHandler(newSignedSpace(t, 3), Config{Signer: signer})
	const (
		nxname = "NSEC NXNAME RRSIG"
		elems  = "elements"
	)
	for _, c := range []struct {
		name  string
		qtype uint16
		rcode int
		aa    bool
		// answer: the types of the answer's RRsets, in order ("" none).
		answer string
		// nsec: the NSEC's owner and types ("" none), in the authority
		// section, or in the answer for an NSEC query.
		nsecOwner, nsec string
		// extra: the additional RRsets are signed (elements: the SRV
		// targets', in the zone) or glue (below a delegation: unsigned).
		extra string
	}{
		{name: "web.pool.test.", qtype: dns.TypeA, aa: true, answer: "A"},
		{name: "WEB.Pool.Test.", qtype: dns.TypeAAAA, aa: true, answer: "AAAA"},
		{name: "web.pool.test.", qtype: dns.TypeSRV, aa: true, answer: "SRV", extra: elems},
		{name: "_http._tcp.web.pool.test.", qtype: dns.TypeURI, aa: true, answer: "URI"},
		{name: "w4.web.pool.test.", qtype: dns.TypeAAAA, aa: true, answer: "AAAA"},
		{name: "txt.pool.test.", qtype: dns.TypeTXT, aa: true, answer: "TXT"},
		{name: "mail.pool.test.", qtype: dns.TypeMX, aa: true, answer: "MX", extra: elems},
		{name: "pool.test.", qtype: dns.TypeNS, aa: true, answer: "NS", extra: elems},
		{name: "alias.pool.test.", qtype: dns.TypeA, aa: true, answer: "CNAME A"},
		{name: "www.pool.test.", qtype: dns.TypeTXT, aa: true, answer: "CNAME TXT"},
		{name: "x.wild.pool.test.", qtype: dns.TypeTXT, aa: true, answer: "TXT"},
		{name: "pool.test.", qtype: dns.TypeDNSKEY, aa: true, answer: "DNSKEY"},
		{name: "web.pool.test.", qtype: dns.TypeANY, aa: true, answer: "HINFO"},
		{name: "secure.pool.test.", qtype: dns.TypeDS, aa: true, answer: "DS"},
		// Compact NXDOMAIN: NOERROR, an NSEC of the name with NXNAME.
		{name: "nope.pool.test.", qtype: dns.TypeA, aa: true, nsecOwner: "nope.pool.test.", nsec: nxname},
		{name: "x.nope.web.pool.test.", qtype: dns.TypeA, aa: true, nsecOwner: "x.nope.web.pool.test.", nsec: nxname},
		{name: "gone.pool.test.", qtype: dns.TypeA, aa: true, answer: "CNAME", nsecOwner: "nope.web.pool.test.", nsec: nxname},
		// NODATA: the name's types, less the one asked.
		{name: "txt.pool.test.", qtype: dns.TypeA, aa: true, nsecOwner: "txt.pool.test.", nsec: "NSEC RRSIG TXT"},
		{name: "deep.pool.test.", qtype: dns.TypeA, aa: true, nsecOwner: "deep.pool.test.", nsec: "NSEC RRSIG"},
		{name: "y.wild.pool.test.", qtype: dns.TypeA, aa: true, nsecOwner: "y.wild.pool.test.", nsec: "NSEC RRSIG TXT"},
		{name: "dead.pool.test.", qtype: dns.TypeA, aa: true, nsecOwner: "dead.pool.test.", nsec: "AAAA NSEC RRSIG SRV"},
		{name: "web.pool.test.", qtype: dns.TypeTXT, aa: true, nsecOwner: "web.pool.test.", nsec: "A AAAA NSEC RRSIG SRV"},
		{name: "_http._tcp.web.pool.test.", qtype: dns.TypeA, aa: true, nsecOwner: "_http._tcp.web.pool.test.", nsec: "NSEC RRSIG SRV URI"},
		{name: "_tcp.web.pool.test.", qtype: dns.TypeA, aa: true, nsecOwner: "_tcp.web.pool.test.", nsec: "NSEC RRSIG"},
		{name: "w1.web.pool.test.", qtype: dns.TypeAAAA, aa: true, nsecOwner: "w1.web.pool.test.", nsec: "A NSEC RRSIG"},
		{name: "pool.test.", qtype: dns.TypeDS, aa: true, nsecOwner: "pool.test.", nsec: "CDNSKEY CDS DNSKEY NS NSEC RRSIG SOA"},
		{name: "sub.pool.test.", qtype: dns.TypeDS, aa: true, nsecOwner: "sub.pool.test.", nsec: "NS NSEC RRSIG"},
		// Referrals: the NS RRset and glue unsigned, the DS signed or
		// denied.
		{name: "x.sub.pool.test.", qtype: dns.TypeA, nsecOwner: "sub.pool.test.", nsec: "NS NSEC RRSIG", extra: "glue"},
		{name: "secure.pool.test.", qtype: dns.TypeA, extra: "glue"},
		// NSEC queries: the denial's NSEC as the answer.
		{name: "txt.pool.test.", qtype: dns.TypeNSEC, aa: true, answer: "NSEC", nsecOwner: "txt.pool.test.", nsec: "NSEC RRSIG TXT"},
		{name: "nope.pool.test.", qtype: dns.TypeNSEC, aa: true, answer: "NSEC", nsecOwner: "nope.pool.test.", nsec: nxname},
		{name: "nope.pool.test.", qtype: dns.TypeRRSIG, rcode: dns.RcodeRefused},
		{name: "nope.pool.test.", qtype: dnssec.TypeNXNAME, rcode: dns.RcodeFormatError},
	} {
		where := fmt.Sprintf("%s %s", c.name, dns.Type(c.qtype))
		for _, tcp := range []bool{false, true} {
			m := queryDO(t, h, c.name, c.qtype, tcp, 1232, true)
			if m.Rcode != c.rcode || m.Authoritative != c.aa || m.Truncated {
				t.Errorf("%s: rcode %s AA %v TC %v, want %s AA %v", where, dns.RcodeToString[m.Rcode], m.Authoritative, m.Truncated, dns.RcodeToString[c.rcode], c.aa)
				continue
			}
			if opt := m.IsEdns0(); opt == nil || !opt.Do() {
				t.Errorf("%s: reply without DO", where)
			}
			if c.rcode != dns.RcodeSuccess {
				if len(m.Answer)+len(m.Ns) > 0 {
					t.Errorf("%s: records in an error reply", where)
				}
				continue
			}
			signedExtra := func(k rrsetKey) bool { return c.extra == elems }
			sigs := checkSigs(t, m, key, signedExtra)
			keys, _, _ := rrsets(m.Answer)
			var got []string
			for _, k := range keys {
				got = append(got, dns.TypeToString[k.typ])
			}
			if strings.Join(got, " ") != c.answer {
				t.Errorf("%s: answer RRsets %q, want %q", where, strings.Join(got, " "), c.answer)
			}
			if c.name == "x.wild.pool.test." && (len(sigs) != 1 || sigs[0].Labels != 4) {
				t.Errorf("%s: the expansion's RRSIG %v, want labels 4 (the name's own, RFC 9824 §3.3)", where, sigs)
			}
			sec := m.Ns
			if c.qtype == dns.TypeNSEC {
				sec = m.Answer
			}
			n := nsecOf(sec)
			switch {
			case c.nsec == "" && n != nil:
				t.Errorf("%s: NSEC %v, want none", where, n)
			case c.nsec != "" && n == nil:
				t.Errorf("%s: no NSEC, want %s", where, c.nsec)
			case n != nil:
				next := "\\000." + c.nsecOwner
				if c.nsecOwner == "sub.pool.test." && c.nsec == "NS NSEC RRSIG" {
					next = "sub\\000.pool.test."
				}
				if !strings.EqualFold(n.Hdr.Name, c.nsecOwner) || n.NextDomain != next || typeNames(n.TypeBitMap) != c.nsec {
					t.Errorf("%s: NSEC %s → %s [%s], want %s → %s [%s]", where, n.Hdr.Name, n.NextDomain, typeNames(n.TypeBitMap), c.nsecOwner, next, c.nsec)
				}
				if len(m.Ns) > 0 && m.Ns[0].Header().Rrtype == dns.TypeSOA && n.Hdr.Ttl != m.Ns[0].Header().Ttl {
					t.Errorf("%s: NSEC TTL %d, want the SOA's (the negative TTL) %d", where, n.Hdr.Ttl, m.Ns[0].Header().Ttl)
				}
			}
			if !m.Authoritative {
				if len(m.Ns) == 0 || m.Ns[0].Header().Rrtype != dns.TypeNS || len(m.Extra) < 2 {
					t.Errorf("%s: referral without NS or glue: %v", where, m)
				}
			}
		}
	}
}

// TestSignedPoolAnswersFollowHealth: pool answers are signed as they are
// chosen: each new RRset once (a cache miss), a repeated one from the cache
// (no signature made); an element that goes down leaves the answers, whose
// new RRsets are signed.
func TestSignedPoolAnswersFollowHealth(t *testing.T) {
	signer, key := newTestSigner(t, dns.ED25519)
	hs := newSignedSpace(t, 3)
	h := NewHandler(hs, Config{Signer: signer})
	seen := map[string]bool{}
	ask := func(qtype uint16) string {
		t.Helper()
		before := signer.CacheStats()
		m := queryDO(t, h, "web.pool.test.", qtype, false, 4096, true)
		checkSigs(t, m, key, func(rrsetKey) bool { return true })
		var rrs []string
		for _, rr := range m.Answer {
			if rr.Header().Rrtype == qtype {
				rrs = append(rrs, strings.Join(strings.Fields(rr.String()), " "))
			}
		}
		slices.Sort(rrs)
		set := strings.Join(rrs, "; ")
		after := signer.CacheStats()
		// An SRV answer's additional RRsets (the targets' addresses) are
		// signed too: count the answer's RRset alone.
		if !seen[set] && after.Misses == before.Misses {
			t.Errorf("a new RRset %s: no signature made (%+v)", set, after)
		}
		if seen[set] && after.Misses != before.Misses {
			t.Errorf("the RRset %s again: signed again (%+v)", set, after)
		}
		seen[set] = true
		return set
	}
	for range 8 {
		ask(dns.TypeA)
		ask(dns.TypeSRV)
	}
	pv := hs.View().Zone("pool.test.").Pool("web")
	var w1 uint32
	for _, e := range pv.Elements() {
		if e.Label.String() == "w1" {
			w1 = e.ID
		}
	}
	if err := hs.Update("web.pool.test.", w1, func(x *handlespace.Element) { x.Health = handlespace.HealthDown }); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if got := ask(dns.TypeA); strings.Contains(got, "10.0.0.1") {
			t.Errorf("after w1 went down: %s", got)
		}
		if got := ask(dns.TypeSRV); strings.Contains(got, "w1.") {
			t.Errorf("after w1 went down: %s", got)
		}
	}
}

// TestUnsignedWithoutDO: without DO, a signed zone's answers are the
// unsigned zone's (but for queries of the DNSSEC types: the DNSKEY RRset,
// zone data served to all; see TestSignedDNSSECTypes).
func TestUnsignedWithoutDO(t *testing.T) {
	signer, _ := newTestSigner(t, dns.ECDSAP256SHA256)
	signed := NewHandler(newSignedSpace(t, 3), Config{Signer: signer})
	plain := NewHandler(newSignedSpace(t, 3), Config{})
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"web.pool.test.", dns.TypeA}, {"web.pool.test.", dns.TypeSRV}, {"nope.pool.test.", dns.TypeA},
		{"txt.pool.test.", dns.TypeA}, {"x.sub.pool.test.", dns.TypeA}, {"secure.pool.test.", dns.TypeDS},
		{"x.wild.pool.test.", dns.TypeTXT}, {"alias.pool.test.", dns.TypeA}, {"dead.pool.test.", dns.TypeA},
		{"nope.pool.test.", dns.TypeNSEC}, {"sub.pool.test.", dns.TypeDS},
	} {
		for _, edns := range []int{0, 1232} {
			a := query(t, signed, q.name, q.qtype, false, edns)
			b := query(t, plain, q.name, q.qtype, false, edns)
			a.Id, b.Id = 0, 0
			if a.String() != b.String() {
				t.Errorf("%s %s edns %d: signed zone without DO:\n%v\nunsigned zone:\n%v", q.name, dns.Type(q.qtype), edns, a, b)
			}
		}
	}
	m := query(t, signed, "pool.test.", dns.TypeDNSKEY, false, 1232)
	if len(m.Answer) != 1 || m.Answer[0].Header().Rrtype != dns.TypeDNSKEY || m.Rcode != dns.RcodeSuccess {
		t.Errorf("DNSKEY without DO: %v", m)
	}
}

// TestSignedTruncation: a signed answer too big for the client's UDP size
// loses its additional RRsets first (RFC 4035 §3.1.1: no TC for them), then
// sets TC; over TCP it comes whole, signed.
func TestSignedTruncation(t *testing.T) {
	signer, key := newTestSigner(t, dns.ECDSAP256SHA256)
	h := NewHandler(newSignedSpace(t, 40), Config{Signer: signer})
	all := func(rrsetKey) bool { return true }

	full := queryDO(t, h, "web.pool.test.", dns.TypeSRV, false, 4096, true)
	m := queryDO(t, h, "web.pool.test.", dns.TypeSRV, false, 512, true)
	if m.Truncated || len(m.Answer) != len(full.Answer) || len(m.Extra) >= len(full.Extra) {
		t.Errorf("web SRV in 512 bytes: TC %v, %d answers, %d additional; want no TC, %d answers, fewer additional than %d",
			m.Truncated, len(m.Answer), len(m.Extra), len(full.Answer), len(full.Extra))
	}
	checkSigs(t, m, key, all) // the RRSIGs left out with their RRsets

	m = queryDO(t, h, "big.pool.test.", dns.TypeSRV, false, 1232, true)
	if !m.Truncated || len(m.Answer) > 0 {
		t.Errorf("big SRV over UDP: TC %v with %d answers, want TC and none", m.Truncated, len(m.Answer))
	}
	m = queryDO(t, h, "big.pool.test.", dns.TypeSRV, true, 1232, true)
	if m.Truncated || len(m.Answer) != 41 {
		t.Errorf("big SRV over TCP: TC %v with %d answers, want 40 SRV and an RRSIG", m.Truncated, len(m.Answer))
	}
	checkSigs(t, m, key, all)
}

// TestSignedOverUDPLoop: the batched UDP loop sends DO queries of a signed
// zone to the signing renderer, and the others to the fast path as before.
func TestSignedOverUDPLoop(t *testing.T) {
	signer, key := newTestSigner(t, dns.ECDSAP256SHA256)
	addr, _ := serveTest(t, Config{Signer: signer}, newSignedSpace(t, 3))
	for _, do := range []bool{true, false} {
		for _, name := range []string{"web.pool.test.", "w1.web.pool.test.", "nope.pool.test."} {
			q := new(dns.Msg)
			q.SetQuestion(name, dns.TypeA)
			q.SetEdns0(1232, do)
			m, err := nettest.Exchange(nil, q, addr)
			if err != nil {
				t.Fatal(err)
			}
			_, _, sigs := rrsets(append(m.Answer, m.Ns...))
			if do != (len(sigs) > 0) {
				t.Errorf("%s DO %v: %d RRSIGs", name, do, len(sigs))
			}
			if do {
				checkSigs(t, m, key, nil)
			}
			if name == "nope.pool.test." && (m.Rcode == dns.RcodeNameError) == do {
				t.Errorf("%s DO %v: rcode %s", name, do, dns.RcodeToString[m.Rcode])
			}
		}
	}
	if s := signer.CacheStats(); s.Misses == 0 {
		t.Errorf("cache: %+v, want signatures made", s)
	}
}

// msgRendered is the reply of the dns.Msg renderer (writeDNSSEC) to a DO
// query of h, signed by z: what the wire renderer's signed answers must
// match.
func msgRendered(t *testing.T, h *Handler, z *dnssec.Zone, name string, qtype uint16, tcp bool, size int) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(uint16(size), true)
	w := newRecorder(tcp)
	req := newRequest(w, m, false, nil)
	req.Prot = h.prot.Load()
	req.setMaxSize(h.udpSize)
	req.qname = lower(name)
	var res Result
	Lookup(h.src.View(), name, req.qname, qtype, &res)
	h.writeDNSSEC(w, &req, &res, z, true)
	if w.err != nil || w.msg == nil {
		t.Fatalf("%s: dns.Msg renderer: %v", name, w.err)
	}
	return w.msg
}

// TestSignedWireMatchesMsg: the wire renderer's signed answers of every
// type it writes (pool and element A and AAAA; pool SRV, URI, HTTPS, SVCB,
// S-NAPTR and U-NAPTR) are the dns.Msg renderer's, record for record, the
// signed additional RRsets included, in any letter case.
func TestSignedWireMatchesMsg(t *testing.T) {
	signer, key := newTestSigner(t, dns.ECDSAP256SHA256)
	z := signer.Zone("pool.test.")
	type q struct {
		name  string
		qtype uint16
	}
	for _, c := range []struct {
		space func() *handlespace.Handlespace
		qs    []q
	}{
		{func() *handlespace.Handlespace { return newSignedSpace(t, 3) }, []q{
			{"web.pool.test.", dns.TypeA}, {"Web.Pool.Test.", dns.TypeAAAA}, {"w4.web.pool.test.", dns.TypeA},
			{"W4.web.pool.test.", dns.TypeAAAA}, {"web.pool.test.", dns.TypeSRV}, {"_HTTP._tcp.Web.pool.test.", dns.TypeSRV},
			{"_http._tcp.web.pool.test.", dns.TypeURI}, {"big.pool.test.", dns.TypeSRV},
		}},
		{func() *handlespace.Handlespace { return newSvcSpace(t) }, []q{
			{"H.Pool.TEST.", dns.TypeHTTPS}, {"_8080._foo.h.pool.test.", dns.TypeSVCB}, {"_FOO.H.pool.test.", dns.TypeSVCB},
			{"_8443._https.hs.pool.test.", dns.TypeHTTPS}, {"s.pool.test.", dns.TypeNAPTR}, {"U.pool.test.", dns.TypeNAPTR},
			{"_http._tcp.u.pool.test.", dns.TypeURI}, {"_foo._tcp.h.pool.test.", dns.TypeSRV},
		}},
	} {
		wire := NewHandler(c.space(), Config{Signer: signer})
		msg := NewHandler(c.space(), Config{Signer: signer})
		for range 5 {
			for _, q := range c.qs {
				for _, tcp := range []bool{false, true} {
					where := fmt.Sprintf("%s %s tcp %v", q.name, dns.Type(q.qtype), tcp)
					a := queryDO(t, wire, q.name, q.qtype, tcp, 4096, true)
					checkSigs(t, a, key, func(rrsetKey) bool { return true })
					if len(a.Answer) < 2 || a.Rcode != dns.RcodeSuccess {
						t.Fatalf("%s: %v", where, a)
					}
					b := msgRendered(t, msg, z, q.name, q.qtype, tcp, 4096)
					// Owners differ in case only: the wire renderer's point to
					// the question.
					for i, sec := range [][2][]dns.RR{{a.Answer, b.Answer}, {a.Ns, b.Ns}, {a.Extra, b.Extra}} {
						got, want := lowerText(sec[0]), lowerText(sec[1])
						if got != want {
							t.Errorf("%s: section %d: wire renderer\n%s\ndns.Msg renderer\n%s", where, i, got, want)
						}
					}
					if a.Rcode != b.Rcode || a.Authoritative != b.Authoritative || a.Truncated != b.Truncated {
						t.Errorf("%s: headers differ:\n%v\n%v", where, a, b)
					}
				}
			}
		}
	}
}

// lowerText is a section's records in lower case, sorted, one a line.
func lowerText(rrs []dns.RR) string {
	lines := sectionText(rrs)
	for i, l := range lines {
		lines[i] = strings.ToLower(l)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestSignedWireFits: a signed wire answer too big for the client's UDP
// size keeps its answer and signatures whole, with as many additional
// RRsets as fit with their own (each one signed), or is truncated when the
// answer and its signatures do not fit; no reply is over the size.
func TestSignedWireFits(t *testing.T) {
	signer, key := newTestSigner(t, dns.ECDSAP256SHA256)
	h := NewHandler(newSvcSpace(t, bigSvcPool(12)), Config{Signer: signer})
	h40 := NewHandler(newSignedSpace(t, 40), Config{Signer: signer})
	all := func(rrsetKey) bool { return true }
	seen := map[string]int{}
	for _, c := range []struct {
		h     *Handler
		name  string
		qtype uint16
	}{
		{h, "bs.pool.test.", dns.TypeHTTPS}, {h, "_99._foo.bs.pool.test.", dns.TypeSVCB}, {h, "bs.pool.test.", dns.TypeNAPTR},
		{h40, "big.pool.test.", dns.TypeSRV}, {h40, "_http._tcp.big.pool.test.", dns.TypeSRV}, {h40, "web.pool.test.", dns.TypeSRV},
	} {
		full := queryDO(t, c.h, c.name, c.qtype, true, 4096, true)
		checkSigs(t, full, key, all)
		answer := 0 // the answer and its RRSIGs, on the wire
		for _, rr := range full.Answer {
			answer += dns.Len(rr) - len(c.name) + 1 // owner: a pointer
		}
		for size := 512; size <= 1400; size += 37 {
			where := fmt.Sprintf("%s %s in %d bytes", c.name, dns.Type(c.qtype), size)
			m := queryDO(t, c.h, c.name, c.qtype, false, size, true) // checks the size
			checkSigs(t, m, key, all)
			fits := 12+len(c.name)+1+4+answer+11 <= min(size, c.h.udpSize)
			switch {
			case fits && (m.Truncated || len(m.Answer) != len(full.Answer)):
				t.Errorf("%s: TC %v, %d answer records; want %d (the answer takes %d bytes)", where, m.Truncated, len(m.Answer), len(full.Answer), answer)
			case !fits && (!m.Truncated || len(m.Answer)+len(m.Extra) > 1):
				t.Errorf("%s: TC %v, %d answer records; want TC and none", where, m.Truncated, len(m.Answer))
			case fits && len(m.Extra) > len(full.Extra):
				t.Errorf("%s: %d additional records, over the %d of TCP", where, len(m.Extra), len(full.Extra))
			}
			switch {
			case m.Truncated:
				seen["truncated"]++
			case len(m.Extra) < len(full.Extra) && len(m.Extra) > 1:
				seen["some additional RRsets"]++
			case len(m.Extra) == len(full.Extra):
				seen["whole"]++
			}
		}
	}
	for _, k := range []string{"truncated", "some additional RRsets", "whole"} {
		if seen[k] == 0 {
			t.Errorf("no reply %s: the sizes do not test it", k)
		}
	}
}

// TestSignedConcurrent: signed answers from many goroutines at once share
// the zone's records and the signature cache; under -race this finds any
// write to what the view shares (the SOA that negative answers copy, the
// static records signed as they are).
func TestSignedConcurrent(t *testing.T) {
	signer, _ := newTestSigner(t, dns.ECDSAP256SHA256)
	h := NewHandler(newSignedSpace(t, 3), Config{Signer: signer})
	qs := []struct {
		name  string
		qtype uint16
	}{
		{"pool.test.", dns.TypeSOA}, {"nope.pool.test.", dns.TypeA}, {"txt.pool.test.", dns.TypeTXT},
		{"mail.pool.test.", dns.TypeMX}, {"web.pool.test.", dns.TypeSRV}, {"x.sub.pool.test.", dns.TypeA},
		{"www.pool.test.", dns.TypeTXT}, {"web.pool.test.", dns.TypeA}, {"pool.test.", dns.TypeDNSKEY},
	}
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 100 {
				q := qs[(g+i)%len(qs)]
				m := new(dns.Msg)
				m.SetQuestion(q.name, q.qtype)
				m.SetEdns0(1232, true)
				w := newRecorder(i%2 == 0)
				h.ServeDNS(w, m)
				if w.err != nil || w.msg == nil || w.msg.Rcode != dns.RcodeSuccess {
					t.Errorf("%s %s: %v %v", q.name, dns.Type(q.qtype), w.err, w.msg)
					return
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}

// TestSignedFarGlue: a signed SRV answer over TCP of 1000 elements (some
// 40 KiB of answer) carries glue whose targets lie past the reach of
// compression pointers (owners spelled out, not patched pointers), each
// RRset with RRSIGs that verify, the same the second time (from the
// table in front of the cache).
func TestSignedFarGlue(t *testing.T) {
	signer, key := newTestSigner(t, dns.ECDSAP256SHA256)
	h := NewHandler(newSignedSpace(t, 1000), Config{Signer: signer})
	for range 2 {
		w := newRecorder(true)
		q := new(dns.Msg)
		q.SetQuestion("big.pool.test.", dns.TypeSRV)
		q.SetEdns0(4096, true)
		h.ServeDNS(w, q)
		if w.err != nil || w.msg == nil {
			t.Fatalf("err %v", w.err)
		}
		m := w.msg
		checkSigs(t, m, key, func(rrsetKey) bool { return true })
		targets := map[string]bool{}
		for _, rr := range m.Answer {
			if srv, ok := rr.(*dns.SRV); ok {
				targets[srv.Target] = true
			}
		}
		glue := 0
		for _, rr := range m.Extra {
			if rr.Header().Rrtype == dns.TypeA {
				glue++
				if !targets[rr.Header().Name] {
					t.Fatalf("glue %s names no SRV target", rr)
				}
			}
		}
		if len(targets) != 1000 || glue == 0 || len(w.raw) < 2*16384 {
			t.Fatalf("%d targets, %d glue A, %d bytes; want 1000, some, over 32 KiB", len(targets), glue, len(w.raw))
		}
	}
}
