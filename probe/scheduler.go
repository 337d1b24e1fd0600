package probe

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// SpreadStep is how far apart, on average, a Scheduler starts the first
// probes of the targets that one Change adds: 100 µs, that is at most 10 000
// new targets a second, and never slower than one interval for them all.
const SpreadStep = 100 * time.Microsecond

// Config configures a Scheduler. Zero fields take their defaults.
type Config struct {
	// Clock is the source of time (default SystemClock()). The timeouts of
	// checks are context deadlines and so follow the time package even
	// with another Clock.
	Clock Clock
	// Workers is how many probes may be in flight at once (default 64).
	// Probes that fall due while every worker is busy wait, and those that
	// start more than a tenth of their interval late count in Stats.Late.
	Workers int
	// Checkers are the checkers by kind (default DefaultCheckers()). A
	// target whose kind has none fails every probe.
	Checkers map[string]Checker
	// Slack is how much before it is due a probe may start, so that the
	// probes that fall due close together start in one wake-up of the
	// Scheduler rather than one each (default DefaultSlack, 1 ms; negative
	// for none). It is at most a hundredth of each target's interval.
	Slack time.Duration
	// Rand returns uniform numbers in [0, 1) for the jitter (default
	// math/rand/v2's Float64). It is called with the Scheduler's lock
	// held, so it need not be safe for concurrent use; tests give a seeded
	// source.
	Rand func() float64
	// Sampling makes a Scheduler that only measures (the RTT samples of
	// the nearest policy): no probe confirms a failure or starts beside an
	// overdue one, so each target costs one probe per interval at most.
	// Results and Trackers are reported as usual.
	Sampling bool
}

