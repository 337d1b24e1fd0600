package probe

import (
	"context"

	"github.com/poolnsd/poolnsd/handlespace"
)

// Normalize returns s with the defaults a Scheduler uses for its zero
// fields (interval, timeout, rise, fall, jitter) filled in.
func Normalize(s handlespace.ProbeSpec) handlespace.ProbeSpec { return normalize(s) }

// Check probes t once, now, outside the schedule (t need not be one of
// the Scheduler's targets): with t's checker, under t's timeout, on a
// connection of its own. It is how a registrar probes an element for
// another registrar's confirmation. It counts in Stats.OneShots and
// returns the result with Key and At set, and Stalled when the process
// stalled while it waited (the caller is to take it for no answer).
func (s *Scheduler) Check(ctx context.Context, t Target) Result {
	t.Spec = normalize(t.Spec)
	t.slot = nil
	s.mu.Lock()
	s.stats.OneShots++
	s.mu.Unlock()
	start := s.cfg.Clock.Now()
	r := s.check(ctx, t)
	r.Key, r.Ref, r.At = t.Key, t.Ref, start
	r.Stalled = !r.OK && ctx.Err() == nil && stalledSince(s.cfg.Clock, start, t.Spec.Timeout)
	return r
}

// Reset sets the health of the target with this key to h, forgetting
// its passes and failures in a row (its smoothed RTT stays), and probes
// it at once; it reports whether there is such a target. It is for a
// health that another registrar knows better (a hand-back after a
// partition): the target's own count of failures is stale.
func (s *Scheduler) Reset(key string, h handlespace.Health) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[key]
	if e == nil {
		return false
	}
	e.tr = Tracker{Health: h, SRTT: e.tr.SRTT}
	if e.inFlight == 0 && e.index >= 0 {
		if now := s.cfg.Clock.Now(); e.due.After(now) {
			s.schedule(e, now, false)
		}
	}
	return true
}
