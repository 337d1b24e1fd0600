// Package monitor joins the prober to the handlespace: it probes the pool
// elements this registrar is home for, turns probe results into health, RTT
// and load in the handlespace, counts pool users' failure reports, and
// applies operators' administrative states.
//
// # Basics
//
// New builds a Monitor over a handlespace; Run keeps the prober's targets in
// step with the handlespace (every element homed here whose pool, or the
// element itself, has a probe), until its context ends. A probe result that
// changes an element's health publishes a new view of its pool at once, so
// the next DNS answer reflects it. RTT and load changes are gathered and
// published together every FlushInterval, and only when they matter (RTT by
// more than a tenth, load by any amount), so that probes alone do not
// rebuild a pool's view on every probe.
//
// Failure reports (RFC 5352 ENDPOINT_UNREACHABLE, through the HTTP API)
// trigger an immediate probe of the element; after MaxBadReports reports
// within ReportWindow the element leaves the answers (Element.Reported)
// until a probe passes — or, for an element without probes, until a window
// passes without reports. Reports are rate-limited per client address.
//
// # Caveats
//
// An element with several addresses is probed at its first one. The
// administrative state (drain, force-down) lives in the handlespace only:
// elements of zone files lose it on restart.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/probe"
)

// Config configures a Monitor. Zero values have defaults.
type Config struct {
	// Self is this registrar's ID: only elements homed here are probed.
	Self uint32
	// MaxBadReports is how many failure reports within ReportWindow take an
	// element out of the answers (default 3).
	MaxBadReports int
	// ReportWindow is the window of MaxBadReports (default 10 s).
	ReportWindow time.Duration
	// ReportRate and ReportBurst limit the reports one client address may
	// send: a token bucket of ReportBurst tokens refilled at ReportRate per
	// second (defaults 5 and 10).
	ReportRate  float64
	ReportBurst int
	// FlushInterval is how often RTT and load changes are published
	// (default 500 ms).
	FlushInterval time.Duration
	// Probe configures the prober (its Clock also serves the monitor).
	Probe probe.Config
	// Logger gets one line per health change, report removal and admin
	// change (default slog.Default()).
	Logger *slog.Logger
	// OnHealthChange, if set, is called after each change of an element's
	// health that the monitor publishes (for metrics). It runs on a prober
	// worker: it must be quick.
	OnHealthChange func(pool string, id uint32, from, to handlespace.Health)
}

