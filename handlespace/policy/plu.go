package policy

import (
	"sync/atomic"

	"github.com/poolnsd/poolnsd/handlespace"
)

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

func init() { registerPolicy("plu", func(handlespace.Rand) handlespace.Policy { return plu{} }) }

var _ handlespace.Policy = plu{}

func (plu) Name() string { return "plu" }

func (plu) Order() handlespace.Order {
	return rankOrder(func(e *handlespace.Element) uint64 { return uint64(e.Load) + uint64(e.LoadDeg) })
}

func (plu) Build(s *handlespace.Set, seq *atomic.Uint64, _ handlespace.Selector, _ bool) handlespace.Selector {
	return buildRankSel(s, seq)
}
