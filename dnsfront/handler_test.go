package dnsfront

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
)

var soaNeg = "pool.test. 30 IN SOA ns1.pool.test. hostmaster.pool.test. 1 3600 600 86400 30"

// soaPool is the SOA of negative answers at or below a pool's name: its
// TTL is at most the pool's (5 s), so that a resolver does not hide a pool
// that comes back for the zone's negative TTL.
var soaPool = "pool.test. 5 IN SOA ns1.pool.test. hostmaster.pool.test. 1 3600 600 86400 30"

type tcase struct {
	qname  string
	qtype  uint16
	rcode  int
	notAA  bool     // the reply must not be authoritative (REFUSED, referral)
	answer []string // exact, in any order; nil: no answer
	ns     []string
	extra  []string
	nAns   int // when > 0: answer count only (policy-ordered pools)
}

func TestHandlerTable(t *testing.T) {
	cases := []tcase{
		{qname: "pool.test.", qtype: dns.TypeSOA, answer: []string{"pool.test. 3600 IN SOA ns1.pool.test. hostmaster.pool.test. 1 3600 600 86400 30"}},
		{qname: "pool.test.", qtype: dns.TypeNS, answer: []string{"pool.test. 3600 IN NS ns1.pool.test."},
			extra: []string{"ns1.pool.test. 3600 IN A 192.0.2.53", "ns1.pool.test. 3600 IN AAAA 2001:db8::53"}},
		{qname: "ns1.pool.test.", qtype: dns.TypeA, answer: []string{"ns1.pool.test. 3600 IN A 192.0.2.53"}},
		{qname: "mail.pool.test.", qtype: dns.TypeMX, answer: []string{"mail.pool.test. 300 IN MX 10 mx1.pool.test."},
			extra: []string{"mx1.pool.test. 300 IN A 192.0.2.25"}},
		// CNAME followed inside the zone; NODATA at the end keeps the SOA.
		{qname: "www.pool.test.", qtype: dns.TypeTXT, answer: []string{"www.pool.test. 300 IN CNAME txt.pool.test.", `txt.pool.test. 300 IN TXT "hello"`}},
		{qname: "www.pool.test.", qtype: dns.TypeA, answer: []string{"www.pool.test. 300 IN CNAME txt.pool.test."}, ns: []string{soaNeg}},
		{qname: "txt.pool.test.", qtype: dns.TypeMX, ns: []string{soaNeg}},
		// A CNAME to a pool ends in the pool's answer.
		{qname: "alias.pool.test.", qtype: dns.TypeAAAA, answer: []string{"alias.pool.test. 300 IN CNAME web.pool.test.", "web.pool.test. 5 IN AAAA 2001:db8::4"}},
		{qname: "alias.pool.test.", qtype: dns.TypeSRV, nAns: 5},
		{qname: "alias.pool.test.", qtype: dns.TypeTXT, answer: []string{"alias.pool.test. 300 IN CNAME web.pool.test."}, ns: []string{soaPool}},
		{qname: "gone.pool.test.", qtype: dns.TypeA, rcode: dns.RcodeNameError, answer: []string{"gone.pool.test. 300 IN CNAME nope.web.pool.test."}, ns: []string{soaPool}},
		{qname: "nothing.pool.test.", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soaNeg}},
		// An empty non-terminal exists: NODATA, not NXDOMAIN.
		{qname: "deep.pool.test.", qtype: dns.TypeTXT, ns: []string{soaNeg}},
		{qname: "b.deep.pool.test.", qtype: dns.TypeA, ns: []string{soaNeg}},
		{qname: "a.b.deep.pool.test.", qtype: dns.TypeTXT, answer: []string{`a.b.deep.pool.test. 300 IN TXT "deep"`}},
		// Wildcards (RFC 4592).
		{qname: "x.wild.pool.test.", qtype: dns.TypeTXT, answer: []string{`x.wild.pool.test. 300 IN TXT "wild"`}},
		{qname: "x.wild.pool.test.", qtype: dns.TypeA, ns: []string{soaNeg}},
		{qname: "wild.pool.test.", qtype: dns.TypeTXT, ns: []string{soaNeg}},
		// Delegation: a referral, not authoritative.
		{qname: "host.sub.pool.test.", qtype: dns.TypeA, notAA: true, ns: []string{"sub.pool.test. 300 IN NS ns.sub.pool.test."},
			extra: []string{"ns.sub.pool.test. 300 IN A 192.0.2.99"}},
		// Outside every zone.
		{qname: "example.com.", qtype: dns.TypeA, rcode: dns.RcodeRefused, notAA: true},
		{qname: "test.", qtype: dns.TypeSOA, rcode: dns.RcodeRefused, notAA: true},
		// Pools.
		{qname: "web.pool.test.", qtype: dns.TypeA, nAns: 3},
		{qname: "web.pool.test.", qtype: dns.TypeAAAA, answer: []string{"web.pool.test. 5 IN AAAA 2001:db8::4"}},
		{qname: "web.pool.test.", qtype: dns.TypeSRV, nAns: 4},
		{qname: "_http._tcp.web.pool.test.", qtype: dns.TypeSRV, nAns: 4},
		{qname: "_http._tcp.web.pool.test.", qtype: dns.TypeURI, nAns: 4},
		{qname: "_tcp.web.pool.test.", qtype: dns.TypeSRV, ns: []string{soaPool}},
		{qname: "_udp.web.pool.test.", qtype: dns.TypeSRV, rcode: dns.RcodeNameError, ns: []string{soaPool}},
		{qname: "_http._tcp.api.pool.test.", qtype: dns.TypeSRV, rcode: dns.RcodeNameError, ns: []string{soaPool}},
		{qname: "web.pool.test.", qtype: dns.TypeTXT, ns: []string{soaPool}},
		{qname: "web.pool.test.", qtype: dns.TypeURI, ns: []string{soaPool}},
		{qname: "web.pool.test.", qtype: dns.TypeANY, answer: []string{`web.pool.test. 5 IN HINFO "RFC8482" ""`}},
		{qname: "txt.pool.test.", qtype: dns.TypeANY, answer: []string{`txt.pool.test. 300 IN TXT "hello"`}},
		{qname: "w1.web.pool.test.", qtype: dns.TypeA, answer: []string{"w1.web.pool.test. 5 IN A 10.0.0.1"}},
		{qname: "w1.web.pool.test.", qtype: dns.TypeAAAA, ns: []string{soaPool}},
		{qname: "w4.web.pool.test.", qtype: dns.TypeAAAA, answer: []string{"w4.web.pool.test. 5 IN AAAA 2001:db8::4"}},
		{qname: "nope.web.pool.test.", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soaPool}},
		{qname: "x.w1.web.pool.test.", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soaPool}},
		// All down: NODATA by default, every element when the pool fails open.
		{qname: "dead.pool.test.", qtype: dns.TypeA, ns: []string{soaPool}},
		{qname: "dead.pool.test.", qtype: dns.TypeSRV, ns: []string{soaPool}},
		{qname: "d1.dead.pool.test.", qtype: dns.TypeA, answer: []string{"d1.dead.pool.test. 5 IN A 10.0.2.1"}},
		{qname: "open.pool.test.", qtype: dns.TypeA, answer: []string{"open.pool.test. 5 IN A 10.0.3.1"}},
		{qname: "api.pool.test.", qtype: dns.TypeSRV, answer: []string{
			"api.pool.test. 5 IN SRV 0 10 443 a1.api.pool.test.", "api.pool.test. 5 IN SRV 0 20 443 a2.api.pool.test."},
			extra: []string{"a1.api.pool.test. 5 IN A 10.0.1.1", "a2.api.pool.test. 5 IN A 10.0.1.2"}},
		// No zone transfers.
		{qname: "pool.test.", qtype: dns.TypeAXFR, rcode: dns.RcodeRefused, notAA: true},
	}
	h := NewHandler(newTestSpace(t), Config{})
	for _, edns := range []int{0, 1232} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/%s/edns%d", tc.qname, dns.TypeToString[tc.qtype], edns), func(t *testing.T) {
				m := query(t, h, tc.qname, tc.qtype, false, edns)
				checkCase(t, m, tc)
				if (m.IsEdns0() != nil) != (edns > 0) {
					t.Errorf("reply OPT present %v, query's %v", m.IsEdns0() != nil, edns > 0)
				}
			})
		}
	}
}

