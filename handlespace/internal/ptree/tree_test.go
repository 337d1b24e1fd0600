package ptree

import (
	"cmp"
	"flag"
	"fmt"
	mrand "math/rand"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/quick"
)

// The B+tree against a naive model: a sorted slice of entries.

var seed = flag.Uint64("ptree.seed", 20260501, "seed of the randomised tests")

// treeSeed returns the seed of the randomised tests, logged so that a
// failure can be replayed.
func treeSeed(t testing.TB) uint64 {
	t.Helper()
	t.Logf("seed %d (replay with -ptree.seed=%d)", *seed, *seed)
	return *seed
}

// elem is what the tests' trees hold.
type elem struct {
	ID    uint32
	Label string
}

// treeModel is the naive reference: entries sorted by the tree's order.
type treeModel struct {
	kind     Kind
	weighted bool
	ents     []Entry[elem]
}

func (m *treeModel) cmp(a, b Entry[elem]) int {
	if c := cmp.Compare(a.Key, b.Key); c != 0 || m.kind != ByRank {
		return c
	}
	return cmp.Compare(a.Tie, b.Tie)
}

func (m *treeModel) apply(mods []Entry[elem]) {
	for _, x := range mods {
		i, found := slices.BinarySearchFunc(m.ents, x, m.cmp)
		switch {
		case x.Del && found:
			m.ents = slices.Delete(m.ents, i, i+1)
		case !x.Del && found:
			m.ents[i] = x
		case !x.Del:
			m.ents = slices.Insert(m.ents, i, x)
		}
	}
}

