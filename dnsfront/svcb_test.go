package dnsfront

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
)

// svcZone is the zone of the HTTPS/SVCB and NAPTR tests: the pools of
// newSvcSpace, and CNAMEs into them (answered by the dns.Msg renderer).
const svcZone = `$ORIGIN pool.test.
@      3600 IN SOA ns1.pool.test. hostmaster.pool.test. 1 3600 600 86400 30
@      3600 IN NS  ns1.pool.test.
ns1    3600 IN A   192.0.2.53
to-h   300  IN CNAME h.pool.test.
to-hsvcb 300 IN CNAME _8080._foo.h.pool.test.
to-s   300  IN CNAME s.pool.test.
to-u   300  IN CNAME u.pool.test.
`

// prioElem is an element with a priority (the prio policy's order).
func prioElem(label, addrs string, port uint16, prio uint32) *handlespace.Element {
	e := elem(label, addrs, port, 1)
	e.Priority = prio
	return e
}

// svcPools are the pools that answer HTTPS/SVCB (h, hs, hw, hd) and
// NAPTR (s, s2: S-NAPTR; u: U-NAPTR), and plain, which has none.
func svcPools() []handlespace.PoolDef {
	spec := func(policy, service, https, naptr, uri string) handlespace.PoolSpec {
		s := handlespace.DefaultPoolSpec()
		s.Policy, s.Service, s.HTTPS, s.NAPTR, s.URI = policy, service, https, naptr, uri
		return s
	}
	hElems := func(p string) []*handlespace.Element {
		return []*handlespace.Element{
			prioElem(p+"1", "10.0.5.1", 443, 1), prioElem(p+"2", "10.0.5.2,2001:db8::52", 8443, 2),
			prioElem(p+"3", "2001:db8::53", 443, 3), prioElem(p+"4", "10.0.5.4", 443, 4),
		}
	}
	return []handlespace.PoolDef{
		{Handle: "h", Spec: spec("prio", "_foo._tcp", "h2,h3", "", ""), Elements: hElems("h")},
		{Handle: "hs", Spec: spec("prio", "_https._tcp", "h2", "", ""), Elements: hElems("s")},
		{Handle: "hw", Spec: spec("wrand", "", "h3", "", ""), Elements: []*handlespace.Element{
			elem("w1", "10.0.6.1", 443, 1), elem("w2", "10.0.6.2", 443, 3)}},
		{Handle: "hd", Spec: spec("rr", "", "h2", "x-foo:http", ""), Elements: []*handlespace.Element{elem("d1", "10.0.7.1", 443, 1)}},
		{Handle: "s", Spec: spec("rr", "_foo._tcp", "", "x-foo:http,x-bar:https", ""), Elements: []*handlespace.Element{elem("s1", "10.0.8.1", 80, 1)}},
		{Handle: "s2", Spec: spec("rr", "", "", "x-foo", ""), Elements: []*handlespace.Element{elem("t1", "10.0.8.2", 80, 1)}},
		{Handle: "u", Spec: spec("prio", "_http._tcp", "", "x-foo:http,x-bar", "http://{name}:{port}/"), Elements: []*handlespace.Element{
			prioElem("u1", "10.0.9.1", 80, 1), prioElem("u2", "10.0.9.2", 8080, 2)}},
		{Handle: "plain", Spec: spec("rr", "_http._tcp", "", "", ""), Elements: []*handlespace.Element{elem("x1", "10.0.10.1", 80, 1)}},
	}
}

// newSvcSpace builds pool.test. (svcZone) with svcPools and extra; hd's
// element is down.
func newSvcSpace(t testing.TB, extra ...handlespace.PoolDef) *handlespace.Handlespace {
	t.Helper()
	def := handlespace.ZoneDef{Origin: "pool.test.", File: "svc.zone", Records: mustRRs(t, svcZone), Pools: append(svcPools(), extra...)}
	hs := handlespace.New(handlespace.Options{RegistrarID: 7})
	if err := hs.ApplyZones([]handlespace.ZoneDef{def}); err != nil {
		t.Fatal(err)
	}
	setDown(t, hs, "hd")
	return hs
}