func (c *Config) defaults() {
	if c.Clock == nil {
		c.Clock = SystemClock()
	}
	if c.Workers <= 0 {
		c.Workers = 64
	}
	if c.Checkers == nil {
		c.Checkers = DefaultCheckers()
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	switch {
	case c.Slack == 0:
		c.Slack = DefaultSlack
	case c.Slack < 0:
		c.Slack = 0
	}
}

// DefaultSlack is the default Config.Slack: with 10 000 targets at a 1 s
// interval the Scheduler wakes about 1000 times a second, not 10 000.
const DefaultSlack = time.Millisecond

// Stats are a Scheduler's counters.
type Stats struct {
	// Targets is how many targets the Scheduler has.
	Targets int
	// InFlight is how many probes are dispatched and not finished: waiting
	// for a worker, being checked, or being reported.
	InFlight int
	// Probes counts the probes started.
	Probes uint64
	// Confirms counts the probes started early to confirm or clear a
	// failure, or beside an overdue probe (see ConfirmDelay); they are
	// also in Probes.
	Confirms uint64
	// Late counts the probes that started more than a tenth of their
	// interval after they were due (too few workers, or checks that hang),
	// and MaxLate is the latest start so far.
	Late    uint64
	MaxLate time.Duration
	// Dropped counts the results not reported because their target was
	// removed or changed while they were in flight.
	Dropped uint64
	// OneShots counts the probes made with Check, outside the schedule.
	OneShots uint64
	// Stalled counts the failures not counted because the process did
	// not run while the probe waited (see Result.Stalled): their targets
	// were probed again at once.
	Stalled uint64
}

// Scheduler probes a set of targets, each at its interval, with a bounded
// number of workers, and reports every result with the target's health.
// Its methods are safe for concurrent use.
type Scheduler struct {
	cfg        Config
	base       time.Time   // the origin of dueHeap's times
	forgetters []Forgetter // the checkers that keep state per target
	onResult   func(Result, Tracker, bool)
	wake       chan struct{} // tells Run that a target fell due before its timer

	// deliver is held for reading by a worker from its check that its
	// target is still current until onResult has returned, and for writing
	// by Change: once Change returns, no result of a removed or changed target is
	// reported.
	deliver sync.RWMutex

	mu       sync.Mutex
	entries  map[string]*entry
	due      dueHeap     // targets with nothing in flight, by next probe
	confirms confirmHeap // targets with one probe in flight, by when a second one starts
	armed    time.Time   // when Run's timer will fire; zero when Run is not waiting on it
	running  bool
	inFlight int
	stats    Stats // Probes, Confirms, Late, MaxLate, Dropped
}

// entry is a target's state in the Scheduler. Guarded by Scheduler.mu,
// except report.
type entry struct {
	t        Target // Spec with defaults filled in
	tr       Tracker
	due      time.Time // when it is next dispatched, while in Scheduler.due
	index    int       // in Scheduler.due; -1 when not there
	inFlight int       // dispatched and not finished
	confirm  bool      // the next dispatch from Scheduler.due is a confirming probe
	// confirmAt is when a second probe starts beside the one in flight,
	// while in Scheduler.confirms at cindex (-1 when not there).
	confirmAt time.Time
	cindex    int
	last      time.Time // start of the latest probe
	counted   time.Time // start of the latest probe whose result counted
	retry     bool      // the next dispatch from Scheduler.due follows a stalled probe: its failure counts
	removed   bool      // no longer a target: drop its results
	conn      connSlot  // the checker's connection kept between probes

	// report serialises the target's results: held from Observe until
	// onResult has returned, so that its results are observed and reported
	// one at a time, in the same order.
	report sync.Mutex
}

// job is a dispatched probe: its entry and when it was due.
type job struct {
	e       *entry
	due     time.Time
	confirm bool
	retry   bool // after a stalled probe (entry.retry)
}

// farFuture is Run's timer deadline when there is no target.
var farFuture = time.Unix(1<<62, 0)

// NewScheduler returns a Scheduler that reports every probe result to
// onResult, with the target's Tracker after that result and whether its
// health changed. Call Change to give it targets and Run to start probing.
//
// onResult is called from the worker goroutines, concurrently for
// different targets (one target's results come one at a time, in order).
// It must not block for long: while it runs, its worker probes nothing
// and Change waits. It may call ProbeNow and Stats, but not Change.
func NewScheduler(cfg Config, onResult func(r Result, t Tracker, changed bool)) *Scheduler {
	cfg.defaults()
	s := &Scheduler{
		cfg:      cfg,
		base:     cfg.Clock.Now(),
		onResult: onResult,
		wake:     make(chan struct{}, 1),
		entries:  map[string]*entry{},
	}
	seen := map[Checker]bool{}
	for _, c := range cfg.Checkers {
		if f, ok := c.(Forgetter); ok && !seen[c] {
			seen[c] = true
			s.forgetters = append(s.forgetters, f)
		}
	}
	return s
}

// Change adds the targets add, replacing those of the same keys, and
// removes the targets whose keys are in remove, in O((a+r) log n) for a
// targets added and r removed among n, so that a registration in a pool
// of a million costs what it costs in a pool of ten. A key both in add and
// in remove is added. Targets that are new (by Key) are probed at once,
// their first probes spread in the order given over len × SpreadStep (at
// most their interval), so that 10 000 new targets do not all connect in
// the same millisecond; they start with their Target.Health (and
// Provisional). Targets that are removed are not probed again, and the
// results of their probes in flight are dropped. A target whose Addr
// changed is new; one whose Spec changed keeps its Tracker and is probed
// at once; an unchanged one (or one whose Name alone changed) keeps its
// schedule. Of targets with the same key the first counts.
func (s *Scheduler) Change(add []Target, remove []string) {
	for _, k := range s.change(add, remove) {
		for _, f := range s.forgetters {
			f.Forget(k)
		}
	}
}

// change does Change's work and returns the keys of the targets it
// retired.
func (s *Scheduler) change(add []Target, remove []string) (retired []string) {
	s.deliver.Lock()
	defer s.deliver.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range remove {
		if e := s.entries[k]; e != nil {
			s.retire(e)
			delete(s.entries, k)
			retired = append(retired, k)
		}
	}
	var fresh []*entry
	for _, t := range add {
		old := s.entries[t.Key]
		e, isNew := s.entryFor(t)
		if old != nil && old != e {
			s.retire(old)
		}
		s.entries[t.Key] = e
		if isNew {
			fresh = append(fresh, e)
		}
	}
	s.spread(fresh)
	return retired
}

// entryFor returns the entry of target t: the current one of its key,
// updated, if its Addr and Spec are the same; else a new one (isNew), with
// the Tracker of the current one if only the Spec changed. Called with mu
// held.
func (s *Scheduler) entryFor(t Target) (e *entry, isNew bool) {
	t.Spec = normalize(t.Spec)
	old := s.entries[t.Key]
	switch {
	case old != nil && old.t.Addr == t.Addr && old.t.Spec == t.Spec:
		old.t.Name, old.t.Ref = t.Name, t.Ref
		return old, false
	case old != nil && old.t.Addr == t.Addr:
		return &entry{t: t, tr: old.tr, index: -1, cindex: -1}, true
	default:
		return &entry{t: t, tr: Tracker{Health: t.Health, Provisional: t.Provisional && t.Health != handlespace.HealthUnknown}, index: -1, cindex: -1}, true
	}
}

// spread schedules the new entries fresh, their first probes spread over
// len(fresh) × SpreadStep (at most their interval). Called with mu held.
func (s *Scheduler) spread(fresh []*entry) {
	now := s.cfg.Clock.Now()
	n := float64(len(fresh))
	for i, e := range fresh {
		window := min(e.t.Spec.Interval, time.Duration(len(fresh))*SpreadStep)
		s.schedule(e, now.Add(time.Duration((float64(i)+s.cfg.Rand())/n*float64(window))), false)
	}
}

// retire takes e out of the schedule. Called with mu held.
func (s *Scheduler) retire(e *entry) {
	e.removed = true
	e.conn.close()
	if e.index >= 0 {
		s.due.remove(e.index)
	}
	s.unconfirm(e)
}

// unconfirm drops e's pending second probe, if any. Called with mu held.
func (s *Scheduler) unconfirm(e *entry) {
	if e.cindex >= 0 {
		heap.Remove(&s.confirms, e.cindex)
	}
}

// schedule makes e due at due, in the heap or moved in it, waking Run if
// that is before its timer. Called with mu held.
func (s *Scheduler) schedule(e *entry, due time.Time, confirm bool) {
	e.due, e.confirm = due, confirm
	at := int64(due.Sub(s.base))
	if e.index >= 0 {
		s.due.fix(e.index, at)
	} else {
		s.due.push(at, e)
	}
	if !s.armed.IsZero() && due.Before(s.armed) {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// ProbeNow probes the target with this key at once, as for a failure
// report, and reports whether there is such a target. A probe of it that
// is in flight counts as that probe (calls while one is in flight or
// waiting for a worker are coalesced into it). The target's next probe
// comes an interval after this one, or sooner if it fails.
func (s *Scheduler) ProbeNow(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[key]
	if e == nil {
		return false
	}
	if e.inFlight > 0 || e.index < 0 {
		return true
	}
	if now := s.cfg.Clock.Now(); e.due.After(now) {
		s.schedule(e, now, false)
	}
	return true
}

// Stats returns the Scheduler's counters.
func (s *Scheduler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Targets = len(s.entries)
	st.InFlight = s.inFlight
	return st
}

// Tracker returns the Tracker of the target with this key.
func (s *Scheduler) Tracker(key string) (Tracker, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[key]
	if e == nil {
		return Tracker{}, false
	}
	return e.tr, true
}

// Run probes the targets until ctx ends, then waits for the checks in
// flight to end (they are cancelled, and their results dropped) and
// returns nil. Targets that were due then are probed at once by the next
// Run. Run returns an error if the Scheduler is already running.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("probe: scheduler already running")
	}
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.armed = time.Time{}
		s.mu.Unlock()
	}()

	work := make(chan job)
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Go(func() {
			for j := range work {
				s.probe(ctx, j)
				// Go on with what has fallen due meanwhile, without a
				// hand-over from Run: at thousands of probes a second the
				// worker that just finished usually finds the next one.
				for ctx.Err() == nil {
					if j, _ = s.take(s.cfg.Clock.Now(), false); j.e == nil {
						break
					}
					s.probe(ctx, j)
				}
			}
		})
	}
	defer wg.Wait()
	defer close(work)

	timer := s.cfg.Clock.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		j, wait := s.take(s.cfg.Clock.Now(), true)
		if j.e != nil {
			select {
			case work <- j:
				continue
			case <-ctx.Done():
				s.mu.Lock()
				s.settle(j.e, j.due)
				s.mu.Unlock()
				return nil
			}
		}
		if wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-timer.C():
		case <-s.wake:
			timer.Stop()
		case <-ctx.Done():
			return nil
		}
	}
}

