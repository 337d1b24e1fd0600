package probe_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/probe"
	"github.com/poolnsd/poolnsd/probe/probetest"
)

// seeded returns a seeded uniform source for a Scheduler's jitter and
// logs the seed.
func seeded(t *testing.T) func() float64 {
	seed := rand.Uint64() // not the time: inside a synctest bubble it is always the same
	t.Logf("jitter seed %d", seed)
	return rand.New(rand.NewPCG(seed, 1)).Float64
}

// fakeTargets makes n targets of kind "fake" named pNN/IIIII, 100 to a
// "pool".
func fakeTargets(n int, spec handlespace.ProbeSpec) []probe.Target {
	ts := make([]probe.Target, n)
	for i := range ts {
		ts[i] = probe.Target{
			Key:  fmt.Sprintf("p%02d/%05d", i/100, i),
			Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, byte(i >> 8), byte(i)}), 80),
			Spec: spec,
		}
	}
	return ts
}

// stepUntil moves the fake clock from timer to timer up to end, letting
// the Scheduler's goroutines finish after each step; then to end.
func stepUntil(clock *probetest.FakeClock, end time.Time) {
	synctest.Wait()
	for at, ok := clock.Next(); ok && !at.After(end); at, ok = clock.Next() {
		clock.Advance(at.Sub(clock.Now()))
		synctest.Wait()
	}
	clock.Advance(end.Sub(clock.Now()))
	synctest.Wait()
}

// results collects what a Scheduler reports.
type results struct {
	mu   sync.Mutex
	list []reported
	ch   chan reported // also sent here when not nil (buffered)
}

type reported struct {
	r       probe.Result
	tr      probe.Tracker
	changed bool
}

func (rs *results) on(r probe.Result, tr probe.Tracker, changed bool) {
	rs.mu.Lock()
	rs.list = append(rs.list, reported{r, tr, changed})
	rs.mu.Unlock()
	if rs.ch != nil {
		rs.ch <- reported{r, tr, changed}
	}
}

// counts returns the number of results reported for each key.
func (rs *results) counts() map[string]int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	m := map[string]int{}
	for _, x := range rs.list {
		m[x.r.Key]++
	}
	return m
}

func (rs *results) count(key string) int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	n := 0
	for _, x := range rs.list {
		if x.r.Key == key {
			n++
		}
	}
	return n
}

