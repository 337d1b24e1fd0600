package policy

import (
	"sync/atomic"

	"github.com/poolnsd/poolnsd/handlespace"
)

// prio is RFC 5356's Priority policy with the direction of SRV: the element
// with the lowest Priority value first, then the next lowest and so on;
// elements of equal priority take turns, round robin by the pool's sequence.
//
// RFC 5356 prefers the highest priority value. poolnsd prefers the lowest,
// because it exposes the policy order to clients as SRV priorities, where
// the lowest value wins (RFC 2782), and a zone author writing prio=10 next to
// an SRV record should not have to think in two directions. An ENRP peer's
// priorities must be converted at the protocol boundary.
type prio struct{}

func init() { registerPolicy("prio", func(handlespace.Rand) handlespace.Policy { return prio{} }) }

var _ handlespace.Policy = prio{}

func (prio) Name() string { return "prio" }

func (prio) Order() handlespace.Order {
	return rankOrder(func(e *handlespace.Element) uint64 { return uint64(e.Priority) })
}

func (prio) Build(s *handlespace.Set, seq *atomic.Uint64, _ handlespace.Selector, _ bool) handlespace.Selector {
	return buildRankSel(s, seq)
}
