package policy

import (
	"slices"
	"sync/atomic"

	"github.com/poolnsd/poolnsd/handlespace"
)

// rr is RFC 5356 Round Robin: each selection starts one element further
// along the list (ordered by identifier) than the one before, and a
// selection of k elements gives k consecutive ones (wrapping around). Over
// any n consecutive selections each element is the first pick exactly once,
// whatever the concurrency: the position is one atomic increment. A
// k-element answer costs O(k + log n).
type rr struct{}

func init() { registerPolicy("rr", func(handlespace.Rand) handlespace.Policy { return rr{} }) }

var _ handlespace.Policy = rr{}

func (rr) Name() string { return "rr" }

func (rr) Order() handlespace.Order { return handlespace.Order{} }

func (rr) Build(s *handlespace.Set, seq *atomic.Uint64, _ handlespace.Selector, _ bool) handlespace.Selector {
	return &rrSel{t: *s.Tree(), seq: seq}
}

// InSet returns the selector of a pool view's set: the set itself, seen
// as an rrSetSel, so that a new view's sets cost no allocation.
func (rr) InSet(s *handlespace.ElementSet) handlespace.Selector { return (*rrSetSel)(s) }

// rrSetSel is an ElementSet selecting as rrSel does, from the set's own
// tree and sequence (see handlespace.InSetPolicy).
type rrSetSel handlespace.ElementSet

var _ handlespace.Selector = (*rrSetSel)(nil)

func (s *rrSetSel) Select(dst []handlespace.Pick, k int, c *handlespace.Client) []handlespace.Pick {
	set, seq := (*handlespace.ElementSet)(s).Set()
	return rrSelect(dst, k, set.Tree(), seq)
}

type rrSel struct {
	t   tree
	seq *atomic.Uint64 // carried over from the set's previous selector
}

var _ handlespace.Selector = (*rrSel)(nil)

func (s *rrSel) Select(dst []handlespace.Pick, k int, _ *handlespace.Client) []handlespace.Pick {
	return rrSelect(dst, k, &s.t, s.seq)
}

// rrSelect appends k elements of t from the next position of seq on.
func rrSelect(dst []handlespace.Pick, k int, t *tree, seq *atomic.Uint64) []handlespace.Pick {
	n := t.Len()
	k = wantK(k, n)
	start := int((seq.Add(1) - 1) % uint64(n))
	if t.Height() == 1 { // one leaf: most pools
		l := t.Root()
		for i, j := 0, start; i < k; i, j = i+1, j+1 {
			if j == n {
				j = 0
			}
			dst = append(dst, handlespace.PickOf(l, int32(j)))
		}
		return dst
	}
	return appendRun(dst, t, start, k)
}

// appendRun appends the k entries of t from rank start on, wrapping around
// (k <= t.Len()): a descent to each leaf the run reaches, and the leaf's
// entries.
func appendRun(dst []handlespace.Pick, t *tree, start, k int) []handlespace.Pick {
	for r := start; k > 0; {
		l, i := t.Root(), r
		if t.Height() > 1 {
			l, i = t.At(r)
		}
		m := min(k, len(l.Elems())-i)
		n := len(dst)
		dst = slices.Grow(dst, m)[:n+m]
		for j := range m {
			dst[n+j] = handlespace.PickOf(l, int32(i+j))
		}
		k -= m
		if r += m; r == t.Len() {
			r = 0
		}
	}
	return dst
}