// setDown marks the first element of pool handle of pool.test. down.
func setDown(t testing.TB, hs *handlespace.Handlespace, handle string) {
	t.Helper()
	pv := hs.View().Zone("pool.test.").Pool(handle)
	if err := hs.Update(handle+".pool.test.", pv.Elements()[0].ID, func(x *handlespace.Element) { x.Health = handlespace.HealthDown }); err != nil {
		t.Fatal(err)
	}
}

// TestSvcTable: HTTPS, SVCB and NAPTR answers in DNS terms.
func TestSvcTable(t *testing.T) {
	glue := []string{
		"h1.h.pool.test. 5 IN A 10.0.5.1", "h2.h.pool.test. 5 IN A 10.0.5.2",
		"h2.h.pool.test. 5 IN AAAA 2001:db8::52", "h3.h.pool.test. 5 IN AAAA 2001:db8::53",
	}
	httpsAt := func(owner, typ string, alwaysPort bool) []string {
		p443 := ""
		if alwaysPort {
			p443 = ` port="443"`
		}
		return []string{
			owner + ` 5 IN ` + typ + ` 1 h1.h.pool.test. alpn="h2,h3"` + p443 + ` ipv4hint="10.0.5.1"`,
			owner + ` 5 IN ` + typ + ` 2 h2.h.pool.test. alpn="h2,h3" port="8443" ipv4hint="10.0.5.2" ipv6hint="2001:db8::52"`,
			owner + ` 5 IN ` + typ + ` 3 h3.h.pool.test. alpn="h2,h3"` + p443 + ` ipv6hint="2001:db8::53"`,
		}
	}
	soaPool := "pool.test. 5 IN SOA ns1.pool.test. hostmaster.pool.test. 1 3600 600 86400 30"
	cases := []tcase{
		// HTTPS at the pool's name: the first answers= (3) in policy order.
		{qname: "h.pool.test.", qtype: dns.TypeHTTPS, answer: httpsAt("h.pool.test.", "HTTPS", false), extra: glue},
		// SVCB at the attrleaf names of scheme foo: port always given.
		{qname: "_8080._foo.h.pool.test.", qtype: dns.TypeSVCB, answer: httpsAt("_8080._foo.h.pool.test.", "SVCB", true), extra: glue},
		{qname: "_foo.h.pool.test.", qtype: dns.TypeSVCB, answer: httpsAt("_foo.h.pool.test.", "SVCB", true), extra: glue},
		{qname: "_1._foo.h.pool.test.", qtype: dns.TypeSVCB, nAns: 3},
		{qname: "_65535._foo.h.pool.test.", qtype: dns.TypeSVCB, nAns: 3},
		{qname: "_foo.h.pool.test.", qtype: dns.TypeHTTPS, ns: []string{soaPool}},
		{qname: "_8080._foo.h.pool.test.", qtype: dns.TypeA, ns: []string{soaPool}},
		{qname: "_0._foo.h.pool.test.", qtype: dns.TypeSVCB, rcode: dns.RcodeNameError, ns: []string{soaPool}},
		{qname: "_08080._foo.h.pool.test.", qtype: dns.TypeSVCB, rcode: dns.RcodeNameError, ns: []string{soaPool}},
		{qname: "_65536._foo.h.pool.test.", qtype: dns.TypeSVCB, rcode: dns.RcodeNameError, ns: []string{soaPool}},
		{qname: "_x1._foo.h.pool.test.", qtype: dns.TypeSVCB, rcode: dns.RcodeNameError, ns: []string{soaPool}},
		{qname: "_bar.h.pool.test.", qtype: dns.TypeSVCB, rcode: dns.RcodeNameError, ns: []string{soaPool}},
		{qname: "x._8080._foo.h.pool.test.", qtype: dns.TypeSVCB, rcode: dns.RcodeNameError, ns: []string{soaPool}},
		{qname: "h.pool.test.", qtype: dns.TypeSVCB, ns: []string{soaPool}},
		{qname: "h.pool.test.", qtype: dns.TypeNAPTR, ns: []string{soaPool}},
		// The https scheme: HTTPS at _<port>._https (RFC 9460 §9.1), not SVCB;
		// the default port's records are at the pool's name.
		{qname: "_8443._https.hs.pool.test.", qtype: dns.TypeHTTPS, nAns: 3},
		{qname: "_8443._https.hs.pool.test.", qtype: dns.TypeSVCB, ns: []string{soaPool}},
		// _https.<pool> is an empty non-terminal above them: NODATA.
		{qname: "_https.hs.pool.test.", qtype: dns.TypeHTTPS, ns: []string{soaPool}},
		{qname: "_https.hs.pool.test.", qtype: dns.TypeA, ns: []string{soaPool}},
		// A weighted policy: both elements, a draw orders them.
		{qname: "hw.pool.test.", qtype: dns.TypeHTTPS, nAns: 2},
		// All down: NODATA with the pool-capped negative TTL.
		{qname: "hd.pool.test.", qtype: dns.TypeHTTPS, ns: []string{soaPool}},
		{qname: "hd.pool.test.", qtype: dns.TypeNAPTR, ns: []string{soaPool}},
		// S-NAPTR to the pool's SRV name.
		{qname: "s.pool.test.", qtype: dns.TypeNAPTR, answer: []string{
			`s.pool.test. 5 IN NAPTR 100 10 "S" "x-foo:http" "" _foo._tcp.s.pool.test.`,
			`s.pool.test. 5 IN NAPTR 100 20 "S" "x-bar:https" "" _foo._tcp.s.pool.test.`}},
		{qname: "s2.pool.test.", qtype: dns.TypeNAPTR, answer: []string{`s2.pool.test. 5 IN NAPTR 100 10 "S" "x-foo" "" s2.pool.test.`}},
		// U-NAPTR: every element for each services field, preference by rank.
		{qname: "u.pool.test.", qtype: dns.TypeNAPTR, answer: []string{
			`u.pool.test. 5 IN NAPTR 100 0 "U" "x-foo:http" "!.*!http://u1.u.pool.test:80/!" .`,
			`u.pool.test. 5 IN NAPTR 100 0 "U" "x-bar" "!.*!http://u1.u.pool.test:80/!" .`,
			`u.pool.test. 5 IN NAPTR 100 1 "U" "x-foo:http" "!.*!http://u2.u.pool.test:8080/!" .`,
			`u.pool.test. 5 IN NAPTR 100 1 "U" "x-bar" "!.*!http://u2.u.pool.test:8080/!" .`}},
		// Pools without the options.
		{qname: "plain.pool.test.", qtype: dns.TypeHTTPS, ns: []string{soaPool}},
		{qname: "plain.pool.test.", qtype: dns.TypeNAPTR, ns: []string{soaPool}},
		{qname: "_80._http.plain.pool.test.", qtype: dns.TypeSVCB, rcode: dns.RcodeNameError, ns: []string{soaPool}},
	}
	h := NewHandler(newSvcSpace(t), Config{})
	for _, edns := range []int{0, 1232} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/%s/edns%d", tc.qname, dns.TypeToString[tc.qtype], edns), func(t *testing.T) {
				checkCase(t, query(t, h, tc.qname, tc.qtype, false, edns), tc)
			})
		}
	}
}