func checkCase(t *testing.T, m *dns.Msg, tc tcase) {
	t.Helper()
	if m.Rcode != tc.rcode {
		t.Errorf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tc.rcode])
	}
	if m.Authoritative == tc.notAA {
		t.Errorf("AA %v, want %v", m.Authoritative, !tc.notAA)
	}
	if m.RecursionAvailable {
		t.Error("RA set; an authoritative server offers no recursion")
	}
	if m.Truncated {
		t.Error("TC set")
	}
	if tc.nAns > 0 {
		if len(m.Answer) != tc.nAns {
			t.Errorf("%d answers, want %d:\n%v", len(m.Answer), tc.nAns, m)
		}
	} else if got, want := sectionText(m.Answer), normalise(tc.answer); !slices.Equal(got, want) {
		t.Errorf("answer\n got %q\nwant %q", got, want)
	}
	if got, want := sectionText(m.Ns), normalise(tc.ns); !slices.Equal(got, want) {
		t.Errorf("authority\n got %q\nwant %q", got, want)
	}
	if tc.extra != nil || tc.nAns == 0 {
		if got, want := sectionText(m.Extra), normalise(tc.extra); !slices.Equal(got, want) {
			t.Errorf("additional\n got %q\nwant %q", got, want)
		}
	}
}

