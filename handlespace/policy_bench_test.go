package handlespace

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"testing"
)

// BenchmarkSelect measures one selection of every policy for pools of 10,
// 1 000 and 100 000 elements, k = 3, and a full ordering of 10.
func BenchmarkSelect(b *testing.B) {
	type size struct{ n, k int }
	sizes := []size{{10, 3}, {1000, 3}, {100_000, 3}, {10, 0}}
	elems := map[int][]*Element{}
	for _, sz := range sizes {
		if elems[sz.n] == nil {
			r := rand.New(rand.NewPCG(uint64(sz.n), 1))
			elems[sz.n] = polElems(sz.n, func(i int, e *Element) {
				e.Weight = 1 + r.Uint32N(100)
				e.Priority = r.Uint32N(10)
				e.Load = r.Uint32()
				e.LoadDeg = r.Uint32N(LoadFull / 100)
			})
		}
	}
	c := &Client{Addr: netip.MustParseAddr("198.51.100.77")}
	for _, name := range PolicyNames() {
		for _, sz := range sizes {
			k := fmt.Sprint(sz.k)
			if sz.k <= 0 {
				k = "all"
			}
			b.Run(fmt.Sprintf("%s/n=%d/k=%s", name, sz.n, k), func(b *testing.B) {
				p, err := NewPolicy(name, NewSeededRand(1))
				if err != nil {
					b.Fatal(err)
				}
				o := p.order()
				set := o.setOf(elems[sz.n])
				sel := p.build(&set, new(atomic.Uint64), nil, true)
				dst := make([]Pick, 0, min(sz.n, 16))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					dst = sel.Select(dst[:0], sz.k, c)
				}
			})
		}
	}
}