// TestSvcRenderersAgree: the packed answers and the dns.Msg renderer's
// (which answers CNAMEs into pools) hold the same records.
func TestSvcRenderersAgree(t *testing.T) {
	h := NewHandler(newSvcSpace(t), Config{})
	for _, c := range []struct {
		alias, name string
		qt          uint16
	}{
		{"to-h.pool.test.", "h.pool.test.", dns.TypeHTTPS},
		{"to-hsvcb.pool.test.", "_8080._foo.h.pool.test.", dns.TypeSVCB},
		{"to-s.pool.test.", "s.pool.test.", dns.TypeNAPTR},
		{"to-u.pool.test.", "u.pool.test.", dns.TypeNAPTR},
	} {
		for _, tcp := range []bool{false, true} {
			direct := query(t, h, c.name, c.qt, tcp, 1232)
			chained := query(t, h, c.alias, c.qt, tcp, 1232)
			if len(chained.Answer) == 0 || chained.Answer[0].Header().Rrtype != dns.TypeCNAME {
				t.Fatalf("%s %s: no CNAME first:\n%v", c.alias, dns.TypeToString[c.qt], chained)
			}
			got, want := sectionText(chained.Answer[1:]), sectionText(direct.Answer)
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Errorf("%s %s: answers differ\n msg  %q\n wire %q", c.name, dns.TypeToString[c.qt], got, want)
			}
			if got, want := sectionText(chained.Extra), sectionText(direct.Extra); !slices.Equal(got, want) {
				t.Errorf("%s %s: additional differs\n msg  %q\n wire %q", c.name, dns.TypeToString[c.qt], got, want)
			}
		}
	}
}

