package monitor

import (
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/probe"
)

// Health from other vantage points, hand-off and hand-back: the monitor's
// side.
//
// With a Confirmer, a change of health that this registrar's probes
// propose for an element homed here (down to up, up to down, unknown to
// down) is not published at once: the Confirmer asks other registrars to
// probe the element, and the verdict, by quorum, comes back through
// Verdict, which publishes it. The first pass of an element never probed
// (unknown to up) is published at once, as without. While the verdict
// differs from what the probes here say, or the vantage points disagree
// (the element is disputed), the monitor asks again at most once per
// probe interval. ProbeFor probes an element once for another registrar's
// confirmation. HandoffState and Adopt carry what the monitor keeps
// beside an element (its smoothed RTT, its failure reports) to the
// element's next home.

// Confirmer has other registrars confirm a change of an element's health
// (the peering driver is one).
type Confirmer interface {
	// Confirm asks other registrars to probe element id of pool now,
	// because this registrar's probes propose health proposed, and waits
	// up to wait for their answers; the verdict comes to Monitor.Verdict.
	// It must not block. False: nothing was asked and no verdict will
	// come (the monitor publishes the proposal itself).
	Confirm(pool string, id uint32, proposed handlespace.Health, wait time.Duration) bool
}

// Verdict is the outcome of a confirmation.
type Verdict struct {
	Pool string
	ID   uint32
	// Proposed is what this registrar's probes said, Health the verdict.
	Proposed, Health handlespace.Health
	// Vantage is what the vantage points saw when they disagreed (nil
	// when they agreed): the element's Vantage.
	Vantage []handlespace.Vantage
	// Asked is how many other registrars were asked, Answered how many
	// answered in time.
	Asked, Answered int
	// Moved: the element was homed elsewhere by the time the verdict
	// came; it ends the confirmation and publishes nothing.
	Moved bool
}

// vantageHealth returns the health onResult is to publish for t, whose
// probes say tr and whose published element is e, when other registrars
// confirm changes: the probes' own when there is nothing to confirm (or
// nobody to ask), else the published one while the confirmation it starts
// (or one under way) decides.
//
// The confirmation of a fall begins early: at the first failure of an
// element that is up (the probes here confirm it fall−1 probes later, a
// confirm delay apart), the other registrars are asked at once, so that
// their answers are in by the time the probes here say down; the verdict
// waits for that (Verdict keeps it), and is dropped if they do not.
func (m *Monitor) vantageHealth(t *target, e *handlespace.Element, tr probe.Tracker) handlespace.Health {
	own, pub := tr.Health, e.Health
	early := false
	switch {
	case own == handlespace.HealthUnknown:
		return pub
	case pub == handlespace.HealthUnknown && own == handlespace.HealthUp:
		return own // the first pass serves at once, as without confirmation
	case own == handlespace.HealthUp && pub == handlespace.HealthUp && tr.Suspect() && !e.Disputed():
		early, own = true, handlespace.HealthDown
	case own == pub && !e.Disputed():
		m.mu.Lock()
		t.early = nil // the probes here did not confirm the failure
		m.mu.Unlock()
		return pub
	}
	now := m.clock.Now()
	m.mu.Lock()
	spec := probe.Normalize(t.spec)
	if v := t.early; v != nil && !early {
		// The others' verdict came before the probes here said the same:
		// it stands now, if it is fresh.
		t.early = nil
		if v.Proposed == own && now.Sub(t.earlyAt) <= 2*spec.Timeout {
			m.mu.Unlock()
			m.publish(*v)
			return v.Health
		}
	}
	switch {
	case t.confirming && now.Sub(t.confirmAt) < 2*spec.Timeout+time.Second:
		m.mu.Unlock()
		return pub // under way (a verdict lost for longer is given up)
	case own == t.proposed && !t.confirmAt.IsZero() && now.Sub(t.confirmAt) < spec.Interval:
		m.mu.Unlock()
		return pub // asked this lately: again once an interval has passed
	}
	t.confirming, t.confirmAt, t.proposed, t.earlyRound = true, now, own, early
	m.mu.Unlock()
	if m.cfg.Confirmer.Confirm(t.pool, t.id, own, spec.Timeout) {
		return pub
	}
	m.mu.Lock()
	t.confirming, t.earlyRound = false, false
	m.mu.Unlock()
	if early {
		return pub // nothing to publish before the probes here say down
	}
	return own
}