// take dispatches the earliest target if it is due at now (or within the
// slack), or else returns how long until it is (0 if there is no target);
// for Run (run true) it notes when Run's timer will fire. A target that is
// not Down, dispatched with nothing else in flight, gets a second probe
// ConfirmDelay later unless the first has answered by then.
func (s *Scheduler) take(now time.Time, run bool) (job, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var e *entry
	var due time.Time
	fromConfirms := false
	if len(s.due) > 0 {
		e, due = s.due[0].e, s.due[0].e.due
	}
	if len(s.confirms) > 0 && (e == nil || s.confirms[0].confirmAt.Before(due)) {
		e, due, fromConfirms = s.confirms[0], s.confirms[0].confirmAt, true
	}
	if e == nil {
		if run {
			s.armed = farFuture
		}
		return job{}, 0
	}
	if early := due.Sub(now); early > 0 && early > min(s.cfg.Slack, e.t.Spec.Interval/100) {
		if run {
			s.armed = due
		}
		return job{}, early
	}
	if run {
		s.armed = time.Time{}
	}
	e.inFlight++
	s.inFlight++
	if fromConfirms {
		heap.Pop(&s.confirms)
		return job{e: e, due: due, confirm: true}, 0
	}
	s.due.remove(0)
	j := job{e: e, due: due, confirm: e.confirm, retry: e.retry}
	e.retry = false
	if e.tr.Health != handlespace.HealthDown && !s.cfg.Sampling {
		if d := ConfirmDelay(e.t.Spec, e.tr); d < e.t.Spec.Timeout {
			e.confirmAt = now.Add(d)
			heap.Push(&s.confirms, e)
		}
	}
	return j, 0
}