// TestSvcCaseAndCompression: owners carry the question's case, and
// TargetName and the NAPTR replacement are never compressed (RFC 9460
// §2.2, RFC 3403 §4.1), which a compressing packer would do.
func TestSvcCaseAndCompression(t *testing.T) {
	h := NewHandler(newSvcSpace(t), Config{})
	for _, c := range []struct {
		name string
		qt   uint16
	}{{"H.Pool.TEST.", dns.TypeHTTPS}, {"_8080._FOO.h.pool.test.", dns.TypeSVCB}, {"S.pool.test.", dns.TypeNAPTR}, {"U.POOL.test.", dns.TypeNAPTR}} {
		m := new(dns.Msg)
		m.SetQuestion(c.name, c.qt)
		w := newRecorder(false)
		h.ServeDNS(w, m)
		if w.msg == nil || len(w.msg.Answer) == 0 {
			t.Fatalf("%s: no answer", c.name)
		}
		for _, rr := range w.msg.Answer {
			if rr.Header().Name != c.name {
				t.Errorf("%s: owner %q", c.name, rr.Header().Name)
			}
		}
		// The target names spelled out: each one's labels are in the raw
		// reply as they are, not behind a pointer.
		for _, rr := range w.msg.Answer {
			var target string
			switch v := rr.(type) {
			case *dns.HTTPS:
				target = v.Target
			case *dns.SVCB:
				target = v.Target
			case *dns.NAPTR:
				target = v.Replacement
			}
			wire := make([]byte, 256)
			n, _ := dns.PackDomainName(target, wire, 0, nil, false)
			if !strings.Contains(string(w.raw), string(wire[:n])) {
				t.Errorf("%s: target %s is not spelled out in the reply", c.name, target)
			}
		}
	}
}

// bigSvcPool is a pool "bs" of n elements (IPv4, port 8000+i) with
// HTTPS/SVCB records (answers=n) and U-NAPTR records.
func bigSvcPool(n int) handlespace.PoolDef {
	p := bigPool(n, 5)
	p.Handle = "bs"
	p.Spec.Service, p.Spec.HTTPS, p.Spec.Answers = "_foo._tcp", "h2,h3", min(n, 1000)
	p.Spec.NAPTR, p.Spec.URI = "x-foo:http", "http://{name}:{port}/"
	for i, e := range p.Elements {
		e.Port = uint16(8000 + i)
	}
	return p
}

