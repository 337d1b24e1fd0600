package policy

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/handlespace/internal/ptree"
)

// lud is RFC 5356 Least Used with Degradation: elements in order of
// effective load, lowest first, where
//
//	effective load = Load + c·LoadDeg
//
// and c counts the selections that picked the element first since its last
// load report (saturating at 2⁶⁴−1). Only the first pick of a Select is
// charged: it is the element the client uses (SRV answers carry the policy
// order in their priorities, and answers=1 is the way to make A/AAAA answers
// follow it); the others are fall-backs, and charging them too would degrade
// three elements per query for the work of one. This is also what the
// RSerPool reference implementation does by default. Ties go to the element
// charged least recently (never charged first, then list order), which
// makes equal elements take turns.
//
// A load report is a new version of an element (same ID) with a different
// Load: its count starts again at 0. An element whose Load is unchanged
// keeps its count (multiplied by its current LoadDeg). Elements that never
// report a load (zone-file elements without probes that read one)
// accumulate degradation without end; equal ones still take turns.
//
// Per-query state is one pair of atomics per element, kept in a mirror of
// the set's tree: each mirror node holds a tournament of atomics over its
// entries or children (each position holds the best below it) and its
// champion, so a Select needs no lock: the first pick is the root's
// champion, O(log n) to find its place; k ≤ ludSmallK picks are a
// best-first walk of the tournaments, O(k log n); charging the first pick
// fixes its path to the root, O(log n). Larger answers sort a snapshot,
// O(n log n).
//
// A new version of the set mirrors only the parts of the tree that
// changed: a mirror node whose tree node the new tree shares is shared
// with the previous selector (its state and tournament with it), and a new
// one takes the state of the elements it holds from the old nodes of the
// same range, O(ptree.LeafMax + log n) per changed leaf.
//
// Races: queries that run at the same time may read the same champion and
// both charge it, and a tournament position rewritten concurrently may for
// a moment hold the worse of two (every writer re-checks after writing, so
// the tournaments settle when the writers stop). A charge made through the
// previous view in a subtree the new one shares updates the subtree but
// not the new view's nodes above it, which may then offer that subtree's
// (worse) champion once; its charge repairs them. The counts themselves
// are exact: each charge is one atomic add. Charges made through the
// previous selector to an element whose leaf changed, after the new one
// copied its state, are not carried over.
//
// The state is per element set: the All, V4 and V6 sets of a pool have
// their own selectors, so a selection among the IPv4 elements does not
// degrade the same element in SRV answers.
type lud struct{}

func init() { registerPolicy("lud", func(handlespace.Rand) handlespace.Policy { return lud{} }) }

var _ handlespace.Policy = lud{}

func (lud) Name() string { return "lud" }

func (lud) Order() handlespace.Order { return handlespace.Order{} }

func (lud) Build(set *handlespace.Set, seq *atomic.Uint64, prev handlespace.Selector, _ bool) handlespace.Selector {
	return buildLudSel(set, seq, prev, ludKind{base: ludLoad})
}

// ludLoad is lud's base: the element's Load.
func ludLoad(e *handlespace.Element) uint64 { return uint64(e.Load) }

// ludKind is what varies among the policies built on lud's state (lud,
// plud, lud-dpf, plud-dpf; rlud and rplud): the base of the effective
// load, and whether the mirror nodes keep weight sums (the randomized
// ones) rather than tournaments.
type ludKind struct {
	base     func(*handlespace.Element) uint64
	weighted bool
}

// buildLudSel builds a selector of lud's kind, taking the state of prev
// (of the same policy) where it can.
func buildLudSel(set *handlespace.Set, seq *atomic.Uint64, prev handlespace.Selector, kind ludKind) *ludSel {
	s := &ludSel{t: *set.Tree(), seq: seq}
	if set.Tree().Root() == nil {
		return s
	}
	var olds []*ludNode
	oh := 0
	if p, ok := prev.(*ludSel); ok && p.root != nil {
		olds, oh = []*ludNode{p.root}, p.t.Height()
	}
	s.root = mirror(set.Tree().Root(), set.Tree().Height(), olds, oh, &kind)
	return s
}

// ludState is the per-query state of one element.
type ludState struct {
	load, deg uint64 // the base of the effective load (lud: Load), and LoadDeg
	id        uint32
	count     atomic.Uint64 // charges since the last load report
	last      atomic.Uint64 // the set's sequence at the last charge; 0 never
}

