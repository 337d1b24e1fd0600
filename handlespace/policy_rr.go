package handlespace

import "sync/atomic"

// rr is RFC 5356 Round Robin: each selection starts one element further
// along the list (ordered by identifier) than the one before, and a
// selection of k elements gives k consecutive ones (wrapping around). Over
// any n consecutive selections each element is the first pick exactly once,
// whatever the concurrency: the position is one atomic increment.
type rr struct{}

func init() { registerPolicy("rr", func(Rand) Policy { return rr{} }) }

var _ Policy = rr{}

func (rr) Name() string { return "rr" }

func (rr) Build(elems []*Element, prev Selector) Selector {
	return &rrSel{n: len(elems), seq: carrySeq(prev)}
}

type rrSel struct {
	n   int
	seq *atomic.Uint64 // shared by all selectors of the pool's set
}

var _ Selector = (*rrSel)(nil)

func (s *rrSel) poolSeq() *atomic.Uint64 { return s.seq }

func (s *rrSel) Select(dst []int32, k int, _ *Client) []int32 {
	k = wantK(k, s.n)
	start := int((s.seq.Add(1) - 1) % uint64(s.n))
	for i := 0; i < k; i++ {
		j := start + i
		if j >= s.n {
			j -= s.n
		}
		dst = append(dst, int32(j))
	}
	return dst
}