// TestSvcTruncation: an HTTPS, SVCB or U-NAPTR answer that does not fit
// the client's UDP size sets TC and carries no records; one that fits is
// whole, with as much glue as fits and TC clear; over TCP the whole answer
// comes, cut to the first elements in policy order beyond 64 KiB.
func TestSvcTruncation(t *testing.T) {
	for _, n := range []int{1, 5, 12, 40, 200, 1000} {
		h := NewHandler(newSvcSpace(t, bigSvcPool(n)), Config{})
		for _, q := range []struct {
			name string
			qt   uint16
		}{{"bs.pool.test.", dns.TypeHTTPS}, {"_99._foo.bs.pool.test.", dns.TypeSVCB}, {"bs.pool.test.", dns.TypeNAPTR}} {
			full := query(t, h, q.name, q.qt, true, 0)
			if full.Truncated || len(full.Answer) == 0 {
				t.Fatalf("n=%d %s %s over TCP: TC %v, %d answers", n, q.name, dns.TypeToString[q.qt], full.Truncated, len(full.Answer))
			}
			if got := len(full.Answer); got != n && (n < 1000 || full.Len() < 60000) {
				t.Errorf("n=%d %s %s over TCP: %d answers (%d bytes); want all %d, or a cut near 64 KiB", n, q.name, dns.TypeToString[q.qt], got, full.Len(), n)
			}
			checkRanks(t, full, q.qt)
			answerOnly := full.Copy()
			answerOnly.Extra = nil
			answerOnly.Compress = true
			for _, edns := range []int{0, 512, 1232, 4096} {
				m := query(t, h, q.name, q.qt, false, edns)
				limit := 512
				if edns > 0 {
					limit = min(max(edns, 512), 1232) // the handler's UDP size
				}
				if size := len(mustPack(t, m)); size > limit {
					t.Errorf("n=%d %s edns %d: %d bytes", n, dns.TypeToString[q.qt], edns, size)
				}
				fits := answerOnly.Len()+11 <= limit // with room for an OPT
				switch {
				case m.Truncated && (len(m.Answer) > 0 || len(m.Extra) > 1):
					t.Errorf("n=%d %s edns %d: TC with %d answers, %d additional; want none", n, dns.TypeToString[q.qt], edns, len(m.Answer), len(m.Extra))
				case m.Truncated && fits && edns > 0:
					t.Errorf("n=%d %s edns %d: TC, but the answer (%d bytes) fits", n, dns.TypeToString[q.qt], edns, answerOnly.Len())
				case !m.Truncated && len(m.Answer) != len(full.Answer):
					t.Errorf("n=%d %s edns %d: %d answers without TC; want all %d", n, dns.TypeToString[q.qt], edns, len(m.Answer), len(full.Answer))
				case !m.Truncated:
					checkRanks(t, m, q.qt)
				}
			}
		}
	}
}

func mustPack(t *testing.T, m *dns.Msg) []byte {
	t.Helper()
	m.Compress = true
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkRanks checks that an HTTPS/SVCB answer's SvcPriorities are 1…n and
// a U-NAPTR answer's preferences 0…n-1, each once per services field, and
// that every glue record's owner is one of the answer's targets.
func checkRanks(t *testing.T, m *dns.Msg, qt uint16) {
	t.Helper()
	seen := map[uint16]int{}
	targets := map[string]bool{}
	for _, rr := range m.Answer {
		switch v := rr.(type) {
		case *dns.HTTPS:
			seen[v.Priority]++
			targets[v.Target] = true
		case *dns.SVCB:
			seen[v.Priority]++
			targets[v.Target] = true
		case *dns.NAPTR:
			if v.Flags == "S" {
				return // S-NAPTR: the order is SRV's
			}
			seen[v.Preference+1]++
		default:
			t.Fatalf("%s answer holds %v", dns.TypeToString[qt], rr)
		}
	}
	for p := 1; p <= len(seen); p++ {
		if seen[uint16(p)] != seen[1] || seen[1] == 0 {
			t.Fatalf("%s: ranks %v; want 1…%d once each", dns.TypeToString[qt], seen, len(seen))
		}
	}
	for _, rr := range m.Extra {
		if rr.Header().Rrtype != dns.TypeOPT && !targets[strings.ToLower(rr.Header().Name)] {
			t.Errorf("glue %v of no target", rr)
		}
	}
}

// fuzzSpace is the fuzz targets' handlespace: the test space, a pool big
// of 300 elements, svcPools and bs of 300 elements with HTTPS/SVCB and
// U-NAPTR records.
func fuzzSpace(t testing.TB) *handlespace.Handlespace {
	t.Helper()
	pools := append([]handlespace.PoolDef{bigPool(300, 5), bigSvcPool(300)}, svcPools()...)
	pools = slices.DeleteFunc(pools, func(p handlespace.PoolDef) bool { return p.Handle == "plain" || p.Handle == "hd" })
	return newTestSpace(t, pools...)
}
