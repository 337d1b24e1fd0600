package handlespace

import (
	"math/bits"
	"sync"
)

// weightedSel serves the weighted random policies (wrand, rlu): the first
// pick is element i with probability w_i/W, each further pick is drawn the
// same way among the elements not picked yet (sampling without
// replacement). Elements of weight 0 come after all others, in a random
// rotation of list order; if every weight is 0, all count as 1.
//
// For k <= randSmallK a pick costs a draw, a walk over the earlier picks and
// a binary search on the cumulative-weight line: O(k² + k log n), no memory.
// Larger answers build a Fenwick tree in pooled scratch: O(n + k log n).
type weightedSel struct {
	r       Rand
	n       int
	pos     []int32  // elements of positive weight, in list order
	w       []uint64 // w[j]: weight of pos[j]
	cum     []uint64 // cum[j]: sum of w[:j+1]
	total   uint64
	zero    []int32   // elements of weight 0
	scratch sync.Pool // *[]uint64 of len(pos)+1, for large k
}

var _ Selector = (*weightedSel)(nil)

func newWeightedSel(r Rand, n int, weight func(i int) uint64) *weightedSel {
	s := &weightedSel{r: r, n: n}
	for i := 0; i < n; i++ {
		w := weight(i)
		if w == 0 {
			s.zero = append(s.zero, int32(i))
			continue
		}
		s.total += w
		s.pos, s.w, s.cum = append(s.pos, int32(i)), append(s.w, w), append(s.cum, s.total)
	}
	if s.total == 0 {
		s.zero, s.pos, s.w, s.cum = nil, make([]int32, n), make([]uint64, n), make([]uint64, n)
		for i := 0; i < n; i++ {
			s.pos[i], s.w[i], s.cum[i] = int32(i), 1, uint64(i+1)
		}
		s.total = uint64(n)
	}
	m := len(s.pos)
	s.scratch.New = func() any { b := make([]uint64, m+1); return &b }
	return s
}

func (s *weightedSel) Select(dst []int32, k int, _ *Client) []int32 {
	k = wantK(k, s.n)
	if k > randSmallK {
		return s.selectMany(dst, k)
	}
	var chosen [randSmallK]int32 // positions in pos, ascending
	rest := s.total
	c := 0
	for ; c < k && c < len(s.pos); c++ {
		// The x-th point of the line without the chosen intervals.
		x := randBelow(s.r, rest)
		i := 0
		for ; i < c; i++ {
			j := chosen[i]
			if x < s.cum[j]-s.w[j] {
				break
			}
			x += s.w[j]
		}
		j := int32(searchCum(s.cum, x))
		rest -= s.w[j]
		// j lies between chosen[i-1] and chosen[i]: keep chosen sorted.
		copy(chosen[i+1:c+1], chosen[i:c])
		chosen[i] = j
		dst = append(dst, s.pos[j])
	}
	return s.appendZero(dst, k-c)
}

func (s *weightedSel) selectMany(dst []int32, k int) []int32 {
	m := len(s.pos)
	bp := s.scratch.Get().(*[]uint64)
	f := *bp // Fenwick tree of the weights, 1-based
	copy(f[1:], s.w)
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
		w := s.w[idx]
		rest -= w
		for i := idx + 1; i <= m; i += i & -i {
			f[i] -= w
		}
		dst = append(dst, s.pos[idx])
	}
	s.scratch.Put(bp)
	return s.appendZero(dst, k-c)
}

// appendZero appends k of the weight-0 elements, from a random place in
// list order on.
func (s *weightedSel) appendZero(dst []int32, k int) []int32 {
	z := len(s.zero)
	if k <= 0 || z == 0 {
		return dst
	}
	off := int(randBelow(s.r, uint64(z)))
	for i := 0; i < z && i < k; i++ {
		x := off + i
		if x >= z {
			x -= z
		}
		dst = append(dst, s.zero[x])
	}
	return dst
}
