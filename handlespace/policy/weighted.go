package policy

import (
	"math/bits"
	"sync"

	"github.com/poolnsd/poolnsd/handlespace"
)

// weightedSel serves the weighted random policies (wrand, rlu): the first
// pick is element i with probability w_i/W, each further pick is drawn the
// same way among the elements not picked yet (sampling without
// replacement). Elements of weight 0 come after all others, in a random
// rotation of list order; if every weight is 0, all count as 1.
//
// For k <= randSmallK a pick costs a draw, a walk over the earlier picks and
// a descent of the set's weighted tree: O(k² + k log n), no memory. Larger
// answers build a Fenwick tree in pooled scratch: O(n + k log n).
type weightedSel struct {
	r     handlespace.Rand
	pos   tree // elements of positive weight, by ID, weighted; all (unweighted: each counts 1) if every weight is 0
	zero  tree // elements of weight 0, unless every weight is 0
	total uint64
}

var _ handlespace.Selector = (*weightedSel)(nil)

func newWeightedSel(r handlespace.Rand, set *handlespace.Set) *weightedSel {
	s := &weightedSel{r: r, pos: *set.Tree(), zero: *set.Aside(), total: set.Tree().Total()}
	if s.total == 0 {
		s.pos, s.zero, s.total = *set.Aside(), tree{}, uint64(set.Aside().Len())
	}
	return s
}

// locate returns the element whose interval of the weight line holds x,
// the interval's start and its length.
func (s *weightedSel) locate(x uint64) (handlespace.Pick, uint64, uint64) {
	if !s.pos.Weighted() {
		return pickAt(&s.pos, int(x)), x, 1
	}
	l, i, _, start := s.pos.AtWeight(x)
	return handlespace.PickOf(l, int32(i)), start, l.Weight(i)
}

func (s *weightedSel) Select(dst []handlespace.Pick, k int, _ *handlespace.Client) []handlespace.Pick {
	k = wantK(k, s.pos.Len()+s.zero.Len())
	if k > randSmallK {
		return s.selectMany(dst, k)
	}
	// The chosen intervals of the line, ascending.
	var start, width [randSmallK]uint64
	rest := s.total
	c := 0
	for ; c < k && c < s.pos.Len(); c++ {
		// The x-th point of the line without the chosen intervals.
		x := randBelow(s.r, rest)
		i := 0
		for ; i < c; i++ {
			if x < start[i] {
				break
			}
			x += width[i]
		}
		e, st, w := s.locate(x)
		rest -= w
		// The interval lies between chosen i-1 and i: keep them sorted.
		copy(start[i+1:c+1], start[i:c])
		copy(width[i+1:c+1], width[i:c])
		start[i], width[i] = st, w
		dst = append(dst, e)
	}
	return s.appendZero(dst, k-c)
}

// weightScratch is selectMany's working memory.
type weightScratch struct {
	f, w []uint64
	es   []handlespace.Pick
}

var weightScratches = sync.Pool{New: func() any { return new(weightScratch) }}

func (s *weightedSel) selectMany(dst []handlespace.Pick, k int) []handlespace.Pick {
	m := s.pos.Len()
	sc := weightScratches.Get().(*weightScratch)
	ws, es := sc.w[:0], appendPicks(sc.es[:0], &s.pos)
	s.pos.EachLeaf(func(l *tnode) bool {
		for i := range l.Elems() {
			if !s.pos.Weighted() {
				ws = append(ws, 1)
			} else {
				ws = append(ws, l.Weight(i))
			}
		}
		return true
	})
	f := append(append(sc.f[:0], 0), ws...) // Fenwick tree of the weights, 1-based
	for i := 1; i <= m; i++ {
		if p := i + i&-i; p <= m {
			f[p] += f[i]
		}
	}
	top := 1 << (bits.Len(uint(m)) - 1)
	rest := s.total
	c := 0
	for ; c < k && c < m; c++ {
		x := randBelow(s.r, rest)
		idx := 0 // ends as the number of elements whose prefix sum is <= x
		for step := top; step > 0; step >>= 1 {
			if nx := idx + step; nx <= m && f[nx] <= x {
				idx, x = nx, x-f[nx]
			}
		}
		w := ws[idx]
		rest -= w
		for i := idx + 1; i <= m; i += i & -i {
			f[i] -= w
		}
		dst = append(dst, es[idx])
	}
	clear(es)
	sc.f, sc.w, sc.es = f[:0], ws[:0], es[:0]
	weightScratches.Put(sc)
	return s.appendZero(dst, k-c)
}

// appendZero appends k of the weight-0 elements, from a random place in
// list order on.
func (s *weightedSel) appendZero(dst []handlespace.Pick, k int) []handlespace.Pick {
	z := s.zero.Len()
	if k <= 0 || z == 0 {
		return dst
	}
	off := int(randBelow(s.r, uint64(z)))
	return appendRun(dst, &s.zero, off, min(k, z))
}