// TestScheduler10000 probes 10 000 targets on the fake clock: each is
// probed first within its spread, then once per interval shortened by at
// most the jitter (give or take the dispatch slack), never twice within
// less; a removed pool is not probed again.
func TestScheduler10000(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 10000
		interval := time.Second
		spec := handlespace.ProbeSpec{Kind: "fake", Interval: interval, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 2, Jitter: 0.1}
		clock := probetest.NewFakeClock(time.Time{})
		fc := probetest.NewFakeChecker(clock)
		rs := &results{}
		s := probe.NewScheduler(probe.Config{Clock: clock, Workers: 64, Checkers: map[string]probe.Checker{"fake": fc}, Rand: seeded(t)}, rs.on)
		targets := fakeTargets(n, spec)
		start := clock.Now()
		s.Set(targets)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()

		end := start.Add(5 * interval)
		stepUntil(clock, end)

		slack := probe.DefaultSlack
		minGap := time.Duration(float64(interval)*(1-spec.Jitter)) - slack
		maxGap := interval + slack
		spread := min(interval, n*probe.SpreadStep)
		counts := rs.counts() // once: count per target is quadratic
		for _, tg := range targets {
			times := fc.Times(tg.Key)
			if len(times) < 5 || len(times) > 6 {
				t.Fatalf("%s probed %d times in 5 intervals, want 5 or 6", tg.Key, len(times))
			}
			if first := times[0].Sub(start); first < -slack || first > spread {
				t.Fatalf("%s first probed %v after the start, want within %v", tg.Key, first, spread)
			}
			for i := 1; i < len(times); i++ {
				if gap := times[i].Sub(times[i-1]); gap < minGap || gap > maxGap {
					t.Fatalf("%s probed %v after its previous probe, want %v..%v", tg.Key, gap, minGap, maxGap)
				}
			}
			if got := counts[tg.Key]; got != len(times) {
				t.Fatalf("%s: %d results reported for %d probes", tg.Key, got, len(times))
			}
		}
		st := s.Stats()
		if st.Targets != n || st.Late != 0 || st.Confirms != 0 || st.Dropped != 0 || int(st.Probes) != fc.Total() {
			t.Errorf("stats %+v (checker saw %d), want %d targets, nothing late, confirmed or dropped", st, fc.Total(), n)
		}
		if peak := fc.Peak(); peak > 64 {
			t.Errorf("%d checks at once with 64 workers", peak)
		}

		// Remove pool p07: its targets are never probed again; the others go on.
		var kept []probe.Target
		removed := map[string]int{}
		for _, tg := range targets {
			if tg.Key[:3] == "p07" {
				removed[tg.Key] = fc.Calls(tg.Key)
				continue
			}
			kept = append(kept, tg)
		}
		before := fc.Calls(kept[0].Key)
		s.Set(kept)
		stepUntil(clock, end.Add(3*interval))
		for k, calls := range removed {
			if got := fc.Calls(k); got != calls {
				t.Fatalf("%s of the removed pool probed %d more times", k, got-calls)
			}
		}
		if got := fc.Calls(kept[0].Key); got < before+3 {
			t.Errorf("%s probed %d times in 3 intervals after the removal, want 3 or more", kept[0].Key, got-before)
		}
		if st := s.Stats(); st.Targets != n-100 {
			t.Errorf("%d targets after removing 100 of %d", st.Targets, n)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestSchedulerRemoveInFlight: a target removed while its probe is in
// flight reports nothing more, and is not probed again.
func TestSchedulerRemoveInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spec := handlespace.ProbeSpec{Kind: "fake", Interval: time.Second, Timeout: 500 * time.Millisecond, Jitter: 0.1}
		clock := probetest.NewFakeClock(time.Time{})
		fc := probetest.NewFakeChecker(clock)
		rs := &results{}
		s := probe.NewScheduler(probe.Config{Clock: clock, Checkers: map[string]probe.Checker{"fake": fc}, Rand: seeded(t)}, rs.on)
		ts := fakeTargets(2, spec)
		release := fc.Block(ts[0].Key)
		s.Set(ts)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go s.Run(ctx)
		stepUntil(clock, clock.Now().Add(10*time.Millisecond))
		if fc.Calls(ts[0].Key) != 1 || fc.Active() != 1 {
			t.Fatalf("blocked target: %d calls, %d active; want 1 in flight", fc.Calls(ts[0].Key), fc.Active())
		}
		s.Set(ts[1:]) // returns at once: the probe in flight does not hold it
		release()
		synctest.Wait()
		stepUntil(clock, clock.Now().Add(10*time.Second))
		if n := rs.count(ts[0].Key); n != 0 {
			t.Errorf("removed target: %d results reported, want none", n)
		}
		if n := fc.Calls(ts[0].Key); n != 1 {
			t.Errorf("removed target probed %d times, want only the one in flight", n)
		}
		if n := fc.Calls(ts[1].Key); n < 10 {
			t.Errorf("kept target probed %d times in 10 s, want 10 or more", n)
		}
		if st := s.Stats(); st.Dropped != 1 || st.Targets != 1 {
			t.Errorf("stats %+v, want 1 dropped result and 1 target", st)
		}
		if got := fc.Forgotten(); len(got) != 1 || got[0] != ts[0].Key {
			t.Errorf("checker told to forget %q, want the removed %s", got, ts[0].Key)
		}
	})
}

