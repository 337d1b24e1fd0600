package regcommit

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestWheel: against a model, across random adds and sweeps (regular,
// early and after long pauses): every entry comes out of the first sweep
// at or after its end's slot, never before its end and never twice, with
// its pool's name.
func TestWheel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	w := newWheel()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	now := t0
	ends := map[uint32]time.Time{} // id → end, still in the wheel
	pools := map[uint32]string{}   // id → pool
	next := uint32(1)
	for step := 0; step < 20000; step++ {
		switch rng.IntN(10) {
		case 0, 1, 2, 3: // add, mostly in the future, some already due
			end := now.Add(time.Duration(rng.Int64N(int64(20*time.Second))) - 2*time.Second)
			pools[next] = fmt.Sprintf("p%d.", rng.IntN(5))
			w.add(pools[next], next, end)
			ends[next] = end
			next++
		default:
			switch rng.IntN(20) {
			case 0:
				now = now.Add(time.Duration(rng.Int64N(int64(30 * time.Second)))) // a long pause
			default:
				now = now.Add(time.Duration(rng.Int64N(int64(2 * slot))))
			}
			got := w.due(now)
			seen := map[uint32]bool{}
			for _, r := range got {
				end, ok := ends[r.id]
				if !ok || seen[r.id] {
					t.Fatalf("step %d: %d returned twice", step, r.id)
				}
				seen[r.id] = true
				if w.pool(r) != pools[r.id] {
					t.Fatalf("step %d: %d returned in pool %q; want %q", step, r.id, w.pool(r), pools[r.id])
				}
				if end.After(now) {
					t.Fatalf("step %d: %d returned at %v, before its end %v", step, r.id, now.Sub(t0), end.Sub(t0))
				}
				delete(ends, r.id)
			}
			for id, end := range ends {
				if !now.Before(end.Truncate(slot).Add(slot)) {
					t.Fatalf("step %d: %d (end %v) not returned at %v", step, id, end.Sub(t0), now.Sub(t0))
				}
			}
		}
	}
}
