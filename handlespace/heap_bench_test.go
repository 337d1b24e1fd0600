package handlespace

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// BenchmarkHeapAfterChanges is what changes leave live in a pool of
// 1 000 000 elements once collected: 20 000 refreshes of random elements
// in batches of 32, the live heap measured before and after them (the
// change log keeps up to its window's changes and their old elements).
func BenchmarkHeapAfterChanges(b *testing.B) {
	const n, d = 1_000_000, 20_000
	for b.Loop() {
		hs := benchSpace(b, n, 1)
		r := rand.New(rand.NewPCG(7, 9))
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		groups := make([][]Op, 0, 32)
		for i := 0; i < d; i += 32 {
			groups = groups[:0]
			for range 32 {
				e := benchElem(r.IntN(n))
				e.Load = r.Uint32()
				groups = append(groups, []Op{{Pool: "p0.z.test.", Elem: e}})
			}
			hs.Apply(groups, nil)
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric((float64(ms.HeapAlloc)-float64(before))/n, "B/element-grown")
		runtime.KeepAlive(hs)
	}
}
