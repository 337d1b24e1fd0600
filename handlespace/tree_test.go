package handlespace

import (
	"cmp"
	"fmt"
	mrand "math/rand"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/quick"
)

// The B+tree against a naive model: a sorted slice of entries.

// treeModel is the naive reference: entries sorted by the tree's order.
type treeModel struct {
	kind     tkind
	weighted bool
	ents     []tent
}

func (m *treeModel) cmp(a, b tent) int {
	if c := cmp.Compare(a.key, b.key); c != 0 || m.kind != byRank {
		return c
	}
	return cmp.Compare(a.tie, b.tie)
}

func (m *treeModel) apply(mods []tent) {
	for _, x := range mods {
		i, found := slices.BinarySearchFunc(m.ents, x, m.cmp)
		switch {
		case x.del && found:
			m.ents = slices.Delete(m.ents, i, i+1)
		case !x.del && found:
			m.ents[i] = x
		case !x.del:
			m.ents = slices.Insert(m.ents, i, x)
		}
	}
}

// checkTree checks the tree's invariants and that it holds what the model
// does, and answers every query as the model does.
func checkTree(t *testing.T, tr tree, m *treeModel, r *rand.Rand) {
	t.Helper()
	if tr.n != len(m.ents) {
		t.Fatalf("tree has %d entries, model %d", tr.n, len(m.ents))
	}
	if tr.n == 0 {
		if tr.root != nil || tr.height != 0 {
			t.Fatalf("empty tree with root %v height %d", tr.root, tr.height)
		}
		return
	}
	// Structure: every leaf at the same depth, widths within bounds
	// (the root excepted), counts and weights add up.
	var walk func(n *tnode, depth int, root bool) (size int, w uint64)
	walk = func(n *tnode, depth int, root bool) (int, uint64) {
		if (n.kids() == nil) != (depth == int(tr.height)) {
			t.Fatalf("leaf at depth %d of a tree of height %d", depth, tr.height)
		}
		max, min := innerMax, 2
		if n.kids() == nil {
			max, min = leafMax, 1
		}
		if n.width() > max || (!root && n.width() < min) || n.width() == 0 {
			t.Fatalf("node of width %d at depth %d", n.width(), depth)
		}
		if n.kids() == nil {
			var sum uint64
			for i := range n.elems() {
				if tr.weighted {
					sum += n.entryWeight(i)
					if n.wts()[i] != sum {
						t.Fatalf("leaf weights %v", n.wts())
					}
				}
			}
			words := len(n.elems()) // keys, then ties or weights
			if tr.kind == byRank {
				words += len(n.elems())
			}
			if tr.weighted {
				words += len(n.elems())
			}
			if tr.kind == byID && !tr.weighted {
				words = packedWords(len(n.elems()))
				if len(n.elems()) > 1 && !n.packedKeys() {
					t.Fatalf("leaf of a plain tree does not pack its keys")
				}
				if len(n.elems())%2 == 1 && n.buf[len(n.buf)-1]>>32 != 0 {
					t.Fatalf("leaf of %d elements has a key in the unused half of its last word", len(n.elems()))
				}
			}
			if len(n.buf) != words {
				t.Fatalf("leaf of %d elements has %d numbers, want %d", len(n.elems()), len(n.buf), words)
			}
			for i := range n.elems() {
				if e := n.elems()[i]; tr.kind == byID && (e == nil || n.lkey(i) != uint64(e.ID)) {
					t.Fatalf("leaf entry %d has key %d, element %v", i, n.lkey(i), e)
				}
				if i > 0 && tr.kind == byID && n.lkey(i) <= n.lkey(i-1) {
					t.Fatalf("leaf keys not increasing at %d", i)
				}
			}
			return n.width(), sum
		}
		size, sum := 0, uint64(0)
		for i, k := range n.kids() {
			s, w := walk(k, depth+1, false)
			size += s
			sum += w
			if int(n.iend(i)) != size || n.ikey(i) != k.firstKey() || (tr.weighted && n.wts()[i] != sum) {
				t.Fatalf("inner node's counts, keys or weights wrong at child %d", i)
			}
			if n.packed() != (tr.kind == byID) || (tr.kind == byRank && n.ties()[i] != k.ties()[0]) {
				t.Fatalf("inner node's ties wrong at child %d", i)
			}
		}
		return size, sum
	}
	walk(tr.root, 1, true)
	got := tr.appendElems(nil)
	var sum uint64
	for i, x := range m.ents {
		if got[i] != x.e {
			t.Fatalf("entry %d: %v, want %v", i, got[i], x.e)
		}
		leaf, j := tr.at(i)
		if y := tr.entry(leaf, j); y.e != x.e || y.key != x.key || y.tie != x.tie || tr.keyAt(i) != x.key {
			t.Fatalf("at(%d) wrong", i)
		}
		if tr.weighted {
			if w := leaf.entryWeight(j); w != x.w {
				t.Fatalf("entry %d has weight %d, want %d", i, w, x.w)
			}
			for _, off := range []uint64{0, x.w - 1, uint64(r.Int64N(int64(x.w)))} {
				l, k, rank, start := tr.atWeight(sum + off)
				if l.keys()[k] != x.key || rank != i || start != sum {
					t.Fatalf("atWeight(%d) = rank %d start %d, want %d, %d", sum+off, rank, start, i, sum)
				}
			}
			sum += x.w
		}
		switch tr.kind {
		case byID:
			if tr.findID(uint32(x.key)) != x.e {
				t.Fatalf("findID(%d) wrong", x.key)
			}
			if tr.rankOf(x.key, 0) != i {
				t.Fatalf("rankOf(%d) = %d, want %d", x.key, tr.rankOf(x.key, 0), i)
			}
		case byRank:
			if tr.rankOf(x.key, x.tie) != i {
				t.Fatalf("rankOf(%d, %d) = %d, want %d", x.key, x.tie, tr.rankOf(x.key, x.tie), i)
			}
		}
	}
	if tr.weighted && tr.total() != sum {
		t.Fatalf("total %d, want %d", tr.total(), sum)
	}
	// Absent keys and the ranks between entries.
	for range 20 {
		id := uint32(r.IntN(600))
		switch tr.kind {
		case byID:
			i, found := slices.BinarySearchFunc(m.ents, tent{key: uint64(id)}, m.cmp)
			if e := tr.findID(id); (e != nil) != found || tr.rankOf(uint64(id), 0) != i {
				t.Fatalf("findID/rankOf(%d) disagree with the model", id)
			}
		case byRank:
			probe := tent{key: uint64(r.IntN(8)), tie: id}
			i, _ := slices.BinarySearchFunc(m.ents, probe, m.cmp)
			if tr.rankOf(probe.key, probe.tie) != i {
				t.Fatalf("rankOf(%d, %d) = %d, want %d", probe.key, probe.tie, tr.rankOf(probe.key, probe.tie), i)
			}
		}
	}
	// The cursor walks every entry from any rank, wrapping around.
	var c cursor
	start := r.IntN(tr.n)
	c.seek(&tr, start)
	for i := 0; i < tr.n+3; i++ {
		if want := m.ents[(start+i)%tr.n].e; c.elem() != want {
			t.Fatalf("cursor from %d, step %d: %v, want %v", start, i, c.elem(), want)
		}
		c.next()
	}
}

