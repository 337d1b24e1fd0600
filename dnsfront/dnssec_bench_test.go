package dnsfront

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnssec"
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
	// tenr: rand over 10, SRV of all 10: one RRset (one priority, weight
	// 1 each) in a new order each time; it was a new RRset each time.
	tenr := bigPool(10, 5)
	tenr.Handle, tenr.Spec.Policy = "tenr", "rand"
	h := NewHandler(newTestSpace(b, nearPool(), ten, tenw, tenr), Config{Sites: testSiteMap(b), Signer: signer})
	u := loopFor(b, h)
	from := udpbatch.AddrFrom(netip.MustParseAddrPort("192.0.2.200:40000"), false)
	cases := append(serveCases[:len(serveCases):len(serveCases)], struct {
		name  string
		qtype uint16
	}{"_http._tcp.ten.pool.test.", dns.TypeSRV}, struct {
		name  string
		qtype uint16
	}{"tenw.pool.test.", dns.TypeSRV}, struct {
		name  string
		qtype uint16
	}{"tenr.pool.test.", dns.TypeSRV})
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

// BenchmarkSignedWarmLatency shows what a signed answer whose signatures
// are cached waits for on a UDP socket while other queries on the same
// socket sign new RRsets (issue 14: "signing a new RRset must not block
// other queries on the same socket for longer than one signature"). A
// warm client asks web.pool.test. A with DO (rr over 4: its 4 RRsets
// signed before the clock starts), one query at a time, and times each
// answer, while cold clients each ask big.pool.test. A with DO (rand over
// 1000, 3 per answer: a new RRset, one signature, nearly every answer)
// as fast as they are answered. One UDP socket (a server has one per
// core). Reported: the warm answers' median and 90th/99th percentiles,
// the CPU time of one signature measured beside them (sign-µs, median of
// 200 made alone before the clients start), and the signatures made per
// second meanwhile.
func BenchmarkSignedWarmLatency(b *testing.B) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		for _, cold := range []int{0, 1, 4, 16} {
			b.Run(fmt.Sprintf("alg=%d/cold=%d", alg, cold), func(b *testing.B) {
				signer, _ := newTestSigner(b, alg)
				p := bigPool(1000, 5)
				p.Spec.Policy = "rand"
				srv, err := Start(Config{Listen: []string{"127.0.0.1:0"}, UDPSockets: 1, Signer: signer, Logger: discardLog()}, newTestSpace(b, p))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					srv.Shutdown(ctx)
				})
				addr := srv.Addrs()[0].String()
				pack := func(name string) []byte {
					m := new(dns.Msg)
					m.SetQuestion(name, dns.TypeA)
					m.SetEdns0(1232, true)
					q, _ := m.Pack()
					return q
				}
				exchange := func(c net.Conn, q, buf []byte) error {
					c.SetDeadline(time.Now().Add(2 * time.Second))
					if _, err := c.Write(q); err != nil {
						return err
					}
					_, err := c.Read(buf)
					return err
				}
				signCPU := medianSignCPU(b, signer.Zone("pool.test."), 200)

				warm, err := net.Dial("udp", addr)
				if err != nil {
					b.Fatal(err)
				}
				defer warm.Close()
				wq, buf := pack("web.pool.test."), make([]byte, 4096)
				for range 20 {
					if err := exchange(warm, wq, buf); err != nil {
						b.Fatal(err)
					}
				}
				stop := make(chan struct{})
				var wg sync.WaitGroup
				var coldErr atomic.Pointer[error]
				cq := pack("big.pool.test.")
				for range cold {
					c, err := net.Dial("udp", addr)
					if err != nil {
						b.Fatal(err)
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						defer c.Close()
						buf := make([]byte, 4096)
						for {
							select {
							case <-stop:
								return
							default:
							}
							if err := exchange(c, cq, buf); err != nil {
								coldErr.CompareAndSwap(nil, &err)
								return
							}
						}
					}()
				}
				// Let the cold clients get going: their first signatures.
				for deadline := time.Now().Add(5 * time.Second); cold > 0 && signer.CacheStats().Misses < 100 && time.Now().Before(deadline); {
					if err := exchange(warm, wq, buf); err != nil {
						b.Fatal(err)
					}
				}
				before := signer.CacheStats()
				lat := make([]time.Duration, 0, b.N)
				for b.Loop() {
					t0 := time.Now()
					if err := exchange(warm, wq, buf); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t0))
				}
				elapsed := b.Elapsed()
				after := signer.CacheStats()
				close(stop)
				wg.Wait()
				if e := coldErr.Load(); e != nil {
					b.Fatalf("cold client: %v", *e)
				}
				slices.Sort(lat)
				pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
				b.ReportMetric(pct(0.5), "p50-µs")
				b.ReportMetric(pct(0.9), "p90-µs")
				b.ReportMetric(pct(0.99), "p99-µs")
				b.ReportMetric(signCPU.Seconds()*1e6, "sign-µs")
				b.ReportMetric(float64(after.Misses-before.Misses)/elapsed.Seconds(), "signatures/s")
			})
		}
	}
}

// medianSignCPU is the median CPU time (of the whole process: run it
// when nothing else works) of one signature by z of a new RRset, over n.
func medianSignCPU(b *testing.B, z *dnssec.Zone, n int) time.Duration {
	b.Helper()
	ds := make([]time.Duration, 0, n)
	for i := range n {
		rr := &dns.A{Hdr: dns.RR_Header{Name: "cpu.pool.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5},
			A: net.IPv4(10, 9, byte(i>>8), byte(i))}
		t0 := cpuTime()
		if _, err := z.Sign([]dns.RR{rr}); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, cpuTime()-t0)
	}
	slices.Sort(ds)
	return ds[n/2]
}

// cpuTime is the process's CPU time so far (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