// effective returns the state's effective load.
func (st *ludState) effective() uint64 {
	hi, lo := bits.Mul64(st.count.Load(), st.deg)
	if hi != 0 || lo > math.MaxUint64-st.load {
		return math.MaxUint64
	}
	return st.load + lo
}

// less reports whether a goes before b (nil goes last): lower effective
// load, then charged less recently, then list (ID) order.
func (a *ludState) less(b *ludState) bool {
	switch {
	case a == nil:
		return false
	case b == nil:
		return true
	}
	if ea, eb := a.effective(), b.effective(); ea != eb {
		return ea < eb
	}
	if la, lb := a.last.Load(), b.last.Load(); la != lb {
		return la < lb
	}
	return a.id < b.id
}

// ludNode mirrors a node of the set's tree.
type ludNode struct {
	src  *tnode
	kids []*ludNode // inner: as src.kids
	st   []ludState // leaf: as src.elems
	// tour[v], 1 <= v < size, holds the index of the best entry (leaf) or
	// child below tournament position v (-1: none); positions size+i stand
	// for entry or child i.
	tour  []atomic.Int32
	size  int
	champ atomic.Pointer[ludState] // the best state below the node
	// sum is the sum of the weights (rludWeight) below the node, for the
	// randomized kinds, which keep no tournament.
	sum atomic.Uint64
}

func (n *ludNode) width() int {
	if n.kids != nil {
		return len(n.kids)
	}
	return len(n.st)
}

// node returns the index held by tournament position v, or -1.
func (n *ludNode) node(v int) int32 {
	if v >= n.size {
		if i := v - n.size; i < n.width() {
			return int32(i)
		}
		return -1
	}
	return n.tour[v].Load()
}

// state returns the best state of entry or child i (nil for -1).
func (n *ludNode) state(i int32) *ludState {
	switch {
	case i < 0:
		return nil
	case n.kids != nil:
		return n.kids[i].champ.Load()
	}
	return &n.st[i]
}

func (n *ludNode) better(a, b int32) int32 {
	if n.state(b).less(n.state(a)) {
		return b
	}
	return a
}

// init fills the node's tournament and champion.
func (n *ludNode) init() {
	n.size = 1
	for n.size < n.width() {
		n.size <<= 1
	}
	n.tour = make([]atomic.Int32, n.size)
	for v := n.size - 1; v >= 1; v-- {
		n.tour[v].Store(n.better(n.node(2*v), n.node(2*v+1)))
	}
	n.champ.Store(n.state(n.node(1)))
}

// initKind fills the node's tournament or, for a weighted kind, its sum.
func (n *ludNode) initKind(kind *ludKind) {
	if !kind.weighted {
		n.init()
		return
	}
	var sum uint64
	for i := range n.st {
		sum += rludWeight(&n.st[i], n.st[i].count.Load())
	}
	for _, k := range n.kids {
		sum += k.sum.Load()
	}
	n.sum.Store(sum)
}

// fix repairs the tournament above entry or child i and the champion.
func (n *ludNode) fix(i int) {
	for v := (n.size + i) >> 1; v >= 1; v >>= 1 {
		for try := 0; try < 8; try++ {
			m := n.better(n.node(2*v), n.node(2*v+1))
			n.tour[v].Store(m)
			if n.better(n.node(2*v), n.node(2*v+1)) == m {
				break
			}
		}
	}
	for try := 0; try < 8; try++ {
		c := n.state(n.node(1))
		n.champ.Store(c)
		if n.state(n.node(1)) == c {
			break
		}
	}
}

