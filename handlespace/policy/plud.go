package policy

import (
	"sync/atomic"

	"github.com/poolnsd/poolnsd/handlespace"
)

// RSPLIB's policies with degradation beyond RFC 5356's lud. All keep
// lud's per-element state (see lud): a count of the selections that
// picked the element first since its base (below) last changed, charged
// for the first pick of each Select only, and carried over to the next
// version of the set while the element's base stays the same. An
// element's degradation is its count times its LoadDeg.
//
//   - plud (Priority Least Used with Degradation): lud whose base is
//     Load + LoadDeg, the load after taking the request (plu's key), so
//     the order is by Load + LoadDeg + degradation, lowest first.
//   - lud-dpf: lud whose base is Load + the distance penalty (see
//     policy_dpf.go).
//   - plud-dpf: plud whose base is Load + LoadDeg + the distance penalty.
//
// A change of the base (a load report, a new LoadDeg for plud, a new
// distance step for the -dpf ones) starts the count again, as RSPLIB
// resets an element's degradation when its policy information changes.
type plud struct{}

// ludDPF is lud-dpf.
type ludDPF struct{ d dist }

// pludDPF is plud-dpf.
type pludDPF struct{ d dist }

func init() {
	registerPolicy("plud", func(handlespace.Rand) handlespace.Policy { return plud{} })
	registerDistPolicy("lud-dpf", func(_ handlespace.Rand, d dist) handlespace.Policy { return ludDPF{d} })
	registerDistPolicy("plud-dpf", func(_ handlespace.Rand, d dist) handlespace.Policy { return pludDPF{d} })
}

var (
	_ handlespace.Policy = plud{}
	_ handlespace.Policy = ludDPF{}
	_ handlespace.Policy = pludDPF{}
)

// pluBase is plu's key: the load after taking the request.
func pluBase(e *handlespace.Element) uint64 { return uint64(e.Load) + uint64(e.LoadDeg) }

func (plud) Name() string               { return "plud" }
func (plud) Order() handlespace.Order   { return handlespace.Order{} }
func (ludDPF) Name() string             { return "lud-dpf" }
func (ludDPF) Order() handlespace.Order { return handlespace.Order{} }
func (pludDPF) Name() string            { return "plud-dpf" }
func (pludDPF) Order() handlespace.Order {
	return handlespace.Order{}
}

func (plud) Build(set *handlespace.Set, seq *atomic.Uint64, prev handlespace.Selector, _ bool) handlespace.Selector {
	return buildLudSel(set, seq, prev, ludKind{base: pluBase})
}

func (p ludDPF) Build(set *handlespace.Set, seq *atomic.Uint64, prev handlespace.Selector, _ bool) handlespace.Selector {
	return buildLudSel(set, seq, prev, ludKind{base: func(e *handlespace.Element) uint64 { return uint64(e.Load) + p.d.penalty(e) }})
}

func (p pludDPF) Build(set *handlespace.Set, seq *atomic.Uint64, prev handlespace.Selector, _ bool) handlespace.Selector {
	return buildLudSel(set, seq, prev, ludKind{base: func(e *handlespace.Element) uint64 { return pluBase(e) + p.d.penalty(e) }})
}
