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
// more than a tenth and 100 µs, and only in pools whose policy orders by
// RTT: nearest and the distance-penalty ones, handlespace.UsesRTT;
// load by any amount), so that probes alone do not rebuild a pool's view
// on every probe. A health change publishes the element's RTT and load
// with it. Status has every probed element's last result and smoothed RTT.
//
// With Config.RTTInterval set, the monitor also samples, at that low rate
// and with the same check as their home's probes, the elements of nearest
// (and distance-penalty) pools that another registrar is home for (SampleSpec), and publishes
// the result as their LocalRTT, so that nearest orders this registrar's
// answers by its own distance to every element. Samples never change
// health and stay here.
//
// Failure reports (RFC 5352 ENDPOINT_UNREACHABLE, through the HTTP API)
// trigger an immediate probe of the element; after MaxBadReports reports
// within ReportWindow, from one pool user or several (RFC 5352 counts
// reports, not reporters), the element leaves the answers (Element.Reported)
// until a probe that started after the last report passes — or, for an
// element without probes, until a window passes without reports. Reports
// are rate-limited per client address.
//
// With a Confirmer (registrar peering), a change of health that the
// probes here propose is confirmed by other registrars' probes before it
// is published (Verdict): an element the others reach stays in the
// answers, disputed, and goes last in this registrar's. ProbeFor probes
// an element once for another registrar; HandoffState and Adopt carry
// the RTT and failure reports kept beside an element to its next home.
//
// # Caveats
//
// An element with several addresses is probed at its first one. The
// administrative state (drain, force-down) lives in the handlespace; the
// daemon keeps it in its store. Health is kept in the store by a Keeper,
// in batches, and given back at a start by RestoreStored (the store's
// healths, those of elements gone dropped) and RestoreHealth (probe.start):
// provisionally, until the element's probes decide.
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
	"github.com/poolnsd/poolnsd/internal/piece"
	"github.com/poolnsd/poolnsd/probe"
)

// Config configures a Monitor. Zero values have defaults.
type Config struct {
	// Self is this registrar's ID: only elements homed here (or with no
	// home) are probed.
	Self uint32
	// SyncGap is the least time between two syncs of the probe targets
	// under a stream of changes (default 10 ms; negative: none, each
	// change synced at once): the most a new element waits to become a
	// target when another change came just before it (Run).
	SyncGap time.Duration
	// MaxBadReports is how many failure reports within ReportWindow take an
	// element out of the answers (default 3, RFC 5352's MAX-BAD-PE-REPORT).
	// They are counted per element, whoever sends them: one pool user
	// alone can take an element out.
	MaxBadReports int
	// ReportWindow is the window of MaxBadReports (default 30 s: three
	// reports of a pool user that reports an element once every 10 s, as
	// poolclient does, fall in one window).
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
	// change, and one when the first probes of the start are done
	// (default slog.Default()).
	Logger *slog.Logger
	// OnHealthChange, if set, is called after each change of an element's
	// health that the monitor publishes (for metrics). It runs on a prober
	// worker: it must be quick.
	OnHealthChange func(pool string, id uint32, from, to handlespace.Health)
	// Confirmer, if set, has other registrars confirm the changes of
	// health that this registrar's probes propose (see Confirmer); the
	// verdicts come back through Verdict.
	Confirmer Confirmer
	// MaxPeerProbes bounds the probes made at once for other registrars'
	// confirmations (ProbeFor; default 64); beyond it they are answered
	// unknown.
	MaxPeerProbes int
	// Source, if valid, is the local address probes and samples are sent
	// from (probe.source).
	Source netip.Addr
	// RTTInterval is how often this registrar samples its own RTT to each
	// element of a nearest pool that another registrar is home for
	// (nearest.rtt_interval; see SampleSpec); 0, the default: never.
	RTTInterval time.Duration
	// Sample configures the sampler's prober: its Clock is Probe's, its
	// Workers default to Probe's (a pool of their own: a sample of a far
	// element holds one for a round trip, and samples go at
	// elements / (0.9 × RTTInterval) a second), its Checkers to a set of
	// their own (DefaultCheckers), and it only samples (Sampling).
	Sample probe.Config
	// Provisional is the health given to elements at the start (see
	// RestoreHealth), by Key: an element probed from the first sync on
	// that still has it keeps it only until its probes decide (see
	// probe.Tracker.Observe).
	Provisional map[string]handlespace.Health
	// Turn, if set, is called between the pieces of a sync's work (each
	// about PieceBudget long: a sync after many changes in a large pool)
	// and returns when the sync may go on: the daemon passes the
	// registration committer's turns (regcommit.Pacer.Turn), which the
	// DNS front's UDP loops grant between their batches, so that the
	// monitor does not hold a loop's processor for milliseconds. Nil:
	// runtime.Gosched between pieces.
	Turn func()
}

