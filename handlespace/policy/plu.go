package handlespace

import "sync/atomic"

// plu is RFC 5356 Priority Least Used: the element with the lowest sum of
// Load and LoadDeg first, then the next lowest and so on; equal sums take
// turns, round robin by the pool's sequence.
//
// In RFC 5356 the "priority" of this policy is the element's load
// degradation, the load one more request adds to it: the element chosen is
// the one whose load after taking the request is lowest, so that a small
// element (large degradation) is preferred less than a big one at the same
// load. The degradation is not accumulated (that is lud); the sum is
// computed in 64 bits, without saturation. Element.Priority plays no part.
type plu struct{}

func init() { registerPolicy("plu", func(Rand) Policy { return plu{} }) }

var _ Policy = plu{}

func (plu) Name() string { return "plu" }

func (plu) order() setOrder {
	return rankOrder(func(e *Element) uint64 { return uint64(e.Load) + uint64(e.LoadDeg) })
}

func (plu) build(s *eset, seq *atomic.Uint64, _ Selector, _ bool) Selector {
	return buildRankSel(s, seq)
}