// settle ends a dispatch of e that reported nothing (cancelled, or e was
// removed): e is due again at due if nothing else of it is in flight.
// Called with mu held.
func (s *Scheduler) settle(e *entry, due time.Time) {
	e.inFlight--
	s.inFlight--
	if !e.removed && e.inFlight == 0 {
		s.unconfirm(e)
		if e.index < 0 {
			s.schedule(e, due, false)
		}
	}
}

// probe checks one target and reports the result (a worker's job).
func (s *Scheduler) probe(ctx context.Context, j job) {
	e := j.e
	start := s.cfg.Clock.Now()
	s.mu.Lock()
	if e.removed || ctx.Err() != nil {
		s.settle(e, j.due)
		s.mu.Unlock()
		return
	}
	t := e.t
	t.slot = &e.conn
	if late := start.Sub(j.due); late > t.Spec.Interval/10 {
		s.stats.Late++
		s.stats.MaxLate = max(s.stats.MaxLate, late)
	}
	s.stats.Probes++
	if j.confirm {
		s.stats.Confirms++
	}
	e.last = start
	s.mu.Unlock()

	r := s.check(ctx, t)
	r.Key, r.Ref, r.At = t.Key, t.Ref, start
	r.Stalled = !r.OK && ctx.Err() == nil && stalledSince(s.cfg.Clock, start, t.Spec.Timeout)

	s.deliver.RLock()
	defer s.deliver.RUnlock()
	e.report.Lock()
	defer e.report.Unlock()
	s.mu.Lock()
	if e.removed || ctx.Err() != nil {
		if e.removed {
			s.stats.Dropped++
		}
		s.settle(e, j.due)
		s.mu.Unlock()
		return
	}
	if r.Stalled && !j.retry {
		// The failure says nothing of the target: not counted, and the
		// target is probed again at once (unless a probe that started
		// later counted), and that probe's failure counts whatever
		// happens, so that a registrar starved all the time still finds
		// a dead target dead, one probe later.
		s.stats.Stalled++
		e.inFlight--
		s.inFlight--
		if e.inFlight == 0 {
			s.unconfirm(e)
			if !e.counted.After(start) {
				s.schedule(e, s.cfg.Clock.Now(), false)
				e.retry = true
			} else {
				s.next(e, t.Spec)
			}
		}
		s.mu.Unlock()
		return
	}
	tr, changed := e.tr.Observe(r.OK, t.Spec.Rise, t.Spec.Fall)
	if start.After(e.counted) {
		e.counted = start
	}
	if r.OK {
		tr.SRTT = SmoothRTT(tr.SRTT, r.RTT)
	}
	e.tr = tr
	s.mu.Unlock()

	s.onResult(r, tr, changed)

	s.mu.Lock()
	defer s.mu.Unlock()
	e.inFlight--
	s.inFlight--
	if e.removed || e.inFlight > 0 {
		// The other probe in flight reports and schedules.
		return
	}
	s.unconfirm(e)
	s.next(e, t.Spec)
}

