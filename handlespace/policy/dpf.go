package handlespace

import (
	"math"
	"sync/atomic"
	"time"
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

const (
	// DefaultDPF is the distance penalty factor of pools that set none:
	// 0.1 % of full load per millisecond of distance.
	DefaultDPF = LoadFull / 1000
	// DefaultDistanceStep is the distance step of pools that set none,
	// RSPLIB's default.
	DefaultDistanceStep = 50 * time.Millisecond
	// MaxDistanceStep is the largest distance step a pool may have.
	MaxDistanceStep = time.Minute
	// maxDistance caps a distance (ms), so that d·DPF fits in 63 bits.
	maxDistance = 1 << 31
)

// dist is a pool's distance settings.
type dist struct {
	dpf    uint64 // PoolSpec.DPF
	stepMs uint64 // PoolSpec.DistanceStep in ms, at least 1
}

func distOf(s PoolSpec) dist {
	step, dpf := s.DistanceStep, s.DPF
	if step <= 0 {
		step = DefaultDistanceStep
	}
	if dpf == 0 {
		dpf = DefaultDPF
	}
	return dist{dpf: uint64(dpf), stepMs: uint64(max(step/time.Millisecond, 1))}
}

// distMakers maps the names of the distance-penalty policies to their
// constructors, which take the pool's distance settings.
var distMakers = map[string]func(Rand, dist) Policy{}

// registerDistPolicy registers a distance-penalty policy: under its name
// as every policy (with the default settings), and with its settings.
func registerDistPolicy(name string, mk func(Rand, dist) Policy) {
	distMakers[name] = mk
	registerPolicy(name, func(r Rand) Policy { return mk(r, distOf(DefaultPoolSpec())) })
}

// DistancePolicy reports whether the policy counts an element's distance
// against it (the -dpf policies), so that its pools take a penalty factor
// and a distance step.
func DistancePolicy(name string) bool {
	_, ok := distMakers[name]
	return ok
}

// UsesRTT reports whether the order of the policy depends on the
// elements' RTT (nearest and the distance-penalty policies), so that a
// registrar measures its own RTT to the elements of its pools.
func UsesRTT(name string) bool { return name == "nearest" || DistancePolicy(name) }

// Distance returns element e's distance in milliseconds as the
// distance-penalty policies of a pool with the given distance step see
// it: half of NearestRTT(e) rounded to the nearest multiple of step (0 or
// less: DefaultDistanceStep); 0 when the RTT is not known.
func Distance(e *Element, step time.Duration) uint32 {
	return uint32(distOf(PoolSpec{DistanceStep: step}).distance(e))
}

// distance returns e's distance in ms (at most maxDistance).
func (d dist) distance(e *Element) uint64 {
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
func (d dist) penalty(e *Element) uint64 { return d.distance(e) * d.dpf }

// weight returns the weight wrand-dpf gives e.
func (d dist) weight(e *Element) uint64 {
	w := uint64(e.Weight)
	if w == 0 {
		return 0
	}
	f := float64(d.distance(e)) * float64(d.dpf) / LoadFull // fraction taken away
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
	r Rand
	d dist
}

func init() {
	registerDistPolicy("lu-dpf", func(_ Rand, d dist) Policy { return luDPF{d} })
	registerDistPolicy("plu-dpf", func(_ Rand, d dist) Policy { return pluDPF{d} })
	registerDistPolicy("wrand-dpf", func(r Rand, d dist) Policy { return wrandDPF{r, d} })
}

var (
	_ Policy = luDPF{}
	_ Policy = pluDPF{}
	_ Policy = wrandDPF{}
)

func (luDPF) Name() string { return "lu-dpf" }

func (p luDPF) order() setOrder {
	return rankOrder(func(e *Element) uint64 { return uint64(e.Load) + p.d.penalty(e) })
}

func (luDPF) build(s *eset, seq *atomic.Uint64, _ Selector, _ bool) Selector {
	return buildRankSel(s, seq)
}

func (pluDPF) Name() string { return "plu-dpf" }

func (p pluDPF) order() setOrder {
	return rankOrder(func(e *Element) uint64 { return uint64(e.Load) + uint64(e.LoadDeg) + p.d.penalty(e) })
}

func (pluDPF) build(s *eset, seq *atomic.Uint64, _ Selector, _ bool) Selector {
	return buildRankSel(s, seq)
}

func (wrandDPF) Name() string { return "wrand-dpf" }

func (p wrandDPF) order() setOrder { return setOrder{weight: p.d.weight} }

func (p wrandDPF) build(s *eset, _ *atomic.Uint64, _ Selector, _ bool) Selector {
	return newWeightedSel(p.r, s)
}

// rplu is RSPLIB's Randomized Priority Least Used: rlu with each weight
// LoadFull − Load − LoadDeg, the free capacity the element has left after
// taking the request. An element with no capacity left (weight 0) is never
// the first pick unless every element is so, as in rlu.
type rplu struct{ r Rand }

func init() { registerPolicy("rplu", func(r Rand) Policy { return rplu{r} }) }

var _ Policy = rplu{}

func (rplu) Name() string { return "rplu" }

func (rplu) order() setOrder {
	return setOrder{weight: func(e *Element) uint64 {
		return uint64(LoadFull) - min(uint64(e.Load)+uint64(e.LoadDeg), LoadFull)
	}}
}

func (p rplu) build(s *eset, _ *atomic.Uint64, _ Selector, _ bool) Selector {
	return newWeightedSel(p.r, s)
}