func (c *Config) defaults() {
	if c.MaxBadReports <= 0 {
		c.MaxBadReports = 3
	}
	if c.ReportWindow <= 0 {
		c.ReportWindow = 10 * time.Second
	}
	if c.ReportRate <= 0 {
		c.ReportRate = 5
	}
	if c.ReportBurst <= 0 {
		c.ReportBurst = 10
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 500 * time.Millisecond
	}
	if c.Probe.Clock == nil {
		c.Probe.Clock = probe.SystemClock()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// ErrRateLimited: the client sent more reports than its rate allows.
var ErrRateLimited = errors.New("monitor: too many failure reports from this client")

// maxClients bounds the per-client rate-limit table.
const maxClients = 65536

// Monitor probes elements and keeps their health in the handlespace.
type Monitor struct {
	hs    *handlespace.Handlespace
	cfg   Config
	sched *probe.Scheduler
	clock probe.Clock

	mu      sync.Mutex
	targets map[string]target        // by probe key
	status  map[string]probe.Result  // last result by probe key
	rtt     map[string]time.Duration // smoothed RTT by probe key
	pending map[string]map[uint32]change
	reports map[string][]time.Time // report times by element key, within the window
	buckets map[netip.Addr]*bucket
}

type target struct {
	pool string
	id   uint32
}

// change is what a flush publishes for one element.
type change struct {
	rtt     time.Duration
	load    uint32
	hasRTT  bool
	hasLoad bool
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a Monitor of hs. Call Run to start probing.
func New(hs *handlespace.Handlespace, cfg Config) *Monitor {
	cfg.defaults()
	m := &Monitor{
		hs: hs, cfg: cfg, clock: cfg.Probe.Clock,
		targets: map[string]target{}, status: map[string]probe.Result{}, rtt: map[string]time.Duration{},
		pending: map[string]map[uint32]change{}, reports: map[string][]time.Time{}, buckets: map[netip.Addr]*bucket{},
	}
	m.sched = probe.NewScheduler(cfg.Probe, m.onResult)
	return m
}

// Key is the probe key of an element: its pool's name and its identifier.
func Key(pool string, id uint32) string { return pool + "/" + handlespace.IDString(id) }

// Run probes until ctx ends.
func (m *Monitor) Run(ctx context.Context) error {
	changes := m.hs.Subscribe()
	m.sync()
	errc := make(chan error, 1)
	go func() { errc <- m.sched.Run(ctx) }()
	flush := m.clock.NewTimer(m.cfg.FlushInterval)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return <-errc
		case <-changes:
			m.sync()
		case <-flush.C():
			m.flush()
			flush.Reset(m.cfg.FlushInterval)
		}
	}
}

// sync gives the scheduler the current set of targets: every element homed
// here with a probe.
func (m *Monitor) sync() {
	var ts []probe.Target
	next := map[string]target{}
	for _, z := range m.hs.View().Zones() {
		for _, h := range z.PoolHandles() {
			pv := z.Pool(h)
			if pv == nil {
				continue
			}
			for _, e := range pv.Elements {
				spec := pv.ProbeSpec(e)
				if !spec.Probed() || (e.Home != m.cfg.Self && e.Home != 0) || len(e.Addrs) == 0 {
					continue
				}
				k := Key(pv.Name, e.ID)
				next[k] = target{pv.Name, e.ID}
				ts = append(ts, probe.Target{Key: k, Addr: netip.AddrPortFrom(e.Addrs[0], e.Port), Name: e.Label + "." + pv.Name, Spec: spec})
			}
		}
	}
	m.mu.Lock()
	for k := range m.targets {
		if _, ok := next[k]; !ok {
			delete(m.status, k)
			delete(m.rtt, k)
		}
	}
	m.targets = next
	m.mu.Unlock()
	m.sched.Set(ts)
}

// onResult takes one probe result (called concurrently by the prober).
func (m *Monitor) onResult(r probe.Result, tr probe.Tracker, changed bool) {
	m.mu.Lock()
	t, ok := m.targets[r.Key]
	if !ok {
		m.mu.Unlock()
		return
	}
	m.status[r.Key] = r
	rtt := m.rtt[r.Key]
	if r.OK {
		rtt = probe.SmoothRTT(rtt, r.RTT)
		m.rtt[r.Key] = rtt
	}
	m.mu.Unlock()

	pv := m.poolView(t.pool)
	if pv == nil {
		return
	}
	e := pv.Element(t.id)
	if e == nil {
		return
	}
	if changed || e.Health != tr.Health || (r.OK && e.Reported) {
		err := m.hs.Update(t.pool, t.id, func(e *handlespace.Element) {
			e.Health = tr.Health
			if r.OK {
				e.Reported = false
				e.RTT = rtt
			}
			if r.HasLoad {
				e.Load = handlespace.LoadFromFraction(r.Load)
			}
		})
		if err == nil && e.Health != tr.Health {
			reason := r.Err
			if r.OK {
				reason = "probe passed"
			}
			m.cfg.Logger.Info("health changed", "pool", t.pool, "element", handlespace.IDString(t.id), "name", e.Label,
				"from", e.Health.String(), "to", tr.Health.String(), "reason", reason)
			if m.cfg.OnHealthChange != nil {
				m.cfg.OnHealthChange(t.pool, t.id, e.Health, tr.Health)
			}
		}
		return
	}
	// Not a health change: gather RTT and load for the next flush.
	var c change
	if r.OK && e.RTT > 0 && absDiff(rtt, e.RTT) > e.RTT/10 || r.OK && e.RTT == 0 {
		c.rtt, c.hasRTT = rtt, true
	}
	if r.HasLoad {
		if l := handlespace.LoadFromFraction(r.Load); l != e.Load {
			c.load, c.hasLoad = l, true
		}
	}
	if c.hasRTT || c.hasLoad {
		m.mu.Lock()
		if m.pending[t.pool] == nil {
			m.pending[t.pool] = map[uint32]change{}
		}
		m.pending[t.pool][t.id] = c
		m.mu.Unlock()
	}
}

func absDiff(a, b time.Duration) time.Duration {
	if a > b {
		return a - b
	}
	return b - a
}

func (m *Monitor) poolView(pool string) *handlespace.PoolView {
	handle, parent, ok := cutPool(pool)
	if !ok {
		return nil
	}
	z := m.hs.View().Zone(parent)
	if z == nil {
		return nil
	}
	return z.Pool(handle)
}

func cutPool(pool string) (handle, parent string, ok bool) {
	for i := 0; i < len(pool); i++ {
		if pool[i] == '.' {
			return pool[:i], pool[i+1:], i > 0 && i+1 < len(pool)
		}
	}
	return "", "", false
}

// flush publishes the gathered RTT and load changes, one view per pool, and
// lets reports of unprobed elements lapse.
func (m *Monitor) flush() {
	m.mu.Lock()
	pending := m.pending
	m.pending = map[string]map[uint32]change{}
	now := m.clock.Now()
	var lapsed []target
	for k, times := range m.reports {
		times = pruneBefore(times, now.Add(-m.cfg.ReportWindow))
		if len(times) == 0 {
			delete(m.reports, k)
			if _, probed := m.targets[k]; !probed {
				if t, ok := parseKey(k); ok {
					lapsed = append(lapsed, t)
				}
			}
			continue
		}
		m.reports[k] = times
	}
	m.mu.Unlock()
	for pool, cs := range pending {
		fs := make(map[uint32]func(*handlespace.Element), len(cs))
		for id, c := range cs {
			fs[id] = func(e *handlespace.Element) {
				if c.hasRTT {
					e.RTT = c.rtt
				}
				if c.hasLoad {
					e.Load = c.load
				}
			}
		}
		_ = m.hs.UpdateMany(pool, fs) // elements may have gone meanwhile
	}
	for _, t := range lapsed {
		pv := m.poolView(t.pool)
		if pv == nil {
			continue
		}
		if e := pv.Element(t.id); e != nil && e.Reported {
			if m.hs.Update(t.pool, t.id, func(e *handlespace.Element) { e.Reported = false }) == nil {
				m.cfg.Logger.Info("failure reports lapsed; element back in the answers", "pool", t.pool,
					"element", handlespace.IDString(t.id), "name", e.Label)
			}
		}
	}
}

func parseKey(k string) (target, bool) {
	i := len(k) - 9
	if i <= 0 || k[i] != '/' {
		return target{}, false
	}
	id, err := handlespace.ParseID(k[i+1:])
	if err != nil {
		return target{}, false
	}
	return target{k[:i], id}, true
}

func pruneBefore(times []time.Time, cut time.Time) []time.Time {
	i := 0
	for i < len(times) && !times[i].After(cut) {
		i++
	}
	return times[i:]
}

// ReportOutcome is what a failure report did.
type ReportOutcome struct {
	// Reports is how many reports for the element fall in the window.
	Reports int
	// Removed is true when the element is out of the answers because of
	// reports.
	Removed bool
}

// Report takes a pool user's failure report for element id of pool from
// the client at from: it probes the element at once and, after
// MaxBadReports reports within ReportWindow, takes it out of the answers
// until a probe passes.
func (m *Monitor) Report(pool string, id uint32, from netip.Addr) (ReportOutcome, error) {
	pv := m.poolView(pool)
	if pv == nil {
		return ReportOutcome{}, handlespace.ErrNoPool
	}
	e := pv.Element(id)
	if e == nil {
		return ReportOutcome{}, handlespace.ErrNoElement
	}
	now := m.clock.Now()
	k := Key(pool, id)
	m.mu.Lock()
	if !m.allow(from, now) {
		m.mu.Unlock()
		return ReportOutcome{}, ErrRateLimited
	}
	times := append(pruneBefore(m.reports[k], now.Add(-m.cfg.ReportWindow)), now)
	m.reports[k] = times
	n := len(times)
	m.mu.Unlock()

	m.sched.ProbeNow(k)
	out := ReportOutcome{Reports: n, Removed: e.Reported}
	if n >= m.cfg.MaxBadReports && !e.Reported {
		if err := m.hs.Update(pool, id, func(e *handlespace.Element) { e.Reported = true }); err != nil {
			return out, err
		}
		out.Removed = true
		m.cfg.Logger.Info("element out of the answers after failure reports", "pool", pool,
			"element", handlespace.IDString(id), "name", e.Label, "reports", n, "window", m.cfg.ReportWindow.String())
	}
	return out, nil
}

// allow takes a token from from's bucket. Called with mu held.
func (m *Monitor) allow(from netip.Addr, now time.Time) bool {
	b := m.buckets[from]
	if b == nil {
		if len(m.buckets) >= maxClients {
			for a, ob := range m.buckets { // drop the full (idle) buckets
				if ob.tokens+now.Sub(ob.last).Seconds()*m.cfg.ReportRate >= float64(m.cfg.ReportBurst) {
					delete(m.buckets, a)
				}
			}
			if len(m.buckets) >= maxClients {
				return false
			}
		}
		b = &bucket{tokens: float64(m.cfg.ReportBurst), last: now}
		m.buckets[from] = b
	}
	b.tokens = min(float64(m.cfg.ReportBurst), b.tokens+now.Sub(b.last).Seconds()*m.cfg.ReportRate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// SetAdmin sets an element's administrative state.
func (m *Monitor) SetAdmin(pool string, id uint32, a handlespace.Admin) error {
	var old handlespace.Admin
	err := m.hs.Update(pool, id, func(e *handlespace.Element) { old, e.Admin = e.Admin, a })
	if err != nil {
		return err
	}
	if old != a {
		m.cfg.Logger.Info("admin state changed", "pool", pool, "element", handlespace.IDString(id), "from", old.String(), "to", a.String())
	}
	return nil
}

// Status returns the last probe result of an element, if it is probed here
// and has been probed.
func (m *Monitor) Status(pool string, id uint32) (probe.Result, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.status[Key(pool, id)]
	return r, ok
}

// Stats returns the prober's counters.
func (m *Monitor) Stats() probe.Stats { return m.sched.Stats() }

// String describes the monitor's configuration, for the start-up log.
func (m *Monitor) String() string {
	return fmt.Sprintf("max_bad_reports=%d window=%s", m.cfg.MaxBadReports, m.cfg.ReportWindow)
}