func TestErrorsAndFlags(t *testing.T) {
	h := NewHandler(newTestSpace(t), Config{})
	// EDNS version 1: BADVERS with an OPT record (RFC 6891 §6.1.3).
	m := new(dns.Msg)
	m.SetQuestion("pool.test.", dns.TypeSOA)
	m.SetEdns0(1232, false)
	m.IsEdns0().SetVersion(1)
	w := newRecorder(false)
	h.ServeDNS(w, m)
	if w.msg.Rcode != dns.RcodeBadVers || w.msg.IsEdns0() == nil {
		t.Errorf("EDNS version 1: rcode %s, OPT %v; want BADVERS with OPT", dns.RcodeToString[w.msg.Rcode], w.msg.IsEdns0())
	}
	// CHAOS class: refused.
	m = new(dns.Msg)
	m.Question = []dns.Question{{Name: "version.bind.", Qtype: dns.TypeTXT, Qclass: dns.ClassCHAOS}}
	w = newRecorder(false)
	h.ServeDNS(w, m)
	if w.msg.Rcode != dns.RcodeRefused {
		t.Errorf("CHAOS: rcode %s, want REFUSED", dns.RcodeToString[w.msg.Rcode])
	}
	// RD and CD are copied, AD is not set, on the fast path too.
	for _, name := range []string{"web.pool.test.", "ns1.pool.test."} {
		m = new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		m.RecursionDesired, m.CheckingDisabled = true, true
		w = newRecorder(false)
		h.ServeDNS(w, m)
		if r := w.msg; !r.RecursionDesired || !r.CheckingDisabled || r.AuthenticatedData || r.RecursionAvailable {
			t.Errorf("%s: RD %v CD %v AD %v RA %v; want RD, CD copied, no AD, no RA", name, r.RecursionDesired, r.CheckingDisabled, r.AuthenticatedData, r.RecursionAvailable)
		}
	}
}