// treeLabel makes labels with long shared prefixes and some of eight bytes.
func treeLabel(i int) string {
	return []string{"e", "abcdefgh", "element-number-", "x"}[i%4] + fmt.Sprint(i)
}

func TestQuickTree(t *testing.T) {
	// Each case is a seed for a sequence of batches: few cases, each
	// large.
	cfg := &quick.Config{MaxCount: 25, Rand: mrand.New(mrand.NewSource(int64(polSeed(t))))}
	if testing.Short() {
		cfg.MaxCount = 5
	}
	for _, kc := range []struct {
		kind     tkind
		weighted bool
	}{{byID, false}, {byID, true}, {byRank, false}, {byRank, true}} {
		t.Run(fmt.Sprintf("kind=%d/weighted=%v", kc.kind, kc.weighted), func(t *testing.T) {
			f := func(seed uint64) bool {
				r := rand.New(rand.NewPCG(seed, 77))
				m := &treeModel{kind: kc.kind, weighted: kc.weighted}
				elems := map[int]*Element{} // by ID, the current version
				mk := func(id int) tent {
					e := &Element{ID: uint32(id), Label: treeLabel(id)}
					x := tent{e: e}
					switch kc.kind {
					case byID:
						x.key = uint64(id)
					case byRank:
						x.key, x.tie = uint64(r.IntN(8)), uint32(id)
					}
					if kc.weighted {
						x.w = 1 + uint64(r.IntN(1000))
					}
					return x
				}
				// Start from a bulk-built tree of random size.
				var init []tent
				for id := range r.IntN(3000) {
					if r.IntN(3) > 0 {
						x := mk(id)
						init = append(init, x)
						elems[id] = x.e
					}
				}
				tr := tree{kind: kc.kind, weighted: kc.weighted}
				tr = tr.update(tr.sortMods(slices.Clone(init)), &tscratch{})
				slices.SortFunc(init, m.cmp)
				m.ents = slices.Clone(init)
				var sc tscratch
				checkTree(t, tr, m, r)
				byRankKey := map[int]tent{}
				for _, x := range init {
					byRankKey[int(x.e.ID)] = x
				}
				for round := range 30 {
					// Batches from one change to thousands, over a
					// narrow or the whole range of IDs.
					size := []int{1, 1, 2, 5, 40, 700, 3000}[r.IntN(7)]
					lo, span := 0, 3000
					if r.IntN(2) == 0 {
						lo, span = r.IntN(2900), 100
					}
					var mods []tent
					for range size {
						id := lo + r.IntN(span)
						old, had := byRankKey[id]
						if had && r.IntN(2) == 0 {
							d := old
							d.del = true
							mods = append(mods, d)
							delete(byRankKey, id)
							continue
						}
						x := mk(id)
						if had && kc.kind == byRank && old.key != x.key {
							// A new rank: out at the old key, in at the new.
							d := old
							d.del = true
							mods = append(mods, d)
						}
						mods = append(mods, x)
						byRankKey[id] = x
					}
					before := tr
					mods = tr.sortMods(mods)
					m.apply(mods)
					tr = tr.update(mods, &sc)
					checkTree(t, tr, m, r)
					if size == 1 && before.n > 5*leafMax && !sharesAllButPath(before, tr) {
						t.Fatalf("round %d: one change copied more than a path", round)
					}
				}
				return !t.Failed()
			}
			if err := quick.Check(f, cfg); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// sharesAllButPath reports whether b shares every leaf of a but at most
// three (one path, and the neighbours a split or a merge touches).
func sharesAllButPath(a, b tree) bool {
	have := map[*tnode]bool{}
	b.each(func(l *tnode) bool { have[l] = true; return true })
	missing := 0
	a.each(func(l *tnode) bool {
		if !have[l] {
			missing++
		}
		return true
	})
	return missing <= 3
}

// TestTreeDeleteAll: deleting every entry, in batches and one by one,
// leaves an empty tree, and the tree stays balanced on the way.
func TestTreeDeleteAll(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var ents []tent
	for id := range 5000 {
		ents = append(ents, tent{key: uint64(id), e: &Element{ID: uint32(id)}})
	}
	tr := buildTree(byID, false, ents)
	m := &treeModel{kind: byID, ents: slices.Clone(ents)}
	var sc tscratch
	order := r.Perm(len(ents))
	for i := 0; i < len(order); {
		n := 1 + r.IntN(300)
		if i > 4000 {
			n = 1
		}
		var mods []tent
		for _, id := range order[i:min(i+n, len(order))] {
			x := ents[id]
			x.del = true
			mods = append(mods, x)
		}
		i += n
		mods = tr.sortMods(mods)
		m.apply(mods)
		tr = tr.update(mods, &sc)
		checkTree(t, tr, m, r)
	}
	if tr.n != 0 || tr.root != nil {
		t.Fatalf("%d entries left", tr.n)
	}
}

// TestSortModsKeepsAddition: a deletion and an addition of one key in one
// batch is an addition, whichever comes first.
func TestSortModsKeepsAddition(t *testing.T) {
	tr := tree{kind: byID}
	a := &Element{ID: 1}
	for _, mods := range [][]tent{
		{{key: 1, del: true}, {key: 1, e: a}},
		{{key: 1, e: a}, {key: 1, del: true}},
	} {
		got := tr.sortMods(mods)
		if len(got) != 1 || got[0].del || got[0].e != a {
			t.Errorf("sortMods(%v) = %v", mods, got)
		}
	}
}