// next schedules e's next probe after its latest result: a confirming
// one if it is suspect, else after the interval (backing off if Down).
// Called with mu held.
func (s *Scheduler) next(e *entry, spec handlespace.ProbeSpec) {
	if tr := e.tr; tr.Suspect() && !s.cfg.Sampling {
		s.schedule(e, s.cfg.Clock.Now().Add(ConfirmDelay(spec, tr)), true)
		return
	}
	s.schedule(e, e.last.Add(NextDelay(spec, e.tr, s.cfg.Rand)), false)
}

// StallMin is the least time by which a check must overrun its timeout
// for its failure to be put down to a stall of the process (see
// Result.Stalled).
const StallMin = 20 * time.Millisecond

// stalledSince reports whether a check that started at start with this
// timeout and failed ran so much longer than its timeout (by more than
// the timeout itself, at least StallMin) that the process cannot have
// been running all that time: it was stopped (SIGSTOP), its machine
// paused, or it was starved. Its deadline then fired late, and the
// failure (a timeout, most likely, of a target that answered meanwhile)
// says nothing of the target. (A checker that ignores its context and
// hangs looks the same; the Scheduler counts the failure of the probe
// that follows, so such a target is still found Down.)
func stalledSince(c Clock, start time.Time, timeout time.Duration) bool {
	return c.Now().Sub(start) > timeout+max(timeout, StallMin)
}

// check runs t's checker under t's timeout. A checker that panics fails.
func (s *Scheduler) check(ctx context.Context, t Target) (r Result) {
	c := s.cfg.Checkers[t.Spec.Kind]
	if c == nil {
		return Result{Err: fmt.Sprintf("no checker for probe kind %q", t.Spec.Kind)}
	}
	t.begun = time.Now()
	ctx, cancel := context.WithTimeout(ctx, t.Spec.Timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			r = Result{Err: fmt.Sprintf("probe %s panicked: %v", t.Spec.Kind, p)}
		}
	}()
	return c.Check(ctx, t)
}

// dueHeap is a min-heap of entries by due time, kept as nanoseconds since
// the Scheduler's base beside the entry pointers, so that sifting compares
// without touching the entries (10 000 of them do not fit in a cache).
// Its methods keep each entry's index.
type dueHeap []dueItem

type dueItem struct {
	at int64 // due, in nanoseconds since Scheduler.base
	e  *entry
}

func (h dueHeap) set(i int, it dueItem) {
	h[i] = it
	it.e.index = i
}

func (h dueHeap) up(i int) {
	it := h[i]
	for i > 0 {
		p := (i - 1) / 2
		if h[p].at <= it.at {
			break
		}
		h.set(i, h[p])
		i = p
	}
	h.set(i, it)
}

func (h dueHeap) down(i int) {
	it := h[i]
	n := len(h)
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && h[r].at < h[c].at {
			c = r
		}
		if it.at <= h[c].at {
			break
		}
		h.set(i, h[c])
		i = c
	}
	h.set(i, it)
}

func (h *dueHeap) push(at int64, e *entry) {
	*h = append(*h, dueItem{at, e})
	h.up(len(*h) - 1)
}

// remove takes the entry at i out of the heap.
func (h *dueHeap) remove(i int) {
	old := *h
	e := old[i].e
	last := len(old) - 1
	if i != last {
		old.set(i, old[last])
	}
	old[last] = dueItem{}
	*h = old[:last]
	if i != last {
		h.down(i)
		h.up(i)
	}
	e.index = -1
}

// fix moves the entry at i to its new time.
func (h dueHeap) fix(i int, at int64) {
	h[i].at = at
	h.down(i)
	h.up(h[i].e.index)
}

// confirmHeap is a min-heap of entries by confirmAt.
type confirmHeap []*entry

var _ heap.Interface = (*confirmHeap)(nil)

func (h confirmHeap) Len() int           { return len(h) }
func (h confirmHeap) Less(i, j int) bool { return h[i].confirmAt.Before(h[j].confirmAt) }
func (h confirmHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].cindex, h[j].cindex = i, j
}

func (h *confirmHeap) Push(x any) {
	e := x.(*entry)
	e.cindex = len(*h)
	*h = append(*h, e)
}

func (h *confirmHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.cindex = -1
	return e
}
