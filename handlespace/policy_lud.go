package handlespace

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
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
// A load report is a Build whose element has the same ID as one of prev's
// and a different Load: its count starts again at 0. An element whose Load
// is unchanged keeps its count (multiplied by its current LoadDeg). Elements
// that never report a load (zone-file elements without probes that read
// one) accumulate degradation without end; equal ones still take turns.
//
// Per-query state is one pair of atomics per element and a tournament tree
// of atomics over them (each node holds the best element below it), so a
// Select needs no lock: the first pick is the root, O(1); k ≤ ludSmallK
// picks are a best-first walk of the tree, O(k log n); charging the first
// pick fixes its path to the root, O(log n). Larger answers sort a snapshot,
// O(n log n).
//
// Races: queries that run at the same time may read the same root and both
// charge it, and a node rewritten concurrently may for a moment hold the
// worse of two children (every writer re-checks after writing, so the tree
// settles when the writers stop). The counts themselves are exact: each
// charge is one atomic add. Charges made through the previous selector
// after the Build copied its state (between Build and publication of the
// new view) are not carried over.
//
// The state is per element set: the All, V4 and V6 sets of a pool are
// built separately, so a selection among the IPv4 elements does not degrade
// the same element in SRV answers.
type lud struct{}

func init() { registerPolicy("lud", func(Rand) Policy { return lud{} }) }

var _ Policy = lud{}

func (lud) Name() string { return "lud" }

// ludState is the per-query state of one element.
type ludState struct {
	count atomic.Uint64 // charges since the last load report
	last  atomic.Uint64 // the pool sequence at the last charge; 0 never
}

type ludSel struct {
	part *tnode   // the elements, as a leaf (see Pick)
	ids  []uint32 // element IDs, by index
	byID []int32  // indexes sorted by ID, to find an element of prev
	load []uint64
	deg  []uint64
	st   []ludState
	// tree[v], 1 <= v < size, holds the best element index below node v
	// (-1: none); node v's children are 2v and 2v+1, and the leaves size+i
	// stand for element i.
	tree []atomic.Int32
	size int
	seq  *atomic.Uint64 // last charge number; carried over from prev

	scratch sync.Pool // *[]ludKey, for answers beyond ludSmallK
}

var _ Selector = (*ludSel)(nil)

func (lud) order() setOrder { return setOrder{} }

func (lud) build(set *eset, seq *atomic.Uint64, prev Selector, _ bool) Selector {
	return buildLud(set.t.appendElems(make([]*Element, 0, set.t.n)), seq, prev)
}

func buildLud(elems []*Element, seq *atomic.Uint64, prev Selector) *ludSel {
	n := len(elems)
	s := &ludSel{
		part: flatPart(elems),
		ids:  make([]uint32, n), byID: make([]int32, n),
		load: make([]uint64, n), deg: make([]uint64, n), st: make([]ludState, n),
	}
	for i, e := range elems {
		s.ids[i], s.byID[i] = e.ID, int32(i)
		s.load[i], s.deg[i] = uint64(e.Load), uint64(e.LoadDeg)
	}
	slices.SortFunc(s.byID, func(a, b int32) int { return cmp.Compare(s.ids[a], s.ids[b]) })
	s.seq = seq
	p, _ := prev.(*ludSel)
	if p != nil {
		for i := range s.ids {
			j := p.find(s.ids[i])
			if j < 0 {
				continue
			}
			s.st[i].last.Store(p.st[j].last.Load())
			if p.load[j] == s.load[i] {
				s.st[i].count.Store(p.st[j].count.Load())
			}
		}
	}
	s.size = 1
	for s.size < n {
		s.size <<= 1
	}
	s.tree = make([]atomic.Int32, s.size)
	for v := s.size - 1; v >= 1; v-- {
		s.tree[v].Store(s.better(s.node(2*v), s.node(2*v+1)))
	}
	n1 := n
	s.scratch.New = func() any { b := make([]ludKey, n1); return &b }
	return s
}

func (s *ludSel) poolSeq() *atomic.Uint64 { return s.seq }

// find returns the index of the element with the given ID, or -1.
func (s *ludSel) find(id uint32) int32 {
	i, ok := slices.BinarySearchFunc(s.byID, id, func(x int32, id uint32) int { return cmp.Compare(s.ids[x], id) })
	if !ok {
		return -1
	}
	return s.byID[i]
}

// node returns the best element below tree node v, or -1.
func (s *ludSel) node(v int) int32 {
	if v >= s.size {
		if i := v - s.size; i < len(s.ids) {
			return int32(i)
		}
		return -1
	}
	return s.tree[v].Load()
}

// effective returns element i's effective load.
func (s *ludSel) effective(i int32) uint64 {
	hi, lo := bits.Mul64(s.st[i].count.Load(), s.deg[i])
	if hi != 0 || lo > math.MaxUint64-s.load[i] {
		return math.MaxUint64
	}
	return s.load[i] + lo
}

