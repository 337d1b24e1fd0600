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

// poolSamples are the sample targets of one pool view, and their elements.
type poolSamples struct {
	view    *handlespace.PoolView
	targets []probe.Target
	elems   []*handlespace.Element
}

// sampled reports whether e of pv is sampled here: an element of a
// nearest (or distance-penalty, handlespace.UsesRTT) pool that another
// registrar probes.
func (m *Monitor) sampled(pv *handlespace.PoolView, e *handlespace.Element) bool {
	return handlespace.UsesRTT(pv.Spec.Policy) && e.Home != m.cfg.Self && e.Home != 0 &&
		pv.ProbeSpec(e).Probed() && len(e.Addrs) > 0
}

// syncSamples gives the sampler the current set of sample targets if it
// changed; pools whose view is the one of the last sync are not looked at
// again. Only Run's goroutine (and New) call it, after sync.
func (m *Monitor) syncSamples() {
	if m.sampler == nil {
		return
	}
	changed := false
	var fresh []poolSamples
	for name, p := range m.pools {
		old, ok := m.spools[name]
		if ok && old.view == p.view {
			continue
		}
		ps := m.poolSamples(name, p.view, old.targets)
		if !ok || !sameTargets(old.targets, ps.targets) {
			changed = true
		}
		m.spools[name] = ps
		fresh = append(fresh, ps)
	}
	for name := range m.spools {
		if _, ok := m.pools[name]; !ok {
			delete(m.spools, name)
			changed = true
		}
	}
	m.mu.Lock()
	if !changed {
		for _, ps := range fresh {
			for i, tg := range ps.targets {
				if s := m.samples[tg.Key]; s != nil {
					s.elem = ps.elems[i]
				}
			}
		}
		m.mu.Unlock()
		return
	}
	var ts []probe.Target
	next := make(map[string]*sample, len(m.samples))
	for name, ps := range m.spools {
		for i := range ps.targets {
			tg := &ps.targets[i]
			s := m.samples[tg.Key]
			if s == nil {
				s = &sample{pool: name, id: tg.ID}
			}
			s.elem = ps.elems[i]
			tg.Ref = s
			next[tg.Key] = s
			ts = append(ts, *tg)
		}
	}
	for k, s := range m.samples {
		if next[k] != s {
			s.removed = true
		}
	}
	m.samples = next
	m.mu.Unlock()
	m.sampler.Set(ts) // not under mu: see sync
}

// poolSamples returns the sample targets of a pool view, in element
// order. The targets of the pool's previous view (old, in the same order)
// are taken over where they fit, so that the LocalRTT changes the samples
// themselves publish cost no new strings.
func (m *Monitor) poolSamples(name string, pv *handlespace.PoolView, old []probe.Target) poolSamples {
	ps := poolSamples{view: pv, targets: make([]probe.Target, 0, len(old)), elems: make([]*handlespace.Element, 0, len(old))}
	j := 0
	for e := range pv.Range() {
		if !m.sampled(pv, e) {
			continue
		}
		ps.elems = append(ps.elems, e)
		addr := netip.AddrPortFrom(e.Addrs[0], e.Port)
		spec := SampleSpec(pv.ProbeSpec(e), m.cfg.RTTInterval)
		for j < len(old) && old[j].ID < e.ID {
			j++
		}
		if j < len(old) && old[j].ID == e.ID && old[j].Addr == addr && old[j].Spec == spec &&
			len(old[j].Name) == len(e.Label)+1+len(name) && old[j].Name[:len(e.Label)] == e.Label {
			ps.targets = append(ps.targets, old[j])
			continue
		}
		ps.targets = append(ps.targets, probe.Target{
			Key:    Key(name, e.ID),
			ID:     e.ID,
			Addr:   addr,
			Source: m.cfg.Source,
			Name:   e.Label + "." + name,
			Spec:   spec,
		})
	}
	return ps
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

// LocalRTT returns the smoothed RTT of this registrar's samples of an
// element, if it samples it and a sample has passed.
func (m *Monitor) LocalRTT(pool string, id uint32) (time.Duration, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.samples[Key(pool, id)]
	if s == nil || s.srtt == 0 {
		return 0, false
	}
	return s.srtt, true
}