// TestCaseInsensitive: names match in any case, and the pool answers echo
// the question's case (owner names point at the question).
func TestCaseInsensitive(t *testing.T) {
	h := NewHandler(newTestSpace(t), Config{})
	for _, q := range []string{"WEB.Pool.TEST.", "_HTTP._Tcp.wEb.pool.test.", "W1.web.POOL.test."} {
		for _, qt := range []uint16{dns.TypeA, dns.TypeSRV} {
			m := query(t, h, q, qt, false, 1232)
			if m.Rcode != dns.RcodeSuccess {
				t.Fatalf("%s %s: %s", q, dns.TypeToString[qt], dns.RcodeToString[m.Rcode])
			}
			if m.Question[0].Name != q {
				t.Errorf("question %q, want %q", m.Question[0].Name, q)
			}
			for _, rr := range m.Answer {
				if rr.Header().Name != q {
					t.Errorf("answer owner %q, want the question's %q", rr.Header().Name, q)
				}
			}
		}
	}
	m := query(t, h, "NS1.pool.TEST.", dns.TypeA, false, 0)
	if len(m.Answer) != 1 {
		t.Errorf("static name in upper case: %v", m)
	}
}

// TestPolicyOrder: A answers carry up to `answers` elements in policy order;
// SRV answers carry every served element with the order in the priority
// field and the targets' addresses as glue.
func TestPolicyOrder(t *testing.T) {
	h := NewHandler(newTestSpace(t), Config{})
	pv := h.src.View().Zone("pool.test.").Pool("web")
	all, v4 := pv.All.Elements(), pv.V4.Elements()
	// rr over the 4 elements (ordered by ID): each query starts one further.
	n := len(v4)
	for q := 0; q < 2*n; q++ {
		m := query(t, h, "web.pool.test.", dns.TypeA, false, 0)
		if len(m.Answer) != 3 {
			t.Fatalf("query %d: %d answers, want 3", q, len(m.Answer))
		}
		for i, rr := range m.Answer {
			want := v4[(q+i)%n].Addrs.At(0).String()
			if got := rr.(*dns.A).A.String(); got != want {
				t.Errorf("query %d answer %d: %s, want %s", q, i, got, want)
			}
		}
	}
	for q := 0; q < n; q++ {
		m := query(t, h, "_http._tcp.web.pool.test.", dns.TypeSRV, false, 1232)
		if len(m.Answer) != n {
			t.Fatalf("%d SRV answers, want %d", len(m.Answer), n)
		}
		glue := map[string]int{}
		for _, rr := range m.Extra {
			if rr.Header().Rrtype != dns.TypeOPT {
				glue[rr.Header().Name]++
			}
		}
		for i, rr := range m.Answer {
			srv := rr.(*dns.SRV)
			want := all[(q+i)%n]
			if srv.Priority != uint16(i) || srv.Weight != 0 || srv.Port != want.Port || srv.Target != want.Label.String()+".web.pool.test." {
				t.Errorf("query %d SRV %d: %v, want priority %d weight 0 port %d target %s", q, i, srv, i, want.Port, want.Label.String())
			}
			if glue[srv.Target] != want.Addrs.Len() {
				t.Errorf("glue for %s: %d records, want %d", srv.Target, glue[srv.Target], want.Addrs.Len())
			}
		}
	}
	m := query(t, h, "_http._tcp.web.pool.test.", dns.TypeURI, false, 1232)
	for _, rr := range m.Answer {
		u := rr.(*dns.URI)
		if !strings.HasPrefix(u.Target, "http://w") || !strings.HasSuffix(u.Target, ".web.pool.test:8080/") {
			t.Errorf("URI target %q, want http://<pe>.web.pool.test:8080/", u.Target)
		}
	}
}

// TestSRVTargetsUncompressed: RFC 2782 forbids name compression in the SRV
// target, so each target must appear in the reply spelled out in full.
func TestSRVTargetsUncompressed(t *testing.T) {
	h := NewHandler(newTestSpace(t), Config{})
	for _, name := range []string{"web.pool.test.", "_http._tcp.web.pool.test.", "alias.pool.test."} {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeSRV)
		w := newRecorder(false)
		h.ServeDNS(w, q)
		n := 0
		for _, rr := range w.msg.Answer {
			srv, ok := rr.(*dns.SRV)
			if !ok {
				continue
			}
			n++
			wire := make([]byte, 256)
			l, err := dns.PackDomainName(srv.Target, wire, 0, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(w.raw, wire[:l]) {
				t.Errorf("%s: target %s is not spelled out in full in the reply", name, srv.Target)
			}
		}
		if n != 4 {
			t.Errorf("%s: %d SRV records, want 4", name, n)
		}
	}
}