// mirror returns the mirror of tree node n of height h: the one of olds
// (old mirror nodes of height oh, in key order, covering n's range) that
// mirrors n itself, or a new one taking the state of n's elements from
// them.
func mirror(n *tnode, h int, olds []*ludNode, oh int, kind *ludKind) *ludNode {
	for oh > h && len(olds) > 0 {
		var kids []*ludNode
		for _, o := range olds {
			kids = append(kids, o.kids...)
		}
		olds, oh = kids, oh-1
	}
	if oh == h {
		for _, o := range olds {
			if o.src == n {
				return o
			}
		}
	}
	m := &ludNode{src: n}
	if n.Kids() == nil {
		m.st = make([]ludState, len(n.Elems()))
		var old []*ludNode
		if oh == h {
			old = olds // leaves
		}
		oi, oj := 0, 0 // old leaf and entry
		for i, e := range n.Elems() {
			st := &m.st[i]
			st.load, st.deg, st.id = kind.base(e), uint64(e.LoadDeg), e.ID
			for oi < len(old) {
				if oj == len(old[oi].st) {
					oi, oj = oi+1, 0
					continue
				}
				if old[oi].st[oj].id >= e.ID {
					break
				}
				oj++
			}
			if oi < len(old) && old[oi].st[oj].id == e.ID {
				o := &old[oi].st[oj]
				st.last.Store(o.last.Load())
				if o.load == st.load {
					st.count.Store(o.count.Load())
				}
			}
		}
		m.initKind(kind)
		return m
	}
	m.kids = make([]*ludNode, len(n.Kids()))
	var oldKids []*ludNode
	kh := oh
	if oh == h {
		for _, o := range olds {
			oldKids = append(oldKids, o.kids...)
		}
		kh = oh - 1
	} else {
		oldKids = olds // a shorter old tree: its nodes lie lower
	}
	firstOf := func(o *ludNode) uint64 { return o.src.FirstKey() }
	a := 0
	for i, k := range n.Kids() {
		// The old nodes that may hold keys of child i: from the last one
		// starting at or before its first key to the last one starting
		// before the next child's.
		lo := k.FirstKey()
		for a+1 < len(oldKids) && firstOf(oldKids[a+1]) <= lo {
			a++
		}
		b := a
		if i+1 < len(n.Kids()) {
			hi := n.Kids()[i+1].FirstKey()
			for b < len(oldKids) && firstOf(oldKids[b]) < hi {
				b++
			}
		} else {
			b = len(oldKids)
		}
		b = max(b, min(a+1, len(oldKids)))
		m.kids[i] = mirror(k, h-1, oldKids[a:b], kh, kind)
	}
	m.initKind(kind)
	return m
}

type ludSel struct {
	t    tree // the set, byID
	root *ludNode
	seq  *atomic.Uint64 // last charge number
}

var _ handlespace.Selector = (*ludSel)(nil)

// leafOf returns the mirror path to the leaf holding element id, and the
// entry's index, or nil.
func (s *ludSel) leafOf(id uint32, path []*ludNode, idx []int) ([]*ludNode, []int, bool) {
	n := s.root
	for n.kids != nil {
		i := s.t.ChildIndex(n.src, uint64(id), 0)
		path, idx = append(path, n), append(idx, i)
		n = n.kids[i]
	}
	i, ok := s.t.LeafIndex(n.src, uint64(id), 0)
	return append(path, n), append(idx, i), ok
}

// charge counts a selection of element id and repairs the tournaments on
// its path.
func (s *ludSel) charge(id uint32) {
	var pb [ptree.MaxHeight]*ludNode
	var ib [ptree.MaxHeight]int
	path, idx, ok := s.leafOf(id, pb[:0], ib[:0])
	if ok {
		s.chargePath(path, idx)
	}
}

// chargePath charges the element at the end of path (the mirror nodes
// from the root, and the index taken in each).
func (s *ludSel) chargePath(path []*ludNode, idx []int) {
	leaf := path[len(path)-1]
	st := &leaf.st[idx[len(idx)-1]]
	st.count.Add(1)
	st.last.Store(s.seq.Add(1))
	for d := len(path) - 1; d >= 0; d-- {
		path[d].fix(idx[d])
	}
}

// ludSmallK is the largest answer that lud takes from the tournaments;
// larger ones sort a snapshot.
const ludSmallK = 8

func (s *ludSel) Select(dst []handlespace.Pick, k int, _ *handlespace.Client) []handlespace.Pick {
	k = wantK(k, s.t.Len())
	base := len(dst)
	var pb [ptree.MaxHeight]*ludNode
	var ib [ptree.MaxHeight]int
	path, idx := pb[:0], ib[:0]
	ok := false
	switch {
	case k <= 3:
		var buf [3*ludParts + 1]ludCand
		dst, path, idx, ok = s.best(dst, k, buf[:0], path, idx)
	case k <= ludSmallK:
		var buf [ludSmallK*ludParts + 1]ludCand
		dst, path, idx, ok = s.best(dst, k, buf[:0], path, idx)
	}
	if !ok {
		dst = s.sorted(dst[:base], k)
		s.charge(dst[base].Elem().ID)
		return dst
	}
	s.chargePath(path, idx)
	return dst
}

