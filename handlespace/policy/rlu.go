package policy

import (
	"sync/atomic"

	"github.com/poolnsd/poolnsd/handlespace"
)

// rlu is RFC 5356 Randomized Least Used: weighted random with each element's
// weight its free capacity, LoadFull − Load. A fully loaded element is never
// the first pick (it comes after all others) unless every element is fully
// loaded, in which case all are equally likely. Further picks are drawn the
// same way among the elements not yet picked.
type rlu struct{ r handlespace.Rand }

func init() { registerPolicy("rlu", func(r handlespace.Rand) handlespace.Policy { return rlu{r} }) }

var _ handlespace.Policy = rlu{}

func (rlu) Name() string { return "rlu" }

func (rlu) Order() handlespace.Order {
	return handlespace.Order{Weight: func(e *handlespace.Element) uint64 { return handlespace.LoadFull - uint64(e.Load) }}
}

func (p rlu) Build(s *handlespace.Set, _ *atomic.Uint64, _ handlespace.Selector, _ bool) handlespace.Selector {
	return newWeightedSel(p.r, s)
}
