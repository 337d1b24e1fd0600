package dnsfront

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
)

// BenchmarkServeLoopSigned: BenchmarkServeLoop's questions in a signed zone,
// each without DO (the fast path, as in an unsigned zone) and with DO (the
// signing renderer, the signature cache warm: a pool makes few RRsets),
// run by run: the ratio of the two is the cost of a signed answer in
// process. P-256 key.
func BenchmarkServeLoopSigned(b *testing.B) {
	signer, _ := newTestSigner(b, dns.ECDSAP256SHA256)
	// ten and tenw are bench/dnssec.sh's pools: rr and wrand over 10
	// elements, SRV of all 10 (wrand: one RRset, sent in many orders).
	ten := bigPool(10, 5)
	ten.Handle, ten.Spec.Policy, ten.Spec.Service = "ten", "rr", "_http._tcp"
	tenw := bigPool(10, 5)
	tenw.Handle, tenw.Spec.Policy = "tenw", "wrand"
	for i, e := range tenw.Elements {
		e.Weight = uint32(i + 1)
	}
	h := NewHandler(newTestSpace(b, nearPool(), ten, tenw), Config{Sites: testSiteMap(b), Signer: signer})
	u := loopFor(b, h)
	from := udpbatch.AddrFrom(netip.MustParseAddrPort("192.0.2.200:40000"), false)
	cases := append(serveCases[:len(serveCases):len(serveCases)], struct {
		name  string
		qtype uint16
	}{"_http._tcp.ten.pool.test.", dns.TypeSRV}, struct {
		name  string
		qtype uint16
	}{"tenw.pool.test.", dns.TypeSRV})
	for _, c := range cases {
		for _, do := range []bool{false, true} {
			m := new(dns.Msg)
			m.SetQuestion(c.name, c.qtype)
			m.SetEdns0(1232, do)
			q, _ := m.Pack()
			b.Run(fmt.Sprintf("%s/%s/do=%v", c.name, dns.TypeToString[c.qtype], do), func(b *testing.B) {
				out := make([]byte, 0, 4096)
				msg := udpbatch.Msg{Buf: q, Addr: from}
				for range 64 { // warm the cache: every RRset of the rotation
					u.serve(&msg, out[:0])
				}
				before := signer.CacheStats()
				b.ReportAllocs()
				var n int
				for b.Loop() {
					n = len(u.serve(&msg, out[:0]))
				}
				after := signer.CacheStats()
				b.ReportMetric(float64(n), "bytes/reply")
				b.ReportMetric(float64(after.Misses+after.Refreshes-before.Misses-before.Refreshes)/float64(b.N), "signings/q")
			})
		}
	}
}

// BenchmarkServeSignedRand is the worst case of online signing: a rand
// pool of n elements, 3 per A answer, so that nearly every answer is a new
// RRset signed as it is sent (a cache bounded at 64 MiB), per key
// algorithm; q/s is what one core answers.
func BenchmarkServeSignedRand(b *testing.B) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		signer, _ := newTestSigner(b, alg)
		p := bigPool(1000, 5)
		p.Spec.Policy = "rand"
		h := NewHandler(newTestSpace(b, p), Config{Signer: signer})
		u := loopFor(b, h)
		from := udpbatch.AddrFrom(netip.MustParseAddrPort("192.0.2.200:40000"), false)
		for _, do := range []bool{false, true} {
			m := new(dns.Msg)
			m.SetQuestion("big.pool.test.", dns.TypeA)
			m.SetEdns0(1232, do)
			q, _ := m.Pack()
			b.Run(fmt.Sprintf("alg=%d/do=%v", alg, do), func(b *testing.B) {
				out := make([]byte, 0, 4096)
				msg := udpbatch.Msg{Buf: q, Addr: from}
				before := signer.CacheStats()
				b.ReportAllocs()
				for b.Loop() {
					u.serve(&msg, out[:0])
				}
				after := signer.CacheStats()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "q/s")
				b.ReportMetric(float64(after.Misses-before.Misses)/float64(b.N), "signings/q")
			})
		}
	}
}
