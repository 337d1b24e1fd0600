package handlespace

import (
	"cmp"
	"slices"
	"sync/atomic"
)

// rankSel serves the policies whose order is a ranking fixed at Build (prio,
// lu, plu): the elements sorted by rank, lowest first, with equal ranks
// forming groups. Each Select turns every group one step further by the
// pool's sequence, so that equal-ranked elements take turns (round robin,
// RSerPool's tie-break): over any m consecutive selections each of m
// elements tied for the best rank is the first pick exactly once, whatever
// the concurrency. A k-element answer costs O(k).
type rankSel struct {
	order []int32 // element indexes by rank; equal ranks in list order
	ends  []int32 // ends[g]: where the g-th group of equal rank ends in order
	seq   *atomic.Uint64
}

var _ Selector = (*rankSel)(nil)

func buildRankSel(elems []*Element, prev Selector, rank func(*Element) uint64) *rankSel {
	n := len(elems)
	keys := make([]uint64, n)
	s := &rankSel{order: make([]int32, n), seq: carrySeq(prev)}
	for i, e := range elems {
		keys[i], s.order[i] = rank(e), int32(i)
	}
	slices.SortStableFunc(s.order, func(a, b int32) int { return cmp.Compare(keys[a], keys[b]) })
	for i := 1; i <= n; i++ {
		if i == n || keys[s.order[i]] != keys[s.order[i-1]] {
			s.ends = append(s.ends, int32(i))
		}
	}
	return s
}

func (s *rankSel) poolSeq() *atomic.Uint64 { return s.seq }

func (s *rankSel) Select(dst []int32, k int, _ *Client) []int32 {
	k = wantK(k, len(s.order))
	seq := s.seq.Add(1) - 1
	start := int32(0)
	for _, end := range s.ends {
		m := end - start
		off := int32(seq % uint64(m))
		for j := int32(0); j < m; j++ {
			if k == 0 {
				return dst
			}
			x := off + j
			if x >= m {
				x -= m
			}
			dst = append(dst, s.order[start+x])
			k--
		}
		start = end
	}
	return dst
}