// TestSchedulerBoundedConcurrency: with every check hanging, no more than
// Workers are in flight; the rest wait, start late, and are all probed.
func TestSchedulerBoundedConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const workers, n = 8, 100
		spec := handlespace.ProbeSpec{Kind: "fake", Interval: time.Second, Timeout: 500 * time.Millisecond, Jitter: 0.1}
		clock := probetest.NewFakeClock(time.Time{})
		fc := probetest.NewFakeChecker(clock)
		s := probe.NewScheduler(probe.Config{Clock: clock, Workers: workers, Checkers: map[string]probe.Checker{"fake": fc}, Rand: seeded(t)}, func(probe.Result, probe.Tracker, bool) {})
		ts := fakeTargets(n, spec)
		var releases []func()
		for _, tg := range ts {
			releases = append(releases, fc.Block(tg.Key))
		}
		s.Set(ts)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go s.Run(ctx)
		stepUntil(clock, clock.Now().Add(200*time.Millisecond))
		if a := fc.Active(); a != workers {
			t.Fatalf("%d checks in flight with %d workers, want %d", a, workers, workers)
		}
		if st := s.Stats(); st.InFlight < workers {
			t.Errorf("stats say %d in flight", st.InFlight)
		}
		for _, r := range releases {
			r()
		}
		stepUntil(clock, clock.Now().Add(300*time.Millisecond))
		for _, tg := range ts {
			if fc.Calls(tg.Key) == 0 {
				t.Fatalf("%s never probed", tg.Key)
			}
		}
		if p := fc.Peak(); p != workers {
			t.Errorf("peak %d checks at once, want %d", p, workers)
		}
		if st := s.Stats(); st.Late == 0 || st.MaxLate < 150*time.Millisecond {
			t.Errorf("stats %+v: the waiting probes should count as late", st)
		}
	})
}

// TestSchedulerConfirms: a failure is confirmed at once rather than an
// interval later, and a probe that hangs gets a second one beside it
// after ConfirmDelay, so a dead target is Down after one probe timeout
// plus ConfirmDelay, and a hung one after the timeout plus ConfirmDelay.
// It runs on the time package's clock inside a synctest bubble, where the
// checks' timeouts are fake time too.
func TestSchedulerConfirms(t *testing.T) {
	spec := handlespace.ProbeSpec{Kind: "fake", Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 2, Jitter: 0}
	run := func(t *testing.T, setup func(fc *probetest.FakeChecker, key string)) (start time.Time, fc *probetest.FakeChecker, rs *results, s *probe.Scheduler, stop func()) {
		fc = probetest.NewFakeChecker(nil)
		rs = &results{ch: make(chan reported, 100)}
		s = probe.NewScheduler(probe.Config{Checkers: map[string]probe.Checker{"fake": fc}, Rand: seeded(t)}, rs.on)
		ts := fakeTargets(1, spec)
		setup(fc, ts[0].Key)
		start = time.Now()
		s.Set(ts)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		return start, fc, rs, s, func() { cancel(); <-done }
	}
	next := func(t *testing.T, rs *results) reported {
		t.Helper()
		return <-rs.ch // fake time: the bubble moves on to the next event
	}

	t.Run("refused", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start, fc, rs, s, stop := run(t, func(fc *probetest.FakeChecker, k string) {
				fc.Script(k, probetest.Pass(), probetest.Fail("connect: connection refused"))
			})
			defer stop()
			first := next(t, rs)
			if !first.changed || first.tr.Health != handlespace.HealthUp {
				t.Fatalf("first result %+v, want Up", first)
			}
			f1 := next(t, rs) // an interval later
			if f1.tr.Health != handlespace.HealthUp || f1.r.At.Sub(start) > spec.Interval+probe.SpreadStep {
				t.Fatalf("first failure %+v at %v", f1, f1.r.At.Sub(start))
			}
			f2 := next(t, rs)
			if !f2.changed || f2.tr.Health != handlespace.HealthDown {
				t.Fatalf("second failure %+v, want Down", f2)
			}
			if gap := f2.r.At.Sub(f1.r.At); gap != probe.ConfirmMin {
				t.Errorf("confirming probe %v after the failure, want %v", gap, probe.ConfirmMin)
			}
			// Down: back to the interval, then backing off.
			f3 := next(t, rs)
			if gap := f3.r.At.Sub(f2.r.At); gap != spec.Interval {
				t.Errorf("next probe of a Down target %v later, want the interval %v", gap, spec.Interval)
			}
			f4 := next(t, rs)
			if gap := f4.r.At.Sub(f3.r.At); gap != 2*spec.Interval {
				t.Errorf("then %v later, want %v (back-off)", gap, 2*spec.Interval)
			}
			if st := s.Stats(); st.Confirms != 1 {
				t.Errorf("stats %+v, want 1 confirming probe", st)
			}
			_ = fc
		})
	})
	t.Run("hangs", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var key string
			start, fc, rs, s, stop := run(t, func(fc *probetest.FakeChecker, k string) { key = k })
			defer stop()
			up := next(t, rs)
			if up.tr.Health != handlespace.HealthUp {
				t.Fatalf("first result %+v", up)
			}
			release := fc.Block(key) // from now on every check hangs until its timeout
			defer release()
			f1 := next(t, rs)
			f2 := next(t, rs)
			if f1.r.OK || f2.r.OK || f1.r.Err != "timeout" {
				t.Fatalf("results %+v, %+v; want two timeouts", f1, f2)
			}
			if f1.tr.Health != handlespace.HealthUp || !f2.changed || f2.tr.Health != handlespace.HealthDown {
				t.Fatalf("health %v then %v, want up then down", f1.tr.Health, f2.tr.Health)
			}
			if gap := f2.r.At.Sub(f1.r.At); gap != probe.ConfirmMin {
				t.Errorf("second probe started %v after the first, want %v (beside the hung one)", gap, probe.ConfirmMin)
			}
			if down := time.Since(start) - f1.r.At.Sub(start); down != spec.Timeout+probe.ConfirmMin {
				t.Errorf("Down %v after the first hung probe started, want timeout + ConfirmDelay = %v", down, spec.Timeout+probe.ConfirmMin)
			}
			if fc.Calls(key) != 3 {
				t.Errorf("%d checks, want 3 (never more than 2 of one target at once)", fc.Calls(key))
			}
			if st := s.Stats(); st.Confirms != 1 {
				t.Errorf("stats %+v, want 1 confirming probe", st)
			}
		})
	})
	t.Run("recovers", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			_, _, rs, _, stop := run(t, func(fc *probetest.FakeChecker, k string) {
				fc.Script(k, probetest.Pass(), probetest.Fail("x"), probetest.Pass())
			})
			defer stop()
			next(t, rs)
			f := next(t, rs)
			p := next(t, rs)
			if !p.r.OK || p.tr.Health != handlespace.HealthUp || p.changed {
				t.Fatalf("pass after one failure: %+v, want still Up", p)
			}
			if gap := p.r.At.Sub(f.r.At); gap != probe.ConfirmMin {
				t.Errorf("confirming probe %v after the failure, want %v", gap, probe.ConfirmMin)
			}
			p2 := next(t, rs)
			if gap := p2.r.At.Sub(p.r.At); gap != spec.Interval {
				t.Errorf("after the pass the next probe came %v later, want the interval", gap)
			}
		})
	})
}