// ludParts bounds the parts that taking one element leaves in best: one
// per tournament level on its way down, log2(innerMax) per inner node and
// log2(ptree.LeafMax) in the leaf, for trees of height 4 (a million elements); a
// taller tree may fall back to sorting.
const ludParts = 5*3 + 6 + 4

// ludCand is a part of the tournaments: position v of node n, and its best
// state.
type ludCand struct {
	n  *ludNode
	v  int
	st *ludState
}

// best appends the k best elements: a best-first walk that keeps the
// not-yet-taken part of the tournaments as disjoint parts in a heap (h, of
// fixed capacity), each keyed by its best state. Taking a part's best
// element leaves the siblings of the path down to it. It also returns the
// path to the first element (for its charge). ok is false if the heap
// outgrew its buffer (the caller sorts instead).
func (s *ludSel) best(dst []handlespace.Pick, k int, h []ludCand, path []*ludNode, idx []int) ([]handlespace.Pick, []*ludNode, []int, bool) {
	h = append(h, ludCand{s.root, 1, s.root.state(s.root.node(1))})
	first := true
	for ; k > 0 && len(h) > 0; k-- {
		c := h[0]
		last := len(h) - 1
		h[0] = h[last]
		h = h[:last]
		siftDown(h, 0)
		n, v := c.n, c.v
		for {
			w := n.node(v)
			if w < 0 {
				break
			}
			if first {
				path, idx = append(path, n), append(idx, int(w))
			}
			for p := n.size + int(w); p > v; p >>= 1 {
				sib := p ^ 1
				if st := n.state(n.node(sib)); st != nil {
					if len(h) == cap(h) {
						return dst, path, idx, false
					}
					h = append(h, ludCand{n, sib, st})
					siftUp(h, len(h)-1)
				}
			}
			if n.kids == nil {
				dst = append(dst, handlespace.PickOf(n.src, w))
				break
			}
			n, v = n.kids[w], 1
		}
		first = false
	}
	return dst, path, idx, len(path) > 0
}

func siftUp(h []ludCand, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].st.less(h[p].st) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func siftDown(h []ludCand, i int) {
	for {
		m, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && h[l].st.less(h[m].st) {
			m = l
		}
		if r < len(h) && h[r].st.less(h[m].st) {
			m = r
		}
		if m == i {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// ludKey is a snapshot of an element's sort key.
type ludKey struct {
	eff, last uint64
	id        uint32
	i         int32 // in picks
}

type ludScratch struct {
	keys  []ludKey
	picks []handlespace.Pick
}

var ludScratches = sync.Pool{New: func() any { return new(ludScratch) }}

// sorted appends the k best elements of a snapshot sorted in full.
func (s *ludSel) sorted(dst []handlespace.Pick, k int) []handlespace.Pick {
	sc := ludScratches.Get().(*ludScratch)
	keys, picks := sc.keys[:0], sc.picks[:0]
	keys, picks = appendLudKeys(s.root, keys, picks)
	slices.SortFunc(keys, func(a, b ludKey) int {
		if c := cmp.Compare(a.eff, b.eff); c != 0 {
			return c
		}
		if c := cmp.Compare(a.last, b.last); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	for _, key := range keys[:k] {
		dst = append(dst, picks[key.i])
	}
	clear(picks)
	sc.keys, sc.picks = keys[:0], picks[:0]
	ludScratches.Put(sc)
	return dst
}

func appendLudKeys(n *ludNode, keys []ludKey, picks []handlespace.Pick) ([]ludKey, []handlespace.Pick) {
	if n.kids == nil {
		for i := range n.st {
			st := &n.st[i]
			keys = append(keys, ludKey{st.effective(), st.last.Load(), st.id, int32(len(picks))})
			picks = append(picks, handlespace.PickOf(n.src, int32(i)))
		}
		return keys, picks
	}
	for _, c := range n.kids {
		keys, picks = appendLudKeys(c, keys, picks)
	}
	return keys, picks
}