// less reports whether element a goes before element b; -1 goes last.
func (s *ludSel) less(a, b int32) bool {
	switch {
	case a < 0:
		return false
	case b < 0:
		return true
	}
	if ea, eb := s.effective(a), s.effective(b); ea != eb {
		return ea < eb
	}
	if la, lb := s.st[a].last.Load(), s.st[b].last.Load(); la != lb {
		return la < lb
	}
	return a < b
}

func (s *ludSel) better(a, b int32) int32 {
	if s.less(b, a) {
		return b
	}
	return a
}

// charge counts a selection of element i and repairs the tree above it.
func (s *ludSel) charge(i int32) {
	s.st[i].count.Add(1)
	s.st[i].last.Store(s.seq.Add(1))
	for v := (s.size + int(i)) >> 1; v >= 1; v >>= 1 {
		for try := 0; try < 8; try++ {
			m := s.better(s.node(2*v), s.node(2*v+1))
			s.tree[v].Store(m)
			if s.better(s.node(2*v), s.node(2*v+1)) == m {
				break
			}
		}
	}
}

// ludSmallK is the largest answer that lud takes from the tree; larger ones
// sort a snapshot.
const ludSmallK = 8

func (s *ludSel) Select(dst []Pick, k int, c *Client) []Pick {
	if wantK(k, len(s.ids)) <= ludSmallK {
		var buf [ludSmallK]int32
		return appendIdx(dst, s.part, s.selectIdx(buf[:0], k, c))
	}
	bp := idxScratches.Get().(*[]int32)
	idx := s.selectIdx((*bp)[:0], k, c)
	dst = appendIdx(dst, s.part, idx)
	*bp = idx[:0]
	idxScratches.Put(bp)
	return dst
}

func (s *ludSel) selectIdx(dst []int32, k int, _ *Client) []int32 {
	k = wantK(k, len(s.ids))
	base := len(dst)
	switch {
	case k == 1:
		dst = append(dst, s.node(1))
	case k <= ludSmallK:
		dst = s.best(dst, k)
	default:
		dst = s.sorted(dst, k)
	}
	s.charge(dst[base])
	return dst
}

// ludCand is a subtree of the tournament tree and its best element.
type ludCand struct{ v, elem int32 }

// best appends the k best elements: a best-first walk that keeps the
// not-yet-taken part of the tree as disjoint subtrees in a heap, each keyed
// by its best element. Taking a subtree's best element leaves the siblings
// of the path down to it, at most log₂ size of them.
func (s *ludSel) best(dst []int32, k int) []int32 {
	var buf [ludSmallK*32 + 1]ludCand
	h := append(buf[:0], ludCand{1, s.node(1)})
	for ; k > 0 && len(h) > 0; k-- {
		c := h[0]
		last := len(h) - 1
		h[0] = h[last]
		h = h[:last]
		s.siftDown(h, 0)
		dst = append(dst, c.elem)
		for p := s.size + int(c.elem); p > int(c.v); p >>= 1 {
			if e := s.node(p ^ 1); e >= 0 {
				h = append(h, ludCand{int32(p ^ 1), e})
				s.siftUp(h, len(h)-1)
			}
		}
	}
	return dst
}

func (s *ludSel) siftUp(h []ludCand, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !s.less(h[i].elem, h[p].elem) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (s *ludSel) siftDown(h []ludCand, i int) {
	for {
		m, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && s.less(h[l].elem, h[m].elem) {
			m = l
		}
		if r < len(h) && s.less(h[r].elem, h[m].elem) {
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
	i         int32
}

// sorted appends the k best elements of a snapshot sorted in full.
func (s *ludSel) sorted(dst []int32, k int) []int32 {
	bp := s.scratch.Get().(*[]ludKey)
	keys := *bp
	for i := range keys {
		keys[i] = ludKey{s.effective(int32(i)), s.st[i].last.Load(), int32(i)}
	}
	slices.SortFunc(keys, func(a, b ludKey) int {
		if c := cmp.Compare(a.eff, b.eff); c != 0 {
			return c
		}
		if c := cmp.Compare(a.last, b.last); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	for _, key := range keys[:k] {
		dst = append(dst, key.i)
	}
	s.scratch.Put(bp)
	return dst
}

// stateOf returns the charge count and last-charge stamp of element id
// (testing).
func (s *ludSel) stateOf(id uint32) (count, last uint64) {
	i := s.find(id)
	return s.st[i].count.Load(), s.st[i].last.Load()
}

// degradationOf returns element id's accumulated degradation (testing).
func (s *ludSel) degradationOf(id uint32) uint64 {
	i := s.find(id)
	return s.st[i].count.Load() * s.deg[i]
}