// bigPool is a pool "big" of n elements.
func bigPool(n int, ttl uint32) handlespace.PoolDef {
	spec := handlespace.DefaultPoolSpec()
	spec.TTL = ttl
	var elems []*handlespace.Element
	for i := 0; i < n; i++ {
		a := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		e := &handlespace.Element{ID: uint32(i + 1), Label: handlespace.LabelOf(fmt.Sprintf("pe%d", i)), Addrs: handlespace.AddrsOf(a), Port: 80}
		elems = append(elems, e)
	}
	return handlespace.PoolDef{Handle: "big", Spec: spec, Elements: elems}
}

// bigSpace has a pool "big" of n elements.
func bigSpace(t testing.TB, n int, ttl uint32) *handlespace.Handlespace {
	return newTestSpace(t, bigPool(n, ttl))
}

// TestTruncation: an answer that does not fit the client's UDP size sets TC
// and carries no records; over TCP the whole answer comes (up to 64 KiB,
// whole elements dropped from the end of the order beyond that).
func TestTruncation(t *testing.T) {
	h := NewHandler(bigSpace(t, 1000, 0), Config{})
	for _, edns := range []int{0, 1232, 4096} {
		m := query(t, h, "big.pool.test.", dns.TypeSRV, false, edns)
		if !m.Truncated || len(m.Answer)+len(m.Extra) > 1 {
			t.Errorf("UDP edns %d: TC %v with %d answers; want TC and no records", edns, m.Truncated, len(m.Answer))
		}
	}
	m := query(t, h, "big.pool.test.", dns.TypeSRV, true, 0)
	if m.Truncated || len(m.Answer) != 1000 || len(m.Extra) != 1000 {
		t.Fatalf("TCP: TC %v, %d answers, %d glue; want 1000 and 1000", m.Truncated, len(m.Answer), len(m.Extra))
	}
	for _, rr := range m.Answer {
		if rr.Header().Ttl != 0 {
			t.Fatalf("TTL %d, want the pool's 0", rr.Header().Ttl)
		}
	}
	// Every glue record's name is an SRV target (pointer or spelled-out
	// past the 16 KiB pointer range).
	targets := map[string]bool{}
	for _, rr := range m.Answer {
		targets[rr.(*dns.SRV).Target] = true
	}
	for _, rr := range m.Extra {
		if !targets[rr.Header().Name] {
			t.Fatalf("glue %s names no SRV target", rr)
		}
	}
	// 4000 elements do not fit 64 KiB: the reply is cut to whole elements.
	h = NewHandler(bigSpace(t, 4000, 5), Config{})
	w := newRecorder(true)
	q := new(dns.Msg)
	q.SetQuestion("big.pool.test.", dns.TypeSRV)
	h.ServeDNS(w, q)
	if w.err != nil || len(w.raw) > dns.MaxMsgSize || len(w.msg.Answer) == 0 || len(w.msg.Answer) != len(w.msg.Extra) {
		t.Fatalf("TCP 4000 elements: err %v, %d bytes, %d answers, %d glue", w.err, len(w.raw), len(w.msg.Answer), len(w.msg.Extra))
	}
	// A mid-sized pool whose SRV answer fits but whose glue does not
	// (RFC 2181 §9): the whole answer, TC clear, glue for the first
	// elements in policy order, every glue RRset whole.
	glued := 0
	for _, n := range []int{15, 20, 25} {
		h := NewHandler(bigSpace(t, n, 5), Config{})
		m := query(t, h, "big.pool.test.", dns.TypeSRV, false, 1232)
		if m.Truncated || len(m.Answer) != n {
			t.Errorf("UDP %d elements: TC %v, %d answers; want no TC and all %d", n, m.Truncated, len(m.Answer), n)
			continue
		}
		var order []string
		for _, rr := range m.Answer {
			order = append(order, rr.(*dns.SRV).Target)
		}
		var glue []string
		for _, rr := range m.Extra {
			if rr.Header().Rrtype != dns.TypeOPT {
				glue = append(glue, rr.Header().Name)
			}
		}
		if len(glue) > len(order) || !slices.Equal(glue, order[:len(glue)]) {
			t.Errorf("UDP %d elements: glue for %v, want the first elements of %v", n, glue, order)
		}
		if len(glue) < n {
			glued++
		}
	}
	if glued == 0 {
		t.Errorf("no pool size left glue out: the test does not test what it says")
	}
	// A small answer fits 512 bytes without EDNS.
	h = NewHandler(newTestSpace(t), Config{})
	if m := query(t, h, "web.pool.test.", dns.TypeSRV, false, 0); m.Truncated || len(m.Answer) != 4 {
		t.Errorf("small SRV without EDNS: TC %v, %d answers", m.Truncated, len(m.Answer))
	}
}

