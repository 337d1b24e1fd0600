package handlespace

import (
	"math"
	"sync/atomic"
	"time"
)

// nearest puts the element with the lowest smoothed probe round-trip time
// first, then the next lowest and so on; elements whose RTT is not known yet
// (no probe has measured it) come last, and equal RTTs take turns round
// robin. The order changes as the probes' RTT reports do (a new Build).
//
// RTTs are compared in whole tenths of a millisecond, so that two servers
// a few microseconds apart count as equally near and share the load.
type nearest struct{}

func init() { registerPolicy("nearest", func(Rand) Policy { return nearest{} }) }

var _ Policy = nearest{}

func (nearest) Name() string { return "nearest" }

func (nearest) order() setOrder { return rankOrder(nearestRank) }

func (nearest) build(s *eset, seq *atomic.Uint64, _ Selector, _ bool) Selector {
	return buildRankSel(s, seq)
}

// nearestRank is an element's RTT in units of 100 µs; unknown is last.
func nearestRank(e *Element) uint64 {
	if e.RTT <= 0 {
		return math.MaxUint64
	}
	return uint64(e.RTT / (100 * time.Microsecond))
}
