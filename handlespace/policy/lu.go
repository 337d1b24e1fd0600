package handlespace

import "sync/atomic"

// lu is RFC 5356 Least Used: the element with the lowest Load first, then
// the next lowest and so on; elements of equal load take turns, round robin
// by the pool's sequence. Selections do not change the order: it changes
// with load reports (a new Build).
type lu struct{}

func init() { registerPolicy("lu", func(Rand) Policy { return lu{} }) }

var _ Policy = lu{}

func (lu) Name() string { return "lu" }

func (lu) order() setOrder { return rankOrder(func(e *Element) uint64 { return uint64(e.Load) }) }

func (lu) build(s *eset, seq *atomic.Uint64, _ Selector, _ bool) Selector {
	return buildRankSel(s, seq)
}