// TestProbeNow: a target is probed at once on request; requests while a
// probe is in flight join it; an unknown key is reported.
func TestProbeNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spec := handlespace.ProbeSpec{Kind: "fake", Interval: time.Second, Timeout: 500 * time.Millisecond}
		clock := probetest.NewFakeClock(time.Time{})
		fc := probetest.NewFakeChecker(clock)
		s := probe.NewScheduler(probe.Config{Clock: clock, Checkers: map[string]probe.Checker{"fake": fc}, Rand: seeded(t)}, func(probe.Result, probe.Tracker, bool) {})
		ts := fakeTargets(1, spec)
		k := ts[0].Key
		s.Set(ts)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go s.Run(ctx)
		stepUntil(clock, clock.Now().Add(100*time.Millisecond))
		if fc.Calls(k) != 1 {
			t.Fatalf("%d calls after the start", fc.Calls(k))
		}
		if !s.ProbeNow(k) {
			t.Fatal("ProbeNow of a target: false")
		}
		synctest.Wait()
		if fc.Calls(k) != 2 {
			t.Fatalf("%d calls after ProbeNow, want 2 at once", fc.Calls(k))
		}
		release := fc.Block(k)
		s.ProbeNow(k)
		synctest.Wait()
		s.ProbeNow(k)
		s.ProbeNow(k)
		synctest.Wait()
		if fc.Calls(k) != 3 {
			t.Errorf("%d calls after three ProbeNow with one in flight, want 3", fc.Calls(k))
		}
		release()
		synctest.Wait()
		if s.ProbeNow("nope/1") {
			t.Error("ProbeNow of an unknown key: true")
		}
	})
}

