package policy

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// The distance-penalty policies (RSPLIB's "DPF" family): wrand-dpf,
// lu-dpf, lud-dpf, plu-dpf and plud-dpf are wrand, lu, lud, plu and plud
// with an element's distance from this registrar counted against it. An
// element's distance is half its RTT (the one-way delay, as RSPLIB takes
// half the SCTP smoothed RTT), the RTT being the one the nearest policy
// orders by (NearestRTT: this registrar's own where it has measured one,
// else the home's), rounded to the nearest multiple of the pool's
// DistanceStep, in whole milliseconds. The rounding keeps small changes of
// the RTT from reordering a pool (and from publishing new views). An
// element whose RTT is not known has distance 0: no penalty, as in RSPLIB,
// where a distance is 0 until measured.
//
// The penalty of an element at distance d ms is d·DPF on the scale of
// LoadFull: lu-dpf ranks by Load + d·DPF, plu-dpf by Load + LoadDeg +
// d·DPF, lud-dpf and plud-dpf add the accumulated degradation to those,
// and wrand-dpf draws with weight Weight − round(Weight·d·DPF/LoadFull),
// at least 1 for an element of positive weight (RSPLIB's floor; weight 0
// stays 0: last, as in wrand). Sums are exact in 64 bits.

// maxDistance caps a distance (ms), so that d·DPF fits in 63 bits.
const maxDistance = 1 << 31

// dist is a pool's distance settings (handlespace.DistanceOf).
type dist struct {
	dpf    uint64 // PoolSpec.DPF
	stepMs uint64 // PoolSpec.DistanceStep in ms, at least 1
}

func distOf(s handlespace.PoolSpec) dist {
	d := handlespace.DistanceOf(s)
	return dist{dpf: d.DPF, stepMs: d.StepMs}
}

// registerDistPolicy registers a distance-penalty policy, which takes
// its pools' distance settings.
func registerDistPolicy(name string, mk func(handlespace.Rand, dist) handlespace.Policy) {
	handlespace.RegisterPolicy(name, true, func(r handlespace.Rand, spec handlespace.PoolSpec) handlespace.Policy {
		return mk(r, distOf(spec))
	})
}

// distance returns e's distance in ms (at most maxDistance).
func (d dist) distance(e *handlespace.Element) uint64 {
	rtt := NearestRTT(e)
	if rtt <= 0 {
		return 0
	}
	stepNs := d.stepMs * uint64(time.Millisecond)
	oneWay := uint64(rtt) / 2
	steps := (oneWay + stepNs/2) / stepNs
	return min(steps*d.stepMs, maxDistance)
}

// penalty returns e's distance penalty on the scale of LoadFull (< 2⁶³).
func (d dist) penalty(e *handlespace.Element) uint64 { return d.distance(e) * d.dpf }

// weight returns the weight wrand-dpf gives e.
func (d dist) weight(e *handlespace.Element) uint64 {
	w := uint64(e.Weight)
	if w == 0 {
		return 0
	}
	f := float64(d.distance(e)) * float64(d.dpf) / handlespace.LoadFull // fraction taken away
	cut := math.Round(float64(w) * f)
	if cut >= float64(w) {
		return 1
	}
	return max(w-uint64(cut), 1)
}

// luDPF is lu-dpf: lu ranked by Load + penalty.
type luDPF struct{ d dist }

// pluDPF is plu-dpf: plu ranked by Load + LoadDeg + penalty.
type pluDPF struct{ d dist }

// wrandDPF is wrand-dpf: wrand with each weight cut by the penalty.
type wrandDPF struct {
	r handlespace.Rand
	d dist
}

func init() {
	registerDistPolicy("lu-dpf", func(_ handlespace.Rand, d dist) handlespace.Policy { return luDPF{d} })
	registerDistPolicy("plu-dpf", func(_ handlespace.Rand, d dist) handlespace.Policy { return pluDPF{d} })
	registerDistPolicy("wrand-dpf", func(r handlespace.Rand, d dist) handlespace.Policy { return wrandDPF{r, d} })
}

var (
	_ handlespace.Policy = luDPF{}
	_ handlespace.Policy = pluDPF{}
	_ handlespace.Policy = wrandDPF{}
)

func (luDPF) Name() string { return "lu-dpf" }

func (p luDPF) Order() handlespace.Order {
	return rankOrder(func(e *handlespace.Element) uint64 { return uint64(e.Load) + p.d.penalty(e) })
}

func (luDPF) Build(s *handlespace.Set, seq *atomic.Uint64, _ handlespace.Selector, _ bool) handlespace.Selector {
	return buildRankSel(s, seq)
}

func (pluDPF) Name() string { return "plu-dpf" }

func (p pluDPF) Order() handlespace.Order {
	return rankOrder(func(e *handlespace.Element) uint64 { return uint64(e.Load) + uint64(e.LoadDeg) + p.d.penalty(e) })
}

func (pluDPF) Build(s *handlespace.Set, seq *atomic.Uint64, _ handlespace.Selector, _ bool) handlespace.Selector {
	return buildRankSel(s, seq)
}

func (wrandDPF) Name() string { return "wrand-dpf" }

func (p wrandDPF) Order() handlespace.Order { return handlespace.Order{Weight: p.d.weight} }

func (p wrandDPF) Build(s *handlespace.Set, _ *atomic.Uint64, _ handlespace.Selector, _ bool) handlespace.Selector {
	return newWeightedSel(p.r, s)
}

// rplu is RSPLIB's Randomized Priority Least Used: rlu with each weight
// LoadFull − Load − LoadDeg, the free capacity the element has left after
// taking the request. An element with no capacity left (weight 0) is never
// the first pick unless every element is so, as in rlu.
type rplu struct{ r handlespace.Rand }

func init() { registerPolicy("rplu", func(r handlespace.Rand) handlespace.Policy { return rplu{r} }) }

var _ handlespace.Policy = rplu{}

func (rplu) Name() string { return "rplu" }

func (rplu) Order() handlespace.Order {
	return handlespace.Order{Weight: func(e *handlespace.Element) uint64 {
		return uint64(handlespace.LoadFull) - min(uint64(e.Load)+uint64(e.LoadDeg), handlespace.LoadFull)
	}}
}

func (p rplu) Build(s *handlespace.Set, _ *atomic.Uint64, _ handlespace.Selector, _ bool) handlespace.Selector {
	return newWeightedSel(p.r, s)
}
