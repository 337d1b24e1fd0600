package probe

import (
	"math/rand/v2"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// Defaults for the zero fields of a ProbeSpec (the zone file's defaults).
const (
	DefaultInterval = time.Second
	DefaultTimeout  = 500 * time.Millisecond
	DefaultRise     = 2
	DefaultFall     = 2
	// DefaultJitter is the jitter of a spec that sets nothing at all (the
	// zero ProbeSpec): delays are shortened by up to 10 %.
	DefaultJitter = 0.1
	// MaxJitter is the largest jitter used; larger ones are lowered to it.
	MaxJitter = 0.5
	// MinInterval is the shortest interval a Scheduler uses; shorter ones
	// are raised to it.
	MinInterval = 10 * time.Millisecond
	// BackoffCap is the longest delay between probes of a Down target, for
	// targets whose interval is shorter: see NextDelay.
	BackoffCap = 5 * time.Second
	// ConfirmMin is the shortest delay of a confirming probe: see
	// ConfirmDelay.
	ConfirmMin = 20 * time.Millisecond
)

// normalize fills the zero fields of s with the defaults and clamps the
// jitter. A spec with no interval is taken as unset: its jitter is the
// default too (a zone file always sets both).
func normalize(s handlespace.ProbeSpec) handlespace.ProbeSpec {
	if s.Interval <= 0 {
		s.Interval = DefaultInterval
		if s.Jitter == 0 {
			s.Jitter = DefaultJitter
		}
	}
	s.Interval = max(s.Interval, MinInterval)
	if s.Timeout <= 0 {
		s.Timeout = min(DefaultTimeout, s.Interval)
	}
	if s.Rise <= 0 {
		s.Rise = DefaultRise
	}
	if s.Fall <= 0 {
		s.Fall = DefaultFall
	}
	s.Jitter = min(max(s.Jitter, 0), MaxJitter) // also NaN → 0
	return s
}

// Tracker is a target's health with the hysteresis that decides it (how
// many probes in a row passed or failed) and its smoothed RTT.
type Tracker struct {
	Health    handlespace.Health
	Successes int // passes in a row
	Failures  int // failures in a row
	// SRTT is the smoothed RTT of the passing probes (SmoothRTT); 0 until
	// one passed.
	SRTT time.Duration
	// Provisional says that Health was given, not observed: restored at a
	// start from what was last known, or assumed. Results are then judged
	// as for a new (Unknown) target, and Health is kept until they decide
	// one: see Observe.
	Provisional bool
}

// Observe returns the tracker after one more probe result, and whether the
// health changed. A target starts Unknown, and from Unknown its first pass
// makes it Up (so that a starting registrar serves at once), while fall
// failures in a row make it Down. An Up target goes Down after fall
// failures in a row, a Down one Up after rise passes in a row. A pass
// resets the failure count, a failure the pass count. rise and fall below 1
// count as 1. Observe does not touch SRTT.
//
// A Provisional tracker judges its results as an Unknown one does, keeping
// its given health until they decide: its first pass makes it Up (a given
// Down does not wait for rise passes: a verdict older than the start
// weighs less than a pass now), fall failures in a row make it Down (a
// given Up needs them as any Up does: the first of them is confirmed
// ConfirmDelay later, see Suspect); either ends Provisional.
func (t Tracker) Observe(ok bool, rise, fall int) (next Tracker, changed bool) {
	rise, fall = max(rise, 1), max(fall, 1)
	if t.Provisional {
		u := t
		u.Health, u.Provisional = handlespace.HealthUnknown, false
		n, _ := u.Observe(ok, rise, fall)
		if n.Health == handlespace.HealthUnknown {
			n.Health, n.Provisional = t.Health, true
		}
		return n, n.Health != t.Health
	}
	n := t
	if ok {
		n.Successes, n.Failures = sat(t.Successes+1), 0
		switch {
		case t.Health == handlespace.HealthUnknown,
			t.Health == handlespace.HealthDown && n.Successes >= rise:
			n.Health = handlespace.HealthUp
		}
	} else {
		n.Successes, n.Failures = 0, sat(t.Failures+1)
		if t.Health != handlespace.HealthDown && n.Failures >= fall {
			n.Health = handlespace.HealthDown
		}
	}
	return n, n.Health != t.Health
}

// Suspect reports whether the target is not Down but its last probe
// failed: a failure that the next probes confirm or clear (ConfirmDelay).
func (t Tracker) Suspect() bool {
	return t.Health != handlespace.HealthDown && t.Failures > 0
}

// sat keeps counters from overflowing (a target down for years).
func sat(n int) int { return min(n, 1<<30) }

// SmoothRTT returns the smoothed RTT after one more sample: an exponentially
// weighted moving average with gain 1/8, RFC 6298's SRTT. A prev of 0
// (no estimate yet) gives the sample. Negative samples count as 0.
func SmoothRTT(prev, sample time.Duration) time.Duration {
	sample = max(sample, 0)
	if prev <= 0 {
		return sample
	}
	return prev + (sample-prev)/8
}

// NextDelay returns the time from the start of a probe to the start of the
// next one of the same target when nothing is suspect. It is the spec's
// interval, shortened by a uniform fraction in [0, spec.Jitter) drawn from
// r (rand.Float64 if nil), so that targets added together drift apart and
// a backend sees no lockstep from many registrars, while the interval
// stays the longest delay between two probes of a healthy target.
//
// A target that is Down backs off: its interval is doubled for each
// failure beyond fall (interval × 2^(failures−fall)) up to
// max(interval, BackoffCap) = 5 s, before jitter. The cap bounds the time
// to notice a recovery: a Down target's first pass resets its failures, so
// its later probes come at the plain interval again, and a recovered
// element is back within cap + (rise−1) × interval — 6 s with the
// defaults — while a dead one costs one probe per 5 s rather than one per
// interval.
func NextDelay(spec handlespace.ProbeSpec, t Tracker, r func() float64) time.Duration {
	spec = normalize(spec)
	d := spec.Interval
	if t.Health == handlespace.HealthDown && t.Failures > spec.Fall {
		limit := max(spec.Interval, BackoffCap)
		for i := spec.Fall; i < t.Failures && d < limit; i++ {
			d *= 2
		}
		d = min(d, limit)
	}
	if spec.Jitter > 0 {
		if r == nil {
			r = rand.Float64
		}
		d -= time.Duration(float64(d) * spec.Jitter * r())
	}
	return d
}

// ConfirmDelay is how soon a target that is not Down is probed again to
// confirm or clear a failure: after a failed probe (the target is
// Suspect), the next one comes ConfirmDelay after the failure rather than
// an interval later; and a probe that has had no answer for ConfirmDelay
// is overdue, so a second probe starts beside it without waiting for its
// timeout (at most two of one target are in flight). So fall failures
// take about fall × ConfirmDelay after the first one, plus one timeout
// for a target that hangs, rather than fall intervals.
//
// It is four times the smoothed RTT — far beyond what a healthy target
// takes — but at least ConfirmMin (20 ms) and at most the interval.
func ConfirmDelay(spec handlespace.ProbeSpec, t Tracker) time.Duration {
	spec = normalize(spec)
	return min(max(ConfirmMin, 4*t.SRTT), spec.Interval)
}
