package dnsfront

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
)

// svcServeCases are the questions of BenchmarkServeSvc and
// BenchmarkServeLoopSvc: HTTPS of 3 elements (prio), SVCB at an attrleaf
// name, HTTPS of a weighted pool (a draw), S-NAPTR and U-NAPTR.
var svcServeCases = []struct {
	name  string
	qtype uint16
}{
	{"h.pool.test.", dns.TypeHTTPS},
	{"_8080._foo.h.pool.test.", dns.TypeSVCB},
	{"hw.pool.test.", dns.TypeHTTPS},
	{"s.pool.test.", dns.TypeNAPTR},
	{"u.pool.test.", dns.TypeNAPTR},
}

// BenchmarkServeSvc is BenchmarkServe for the HTTPS/SVCB and NAPTR
// answers.
func BenchmarkServeSvc(b *testing.B) {
	h := NewHandler(newSvcSpace(b), Config{})
	for _, c := range svcServeCases {
		m := new(dns.Msg)
		m.SetQuestion(c.name, c.qtype)
		m.SetEdns0(1232, false)
		b.Run(fmt.Sprintf("%s/%s", c.name, dns.TypeToString[c.qtype]), func(b *testing.B) {
			w := &discard{}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeDNS(w, m)
			}
			b.ReportMetric(float64(w.bytes), "bytes/reply")
		})
	}
}

// BenchmarkServeLoopSvc is BenchmarkServeLoop for the HTTPS/SVCB and
// NAPTR answers: the UDP loop's path, which allocates nothing.
func BenchmarkServeLoopSvc(b *testing.B) {
	h := NewHandler(newSvcSpace(b), Config{})
	u := loopFor(b, h)
	from := udpbatch.AddrFrom(netip.MustParseAddrPort("192.0.2.200:40000"), false)
	for _, c := range svcServeCases {
		m := new(dns.Msg)
		m.SetQuestion(c.name, c.qtype)
		m.SetEdns0(1232, false)
		q, _ := m.Pack()
		b.Run(fmt.Sprintf("%s/%s", c.name, dns.TypeToString[c.qtype]), func(b *testing.B) { benchLoopServe(b, u, q, from) })
	}
}

// TestServeLoopSvcAllocs: the UDP loop answers HTTPS, SVCB and NAPTR
// questions without allocating, once the names and the packed material
// are there.
func TestServeLoopSvcAllocs(t *testing.T) {
	h := NewHandler(newSvcSpace(t), Config{})
	u := loopFor(t, h)
	from := udpbatch.AddrFrom(netip.MustParseAddrPort("192.0.2.200:40000"), false)
	for _, c := range svcServeCases {
		m := new(dns.Msg)
		m.SetQuestion(c.name, c.qtype)
		m.SetEdns0(1232, false)
		q, _ := m.Pack()
		msg := udpbatch.Msg{Buf: q, Addr: from}
		out := make([]byte, 0, 4096)
		if r := u.serve(&msg, out[:0]); len(r) <= len(q) {
			t.Fatalf("%s: no answer", c.name)
		}
		if n := testing.AllocsPerRun(200, func() { u.serve(&msg, out[:0]) }); n != 0 {
			t.Errorf("%s %s: %.1f allocations per query, want 0", c.name, dns.TypeToString[c.qtype], n)
		}
	}
}