// TestSetKeepsState: setting the same targets again changes nothing; a
// new spec is probed at once and keeps the health; a new address starts
// afresh.
func TestSetKeepsState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spec := handlespace.ProbeSpec{Kind: "fake", Interval: time.Second, Timeout: 500 * time.Millisecond, Jitter: 0}
		clock := probetest.NewFakeClock(time.Time{})
		fc := probetest.NewFakeChecker(clock)
		s := probe.NewScheduler(probe.Config{Clock: clock, Checkers: map[string]probe.Checker{"fake": fc}, Rand: seeded(t)}, func(probe.Result, probe.Tracker, bool) {})
		ts := fakeTargets(1, spec)
		k := ts[0].Key
		s.Set(ts)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go s.Run(ctx)
		stepUntil(clock, clock.Now().Add(500*time.Millisecond))
		s.Set(fakeTargets(1, spec))
		stepUntil(clock, clock.Now().Add(400*time.Millisecond))
		if fc.Calls(k) != 1 {
			t.Errorf("%d calls: setting the same target again probed it", fc.Calls(k))
		}
		if tr, _ := s.Tracker(k); tr.Health != handlespace.HealthUp {
			t.Fatalf("health %v", tr.Health)
		}
		spec2 := spec
		spec2.Interval = 2 * time.Second
		s.Set(fakeTargets(1, spec2))
		stepUntil(clock, clock.Now().Add(probe.SpreadStep))
		if fc.Calls(k) != 2 {
			t.Errorf("%d calls: a changed spec is probed at once", fc.Calls(k))
		}
		if tr, _ := s.Tracker(k); tr.Health != handlespace.HealthUp || tr.Successes != 2 {
			t.Errorf("tracker %+v after a spec change, want the old one carried on", tr)
		}
		moved := fakeTargets(1, spec2)
		moved[0].Addr = netip.MustParseAddrPort("127.9.9.9:80")
		fc.Block(k)
		s.Set(moved)
		stepUntil(clock, clock.Now().Add(probe.SpreadStep))
		if tr, _ := s.Tracker(k); tr.Health != handlespace.HealthUnknown {
			t.Errorf("tracker %+v after an address change, want a fresh Unknown", tr)
		}
	})
}

// TestRunTwice: one Run at a time; Run returns when its context ends,
// cancelling the checks in flight, and a later Run carries on.
func TestRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spec := handlespace.ProbeSpec{Kind: "fake", Interval: time.Second, Timeout: 500 * time.Millisecond}
		clock := probetest.NewFakeClock(time.Time{})
		fc := probetest.NewFakeChecker(clock)
		s := probe.NewScheduler(probe.Config{Clock: clock, Checkers: map[string]probe.Checker{"fake": fc}}, func(probe.Result, probe.Tracker, bool) {})
		ts := fakeTargets(3, spec)
		s.Set(ts)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		synctest.Wait()
		if err := s.Run(context.Background()); err == nil {
			t.Fatal("a second Run at once did not fail")
		}
		release := fc.Block(ts[0].Key)
		defer release()
		stepUntil(clock, clock.Now().Add(2*time.Second))
		if fc.Active() != 2 {
			t.Fatalf("%d checks in flight, want the blocked one and its confirmation", fc.Active())
		}
		cancel() // cancels the blocked check too
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if fc.Active() != 0 {
			t.Fatalf("Run returned with %d checks in flight", fc.Active())
		}
		calls := fc.Total()
		stepUntil(clock, clock.Now().Add(2*time.Second))
		if fc.Total() != calls {
			t.Fatal("probes without Run")
		}
		ctx2, cancel2 := context.WithCancel(context.Background())
		defer cancel2()
		go s.Run(ctx2)
		synctest.Wait()
		if fc.Total() <= calls {
			t.Error("a new Run did not probe the targets that fell due meanwhile")
		}
	})
}

