package handlespace

import "sync/atomic"

// rlu is RFC 5356 Randomized Least Used: weighted random with each element's
// weight its free capacity, LoadFull − Load. A fully loaded element is never
// the first pick (it comes after all others) unless every element is fully
// loaded, in which case all are equally likely. Further picks are drawn the
// same way among the elements not yet picked.
type rlu struct{ r Rand }

func init() { registerPolicy("rlu", func(r Rand) Policy { return rlu{r} }) }

var _ Policy = rlu{}

func (rlu) Name() string { return "rlu" }

func (rlu) order() setOrder {
	return setOrder{weight: func(e *Element) uint64 { return LoadFull - uint64(e.Load) }}
}

func (p rlu) build(s *eset, _ *atomic.Uint64, _ Selector, _ bool) Selector {
	return newWeightedSel(p.r, s)
}
