package handlespace

import "sync/atomic"

// rr is RFC 5356 Round Robin: each selection starts one element further
// along the list (ordered by identifier) than the one before.
type rr struct{}

func init() { registerPolicy("rr", func(Rand) Policy { return rr{} }) }

func (rr) Name() string { return "rr" }

func (rr) Build(elems []*Element, prev Selector) Selector {
	s := &rrSel{n: len(elems)}
	if p, ok := prev.(*rrSel); ok {
		s.seq = p.seq
	} else {
		s.seq = new(atomic.Uint64)
	}
	return s
}

type rrSel struct {
	n   int
	seq *atomic.Uint64 // shared by all selectors of the pool's set
}

var _ Selector = (*rrSel)(nil)

func (s *rrSel) Select(dst []int32, k int, _ *Client) []int32 {
	if k <= 0 || k > s.n {
		k = s.n
	}
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