// Verdict publishes the outcome of a confirmation asked for by this
// monitor: the element's health and, when the vantage points disagreed,
// what each saw (Element.Vantage; the element is then disputed: it stays
// in the answers, last at the registrars that cannot reach it). A verdict
// for an element no longer homed here is dropped.
func (m *Monitor) Verdict(v Verdict) {
	k := Key(v.Pool, v.ID)
	now := m.clock.Now()
	m.mu.Lock()
	if t := m.targets[k]; t != nil {
		t.confirming = false
		if v.Moved {
			t.earlyRound, t.early = false, nil
		}
		if t.earlyRound {
			t.earlyRound = false
			if tr, ok := m.sched.Tracker(k); ok && tr.Health != v.Proposed {
				// Asked at the first failure; the probes here have not
				// said down yet: kept for when they do (vantageHealth).
				t.early, t.earlyAt = &v, now
				m.mu.Unlock()
				return
			}
		}
	}
	m.mu.Unlock()
	if v.Moved {
		return
	}
	m.publish(v)
}

// publish publishes a verdict (see Verdict).
func (m *Monitor) publish(v Verdict) {
	pv := m.poolView(v.Pool)
	if pv == nil {
		return
	}
	cur := pv.Element(v.ID)
	if cur == nil || (cur.Home != m.cfg.Self && cur.Home != 0) ||
		(cur.Health == v.Health && slices.Equal(cur.Vantage.All(), v.Vantage)) {
		return
	}
	var old *handlespace.Element
	err := m.hs.Update(v.Pool, v.ID, func(e *handlespace.Element) {
		old = e.Clone()
		e.Health, e.Vantage = v.Health, handlespace.VantagesOf(v.Vantage)
		e.Last = handlespace.LastAt(e, m.cfg.Self)
	})
	if err != nil {
		return
	}
	if old.Health != v.Health {
		if m.cfg.OnHealthChange != nil {
			m.cfg.OnHealthChange(v.Pool, v.ID, old.Health, v.Health)
		}
		m.cfg.Logger.Info("health changed", "pool", v.Pool, "element", handlespace.IDString(v.ID), "name", old.Label.String(),
			"from", old.Health.String(), "to", v.Health.String(), "reason", confirmReason(v), "vantage", VantageString(v.Vantage))
	}
	switch {
	case v.Vantage != nil && !old.Disputed():
		m.cfg.Logger.Warn("health disputed: the vantage points disagree; the element stays in the answers, last where it is out of reach",
			"pool", v.Pool, "element", handlespace.IDString(v.ID), "name", old.Label.String(), "health", v.Health.String(),
			"vantage", VantageString(v.Vantage))
	case v.Vantage == nil && old.Disputed():
		m.cfg.Logger.Info("health no longer disputed: the vantage points agree", "pool", v.Pool,
			"element", handlespace.IDString(v.ID), "name", old.Label.String(), "health", v.Health.String())
	case v.Health != v.Proposed && old.Health == v.Health:
		m.cfg.Logger.Info("health kept: the other vantage points do not confirm this registrar's probes", "pool", v.Pool,
			"element", handlespace.IDString(v.ID), "name", old.Label.String(), "health", v.Health.String(), "proposed", v.Proposed.String(),
			"vantage", VantageString(v.Vantage))
	}
}

func confirmReason(v Verdict) string {
	var b strings.Builder
	b.WriteString("probes ")
	if v.Asked == 0 {
		b.WriteString("(no other registrar to confirm)")
		return b.String()
	}
	b.WriteString("confirmed by quorum of ")
	b.WriteString(strconv.Itoa(v.Answered + 1))
	b.WriteString(" vantage points (")
	b.WriteString(strconv.Itoa(max(v.Asked-v.Answered, 0)))
	b.WriteString(" did not answer in time)")
	return b.String()
}

// VantageString writes what the vantage points saw: "0000000a=down
// 0000000b=up"; "" for none.
func VantageString(vs []handlespace.Vantage) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(handlespace.IDString(v.Registrar))
		b.WriteByte('=')
		b.WriteString(v.Health.String())
	}
	return b.String()
}