// TestSnapshotChange: a change publishes a new view and the next answer
// reflects it (no stale packed material).
func TestSnapshotChange(t *testing.T) {
	hs := newTestSpace(t)
	h := NewHandler(hs, Config{})
	pv := hs.View().Zone("pool.test.").Pool("web")
	for _, e := range pv.Elements()[1:] {
		if err := hs.Update("web.pool.test.", e.ID, func(x *handlespace.Element) { x.Health = handlespace.HealthDown }); err != nil {
			t.Fatal(err)
		}
	}
	m := query(t, h, "web.pool.test.", dns.TypeA, false, 0)
	if len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != pv.Elements()[0].Addrs.At(0).String() {
		t.Fatalf("after 3 of 4 went down: %v", m.Answer)
	}
	if err := hs.Update("web.pool.test.", pv.Elements()[0].ID, func(x *handlespace.Element) { x.Health = handlespace.HealthDown }); err != nil {
		t.Fatal(err)
	}
	m = query(t, h, "web.pool.test.", dns.TypeA, false, 0)
	if len(m.Answer) != 0 || m.Rcode != dns.RcodeSuccess || len(m.Ns) != 1 {
		t.Fatalf("all down: want NODATA with SOA, got %v", m)
	}
}

// TestClientSubnet: an ECS option is echoed, scoped only where the answer
// depends on it.
func TestClientSubnet(t *testing.T) {
	h := NewHandler(newTestSpace(t), Config{})
	for _, name := range []string{"web.pool.test.", "ns1.pool.test."} {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: netip.MustParseAddr("198.51.100.0").AsSlice()})
		w := newRecorder(false)
		h.ServeDNS(w, m)
		ecs := subnetOption(w.msg.IsEdns0())
		if ecs == nil || ecs.SourceNetmask != 24 || ecs.SourceScope != 0 || !ecs.Address.Equal(netip.MustParseAddr("198.51.100.0").AsSlice()) {
			t.Errorf("%s: ECS echo %v, want 198.51.100.0/24 scope 0", name, ecs)
		}
	}
}

// TestAllocs: a pool answer allocates nothing in the handler itself.
func TestAllocs(t *testing.T) {
	h := NewHandler(newTestSpace(t), Config{})
	for _, qt := range []uint16{dns.TypeA, dns.TypeSRV} {
		m := new(dns.Msg)
		m.SetQuestion("_http._tcp.web.pool.test.", qt)
		if qt == dns.TypeA {
			m.SetQuestion("web.pool.test.", qt)
		}
		m.SetEdns0(1232, false)
		w := &discard{}
		h.ServeDNS(w, m)
		allocs := testing.AllocsPerRun(1000, func() { h.ServeDNS(w, m) })
		if allocs > 1 {
			t.Errorf("%s: %.1f allocations per query in the handler, want at most 1", dns.TypeToString[qt], allocs)
		}
	}
}

