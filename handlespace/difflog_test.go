package handlespace

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// diffPairs is what DiffElements-like d calls f with, as pointer pairs.
func diffPairs(old, v *PoolView, d func(old, v *PoolView, f func(was, now *Element))) [][2]*Element {
	var out [][2]*Element
	d(old, v, func(was, now *Element) { out = append(out, [2]*Element{was, now}) })
	return out
}

// TestDiffElementsLog: DiffElements by the change log gives what the walk
// of both trees gives, pointer for pointer and in order, between any two
// views of a pool that changes by random batches (registrations,
// refreshes, removals, health changes; the pool emptied and made again; a
// zone reload): forward, backward, across chains and beyond the window.
// The log serves every forward pair of one chain within the window, and
// no other.
func TestDiffElementsLog(t *testing.T) {
	r := rand.New(rand.NewPCG(polSeed(t), 11))
	hs := New(Options{RegistrarID: 1})
	zd := zoneDef(t)
	if err := hs.ApplyZones([]ZoneDef{zd}); err != nil {
		t.Fatal(err)
	}
	const pool = "p.z.test."
	var views []*PoolView
	var gone []int // views[i] is nil: the pool was gone
	next := uint32(1)
	// A pool of 4 000 (a window of 15 changes), made again so when
	// emptied.
	fill := func() {
		var groups [][]Op
		for range 4000 {
			groups = append(groups, []Op{{Pool: pool, Elem: dyn(next, fmt.Sprintf("e%d", next), "10.0.0.1")}})
			next++
		}
		hs.Apply(groups, nil)
	}
	fill()
	logged, walked := 0, 0
	for round := range 400 {
		pv := hs.View().Pool(pool)
		if pv == nil {
			fill()
			pv = hs.View().Pool(pool)
		}
		es := pv.Elements()
		var groups [][]Op
		switch k := r.IntN(40); {
		case k == 0:
			// Every element removed: the pool goes, and comes back
			// on a new chain.
			for _, e := range es {
				groups = append(groups, []Op{{Pool: pool, ID: e.ID}})
			}
		case k == 1:
			if err := hs.ApplyZones([]ZoneDef{zd}); err != nil {
				t.Fatal(err)
			}
		case k == 2:
			e := es[r.IntN(len(es))]
			if err := hs.Update(pool, e.ID, func(e *Element) { e.Health = HealthDown }); err != nil {
				t.Fatal(err)
			}
		default:
			for range 1 + r.IntN([]int{2, 8, 24}[r.IntN(3)]) {
				switch c := r.IntN(10); {
				case c < 3:
					id := next
					next++
					groups = append(groups, []Op{{Pool: pool, Elem: dyn(id, fmt.Sprintf("e%d", id), "10.0.0.1")}})
				case c < 5:
					groups = append(groups, []Op{{Pool: pool, ID: es[r.IntN(len(es))].ID}})
				default:
					e := es[r.IntN(len(es))]
					ne := dyn(e.ID, e.Label.String(), "10.0.0.1")
					ne.Load = uint32(round)
					groups = append(groups, []Op{{Pool: pool, Elem: ne}})
				}
			}
		}
		hs.Apply(groups, nil) // a removal of an element removed before in the batch fails: fine
		nv := hs.View().Pool(pool)
		if nv == nil {
			gone = append(gone, len(views))
		}
		views = append(views, nv)
		// The newest view against a few others, both ways.
		for range 6 {
			i := len(views) - 1 - r.IntN(min(len(views), 1+[]int{2, 4, 8, 400}[r.IntN(4)]))
			for _, p := range [][2]*PoolView{{views[i], nv}, {nv, views[i]}} {
				want := diffPairs(p[0], p[1], diffWalk)
				if got := diffPairs(p[0], p[1], DiffElements); !slices.Equal(got, want) {
					t.Fatalf("round %d, view %d against the newest (%d): DiffElements gives %d changes, the walk %d",
						round, i, len(views)-1, len(got), len(want))
				}
				if p[0] == nil || p[1] == nil {
					continue
				}
				if diffLogged(p[0], p[1], func(_, _ *Element) {}) {
					logged++
					if p[1].Gen < p[0].Gen {
						t.Fatalf("round %d: the log served a backward diff", round)
					}
				} else {
					walked++
				}
			}
		}
		// The view before, by the log: made from it by one batch.
		if n := len(views); n >= 2 && views[n-2] != nil && nv != nil && nv.Gen == views[n-2].Gen+1 && nv.log != nil &&
			views[n-2].log.next.Load() == nv.log && !diffLogged(views[n-2], nv, func(_, _ *Element) {}) {
			t.Fatalf("round %d: the log did not serve one batch's diff", round)
		}
	}
	if logged < 500 || walked < 500 {
		t.Errorf("%d diffs by the log, %d by the walk: want both tried", logged, walked)
	}
	if len(gone) == 0 {
		t.Error("the pool was never emptied")
	}
	t.Logf("%d diffs by the log, %d by the walk, the pool gone %d times", logged, walked, len(gone))
}

// TestDiffElementsLogWindow: a view held while its pool changes much keeps
// at most the window's changes reachable: the chain is cut behind it, and
// the diff from it walks the trees.
func TestDiffElementsLogWindow(t *testing.T) {
	hs := New(Options{RegistrarID: 1})
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t)}); err != nil {
		t.Fatal(err)
	}
	const pool = "p.z.test."
	var groups [][]Op
	for i := range 20_000 {
		groups = append(groups, []Op{{Pool: pool, Elem: dyn(uint32(i+1), fmt.Sprintf("e%d", i+1), "10.0.0.1")}})
	}
	hs.Apply(groups, nil)
	first := hs.View().Pool(pool)
	win := logWindow(first.Len())
	refresh := func(id uint32) {
		e := dyn(id, fmt.Sprintf("e%d", id), "10.0.0.1")
		e.Load = 1
		if err := hs.Do(Op{Pool: pool, Elem: e}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range win {
		refresh(uint32(i + 1))
	}
	if !diffLogged(first, hs.View().Pool(pool), func(_, _ *Element) {}) {
		t.Fatalf("%d changes (the window) after a view: its diff not by the log", win)
	}
	refresh(uint32(win + 1))
	last := hs.View().Pool(pool)
	if first.log.next.Load() != cutLog {
		t.Fatalf("%d changes after a view: its link not cut", win+1)
	}
	if diffLogged(first, last, func(_, _ *Element) {}) {
		t.Fatal("a diff from behind the window by the log")
	}
	n := 0
	DiffElements(first, last, func(was, now *Element) { n++ })
	if n != win+1 {
		t.Fatalf("DiffElements from behind the window: %d changes, want %d", n, win+1)
	}
	if last.log.inWin > win {
		t.Fatalf("the newest link counts %d changes in the window of %d", last.log.inWin, win)
	}
	// Only the newest link keeps a tail: an older one's would keep the
	// links behind the window (BenchmarkHeapAfterChanges: 5.4 bytes an
	// element after 20 000 changes at 1 000 000, and growing, with them;
	// 1.05 without).
	if first.log.tail != nil {
		t.Fatal("a link no longer the newest keeps its tail")
	}
	if last.log.tail == nil {
		t.Fatal("the newest link has no tail")
	}
}