// ProbeFor probes element id of pool once, now, for another registrar's
// confirmation (whether or not it is probed here), with its probe
// settings and a timeout of at most four fifths of budget (the time this
// registrar has to answer, from the request's arrival: the asker's wait
// less their round trip, see enrp/placement.Budgets; the rest is for
// scheduling, so that even a timeout is answered in time: a budget of a
// quarter more than the element's timeout leaves it whole), and calls
// done with up or down and the probe's RTT. A timeout within that shorter
// time is answered unknown: the element's own timeout, which a vantage
// point far from the element may need, was not given. An element that is not here
// or has no probe, or too many such probes at once (MaxPeerProbes), is
// answered unknown at once; a probe whose wait a stall of this process
// spanned (probe.Result.Stalled), unknown. done is called once, from another goroutine
// or before ProbeFor returns.
func (m *Monitor) ProbeFor(pool string, id uint32, budget time.Duration, done func(handlespace.Health, time.Duration)) {
	pv := m.poolView(pool)
	var e *handlespace.Element
	if pv != nil {
		e = pv.Element(id)
	}
	if e == nil || e.Addrs.Len() == 0 || !pv.ProbeSpec(e).Probed() {
		done(handlespace.HealthUnknown, 0)
		return
	}
	select {
	case m.peerProbes <- struct{}{}:
	default:
		done(handlespace.HealthUnknown, 0)
		return
	}
	spec := probe.Normalize(pv.ProbeSpec(e))
	short := false
	if b := budget * 4 / 5; b > 0 && b < spec.Timeout {
		spec.Timeout, short = b, true
	}
	tg := probe.Target{Key: "confirm/" + Key(pool, id), ID: id, Addr: netip.AddrPortFrom(e.Addrs.At(0), e.Port),
		Source: m.cfg.Source, Name: e.Label.String() + "." + pool, Spec: spec}
	go func() {
		defer func() { <-m.peerProbes }()
		r := m.sched.Check(context.Background(), tg)
		h := handlespace.HealthDown
		switch {
		case r.OK:
			h = handlespace.HealthUp
		case short && (strings.HasPrefix(r.Err, "timeout") || r.RTT >= spec.Timeout):
			// Timed out within less than the element's own timeout
			// (which a far vantage point may need): no say either way.
			h = handlespace.HealthUnknown
		case r.Stalled:
			// This process did not run while the probe waited: no say
			// either way (the asker has likely given up by now anyway).
			h = handlespace.HealthUnknown
		}
		done(h, r.RTT)
	}()
}

// HandoffState returns what the monitor keeps beside element id of pool,
// for its next home: its smoothed RTT (0 unknown) and the failure reports
// counted within the window.
func (m *Monitor) HandoffState(pool string, id uint32) (time.Duration, int) {
	k := Key(pool, id)
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var rtt time.Duration
	if t := m.targets[k]; t != nil && t.probed {
		rtt = t.srtt
	}
	return rtt, len(pruneBefore(m.reports[k], now.Add(-m.cfg.ReportWindow)))
}

// Adopt goes on from another registrar's state of element id of pool,
// which is now homed here (a hand-off) or whose health that registrar
// knew better (a hand-back): health h replaces what this registrar's
// probes counted (its own count of failures may be stale), and reports
// failure reports count as made now. An element not probed here yet
// starts from its health in the handlespace anyway.
func (m *Monitor) Adopt(pool string, id uint32, h handlespace.Health, reports int) {
	k := Key(pool, id)
	now := m.clock.Now()
	m.mu.Lock()
	if reports > 0 {
		times := pruneBefore(m.reports[k], now.Add(-m.cfg.ReportWindow))
		for len(times) < reports {
			times = append(times, now)
		}
		m.reports[k] = times
	}
	m.mu.Unlock()
	if m.probeAdopted(k, h) {
		return
	}
	// Not a target yet (the handlespace change that makes it one is on
	// its way to sync): sync probes it at once. (Not under mu, as
	// everywhere: the scheduler's workers take mu with its locks held.
	// Tried again once noted, in case sync added it meanwhile.)
	m.mu.Lock()
	m.adopted[k] = h
	m.mu.Unlock()
	if m.probeAdopted(k, h) {
		m.mu.Lock()
		delete(m.adopted, k)
		m.mu.Unlock()
	}
}

// probeAdopted probes the target k at once, with health h unless unknown,
// and reports whether there is such a target.
func (m *Monitor) probeAdopted(k string, h handlespace.Health) bool {
	if h != handlespace.HealthUnknown {
		return m.sched.Reset(k, h)
	}
	return m.sched.ProbeNow(k)
}

// adoptAdded probes at once the targets just added that were handed here
// before (adopted), rather than within the spread of new targets' first
// probes (up to an interval): the old home probed them until it stopped,
// and a first probe here an interval later would leave them unprobed for
// up to two. Called by sync after the scheduler has the targets.
func (m *Monitor) adoptAdded(add []probe.Target) {
	type adoption struct {
		k string
		h handlespace.Health
	}
	var now []adoption
	m.mu.Lock()
	if len(m.adopted) > 0 {
		for _, t := range add {
			if h, ok := m.adopted[t.Key]; ok {
				delete(m.adopted, t.Key)
				now = append(now, adoption{t.Key, h})
			}
		}
		if len(m.adopted) > 1<<17 {
			clear(m.adopted) // bounded: elements handed here that never became targets (not probed)
		}
	}
	m.mu.Unlock()
	for _, a := range now {
		m.probeAdopted(a.k, a.h)
	}
}
