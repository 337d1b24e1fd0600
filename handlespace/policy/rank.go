package policy

import (
	"math"
	"sync/atomic"

	"github.com/poolnsd/poolnsd/handlespace"
)

// rankSel serves the policies whose order is a ranking (prio, lu, plu,
// nearest): the set's tree holds the elements sorted by rank, lowest first,
// then by ID, with equal ranks forming groups. Each Select turns every
// group one step further by the pool's sequence, so that equal-ranked
// elements take turns (round robin, RSerPool's tie-break): over any m
// consecutive selections each of m elements tied for the best rank is the
// first pick exactly once, whatever the concurrency.
//
// A set of one leaf (up to ptree.LeafMax elements, most pools) has its groups
// found at Build, O(n), and a k-element answer costs O(k). A larger set
// finds a group's end by a search of the tree, O(log n), and keeps the
// first group's end once found (most answers stay in it), so an answer
// costs O(k + log n) and a change of an element's rank (a move of its
// entry) O(log n).
type rankSel struct {
	t    tree  // byRank
	ends []int // one leaf: where each group ends
	// first is the end of the first group plus one, 0 until known (large
	// sets).
	first atomic.Int64
	seq   *atomic.Uint64
}

var _ handlespace.Selector = (*rankSel)(nil)

func rankOrder(rank func(*handlespace.Element) uint64) handlespace.Order {
	return handlespace.Order{Rank: rank}
}

func buildRankSel(s *handlespace.Set, seq *atomic.Uint64) *rankSel {
	rs := &rankSel{}
	rs.init(s, seq)
	return rs
}

func (rs *rankSel) init(s *handlespace.Set, seq *atomic.Uint64) {
	rs.t, rs.seq = *s.Tree(), seq
	if rs.t.Height() == 1 {
		keys := rs.t.Root().Keys()
		for i := 1; i <= len(keys); i++ {
			if i == len(keys) || keys[i] != keys[i-1] {
				rs.ends = append(rs.ends, i)
			}
		}
	}
}

// groupEnd returns the rank after the last entry of the group of the
// entry of rank r, which is entry i of leaf l (a large set).
func (s *rankSel) groupEnd(r int, l *tnode, i int) int {
	if r == 0 {
		if f := s.first.Load(); f > 0 {
			return int(f - 1)
		}
	}
	keys := l.Keys()
	key := keys[i]
	// Most groups end in the same leaf.
	end := -1
	for j := i + 1; j < len(keys); j++ {
		if keys[j] != key {
			end = r + j - i
			break
		}
	}
	if end < 0 {
		end = s.t.Len()
		if key != math.MaxUint64 {
			end = s.t.RankOf(key+1, 0)
		}
	}
	if r == 0 {
		s.first.Store(int64(end) + 1)
	}
	return end
}

func (s *rankSel) Select(dst []handlespace.Pick, k int, _ *handlespace.Client) []handlespace.Pick {
	n := s.t.Len()
	k = wantK(k, n)
	seq := s.seq.Add(1) - 1
	if s.ends != nil {
		start := 0
		l := s.t.Root()
		for _, end := range s.ends {
			if k == 0 {
				break
			}
			if end == start+1 {
				dst = append(dst, handlespace.PickOf(l, int32(start)))
				k--
			} else {
				dst, k = s.appendGroup(dst, start, end, seq, k)
			}
			start = end
		}
		return dst
	}
	l, i := s.t.At(0)
	for r := 0; r < n && k > 0; {
		end := s.groupEnd(r, l, i)
		if end == r+1 { // a group of one: no rotation, no search
			dst = append(dst, handlespace.PickOf(l, int32(i)))
			k--
		} else {
			dst, k = s.appendGroup(dst, r, end, seq, k)
		}
		if k == 0 || end >= n {
			break
		}
		// On to the next group: in the same leaf, or found from the root.
		if i += end - r; i >= len(l.Elems()) {
			l, i = s.t.At(end)
		}
		r = end
	}
	return dst
}

// appendGroup appends up to k entries of the group [start, end), turned
// by seq, and returns how many are still wanted.
func (s *rankSel) appendGroup(dst []handlespace.Pick, start, end int, seq uint64, k int) ([]handlespace.Pick, int) {
	m := end - start
	off := int(seq % uint64(m))
	// The group from start+off to its end, then from its start.
	a := min(k, m-off)
	dst = appendRun(dst, &s.t, start+off, a)
	k -= a
	if b := min(k, off); b > 0 {
		dst = appendRun(dst, &s.t, start, b)
		k -= b
	}
	return dst, k
}
