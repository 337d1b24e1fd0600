package ptree

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// naiveDiff is Diff by walking both trees whole.
func naiveDiff(a, b *Tree[elem]) []string {
	var out []string
	ea, eb := a.AppendElems(nil), b.AppendElems(nil)
	i, j := 0, 0
	for i < len(ea) || j < len(eb) {
		switch {
		case j == len(eb) || (i < len(ea) && ea[i].ID < eb[j].ID):
			out = append(out, fmt.Sprintf("-%d", ea[i].ID))
			i++
		case i == len(ea) || eb[j].ID < ea[i].ID:
			out = append(out, fmt.Sprintf("+%d", eb[j].ID))
			j++
		default:
			if ea[i] != eb[j] {
				out = append(out, fmt.Sprintf("~%d", ea[i].ID))
			}
			i, j = i+1, j+1
		}
	}
	return out
}

func diffOf(a, b *Tree[elem]) ([]string, int) {
	var out []string
	nodes := diff(a, b, func(x, y *elem) {
		switch {
		case y == nil:
			out = append(out, fmt.Sprintf("-%d", x.ID))
		case x == nil:
			out = append(out, fmt.Sprintf("+%d", y.ID))
		default:
			if x.ID != y.ID {
				panic("a change pairs two keys")
			}
			out = append(out, fmt.Sprintf("~%d", x.ID))
		}
	})
	return out, nodes
}

// TestDiff compares Diff with a walk of both trees over random batches of
// insertions, replacements and deletions (splits and merges of nodes
// included), and holds it to the nodes a change's paths can touch.
func TestDiff(t *testing.T) {
	r := rand.New(rand.NewPCG(treeSeed(t), 13))
	for _, n := range []int{0, 1, 63, 64, 65, 2000, 100_000} {
		ents := make([]Entry[elem], n)
		for i := range ents {
			id := uint32(2 * (i + 1)) // odd IDs are free for insertions
			ents[i] = Entry[elem]{Key: uint64(id), Elem: &elem{ID: id}}
		}
		tr := Build(ByID, false, ents)
		var sc Scratch[elem]
		for round := range 60 {
			d := 1 + r.IntN(1+round%4*20) // batches of 1 to 61 changes
			var mods []Entry[elem]
			for range d {
				id := uint32(1 + r.IntN(2*n+2))
				switch r.IntN(3) {
				case 0:
					mods = append(mods, Entry[elem]{Key: uint64(id), Del: true})
				default:
					mods = append(mods, Entry[elem]{Key: uint64(id), Elem: &elem{ID: id}})
				}
			}
			slices.SortStableFunc(mods, func(a, b Entry[elem]) int { return int(a.Key) - int(b.Key) })
			mods = slices.CompactFunc(mods, func(a, b Entry[elem]) bool { return a.Key == b.Key })
			nt := tr.Update(mods, &sc)
			want := naiveDiff(&tr, &nt)
			got, nodes := diffOf(&tr, &nt)
			if !slices.Equal(got, want) {
				t.Fatalf("n=%d round %d: Diff gives %v, want %v", n, round, got, want)
			}
			back, _ := diffOf(&nt, &tr)
			if len(back) != len(want) {
				t.Fatalf("n=%d round %d: Diff backwards gives %d changes, want %d", n, round, len(back), len(want))
			}
			// Each change's path, in both versions: at most a node per
			// level and its neighbours, each leaf read once.
			if limit := 2 * len(mods) * 3 * max(1, int(max(tr.height, nt.height))); n > 0 && nodes > limit+8 {
				t.Errorf("n=%d, %d changes: Diff read %d nodes, want at most %d", n, len(mods), nodes, limit+8)
			}
			tr = nt
		}
		if _, nodes := diffOf(&tr, &tr); nodes != 0 {
			t.Errorf("n=%d: a tree against itself read %d nodes", n, nodes)
		}
	}
}

// TestDiffAllocs: comparing two versions of a large tree (four levels)
// allocates nothing. The monitor diffs a pool's versions after every
// registration; its cursors were two slices that grew with the walk (2 KB
// a registration, bench/RESULTS.md, gc10).
func TestDiffAllocs(t *testing.T) {
	const n = 1_000_000
	ents := make([]Entry[elem], n)
	for i := range ents {
		id := uint32(2 * (i + 1))
		ents[i] = Entry[elem]{Key: uint64(id), Elem: &elem{ID: id}}
	}
	tr := Build(ByID, false, ents)
	if tr.height < 4 {
		t.Fatalf("height %d, want a tree of 4 levels or more", tr.height)
	}
	var sc Scratch[elem]
	mid := uint64(n) // an element in the middle, replaced
	nt := tr.Update([]Entry[elem]{{Key: mid, Elem: &elem{ID: uint32(mid)}}}, &sc)
	changed := 0
	allocs := testing.AllocsPerRun(100, func() {
		changed = 0
		diff(&tr, &nt, func(x, y *elem) { changed++ })
	})
	if changed != 1 {
		t.Fatalf("Diff found %d changes, want 1", changed)
	}
	if allocs != 0 {
		t.Errorf("Diff allocates %.0f times, want 0", allocs)
	}
}