// checkTree checks the tree's invariants and that it holds what the model
// does, and answers every query as the model does.
func checkTree(t *testing.T, tr Tree[elem], m *treeModel, r *rand.Rand) {
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
	var walk func(n *Node[elem], depth int, root bool) (size int, w uint64)
	walk = func(n *Node[elem], depth int, root bool) (int, uint64) {
		if (n.Kids() == nil) != (depth == int(tr.height)) {
			t.Fatalf("leaf at depth %d of a tree of height %d", depth, tr.height)
		}
		max, min := innerMax, 2
		if n.Kids() == nil {
			max, min = LeafMax, 1
		}
		if n.Width() > max || (!root && n.Width() < min) || n.Width() == 0 {
			t.Fatalf("node of width %d at depth %d", n.Width(), depth)
		}
		if n.Kids() == nil {
			var sum uint64
			for i := range n.Elems() {
				if tr.weighted {
					sum += n.Weight(i)
					if n.wts()[i] != sum {
						t.Fatalf("leaf weights %v", n.wts())
					}
				}
			}
			words := len(n.Elems()) // keys, then ties or weights
			if tr.kind == ByRank {
				words += len(n.Elems())
			}
			if tr.weighted {
				words += len(n.Elems())
			}
			if tr.kind == ByID && !tr.weighted {
				words = packedWords(len(n.Elems()))
				if len(n.Elems()) > 1 && !n.packedKeys() {
					t.Fatalf("leaf of a plain tree does not pack its keys")
				}
				if len(n.Elems())%2 == 1 && n.buf[len(n.buf)-1]>>32 != 0 {
					t.Fatalf("leaf of %d elements has a key in the unused half of its last word", len(n.Elems()))
				}
			}
			if len(n.buf) != words {
				t.Fatalf("leaf of %d elements has %d numbers, want %d", len(n.Elems()), len(n.buf), words)
			}
			for i := range n.Elems() {
				if e := n.Elems()[i]; tr.kind == ByID && (e == nil || n.Key(i) != uint64(e.ID)) {
					t.Fatalf("leaf entry %d has key %d, element %v", i, n.Key(i), e)
				}
				if i > 0 && tr.kind == ByID && n.Key(i) <= n.Key(i-1) {
					t.Fatalf("leaf keys not increasing at %d", i)
				}
			}
			return n.Width(), sum
		}
		size, sum := 0, uint64(0)
		for i, k := range n.Kids() {
			s, w := walk(k, depth+1, false)
			size += s
			sum += w
			if int(n.iend(i)) != size || n.ikey(i) != k.FirstKey() || (tr.weighted && n.wts()[i] != sum) {
				t.Fatalf("inner node's counts, keys or weights wrong at child %d", i)
			}
			if n.packed() != (tr.kind == ByID) || (tr.kind == ByRank && n.ties()[i] != k.ties()[0]) {
				t.Fatalf("inner node's ties wrong at child %d", i)
			}
		}
		return size, sum
	}
	walk(tr.root, 1, true)
	got := tr.AppendElems(nil)
	var sum uint64
	for i, x := range m.ents {
		if got[i] != x.Elem {
			t.Fatalf("entry %d: %v, want %v", i, got[i], x.Elem)
		}
		leaf, j := tr.At(i)
		if y := tr.entry(leaf, j); y.Elem != x.Elem || y.Key != x.Key || y.Tie != x.Tie || tr.KeyAt(i) != x.Key {
			t.Fatalf("at(%d) wrong", i)
		}
		if tr.weighted {
			if w := leaf.Weight(j); w != x.W {
				t.Fatalf("entry %d has weight %d, want %d", i, w, x.W)
			}
			for _, off := range []uint64{0, x.W - 1, uint64(r.Int64N(int64(x.W)))} {
				l, k, rank, start := tr.AtWeight(sum + off)
				if l.Keys()[k] != x.Key || rank != i || start != sum {
					t.Fatalf("atWeight(%d) = rank %d start %d, want %d, %d", sum+off, rank, start, i, sum)
				}
			}
			sum += x.W
		}
		switch tr.kind {
		case ByID:
			if tr.Get(uint64(uint32(x.Key))) != x.Elem {
				t.Fatalf("findID(%d) wrong", x.Key)
			}
			if tr.RankOf(x.Key, 0) != i {
				t.Fatalf("rankOf(%d) = %d, want %d", x.Key, tr.RankOf(x.Key, 0), i)
			}
		case ByRank:
			if tr.RankOf(x.Key, x.Tie) != i {
				t.Fatalf("rankOf(%d, %d) = %d, want %d", x.Key, x.Tie, tr.RankOf(x.Key, x.Tie), i)
			}
		}
	}
	if tr.weighted && tr.Total() != sum {
		t.Fatalf("total %d, want %d", tr.Total(), sum)
	}
	// Absent keys and the ranks between entries.
	for range 20 {
		id := uint32(r.IntN(600))
		switch tr.kind {
		case ByID:
			i, found := slices.BinarySearchFunc(m.ents, Entry[elem]{Key: uint64(id)}, m.cmp)
			if e := tr.Get(uint64(id)); (e != nil) != found || tr.RankOf(uint64(id), 0) != i {
				t.Fatalf("findID/rankOf(%d) disagree with the model", id)
			}
		case ByRank:
			probe := Entry[elem]{Key: uint64(r.IntN(8)), Tie: id}
			i, _ := slices.BinarySearchFunc(m.ents, probe, m.cmp)
			if tr.RankOf(probe.Key, probe.Tie) != i {
				t.Fatalf("rankOf(%d, %d) = %d, want %d", probe.Key, probe.Tie, tr.RankOf(probe.Key, probe.Tie), i)
			}
		}
	}
	// The cursor walks every entry from any rank, wrapping around.
	var c cursor[elem]
	start := r.IntN(tr.n)
	c.seek(&tr, start)
	for i := 0; i < tr.n+3; i++ {
		if want := m.ents[(start+i)%tr.n].Elem; c.elem() != want {
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
	cfg := &quick.Config{MaxCount: 25, Rand: mrand.New(mrand.NewSource(int64(treeSeed(t))))}
	if testing.Short() {
		cfg.MaxCount = 5
	}
	for _, kc := range []struct {
		kind     Kind
		weighted bool
	}{{ByID, false}, {ByID, true}, {ByRank, false}, {ByRank, true}} {
		t.Run(fmt.Sprintf("kind=%d/weighted=%v", kc.kind, kc.weighted), func(t *testing.T) {
			f := func(seed uint64) bool {
				r := rand.New(rand.NewPCG(seed, 77))
				m := &treeModel{kind: kc.kind, weighted: kc.weighted}
				elems := map[int]*elem{} // by ID, the current version
				mk := func(id int) Entry[elem] {
					e := &elem{ID: uint32(id), Label: treeLabel(id)}
					x := Entry[elem]{Elem: e}
					switch kc.kind {
					case ByID:
						x.Key = uint64(id)
					case ByRank:
						x.Key, x.Tie = uint64(r.IntN(8)), uint32(id)
					}
					if kc.weighted {
						x.W = 1 + uint64(r.IntN(1000))
					}
					return x
				}
				// Start from a bulk-built tree of random size.
				var init []Entry[elem]
				for id := range r.IntN(3000) {
					if r.IntN(3) > 0 {
						x := mk(id)
						init = append(init, x)
						elems[id] = x.Elem
					}
				}
				tr := Tree[elem]{kind: kc.kind, weighted: kc.weighted}
				tr = tr.Update(tr.SortMods(slices.Clone(init)), &Scratch[elem]{})
				slices.SortFunc(init, m.cmp)
				m.ents = slices.Clone(init)
				var sc Scratch[elem]
				checkTree(t, tr, m, r)
				byRankKey := map[int]Entry[elem]{}
				for _, x := range init {
					byRankKey[int(x.Elem.ID)] = x
				}
				for round := range 30 {
					// Batches from one change to thousands, over a
					// narrow or the whole range of IDs.
					size := []int{1, 1, 2, 5, 40, 700, 3000}[r.IntN(7)]
					lo, span := 0, 3000
					if r.IntN(2) == 0 {
						lo, span = r.IntN(2900), 100
					}
					var mods []Entry[elem]
					for range size {
						id := lo + r.IntN(span)
						old, had := byRankKey[id]
						if had && r.IntN(2) == 0 {
							d := old
							d.Del = true
							mods = append(mods, d)
							delete(byRankKey, id)
							continue
						}
						x := mk(id)
						if had && kc.kind == ByRank && old.Key != x.Key {
							// A new rank: out at the old key, in at the new.
							d := old
							d.Del = true
							mods = append(mods, d)
						}
						mods = append(mods, x)
						byRankKey[id] = x
					}
					before := tr
					mods = tr.SortMods(mods)
					m.apply(mods)
					tr = tr.Update(mods, &sc)
					checkTree(t, tr, m, r)
					if size == 1 && before.n > 5*LeafMax && !sharesAllButPath(before, tr) {
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
func sharesAllButPath(a, b Tree[elem]) bool {
	have := map[*Node[elem]]bool{}
	b.EachLeaf(func(l *Node[elem]) bool { have[l] = true; return true })
	missing := 0
	a.EachLeaf(func(l *Node[elem]) bool {
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
	var ents []Entry[elem]
	for id := range 5000 {
		ents = append(ents, Entry[elem]{Key: uint64(id), Elem: &elem{ID: uint32(id)}})
	}
	tr := Build(ByID, false, ents)
	m := &treeModel{kind: ByID, ents: slices.Clone(ents)}
	var sc Scratch[elem]
	order := r.Perm(len(ents))
	for i := 0; i < len(order); {
		n := 1 + r.IntN(300)
		if i > 4000 {
			n = 1
		}
		var mods []Entry[elem]
		for _, id := range order[i:min(i+n, len(order))] {
			x := ents[id]
			x.Del = true
			mods = append(mods, x)
		}
		i += n
		mods = tr.SortMods(mods)
		m.apply(mods)
		tr = tr.Update(mods, &sc)
		checkTree(t, tr, m, r)
	}
	if tr.n != 0 || tr.root != nil {
		t.Fatalf("%d entries left", tr.n)
	}
}

// TestSortModsKeepsAddition: a deletion and an addition of one key in one
// batch is an addition, whichever comes first.
func TestSortModsKeepsAddition(t *testing.T) {
	tr := Tree[elem]{kind: ByID}
	a := &elem{ID: 1}
	for _, mods := range [][]Entry[elem]{
		{{Key: 1, Del: true}, {Key: 1, Elem: a}},
		{{Key: 1, Elem: a}, {Key: 1, Del: true}},
	} {
		got := tr.SortMods(mods)
		if len(got) != 1 || got[0].Del || got[0].Elem != a {
			t.Errorf("sortMods(%v) = %v", mods, got)
		}
	}
}

// cursor walks a tree's entries in order from a rank, wrapping around at
// the end (a check of At's and the node layout's walk: the test's own). Its zero value is unusable; seek places it.
type cursor[E any] struct {
	t     *Tree[E]
	path  [MaxHeight]*Node[E] // path[0] is the root, the leaf's parent last
	pos   [MaxHeight]int
	leaf  *Node[E]
	i     int
	depth int
}

// seek places c at the entry of rank r (0 <= r < t.n).
func (c *cursor[E]) seek(t *Tree[E], r int) {
	c.t, c.depth = t, int(t.height)
	n := t.root
	for d := 0; n.Kids() != nil; d++ {
		var i int
		i, r = descend(n, r)
		c.path[d], c.pos[d] = n, i
		n = n.Kids()[i]
	}
	c.leaf, c.i = n, r
}

// elem returns the element at the cursor.
func (c *cursor[E]) elem() *E { return c.leaf.Elems()[c.i] }

// next moves to the following entry, wrapping from the last to the first.
func (c *cursor[E]) next() {
	if c.i++; c.i < len(c.leaf.Elems()) {
		return
	}
	d := c.depth - 2
	for ; d >= 0; d-- {
		if c.pos[d]++; c.pos[d] < len(c.path[d].Kids()) {
			break
		}
	}
	if d < 0 {
		c.seek(c.t, 0)
		return
	}
	n := c.path[d].Kids()[c.pos[d]]
	for d++; n.Kids() != nil; d++ {
		c.path[d], c.pos[d] = n, 0
		n = n.Kids()[0]
	}
	c.leaf, c.i = n, 0
}

// TestMemo: a value is kept per key, replaced by another key's, and a
// copy of a cell by value does not hand out the original's value.
func TestMemo(t *testing.T) {
	var m Memo
	if _, ok := m.Load("a"); ok {
		t.Fatal("an empty memo holds a value")
	}
	m.Store("a", 1)
	if v, ok := m.Load("a"); !ok || v != 1 {
		t.Fatalf("Load(a) = %v, %v; want 1", v, ok)
	}
	if _, ok := m.Load("b"); ok {
		t.Fatal("a memo of key a holds a value for key b")
	}
	type holder struct{ m Memo }
	h := holder{m: m}
	if _, ok := h.m.Load("a"); ok {
		t.Fatal("a copy of a memo hands out the original's value")
	}
	m.Store("b", 2)
	if v, ok := m.Load("b"); !ok || v != 2 {
		t.Fatalf("after storing b: Load(b) = %v, %v; want 2", v, ok)
	}
	if _, ok := m.Load("a"); ok {
		t.Fatal("the value of key a outlived the store of key b")
	}
}
