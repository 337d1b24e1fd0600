package probe

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDueHeap checks the heap against a sorted list under random pushes,
// fixes and removals: the top is always the earliest, and every entry's
// index points at itself.
func TestDueHeap(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 2))
	var h dueHeap
	var in []*entry
	check := func(step int) {
		t.Helper()
		for i, it := range h {
			if it.e.index != i {
				t.Fatalf("step %d: entry at %d has index %d", step, i, it.e.index)
			}
			if c := 2*i + 1; c < len(h) && h[c].at < it.at || c+1 < len(h) && h[c+1].at < it.at {
				t.Fatalf("step %d: heap order broken at %d", step, i)
			}
		}
		if len(h) != len(in) {
			t.Fatalf("step %d: %d in the heap, want %d", step, len(h), len(in))
		}
		if len(in) > 0 {
			min := slices.MinFunc(in, func(a, b *entry) int { return int(h[a.index].at - h[b.index].at) })
			if h[0].at != h[min.index].at {
				t.Fatalf("step %d: top %d, want %d", step, h[0].at, h[min.index].at)
			}
		}
	}
	for step := range 20000 {
		switch op := r.IntN(4); {
		case op <= 1 || len(in) == 0:
			e := &entry{index: -1}
			h.push(r.Int64N(1000), e)
			in = append(in, e)
		case op == 2:
			e := in[r.IntN(len(in))]
			h.fix(e.index, r.Int64N(1000))
		default:
			i := r.IntN(len(in))
			e := in[i]
			h.remove(e.index)
			if e.index != -1 {
				t.Fatalf("removed entry keeps index %d", e.index)
			}
			in = slices.Delete(in, i, i+1)
		}
		check(step)
	}
}