// TestSetProvisional: a new target given as Provisional Up starts Up, is
// kept Up by one failure whose confirming probe follows ConfirmDelay
// later, and goes Down at the second; one given Provisional Down is Up at
// its first pass; a Provisional Unknown is a plain Unknown.
func TestSetProvisional(t *testing.T) {
	spec := handlespace.ProbeSpec{Kind: "fake", Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: 3, Fall: 2}
	synctest.Test(t, func(t *testing.T) {
		fc := probetest.NewFakeChecker(nil)
		rs := &results{ch: make(chan reported, 100)}
		s := probe.NewScheduler(probe.Config{Checkers: map[string]probe.Checker{"fake": fc}, Rand: seeded(t)}, rs.on)
		ts := fakeTargets(3, spec)
		ts[0].Health, ts[0].Provisional = handlespace.HealthUp, true
		ts[1].Health, ts[1].Provisional = handlespace.HealthDown, true
		ts[2].Provisional = true
		fc.Script(ts[0].Key, probetest.Fail("connect: connection refused"))
		s.Set(ts)
		for i, want := range []handlespace.Health{handlespace.HealthUp, handlespace.HealthDown, handlespace.HealthUnknown} {
			if tr, _ := s.Tracker(ts[i].Key); tr.Health != want || tr.Provisional != (i < 2) {
				t.Fatalf("target %d starts %+v, want %v", i, tr, want)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		var f1, f2 *reported
		for f2 == nil {
			r := <-rs.ch
			switch {
			case r.r.Key == ts[1].Key:
				if !r.changed || r.tr.Health != handlespace.HealthUp || r.tr.Provisional {
					t.Errorf("restored-down target after its first pass: %+v, want Up (rise not waited for)", r)
				}
			case r.r.Key == ts[2].Key:
				if r.tr.Health != handlespace.HealthUp {
					t.Errorf("provisional unknown after a pass: %+v", r)
				}
			case f1 == nil:
				f1 = &r
				if r.changed || r.tr.Health != handlespace.HealthUp || !r.tr.Provisional {
					t.Fatalf("restored-up target after one failure: %+v, want still Up, provisional", r)
				}
			default:
				f2 = &r
				if !r.changed || r.tr.Health != handlespace.HealthDown || r.tr.Provisional {
					t.Fatalf("restored-up target after two failures: %+v, want Down", r)
				}
			}
		}
		if gap := f2.r.At.Sub(f1.r.At); gap != probe.ConfirmMin {
			t.Errorf("confirming probe %v after the first failure, want %v", gap, probe.ConfirmMin)
		}
	})
}

// TestSchedulerSampling: a Scheduler that only samples sends no probe
// beside a hung one and does not confirm a failure early: one probe per
// interval at most, whatever the target does.
func TestSchedulerSampling(t *testing.T) {
	spec := handlespace.ProbeSpec{Kind: "fake", Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 2}
	synctest.Test(t, func(t *testing.T) {
		// The bubble's clock, so that the hung probe's timeout (a context
		// deadline) passes as the time does.
		fc := probetest.NewFakeChecker(nil)
		s := probe.NewScheduler(probe.Config{Checkers: map[string]probe.Checker{"fake": fc}, Rand: seeded(t), Sampling: true},
			func(probe.Result, probe.Tracker, bool) {})
		ts := fakeTargets(2, spec)
		hung, failing := ts[0].Key, ts[1].Key
		fc.Script(failing, probetest.Fail("x"))
		release := fc.Block(hung)
		defer release()
		s.Set(ts)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go s.Run(ctx)
		time.Sleep(5*time.Second + probe.SpreadStep) // the bubble's time
		synctest.Wait()
		// Probes of one target an interval apart (or more: a Down target
		// backs off), never ConfirmDelay.
		for _, k := range []string{failing, hung} {
			times := fc.Times(k)
			if len(times) < 3 {
				t.Fatalf("%s sampled %d times in 5 s", k, len(times))
			}
			for i := 1; i < len(times); i++ {
				if gap := times[i].Sub(times[i-1]); gap < spec.Interval {
					t.Errorf("%s: samples %v apart, want at least the interval %v", k, gap, spec.Interval)
				}
			}
		}
		if fc.Peak() > 2 {
			t.Errorf("%d probes in flight at once, want at most one per target", fc.Peak())
		}
		if st := s.Stats(); st.Confirms != 0 {
			t.Errorf("%d confirming probes", st.Confirms)
		}
	})
}
