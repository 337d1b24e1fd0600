package monitor

import (
	"net/netip"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/probe"
)

// RTT samples for the nearest policy (nearest.rtt_interval). Registrars
// sit near their clients, so each orders nearest answers by its own
// distance to the elements: for those it is home for, its probes measure
// it; the others it samples at a low rate, with the same check as their
// home's probes, and keeps the result as the element's LocalRTT. Samples
// never change health (the home's probes stay its only source) and are
// not sent to peers.

// SampleJitter is the fraction by which each gap between two samples of
// an element is shortened at random: gaps are 80..100 % of the interval,
// 90 % on average, so that registrars and elements do not fall into step.
const SampleJitter = 0.2

// SampleSlack is how much before they are due samples may start (the
// sampler's probe.Config.Slack, at most a hundredth of the interval), so
// that samples falling due close together go in one wake-up: their timing
// matters to nobody.
const SampleSlack = 50 * time.Millisecond

// SampleSpec is the probe spec of the RTT samples of an element whose
// probes are spec: the same check (kind, target, timeout), every interval
// shortened by up to SampleJitter at random (probe.NextDelay), and rise
// and fall 1 (a sample's health is not used; a failing element is sampled
// less often, as a down one is probed: probe.BackoffCap).
func SampleSpec(spec handlespace.ProbeSpec, interval time.Duration) handlespace.ProbeSpec {
	spec.Interval, spec.Jitter, spec.Rise, spec.Fall = interval, SampleJitter, 1, 1
	return spec
}

// sample is an element sampled here. Its fields after id are guarded by
// Monitor.mu.
type sample struct {
	pool string
	id   uint32
	// elem is the element as the latest sync saw it: a result compares
	// its LocalRTT to decide whether to publish.
	elem    *handlespace.Element
	srtt    time.Duration // the samples' smoothed RTT; 0 until one passed
	removed bool          // no longer sampled: its late results are ignored
}

// sampled reports whether e of pv is sampled here: an element of a
// nearest (or distance-penalty, handlespace.UsesRTT) pool that another
// registrar probes.
func (m *Monitor) sampled(pv *handlespace.PoolView, e *handlespace.Element) bool {
	return handlespace.UsesRTT(pv.Spec.Policy) && e.Home != m.cfg.Self && e.Home != 0 &&
		pv.ProbeSpec(e).Probed() && e.Addrs.Len() > 0
}

// syncSamples gives the sampler the sample targets that changed in the
// pools sync looked at (names, or all of them); pools whose view is the
// one of the last sync are not looked at again, and in the others only
// the elements that changed are (targets.go). Only Run's goroutine (and
// New) call it, after sync.
func (m *Monitor) syncSamples(names []string, all bool) {
	if m.sampler == nil {
		return
	}
	var changes []targetChange
	follow := func(name string) {
		p, ps := m.pools[name], m.spools[name]
		switch {
		case p == nil:
			if ps != nil {
				changes = ps.gone(name, changes)
				delete(m.spools, name)
			}
			return
		case ps != nil && ps.view == p.view:
			return
		case ps == nil:
			ps = &poolTargets{}
			m.spools[name] = ps
		}
		changes = ps.update(p.view, m.sampleOf, changes, m.pieces.Tick)
	}
	if all {
		for name := range m.pools {
			follow(name)
		}
		for name := range m.spools {
			follow(name)
		}
	} else {
		for _, name := range names {
			follow(name)
		}
	}
	var add []probe.Target
	var remove []string
	m.mu.Lock()
	for i, c := range changes {
		m.tickLocked(i)
		key := c.pt.t.Key
		switch c.kind {
		case targetGone:
			if s := m.samples[key]; s != nil {
				s.removed = true
				delete(m.samples, key)
			}
			remove = append(remove, key)
		case targetElem:
			if s := m.samples[key]; s != nil {
				s.elem = c.pt.elem
			}
		case targetAdded:
			s := m.samples[key]
			if s == nil {
				s = &sample{pool: c.pool, id: c.pt.t.ID}
				m.samples[key] = s
			}
			s.elem = c.pt.elem
			pt := c.pt.t
			pt.Ref = s
			add = append(add, pt)
		}
	}
	m.mu.Unlock()
	if len(add) > 0 || len(remove) > 0 {
		m.sampler.Change(add, remove) // not under mu: see sync
	}
}

// sampleOf is the sample target of element e of pool view pv, if it is
// sampled here (a targetFunc).
func (m *Monitor) sampleOf(pv *handlespace.PoolView, e *handlespace.Element, old probe.Target, had bool) (probe.Target, bool) {
	if !m.sampled(pv, e) {
		return probe.Target{}, false
	}
	addr := netip.AddrPortFrom(e.Addrs.At(0), e.Port)
	spec := SampleSpec(pv.ProbeSpec(e), m.cfg.RTTInterval)
	if had && old.Addr == addr && old.Spec == spec && old.Source == m.cfg.Source &&
		len(old.Name) == len(e.Label.String())+1+len(pv.Name) && old.Name[:len(e.Label.String())] == e.Label.String() {
		return old, true // its strings kept
	}
	return probe.Target{
		Key:    Key(pv.Name, e.ID),
		ID:     e.ID,
		Addr:   addr,
		Source: m.cfg.Source,
		Name:   e.Label.String() + "." + pv.Name,
		Spec:   spec,
	}, true
}

// onSample takes one RTT sample (called concurrently by the sampler): a
// passing one that moves the smoothed RTT enough (RTTChanged) is gathered
// for the next flush as the element's LocalRTT. A failing one changes
// nothing: health is the home's to say.
func (m *Monitor) onSample(r probe.Result, tr probe.Tracker, _ bool) {
	s, _ := r.Ref.(*sample)
	if s == nil || !r.OK {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.removed {
		return
	}
	s.srtt = tr.SRTT
	if s.elem == nil || !RTTChanged(s.elem.LocalRTT, tr.SRTT) {
		return
	}
	if m.pending[s.pool] == nil {
		m.pending[s.pool] = map[uint32]change{}
	}
	c := m.pending[s.pool][s.id]
	c.local, c.hasLocal = tr.SRTT, true
	m.pending[s.pool][s.id] = c
}

// SampleStats returns the sampler's counters (zero when it is off).
func (m *Monitor) SampleStats() probe.Stats {
	if m.sampler == nil {
		return probe.Stats{}
	}
	return m.sampler.Stats()
}