// TestDisputedLast: a disputed element that this registrar cannot reach
// (Element.Last) stays in the answers, after the others: last of the A
// answers (left out when the others fill them), the highest SRV priority,
// and in a weighted pool priority 1 where the others have 0.
func TestDisputedLast(t *testing.T) {
	hs := newTestSpace(t)
	mark := func(pool, label string) {
		pv := hs.View().Pool(pool)
		e := pv.Label(label)
		err := hs.Update(pool, e.ID, func(e *handlespace.Element) {
			e.Health = handlespace.HealthDown
			e.Vantage = handlespace.VantagesOf([]handlespace.Vantage{{Registrar: 7, Health: handlespace.HealthDown}, {Registrar: 8, Health: handlespace.HealthUp}})
			e.Last = handlespace.LastAt(e, 7)
		})
		if err != nil || !hs.View().Pool(pool).Label(label).Last {
			t.Fatalf("mark %s: %v", label, err)
		}
	}
	mark("web.pool.test.", "w2")
	mark("api.pool.test.", "a2")
	h := NewHandler(hs, Config{})
	for q := 0; q < 8; q++ {
		m := query(t, h, "web.pool.test.", dns.TypeA, false, 0)
		if len(m.Answer) != 3 {
			t.Fatalf("query %d: %d answers, want 3", q, len(m.Answer))
		}
		for _, rr := range m.Answer {
			if rr.(*dns.A).A.String() == "10.0.0.2" {
				t.Errorf("query %d: w2, disputed and out of reach here, among the 3 answers of 4: %v", q, m.Answer)
			}
		}
		m = query(t, h, "_http._tcp.web.pool.test.", dns.TypeSRV, false, 1232)
		if len(m.Answer) != 4 {
			t.Fatalf("query %d: %d SRV answers, want 4", q, len(m.Answer))
		}
		if last := m.Answer[3].(*dns.SRV); last.Target != "w2.web.pool.test." || last.Priority != 3 {
			t.Errorf("query %d: last SRV %v, want w2 at priority 3", q, last)
		}
		m = query(t, h, "api.pool.test.", dns.TypeSRV, false, 1232)
		for _, rr := range m.Answer {
			srv := rr.(*dns.SRV)
			want := uint16(0)
			if srv.Target == "a2.api.pool.test." {
				want = 1
			}
			if srv.Priority != want || srv.Weight == 0 {
				t.Errorf("query %d: weighted SRV %v, want priority %d and its weight", q, srv, want)
			}
		}
	}
}

// TestNegativeTTLUnderPool: every negative answer at or below a pool's name
// carries an SOA whose TTL is at most the pool's (0 included), so that a
// resolver caches "no such element" or "all down" no longer than it
// caches the pool's answers; a pool TTL above the zone's negative TTL
// leaves the negative TTL alone.
func TestNegativeTTLUnderPool(t *testing.T) {
	spec := func(ttl uint32) handlespace.PoolSpec {
		s := handlespace.DefaultPoolSpec()
		s.TTL = ttl
		return s
	}
	h := NewHandler(newTestSpace(t,
		handlespace.PoolDef{Handle: "zero", Spec: spec(0)},
		handlespace.PoolDef{Handle: "long", Spec: spec(600)},
	), Config{})
	for _, c := range []struct {
		qname string
		qtype uint16
		rcode int
		ttl   uint32
	}{
		{"zero.pool.test.", dns.TypeA, dns.RcodeSuccess, 0},
		{"zero.pool.test.", dns.TypeSRV, dns.RcodeSuccess, 0},
		{"x.zero.pool.test.", dns.TypeA, dns.RcodeNameError, 0},
		{"long.pool.test.", dns.TypeA, dns.RcodeSuccess, 30},
		{"x.long.pool.test.", dns.TypeA, dns.RcodeNameError, 30},
		{"dead.pool.test.", dns.TypeAAAA, dns.RcodeSuccess, 5},
		{"nothing.pool.test.", dns.TypeA, dns.RcodeNameError, 30},
	} {
		m := query(t, h, c.qname, c.qtype, false, 1232)
		if m.Rcode != c.rcode || len(m.Answer) != 0 || len(m.Ns) != 1 {
			t.Errorf("%s %s: %s, %d answers, %d authority; want %s, a negative answer", c.qname, dns.TypeToString[c.qtype],
				dns.RcodeToString[m.Rcode], len(m.Answer), len(m.Ns), dns.RcodeToString[c.rcode])
			continue
		}
		if got := m.Ns[0].Header().Ttl; got != c.ttl {
			t.Errorf("%s %s: SOA TTL %d, want %d", c.qname, dns.TypeToString[c.qtype], got, c.ttl)
		}
	}
}