// PieceBudget is about how long a piece of a sync's work runs before the
// monitor takes a turn (Config.Turn).
const PieceBudget = 200 * time.Microsecond

// pieceBudget is PieceBudget; tests shorten it.
var pieceBudget = PieceBudget

// maxChangeBuf is the most changes whose room a sync keeps for the next.
const maxChangeBuf = 4096

// tickLocked is tick for the loops that hold m.mu (the i-th step): the
// turn is taken without it, so that results and reports go on meanwhile.
func (m *Monitor) tickLocked(i int) {
	if i == 0 || !m.pieces.Due() {
		return
	}
	m.mu.Unlock()
	m.pieces.Yield()
	m.mu.Lock()
}

func (c *Config) defaults() {
	if c.SyncGap == 0 {
		c.SyncGap = 10 * time.Millisecond
	}
	if c.MaxBadReports <= 0 {
		c.MaxBadReports = 3
	}
	if c.ReportWindow <= 0 {
		c.ReportWindow = 30 * time.Second
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
	c.Sample.Clock, c.Sample.Sampling = c.Probe.Clock, true
	if c.Sample.Workers <= 0 {
		c.Sample.Workers = c.Probe.Workers
	}
	if c.Sample.Slack == 0 {
		c.Sample.Slack = SampleSlack
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxPeerProbes <= 0 {
		c.MaxPeerProbes = 64
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
	// sampler samples the RTT of elements homed elsewhere (sample.go);
	// nil when Config.RTTInterval is 0.
	sampler *probe.Scheduler

	// pools is what sync last gave the scheduler, by pool name, and
	// spools what syncSamples gave the sampler; watch names the pools
	// changed since the last sync. Only Run's goroutine uses them.
	watch     *handlespace.Watch
	pools     map[string]*poolTargets
	spools    map[string]*poolTargets
	pieces    piece.Slicer   // sync's pieces
	changeBuf []targetChange // sync's, kept for the next (up to maxChangeBuf)

	mu      sync.Mutex
	targets map[string]*target // by probe key
	samples map[string]*sample // by probe key
	pending map[string]map[uint32]change
	reports map[string][]time.Time // report times by element key, within the window
	outAt   map[string]time.Time   // when reports last took an element out
	buckets map[netip.Addr]*bucket
	first   map[string]bool // targets of the first sync without a result yet
	started bool            // the first sync happened
	// adopted are the elements handed here (Adopt) before sync made them
	// targets, with the old home's health: sync probes them at once.
	adopted map[string]handlespace.Health

	peerProbes chan struct{} // a slot per probe made for another registrar (ProbeFor)
}

// target is an element probed here. Its fields after id are guarded by
// Monitor.mu.
type target struct {
	pool string
	id   uint32
	// elem is the element as the latest sync saw it and nearest whether
	// its pool orders by RTT: a result compares with them to decide what
	// to publish. They may lag behind the view by a sync; every decision
	// taken on them is one that a stale value makes redundant, not wrong.
	elem    *handlespace.Element
	nearest bool
	// last is the last probe result and srtt the smoothed RTT after it;
	// valid when probed.
	last    probe.Result
	srtt    time.Duration
	probed  bool
	removed bool // no longer probed: its late results are ignored
	// spec is how it is probed; confirming, confirmAt and proposed are
	// its confirmation by other registrars under way, or the last one
	// (see vantageHealth).
	spec       handlespace.ProbeSpec
	confirming bool
	confirmAt  time.Time
	proposed   handlespace.Health
	// earlyRound: the confirmation under way was asked for at the first
	// failure; early is its verdict, kept from earlyAt until the probes
	// here say down too.
	earlyRound bool
	early      *Verdict
	earlyAt    time.Time
}

// change is what a flush publishes for one element: an RTT of its
// probes here (RTT and LocalRTT), of its samples (LocalRTT), a load.
type change struct {
	rtt      time.Duration
	local    time.Duration
	load     uint32
	hasRTT   bool
	hasLocal bool
	hasLoad  bool
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a Monitor of hs. Call Run to start probing.
func New(hs *handlespace.Handlespace, cfg Config) *Monitor {
	cfg.defaults()
	m := &Monitor{
		hs: hs, cfg: cfg, clock: cfg.Probe.Clock, watch: hs.Watch(), pieces: piece.Slicer{Turn: cfg.Turn, Budget: pieceBudget},
		pools:   map[string]*poolTargets{},
		spools:  map[string]*poolTargets{},
		targets: map[string]*target{}, adopted: map[string]handlespace.Health{},
		samples: map[string]*sample{},
		pending: map[string]map[uint32]change{}, reports: map[string][]time.Time{}, outAt: map[string]time.Time{},
		buckets: map[netip.Addr]*bucket{},
	}
	m.peerProbes = make(chan struct{}, cfg.MaxPeerProbes)
	m.sched = probe.NewScheduler(cfg.Probe, m.onResult)
	if cfg.RTTInterval > 0 {
		if cfg.Sample.Checkers == nil {
			cfg.Sample.Checkers = probe.DefaultCheckers()
			m.cfg.Sample.Checkers = cfg.Sample.Checkers
		}
		m.sampler = probe.NewScheduler(cfg.Sample, m.onSample)
	}
	m.sync() // so that Stats counts the targets before Run
	return m
}

// Key is the probe key of an element: its pool's name and its identifier.
func Key(pool string, id uint32) string { return pool + "/" + handlespace.IDString(id) }

// Run probes until ctx ends, then stops the prober (cancelling the probes
// in flight) and returns.
func (m *Monitor) Run(ctx context.Context) error {
	defer m.watch.Close()
	changes := m.watch.C()
	m.sync()
	errc := make(chan error, 1)
	go func() { errc <- m.sched.Run(ctx) }()
	if m.sampler != nil {
		serrc := make(chan error, 1)
		go func() { serrc <- m.sampler.Run(ctx) }()
		defer func() { <-serrc }()
	}
	flush := m.clock.NewTimer(m.cfg.FlushInterval)
	defer flush.Stop()
	// After a sync that came within SyncGap of the one before it, changes
	// are not listened to for SyncGap (deaf, until quiet's timer: real
	// time): under a stream of registrations the changes of every batch
	// in between are synced together, the goroutine woken once a gap and
	// not once a batch (bench/RESULTS.md "reg13"). A lone change is
	// synced at once, with no timer.
	gap := m.cfg.SyncGap
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	defer quiet.Stop()
	var last time.Time
	deaf := false
	sync := func(stream bool) {
		m.sync()
		now := time.Now()
		if gap > 0 && (stream || now.Sub(last) < gap) {
			deaf = true
			quiet.Reset(gap)
		}
		last = now
	}
	for {
		listen := changes
		if deaf {
			listen = nil
		}
		select {
		case <-ctx.Done():
			return <-errc
		case <-listen:
			sync(false)
		case <-quiet.C:
			deaf = false
			select {
			case <-changes: // changes came while deaf: the stream goes on
				sync(true)
			default:
			}
		case <-flush.C():
			m.flush()
			flush.Reset(m.cfg.FlushInterval)
		}
	}
}

// sync gives the scheduler the targets that changed since the last sync:
// every element homed here with a probe. Only the pools that changed
// since (m.watch) are looked at, and in a pool with a new view only the
// elements that changed (see targets.go), so that a change costs O(log n)
// in a pool of n, whatever the number of pools.
//
// A sync of many changes runs in pieces of about PieceBudget, with
// Config.Turn between them (internal/piece).
func (m *Monitor) sync() {
	m.pieces.Start()
	names, all := m.watch.Changed()
	defer m.syncSamples(names, all)
	v := m.hs.View()
	changes := m.changeBuf[:0]
	defer func() {
		clear(changes) // (its elements and strings)
		m.changeBuf = nil
		if cap(changes) <= maxChangeBuf { // not a first sync's million
			m.changeBuf = changes[:0]
		}
	}()
	follow := func(name string, pv *handlespace.PoolView) {
		p, ok := m.pools[name]
		switch {
		case pv == nil:
			if ok {
				changes = p.gone(name, changes)
				delete(m.pools, name)
			}
			return
		case ok && p.view == pv:
			return
		case p == nil:
			p = &poolTargets{}
			m.pools[name] = p
		}
		changes = p.update(pv, m.targetOf, changes, m.pieces.Tick)
	}
	if all {
		seen := make(map[string]bool, len(m.pools))
		for _, z := range v.Zones() {
			for _, h := range z.PoolHandles() {
				m.pieces.Tick()
				if pv := z.Pool(h); pv != nil {
					seen[pv.Name] = true
					follow(pv.Name, pv)
				}
			}
		}
		for name := range m.pools {
			if !seen[name] {
				follow(name, nil)
			}
		}
	} else {
		for _, name := range names {
			follow(name, v.Pool(name))
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
			if t := m.targets[key]; t != nil {
				t.removed = true
				delete(m.targets, key)
				delete(m.first, key)
			}
			remove = append(remove, key)
		case targetElem:
			if t := m.targets[key]; t != nil {
				t.elem, t.nearest = c.pt.elem, handlespace.UsesRTT(m.pools[c.pool].view.Spec.Policy)
			}
		case targetAdded:
			t := m.targets[key]
			if t == nil {
				t = &target{pool: c.pool, id: c.pt.t.ID}
				m.targets[key] = t
			}
			t.elem, t.nearest, t.spec = c.pt.elem, handlespace.UsesRTT(m.pools[c.pool].view.Spec.Policy), c.pt.t.Spec
			pt := c.pt.t
			pt.Ref = t
			if !m.started {
				h, ok := m.cfg.Provisional[key]
				pt.Provisional = ok && h == pt.Health
			}
			add = append(add, pt)
		}
	}
	if !m.started {
		m.started = true
		m.cfg.Provisional = nil // the first sync's only
		if len(m.targets) > 0 {
			m.first = make(map[string]bool, len(m.targets))
			for k := range m.targets {
				m.first[k] = true
			}
		}
	}
	m.mu.Unlock()
	// Not under mu: Change waits for the results being reported, and
	// onResult takes mu. Until Change returns, results of removed targets
	// are dropped by their removed mark.
	if len(add) > 0 || len(remove) > 0 {
		m.sched.Change(add, remove)
	}
	m.adoptAdded(add)
}

// targetOf is the probe target of element e of pool view pv, if it is
// probed here (a targetFunc).
func (m *Monitor) targetOf(pv *handlespace.PoolView, e *handlespace.Element, old probe.Target, had bool) (probe.Target, bool) {
	spec := pv.ProbeSpec(e)
	if !spec.Probed() || (e.Home != m.cfg.Self && e.Home != 0) || e.Addrs.Len() == 0 {
		return probe.Target{}, false
	}
	addr := netip.AddrPortFrom(e.Addrs.At(0), e.Port)
	if had && old.Addr == addr && old.Spec == spec && old.Source == m.cfg.Source &&
		len(old.Name) == len(e.Label.String())+1+len(pv.Name) && old.Name[:len(e.Label.String())] == e.Label.String() {
		old.Health = e.Health
		return old, true // its strings kept
	}
	return probe.Target{
		Key:    Key(pv.Name, e.ID),
		ID:     e.ID,
		Addr:   addr,
		Source: m.cfg.Source,
		Name:   e.Label.String() + "." + pv.Name,
		Health: e.Health,
		Spec:   spec,
	}, true
}

// onResult takes one probe result (called concurrently by the prober).
func (m *Monitor) onResult(r probe.Result, tr probe.Tracker, changed bool) {
	t, _ := r.Ref.(*target)
	if t == nil {
		return
	}
	m.mu.Lock()
	if t.removed {
		m.mu.Unlock()
		return
	}
	t.last, t.srtt, t.probed = r, tr.SRTT, true
	e, nearest := t.elem, t.nearest
	m.mu.Unlock()
	defer func() { // after the health change's own log line
		m.mu.Lock()
		m.noteFirst(r.Key, tr)
		m.mu.Unlock()
	}()
	if e == nil {
		return
	}
	// A pass clears the failure reports only if the probe started after
	// the last of them: one already in flight proves nothing.
	clears := false
	if r.OK && e.Reported {
		m.mu.Lock()
		outAt, out := m.outAt[r.Key]
		m.mu.Unlock()
		clears = !out || !r.At.Before(outAt)
	}
	health := tr.Health
	switch {
	case tr.Provisional && tr.Health != e.Health:
		// A provisional health (restored at the start) does not
		// overwrite the view until the probes decide, nor is it put to
		// the other vantage points: the view may have fresher news from
		// the element's previous home meanwhile.
		health = e.Health
	case m.cfg.Confirmer != nil:
		health = m.vantageHealth(t, e, tr)
	}
	if (changed && health == tr.Health) || e.Health != health || clears {
		from, changedHere := e.Health, false
		err := m.hs.Update(t.pool, t.id, func(e *handlespace.Element) {
			if e.Health != health {
				// (Not e's: a verdict published meanwhile may have made
				// the change already.)
				from, changedHere = e.Health, true
				e.Health, e.Vantage, e.Last = health, handlespace.VantagesOf(nil), false
			}
			if clears {
				e.Reported = false
			}
			if tr.SRTT > 0 {
				e.RTT, e.LocalRTT = tr.SRTT, tr.SRTT // measured here: this registrar's own too
			}
			if r.HasLoad {
				e.Load = handlespace.LoadFromFraction(r.Load)
			}
		})
		if err != nil {
			return
		}
		if changedHere {
			reason := r.Err
			if r.OK {
				reason = "probe passed"
			}
			if m.cfg.OnHealthChange != nil { // first: what reads the log then finds it counted
				m.cfg.OnHealthChange(t.pool, t.id, from, health)
			}
			m.cfg.Logger.Info("health changed", "pool", t.pool, "element", handlespace.IDString(t.id), "name", e.Label.String(),
				"from", from.String(), "to", health.String(), "reason", reason)
		}
		if clears {
			m.mu.Lock()
			delete(m.outAt, r.Key)
			m.mu.Unlock()
			m.cfg.Logger.Info("probe passed; element back in the answers after failure reports", "pool", t.pool,
				"element", handlespace.IDString(t.id), "name", e.Label.String())
		}
		return
	}
	// Not a health change: gather RTT and load for the next flush. RTTs
	// go into the view only where the policy orders by them (Status has
	// them for everyone): elsewhere they would rebuild the pool's view at
	// every flush for nothing, loopback RTTs being as noisy as they are.
	var c change
	if r.OK && nearest && (RTTChanged(e.RTT, tr.SRTT) || RTTChanged(e.LocalRTT, tr.SRTT)) {
		c.rtt, c.hasRTT = tr.SRTT, true
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
		p := m.pending[t.pool][t.id]
		if c.hasRTT {
			p.rtt, p.hasRTT = c.rtt, true
			p.hasLocal = false // an older sample's, of before the element came here
		}
		if c.hasLoad {
			p.load, p.hasLoad = c.load, true
		}
		m.pending[t.pool][t.id] = p
		m.mu.Unlock()
	}
}

// noteFirst counts the first results of the targets that the start gave,
// and logs once all have a health decided by their probes (a provisional
// one does not count). Called with mu held.
func (m *Monitor) noteFirst(key string, tr probe.Tracker) {
	if m.first == nil || !m.first[key] || tr.Health == handlespace.HealthUnknown || tr.Provisional {
		return
	}
	delete(m.first, key)
	if len(m.first) > 0 {
		return
	}
	m.first = nil
	var up, down int
	for _, t := range m.targets {
		if t.probed && t.last.OK {
			up++
		} else {
			down++
		}
	}
	m.cfg.Logger.Info("first probes done", "elements", len(m.targets), "passing", up, "failing", down)
}

// RTTChanged reports whether a new smoothed RTT differs enough from the
// published one to publish it: by more than a tenth and more than 100 µs
// (the nearest policy's unit), or when none is published yet.
func RTTChanged(published, srtt time.Duration) bool {
	if srtt <= 0 {
		return false
	}
	if published <= 0 {
		return true
	}
	d := absDiff(srtt, published)
	return d > published/10 && d > 100*time.Microsecond
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
		switch pool[i] {
		case '\\':
			i++
		case '.':
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
				if p, id, ok := cutKey(k); ok {
					lapsed = append(lapsed, target{pool: p, id: id})
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
				if c.hasLocal {
					e.LocalRTT = c.local
				}
				if c.hasRTT {
					e.RTT, e.LocalRTT = c.rtt, c.rtt
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
				m.mu.Lock()
				delete(m.outAt, Key(t.pool, t.id))
				m.mu.Unlock()
				m.cfg.Logger.Info("failure reports lapsed; element back in the answers", "pool", t.pool,
					"element", handlespace.IDString(t.id), "name", e.Label.String())
			}
		}
	}
}

// cutKey splits a probe key into the pool and the element identifier.
func cutKey(k string) (pool string, id uint32, ok bool) {
	i := len(k) - 9
	if i <= 0 || k[i] != '/' {
		return "", 0, false
	}
	id, err := handlespace.ParseID(k[i+1:])
	if err != nil {
		return "", 0, false
	}
	return k[:i], id, true
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
	// Probed is true when the element is probed here: the report started
	// a probe (or joined one in flight).
	Probed bool
}

// Report takes a pool user's failure report for element id of pool from
// the client at from: it probes the element at once and, after
// MaxBadReports reports within ReportWindow, takes it out of the answers
// until a probe that starts after the last report passes. The element is
// out of the answers when Report returns.
func (m *Monitor) Report(pool string, id uint32, from netip.Addr) (ReportOutcome, error) {
	return m.report(pool, id, from, true)
}

// ReportAllowed counts a report as Report does, for a client whose token
// AllowReport has already taken: a report meant for a peer that turned out
// to be homed here costs the client one token, not two.
func (m *Monitor) ReportAllowed(pool string, id uint32, from netip.Addr) (ReportOutcome, error) {
	return m.report(pool, id, from, false)
}

func (m *Monitor) report(pool string, id uint32, from netip.Addr, limit bool) (ReportOutcome, error) {
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
	if limit && !m.allow(from, now) {
		m.mu.Unlock()
		return ReportOutcome{}, ErrRateLimited
	}
	times := append(pruneBefore(m.reports[k], now.Add(-m.cfg.ReportWindow)), now)
	m.reports[k] = times
	n := len(times)
	over := n >= m.cfg.MaxBadReports
	if over {
		m.outAt[k] = now
	}
	m.mu.Unlock()

	out := ReportOutcome{Reports: n, Removed: e.Reported}
	if over && !e.Reported {
		if err := m.hs.Update(pool, id, func(e *handlespace.Element) { e.Reported = true }); err != nil {
			return out, err
		}
		out.Removed = true
		m.cfg.Logger.Info("element out of the answers after failure reports", "pool", pool,
			"element", handlespace.IDString(id), "name", e.Label.String(), "reports", n, "window", m.cfg.ReportWindow.String())
	}
	out.Probed = m.sched.ProbeNow(k)
	return out, nil
}

// AllowReport takes a token from the rate bucket of the client at from, as
// Report does, for a report that is not counted here: one passed on to
// the element's home registrar, so that a flood at this registrar is not
// multiplied there. It fails with ErrRateLimited.
func (m *Monitor) AllowReport(from netip.Addr) error {
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.allow(from, now) {
		return ErrRateLimited
	}
	return nil
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

// SetAdmin sets an element's administrative state; the next answers
// reflect it.
func (m *Monitor) SetAdmin(pool string, id uint32, a handlespace.Admin) error {
	var old handlespace.Admin
	var label string
	err := m.hs.Update(pool, id, func(e *handlespace.Element) { old, label, e.Admin = e.Admin, e.Label.String(), a })
	if err != nil {
		return err
	}
	if old != a {
		m.cfg.Logger.Info("admin state changed", "pool", pool, "element", handlespace.IDString(id), "name", label,
			"from", old.String(), "to", a.String())
	}
	return nil
}

// Status is what the monitor knows of a probed element.
type Status struct {
	// Last is the last probe result.
	Last probe.Result
	// SRTT is the smoothed RTT of its passing probes (0 if none passed).
	SRTT time.Duration
}

// Status returns the last probe result of an element and its smoothed
// RTT, if it is probed here and has been probed.
func (m *Monitor) Status(pool string, id uint32) (Status, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.targets[Key(pool, id)]
	if t == nil || !t.probed {
		return Status{}, false
	}
	return Status{Last: t.last, SRTT: t.srtt}, true
}

// Stats returns the prober's counters.
func (m *Monitor) Stats() probe.Stats { return m.sched.Stats() }

// String describes the monitor's configuration, for the start-up log.
func (m *Monitor) String() string {
	return fmt.Sprintf("max_bad_reports=%d window=%s", m.cfg.MaxBadReports, m.cfg.ReportWindow)
}
