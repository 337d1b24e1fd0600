package policy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/testrand"
)

// BenchmarkSelect measures one selection of every policy for pools of 10,
// 1 000 and 100 000 elements, k = 3, and a full ordering of 10.
func BenchmarkSelect(b *testing.B) {
	type size struct{ n, k int }
	sizes := []size{{10, 3}, {1000, 3}, {100_000, 3}, {10, 0}}
	elems := map[int][]*handlespace.Element{}
	for _, sz := range sizes {
		if elems[sz.n] == nil {
			r := rand.New(rand.NewPCG(uint64(sz.n), 1))
			elems[sz.n] = polElems(sz.n, func(i int, e *handlespace.Element) {
				e.Weight = 1 + r.Uint32N(100)
				e.Priority = r.Uint32N(10)
				e.Load = r.Uint32()
				e.LoadDeg = r.Uint32N(handlespace.LoadFull / 100)
			})
		}
	}
	c := &handlespace.Client{Addr: netip.MustParseAddr("198.51.100.77")}
	for _, name := range policyNames() {
		for _, sz := range sizes {
			k := fmt.Sprint(sz.k)
			if sz.k <= 0 {
				k = "all"
			}
			b.Run(fmt.Sprintf("%s/n=%d/k=%s", name, sz.n, k), func(b *testing.B) {
				p, err := handlespace.NewPolicy(name, testrand.New(1))
				if err != nil {
					b.Fatal(err)
				}
				o := p.Order()
				set := o.NewSet(elems[sz.n])
				sel := p.Build(&set, new(atomic.Uint64), nil, true)
				dst := make([]handlespace.Pick, 0, min(sz.n, 16))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					dst = sel.Select(dst[:0], sz.k, c)
				}
			})
		}
	}
}

// BenchmarkSelectNearestSites: nearest with elements at 4 sites (a fifth
// at none) and RTTs in 97 steps (ties), for a client of a site (its
// elements first), of a site with 2 elements (k = 3 goes on to the rest,
// leaving them out), and of no site (the order by RTT).
func BenchmarkSelectNearestSites(b *testing.B) {
	for _, n := range []int{10, 1000, 100_000} {
		elems := polElems(n, func(i int, e *handlespace.Element) {
			e.Site = handlespace.SiteNameOf([]string{"", "s-fra", "s-ams", "s-lon", "s-nyc"}[i%5])
			e.RTT = time.Duration(1+i%97) * 100 * time.Microsecond
		})
		elems[n/2].Site, elems[n/3].Site = handlespace.SiteNameOf("s-rare"), handlespace.SiteNameOf("s-rare")
		p, _ := handlespace.NewPolicy("nearest", nil)
		o := p.Order()
		set := o.NewSet(elems)
		sel := p.Build(&set, new(atomic.Uint64), nil, true)
		for _, site := range []string{"s-fra", "s-rare", ""} {
			c := &handlespace.Client{Site: handlespace.SiteOf(site)}
			for _, k := range []int{3, 0} {
				if k == 0 && n > 10 {
					continue
				}
				name := site
				if name == "" {
					name = "none"
				}
				b.Run(fmt.Sprintf("n=%d/site=%s/k=%d", n, name, k), func(b *testing.B) {
					dst := make([]handlespace.Pick, 0, 16)
					b.ReportAllocs()
					for b.Loop() {
						dst = sel.Select(dst[:0], k, c)
					}
				})
			}
		}
	}
}

// BenchmarkSiteMapLookup: a client's site in maps of 10 and 1 000
// prefixes (IPv4 /16../24 and IPv6 /48), by source address and by ECS.
func BenchmarkSiteMapLookup(b *testing.B) {
	for _, n := range []int{10, 1000} {
		r := rand.New(rand.NewPCG(uint64(n), 2))
		in := map[string][]netip.Prefix{}
		var addrs []netip.Addr
		seen := map[netip.Prefix]bool{}
		for i := 0; len(addrs) < n; i++ {
			name := fmt.Sprintf("m-%d", i%50)
			a := netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), byte(r.IntN(256)), 0})
			p := netip.PrefixFrom(a, 16+r.IntN(9)).Masked()
			if i%4 == 3 {
				a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(r.IntN(256)), byte(r.IntN(256))})
				p = netip.PrefixFrom(a, 48)
			}
			if seen[p] {
				continue
			}
			seen[p] = true
			in[name] = append(in[name], p)
			addrs = append(addrs, a)
		}
		m, err := handlespace.NewSiteMap(in)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("prefixes=%d/addr", n), func(b *testing.B) {
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				m.Lookup(&handlespace.Client{Addr: addrs[i%len(addrs)]})
				i++
			}
		})
		b.Run(fmt.Sprintf("prefixes=%d/ecs", n), func(b *testing.B) {
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				a := addrs[i%len(addrs)]
				bits := 24
				if a.Is6() {
					bits = 56
				}
				m.Lookup(&handlespace.Client{Addr: netip.MustParseAddr("127.0.0.1"), Subnet: netip.PrefixFrom(a, bits)})
				i++
			}
		})
	}
}

// BenchmarkSelectDistance: the distance-penalty policies with elements
// at RTTs of 0 (unknown) to 300 ms, beside the policies they extend (and
// RSPLIB's others beside theirs), for pools of 10, 1 000 and 100 000
// elements, k = 3. Besides ns/op it reports cpu-ns/op, the process's CPU
// time per selection, which other processes on a loaded machine disturb
// less than the wall clock.
func BenchmarkSelectDistance(b *testing.B) {
	pairs := []string{"lu", "lu-dpf", "plu", "plu-dpf", "lud", "lud-dpf", "plud", "plud-dpf", "wrand", "wrand-dpf", "rlu", "rplu", "rlud", "rplud"}
	for _, n := range []int{10, 1000, 100_000} {
		r := rand.New(rand.NewPCG(uint64(n), 3))
		elems := polElems(n, func(i int, e *handlespace.Element) {
			e.Weight = 1 + r.Uint32N(100)
			e.Load = r.Uint32()
			e.LoadDeg = r.Uint32N(handlespace.LoadFull / 100)
			e.RTT = time.Duration(r.IntN(300)) * time.Millisecond
		})
		c := &handlespace.Client{Addr: netip.MustParseAddr("198.51.100.77")}
		for _, name := range pairs {
			b.Run(fmt.Sprintf("%s/n=%d/k=3", name, n), func(b *testing.B) {
				p, err := handlespace.NewPolicy(name, testrand.New(1))
				if err != nil {
					b.Fatal(err)
				}
				o := p.Order()
				set := o.NewSet(elems)
				sel := p.Build(&set, new(atomic.Uint64), nil, true)
				dst := make([]handlespace.Pick, 0, 16)
				b.ReportAllocs()
				b.ResetTimer()
				cpu0 := cpuTime()
				for b.Loop() {
					dst = sel.Select(dst[:0], 3, c)
				}
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// cpuTime returns the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
