//go:build linux

package handlespace

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/internal/threadcpu"
)

// BenchmarkDiffElements is what DiffElements costs between a pool's view
// and the view d changes later, at n elements (issue 13 part 3: the
// history's Sample and the monitor's sync after a second of 1 000
// registrations in a pool of 1 000 000): each iteration refreshes d
// random elements in batches of 32 (group commits), untimed, then diffs
// the view before against the one after: by the change log
// (DiffElements) and by the walk of both trees (diffWalk, what
// DiffElements does without a log). It reports the thread's CPU per diff
// (cpu-ns/op: the figure to compare on a loaded machine).
func BenchmarkDiffElements(b *testing.B) {
	for _, n := range []int{1000, 1_000_000} {
		hs := benchSpace(b, n, 1)
		for _, d := range []int{1, 32, 1000} {
			for _, how := range []string{"log", "walk"} {
				b.Run(fmt.Sprintf("n=%d/d=%d/%s", n, d, how), func(b *testing.B) {
					diff := DiffElements
					if how == "walk" {
						diff = diffWalk
					}
					benchDiffElements(b, hs, n, d, diff)
				})
			}
		}
	}
}

func benchDiffElements(b *testing.B, hs *Handlespace, n, d int, diff func(old, v *PoolView, f func(was, now *Element))) {
	const pool = "p0.z.test."
	r := rand.New(rand.NewPCG(7, uint64(n)))
	groups := make([][]Op, 0, 32)
	changed := 0
	var cpu time.Duration
	runtime.LockOSThread() // threadCPU's thread
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		old := hs.View().Pool(pool)
		for i := 0; i < d; i += 32 {
			groups = groups[:0]
			for range min(32, d-i) {
				e := benchElem(r.IntN(n))
				e.Load = uint32(r.Uint32())
				groups = append(groups, []Op{{Pool: pool, Elem: e}})
			}
			hs.Apply(groups, nil)
		}
		v := hs.View().Pool(pool)
		b.StartTimer()
		c0 := threadcpu.Now()
		diff(old, v, func(was, now *Element) { changed++ })
		cpu += threadcpu.Now() - c0
	}
	b.StopTimer()
	if changed == 0 {
		b.Fatal("no change found")
	}
	b.ReportMetric(float64(changed)/float64(b.N), "changes/op")
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}