// TestFit: a reply too big for the client is cut by whole RRsets of
// additional data first; TC is set, and every section emptied, only when
// the answer, the authority or a referral's in-zone glue does not fit.
func TestFit(t *testing.T) {
	rrs := func(s string) []dns.RR { return mustRRs(t, "$ORIGIN pool.test.\n"+s) }
	long := func(owner string, n int) string { // n TXT records of 200 bytes
		out := ""
		for i := 0; i < n; i++ {
			out += fmt.Sprintf("%s 300 IN TXT \"%03d%s\"\n", owner, i, strings.Repeat("x", 196))
		}
		return out
	}
	hosts := func(owner string, n int) string { // n A records
		out := ""
		for i := 0; i < n; i++ {
			out += fmt.Sprintf("%s 300 IN A 192.0.2.%d\n", owner, i+1)
		}
		return out
	}
	for _, c := range []struct {
		name              string
		aa                bool
		answer, ns, extra string
		tc                bool
		nAns, nNS, nExtra int
		extraOwners       []string
	}{
		{name: "fits", aa: true, answer: "mail 300 IN MX 10 mx1\n", extra: hosts("mx1", 2), nAns: 1, nExtra: 2},
		{name: "glue left out, whole RRsets", aa: true, answer: "mail 300 IN MX 10 mx1\nmail 300 IN MX 20 mx2\n",
			extra: hosts("mx1", 20) + hosts("mx2", 30), nAns: 2, nExtra: 20, extraOwners: []string{"mx1.pool.test."}},
		{name: "answer too big", aa: true, answer: long("txt", 4), tc: true},
		{name: "referral, out-of-zone glue left out", ns: "sub 300 IN NS ns.sub\nsub 300 IN NS ns.other\n",
			extra: hosts("ns.other", 40) + hosts("ns.sub", 2), nNS: 2, nExtra: 2, extraOwners: []string{"ns.sub.pool.test."}},
		{name: "referral, in-zone glue too big", ns: "sub 300 IN NS ns.sub\n", extra: hosts("ns.sub", 40), tc: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := new(dns.Msg)
			m.SetQuestion("q.pool.test.", dns.TypeA)
			m.Response, m.Authoritative = true, c.aa
			m.Answer, m.Ns, m.Extra = rrs(c.answer), rrs(c.ns), rrs(c.extra)
			m.SetEdns0(1232, false)
			m.Compress = true
			fit(m, 512)
			if m.Len() > 512 {
				t.Errorf("%d bytes, want at most 512", m.Len())
			}
			nExtra := len(m.Extra) - 1 // the OPT stays
			if m.IsEdns0() == nil {
				t.Fatalf("OPT dropped")
			}
			if m.Truncated != c.tc || len(m.Answer) != c.nAns || len(m.Ns) != c.nNS || nExtra != c.nExtra {
				t.Errorf("TC %v, %d/%d/%d records; want TC %v, %d/%d/%d", m.Truncated, len(m.Answer), len(m.Ns), nExtra,
					c.tc, c.nAns, c.nNS, c.nExtra)
			}
			for _, rr := range m.Extra {
				if rr.Header().Rrtype != dns.TypeOPT && c.extraOwners != nil && !slices.Contains(c.extraOwners, rr.Header().Name) {
					t.Errorf("additional %s, want only %v", rr, c.extraOwners)
				}
			}
		})
	}
}
