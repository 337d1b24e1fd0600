package dnsfront

import (
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
)

// BenchmarkServeLoopBigSpace is what a large handlespace costs a small
// pool's answers (issue 13 part 2): the A answer of web (10 elements, rr)
// through the UDP loop's serving of a datagram, with nothing else
// registered, with 1 000 000 elements in one pool and with 1 000 000
// spread over 10 000 pools. The layouts alternate, three rounds, so that
// the ratios are taken under the same load of the machine; cpu-ns/op is
// the process's CPU time per query (rusage), GC included.
func BenchmarkServeLoopBigSpace(b *testing.B) {
	layouts := []struct {
		name     string
		n, pools int
	}{{"empty", 0, 0}, {"1M-in-1-pool", 1_000_000, 1}, {"1M-in-10000-pools", 1_000_000, 10_000}}
	for round := 1; round <= 3; round++ {
		for _, l := range layouts {
			b.Run(fmt.Sprintf("%s/round=%d", l.name, round), func(b *testing.B) {
				h := bigSpaceHandler(b, l.n, l.pools)
				u := loopFor(b, h)
				from := udpbatch.AddrFrom(netip.MustParseAddrPort("192.0.2.200:40000"), false)
				m := new(dns.Msg)
				m.SetQuestion("web.pool.test.", dns.TypeA)
				m.SetEdns0(1232, false)
				q, _ := m.Pack()
				out := make([]byte, 0, 4096)
				msg := udpbatch.Msg{Buf: q, Addr: from}
				if len(u.serve(&msg, out[:0])) == 0 {
					b.Fatal("no reply")
				}
				runtime.GC()
				b.ReportAllocs()
				c0 := benchCPU()
				b.ResetTimer()
				for b.Loop() {
					u.serve(&msg, out[:0])
				}
				b.StopTimer()
				b.ReportMetric(float64(benchCPU()-c0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

var bigSpaces sync.Map // "n/pools" → *Handler, built once per run

func bigSpaceHandler(b *testing.B, n, pools int) *Handler {
	key := fmt.Sprintf("%d/%d", n, pools)
	if h, ok := bigSpaces.Load(key); ok {
		return h.(*Handler)
	}
	hs := newTestSpace(b)
	exp := time.Now().Add(24 * time.Hour)
	const chunk = 1 << 16
	groups := make([][]handlespace.Op, 0, chunk)
	for i := 0; i < n; i++ {
		e := &handlespace.Element{ID: uint32(i + 1), Label: handlespace.LabelOf(fmt.Sprintf("pe%d", i)),
			Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})),
			Port:  8080, Weight: 1, Expires: handlespace.ExpiryOf(exp), Lease: time.Hour, Owner: handlespace.OwnerOf("tsig:bench-key.")}
		groups = append(groups, []handlespace.Op{{Pool: fmt.Sprintf("big%d.pool.test.", i%pools), Elem: e}})
		if len(groups) == chunk || i == n-1 {
			for _, err := range hs.Apply(groups, nil) {
				if err != nil {
					b.Fatal(err)
				}
			}
			groups = groups[:0]
		}
	}
	h := NewHandler(hs, Config{Logger: discardLog()})
	bigSpaces.Store(key, h)
	return h
}

func benchCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
