package policy

import (
	"sync/atomic"

	"github.com/poolnsd/poolnsd/handlespace"
)

// wrand is RFC 5356 Weighted Random: the first pick is an element with
// probability proportional to its Weight; each further pick is drawn the
// same way among the elements not yet picked. Elements of weight 0 come
// last (in a random rotation of list order); if every weight is 0 the
// policy is rand.
type wrand struct{ r handlespace.Rand }

func init() { registerPolicy("wrand", func(r handlespace.Rand) handlespace.Policy { return wrand{r} }) }

var _ handlespace.Policy = wrand{}

func (wrand) Name() string { return "wrand" }

func (wrand) Order() handlespace.Order {
	return handlespace.Order{Weight: func(e *handlespace.Element) uint64 { return uint64(e.Weight) }}
}

func (p wrand) Build(s *handlespace.Set, _ *atomic.Uint64, _ handlespace.Selector, _ bool) handlespace.Selector {
	return newWeightedSel(p.r, s)
}
