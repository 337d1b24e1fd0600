package handlespace

import "sync/atomic"

// wrand is RFC 5356 Weighted Random: the first pick is an element with
// probability proportional to its Weight; each further pick is drawn the
// same way among the elements not yet picked. Elements of weight 0 come
// last (in a random rotation of list order); if every weight is 0 the
// policy is rand.
type wrand struct{ r Rand }

func init() { registerPolicy("wrand", func(r Rand) Policy { return wrand{r} }) }

var _ Policy = wrand{}

func (wrand) Name() string { return "wrand" }

func (wrand) order() setOrder {
	return setOrder{weight: func(e *Element) uint64 { return uint64(e.Weight) }}
}

func (p wrand) build(s *eset, _ *atomic.Uint64, _ Selector, _ bool) Selector {
	return newWeightedSel(p.r, s)
}
