package handlespace

import (
	"slices"
	"sync/atomic"
)

// rr is RFC 5356 Round Robin: each selection starts one element further
// along the list (ordered by identifier) than the one before, and a
// selection of k elements gives k consecutive ones (wrapping around). Over
// any n consecutive selections each element is the first pick exactly once,
// whatever the concurrency: the position is one atomic increment. A
// k-element answer costs O(k + log n).
type rr struct{}

func init() { registerPolicy("rr", func(Rand) Policy { return rr{} }) }

var _ Policy = rr{}

func (rr) Name() string { return "rr" }

func (rr) order() setOrder { return setOrder{} }

func (rr) build(s *eset, seq *atomic.Uint64, _ Selector, _ bool) Selector {
	return &rrSel{t: s.t, seq: seq}
}

type rrSel struct {
	t   tree
	seq *atomic.Uint64 // carried over from the set's previous selector
}

var _ Selector = (*rrSel)(nil)

func (s *rrSel) poolSeq() *atomic.Uint64 { return s.seq }

func (s *rrSel) Select(dst []Pick, k int, _ *Client) []Pick {
	n := s.t.n
	k = wantK(k, n)
	start := int((s.seq.Add(1) - 1) % uint64(n))
	if s.t.height == 1 { // one leaf: most pools
		l := s.t.root
		for i, j := 0, start; i < k; i, j = i+1, j+1 {
			if j == n {
				j = 0
			}
			dst = append(dst, Pick{l, int32(j)})
		}
		return dst
	}
	return appendRun(dst, &s.t, start, k)
}

// appendRun appends the k entries of t from rank start on, wrapping around
// (k <= t.n): a descent to each leaf the run reaches, and the leaf's
// entries.
func appendRun(dst []Pick, t *tree, start, k int) []Pick {
	for r := start; k > 0; {
		l, i := t.root, r
		if t.height > 1 {
			l, i = t.at(r)
		}
		m := min(k, len(l.elems)-i)
		n := len(dst)
		dst = slices.Grow(dst, m)[:n+m]
		for j := range m {
			dst[n+j] = Pick{l, int32(i + j)}
		}
		k -= m
		if r += m; r == t.n {
			r = 0
		}
	}
	return dst
}
