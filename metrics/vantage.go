package metrics

import (
	"sync"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/prometheus/client_golang/prometheus"
)

// Health from other vantage points, hand-off and hand-back.

// Outcomes of a health confirmation (poolnsd_health_confirmations_total).
const (
	// ConfirmAgreed: every vantage point that answered saw what this
	// registrar's probes proposed.
	ConfirmAgreed = "agreed"
	// ConfirmOverruled: the quorum kept the health against this
	// registrar's probes.
	ConfirmOverruled = "overruled"
	// ConfirmDisputed: the proposal won, but some vantage point saw
	// otherwise.
	ConfirmDisputed = "disputed"
	// ConfirmAlone: nobody could be asked; the proposal stands.
	ConfirmAlone = "alone"
	// ConfirmMoved: the element was homed elsewhere before the verdict
	// came; nothing was published here.
	ConfirmMoved = "moved"
)

var confirmOutcomes = []string{ConfirmAgreed, ConfirmOverruled, ConfirmDisputed, ConfirmAlone, ConfirmMoved}

// Directions of a hand-off (poolnsd_enrp_handoff_elements_total).
const (
	HandoffGiven     = "given"       // handed off by this registrar as it left
	HandoffTaken     = "taken"       // taken from a peer that left
	HandbackGiven    = "handed_back" // state given back to a peer that joined
	HandbackTaken    = "taken_back"  // state taken from a peer at a join or heal
	maxVantageSeries = 1000
)

var handoffDirections = []string{HandoffGiven, HandoffTaken, HandbackGiven, HandbackTaken}

// vantageMetrics are the counters of confirmations and hand-offs.
type vantageMetrics struct {
	confirms   map[string]prometheus.Counter
	peerProbes [3]prometheus.Counter // by the health seen: unknown, up, down
	handoff    map[string]prometheus.Counter

	mu        sync.Mutex
	refused   func() uint64
	conflicts func() uint64
}

// hookCounter registers a counter that reads *f (set under v.mu) at
// scrape time: 0 while it is nil.
func (v *vantageMetrics) hookCounter(reg *prometheus.Registry, name, help string, f *func() uint64) {
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 {
		v.mu.Lock()
		read := *f
		v.mu.Unlock()
		if read == nil {
			return 0
		}
		return float64(read())
	}))
}

func newVantageMetrics(f factory, reg *prometheus.Registry) *vantageMetrics {
	v := &vantageMetrics{confirms: map[string]prometheus.Counter{}, handoff: map[string]prometheus.Counter{}}
	c := f.counterVec("poolnsd_health_confirmations_total",
		"Changes of health proposed by this registrar's probes and confirmed by other registrars' (health.confirm), by outcome: agreed, overruled (kept against the probes here), disputed (the vantage points disagreed), alone (nobody to ask), moved (homed elsewhere before the verdict; not published).", "outcome")
	for _, o := range confirmOutcomes {
		v.confirms[o] = c.WithLabelValues(o)
	}
	p := f.counterVec("poolnsd_health_peer_probes_total",
		"Probes made here for other registrars' confirmations, by what they saw (unknown: not probed here, or too many at once).", "result")
	for h := range v.peerProbes {
		v.peerProbes[h] = p.WithLabelValues(handlespace.Health(h).String())
	}
	v.hookCounter(reg, "poolnsd_health_confirm_refused_total",
		"Other registrars' confirmation requests refused here: unknown element, not from its home, over the asker's rate, too many in flight.",
		&v.refused)
	v.hookCounter(reg, "poolnsd_enrp_apply_conflicts_total",
		"Peers' changes to an element not applied here because the element had changed here meanwhile (the guard of the operation did not hold); the engine learns the element's state from the handlespace instead.",
		&v.conflicts)
	h := f.counterVec("poolnsd_enrp_handoff_elements_total",
		"Pool elements (or their states) moved by planned hand-off and hand-back, by direction: given, taken, handed_back, taken_back.", "direction")
	for _, d := range handoffDirections {
		v.handoff[d] = h.WithLabelValues(d)
	}
	return v
}

// Confirmation counts the outcome of one health confirmation this
// registrar asked for.
func (m *Metrics) Confirmation(outcome string) {
	if m == nil {
		return
	}
	if c := m.vant.confirms[outcome]; c != nil {
		c.Inc()
	}
}

// PeerProbe counts a probe made here for another registrar's
// confirmation, by the health it saw.
func (m *Metrics) PeerProbe(h handlespace.Health) {
	if m == nil || int(h) >= len(m.vant.peerProbes) {
		return
	}
	m.vant.peerProbes[h].Inc()
}

// SetConfirmRefused sets where poolnsd_health_confirm_refused_total comes
// from.
func (m *Metrics) SetConfirmRefused(f func() uint64) {
	if m == nil {
		return
	}
	m.vant.mu.Lock()
	m.vant.refused = f
	m.vant.mu.Unlock()
}

// SetApplyConflicts sets where poolnsd_enrp_apply_conflicts_total comes
// from.
func (m *Metrics) SetApplyConflicts(f func() uint64) {
	if m == nil {
		return
	}
	m.vant.mu.Lock()
	m.vant.conflicts = f
	m.vant.mu.Unlock()
}

// Handoff counts n elements moved by hand-off or hand-back in direction.
func (m *Metrics) Handoff(direction string, n int) {
	if m == nil || n <= 0 {
		return
	}
	if c := m.vant.handoff[direction]; c != nil {
		c.Add(float64(n))
	}
}
