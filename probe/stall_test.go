package probe_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/probe"
	"github.com/poolnsd/poolnsd/probe/probetest"
)

// stallChecker is a target that always answers, on a registrar that may
// be stopped: a check that starts before the fake clock reaches
// resumeAt waits for its deadline and times out (the answer came while
// the process was stopped, and the deadline fired first when it ran
// again), as a probe in flight across a SIGSTOP does. Later checks pass.
type stallChecker struct {
	clock *probetest.FakeClock

	mu       sync.Mutex
	resumeAt time.Time
	starts   []time.Time
}

func (c *stallChecker) stopUntil(t time.Time) {
	c.mu.Lock()
	c.resumeAt = t
	c.mu.Unlock()
}

func (c *stallChecker) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.starts)
}

func (c *stallChecker) Check(ctx context.Context, t probe.Target) probe.Result {
	now := c.clock.Now()
	c.mu.Lock()
	c.starts = append(c.starts, now)
	stopped := now.Before(c.resumeAt)
	c.mu.Unlock()
	if stopped {
		<-ctx.Done()
		return probe.Result{Err: "timeout after " + t.Spec.Timeout.String()}
	}
	return probe.Result{OK: true}
}

// TestStalledProbe: a probe in flight while the registrar's process is
// stopped (the fake clock jumps: its timers fire late, all at once) times
// out when it runs again, though its target answered; that failure is
// not counted and the target is probed again at once, so a live target
// stays Up across a stall. Without the jump (the same timeouts, on time)
// it goes Down: the stall is what makes the difference. A registrar
// stalled at every probe (starved) still counts the failure of the probe
// that follows a stalled one, so a target that hangs is found Down.
func TestStalledProbe(t *testing.T) {
	spec := handlespace.ProbeSpec{Kind: "fake", Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 2}
	const stall = 2 * time.Second
	start := func(t *testing.T) (*rig, func()) {
		clock := probetest.NewFakeClock(time.Time{})
		fc := &stallChecker{clock: clock}
		rs := &results{}
		s := probe.NewScheduler(probe.Config{Clock: clock, Checkers: map[string]probe.Checker{"fake": fc}, Rand: seeded(t)}, rs.on)
		ts := fakeTargets(1, spec)
		s.Set(ts)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		r := &rig{clock, fc, rs, s, ts[0].Key}
		// The first probe passes: Up.
		stepUntil(clock, clock.Now().Add(100*time.Millisecond))
		if n := rs.count(r.key); n != 1 || r.last().tr.Health != handlespace.HealthUp {
			t.Fatalf("%d results, last %+v; want one, Up", n, r.last())
		}
		return r, func() { cancel(); <-done }
	}
	// inFlight steps to the next probe, which the registrar's stop (until
	// resumeAt) will catch in flight, and to its confirming one beside it
	// (ConfirmDelay later): both wait for their deadlines.
	inFlight := func(r *rig, resumeAt time.Time) {
		r.fc.stopUntil(resumeAt)
		calls := r.fc.calls()
		for r.fc.calls() < calls+2 {
			at, _ := r.clock.Next()
			r.clock.Advance(at.Sub(r.clock.Now()))
			synctest.Wait()
		}
	}
	// deadlines lets the checks' deadlines (context deadlines, on the
	// bubble's clock) pass.
	deadlines := func() {
		time.Sleep(spec.Timeout)
		synctest.Wait()
	}

	t.Run("stall", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r, stop := start(t)
			defer stop()
			inFlight(r, r.clock.Now().Add(stall))
			r.clock.Jump(stall) // stopped: no goroutine ran meanwhile
			synctest.Wait()
			deadlines()
			// Both probes timed out, late: not counted; the target is
			// probed again at once, and passes.
			synctest.Wait()
			for _, x := range r.all() {
				if !x.r.OK {
					t.Errorf("a failure was counted: %+v", x)
				}
			}
			if st := r.s.Stats(); st.Stalled != 2 {
				t.Errorf("stats %+v, want 2 stalled", st)
			}
			if n := r.rs.count(r.key); n != 2 || r.last().r.At != r.clock.Now() {
				t.Errorf("%d results, last %+v at %v; want the probe again at once after the stall (%v)", n, r.last(), r.last().r.At, r.clock.Now())
			}
			if tr, _ := r.s.Tracker(r.key); tr.Health != handlespace.HealthUp || tr.Failures != 0 {
				t.Errorf("tracker %+v, want Up with no failure", tr)
			}
		})
	})
	t.Run("no stall", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// The same two timeouts, with no jump of the clock: they
			// count, and the target goes Down.
			r, stop := start(t)
			defer stop()
			inFlight(r, r.clock.Now().Add(stall))
			deadlines()
			if tr, _ := r.s.Tracker(r.key); tr.Health != handlespace.HealthDown {
				t.Errorf("tracker %+v, want Down after two timeouts", tr)
			}
			if st := r.s.Stats(); st.Stalled != 0 {
				t.Errorf("stats %+v, want none stalled", st)
			}
		})
	})
	t.Run("starved", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// Stalled at every probe: the probe after a stalled one
			// counts, stalled or not.
			r, stop := start(t)
			defer stop()
			inFlight(r, farFuture)
			r.clock.Jump(stall)
			synctest.Wait()
			deadlines() // the two in flight: dropped; the retry starts, and hangs
			if r.fc.calls() != 4 {
				t.Fatalf("%d checks, want 4 (the first, two stalled, the retry)", r.fc.calls())
			}
			r.clock.Jump(stall)
			synctest.Wait()
			deadlines()
			// The retry timed out late too, and counts; its confirming
			// probe, started after the jump, timed out on time: Down.
			var retry *reported
			for _, x := range r.all() {
				if x.r.Stalled {
					retry = &x
				}
			}
			if retry == nil || retry.r.OK {
				t.Fatalf("results %+v: want the retry's stalled failure among them, counted", r.all())
			}
			if tr, _ := r.s.Tracker(r.key); tr.Health != handlespace.HealthDown {
				t.Errorf("tracker %+v, want Down", tr)
			}
			if st := r.s.Stats(); st.Stalled != 2 {
				t.Errorf("stats %+v, want 2 stalled (the retry's counted)", st)
			}
		})
	})
	t.Run("one-shot", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			clock := probetest.NewFakeClock(time.Time{})
			fc := &stallChecker{clock: clock}
			fc.stopUntil(farFuture)
			s := probe.NewScheduler(probe.Config{Clock: clock, Checkers: map[string]probe.Checker{"fake": fc}}, func(probe.Result, probe.Tracker, bool) {})
			tg := fakeTargets(1, spec)[0]
			got := make(chan probe.Result, 2)
			go func() { got <- s.Check(context.Background(), tg) }()
			synctest.Wait()
			clock.Jump(stall)
			if r := <-got; r.OK || !r.Stalled {
				t.Errorf("Check across a stall: %+v, want a stalled failure", r)
			}
			go func() { got <- s.Check(context.Background(), tg) }()
			if r := <-got; r.OK || r.Stalled {
				t.Errorf("Check that times out on time: %+v, want a failure, not stalled", r)
			}
		})
	})
}

// farFuture is a time the fake clocks of these tests never reach.
var farFuture = probetest.Epoch.Add(24 * time.Hour)

// rig is one target on a Scheduler with a fake clock.
type rig struct {
	clock *probetest.FakeClock
	fc    *stallChecker
	rs    *results
	s     *probe.Scheduler
	key   string
}

// all returns the results reported so far.
func (r *rig) all() []reported {
	r.rs.mu.Lock()
	defer r.rs.mu.Unlock()
	return append([]reported(nil), r.rs.list...)
}

// last returns the latest result reported (zero if none).
func (r *rig) last() reported {
	l := r.all()
	if len(l) == 0 {
		return reported{}
	}
	return l[len(l)-1]
}
