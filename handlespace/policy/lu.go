package policy

import (
	"sync/atomic"

	"github.com/poolnsd/poolnsd/handlespace"
)

// lu is RFC 5356 Least Used: the element with the lowest Load first, then
// the next lowest and so on; elements of equal load take turns, round robin
// by the pool's sequence. Selections do not change the order: it changes
// with load reports (a new Build).
type lu struct{}

func init() { registerPolicy("lu", func(handlespace.Rand) handlespace.Policy { return lu{} }) }

var _ handlespace.Policy = lu{}

func (lu) Name() string { return "lu" }

func (lu) Order() handlespace.Order {
	return rankOrder(func(e *handlespace.Element) uint64 { return uint64(e.Load) })
}

func (lu) Build(s *handlespace.Set, seq *atomic.Uint64, _ handlespace.Selector, _ bool) handlespace.Selector {
	return buildRankSel(s, seq)
}
