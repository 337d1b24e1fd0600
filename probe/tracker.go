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
	// MinInterval is the shortest interval a Scheduler uses; shorter ones
	// are raised to it.
	MinInterval = 10 * time.Millisecond
	// BackoffCap is the longest delay between probes of a Down target, for
	// targets whose interval is shorter: see NextDelay.
	BackoffCap = 5 * time.Second
	// DefaultJitter is the default spread of probe delays, ±10 %.
	DefaultJitter = 0.1
)

// normalize fills the zero fields of s with the defaults.
func normalize(s handlespace.ProbeSpec) handlespace.ProbeSpec {
	if s.Interval <= 0 {
		s.Interval = DefaultInterval
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
	return s
}

// Tracker is a target's health with the hysteresis that decides it: how
// many probes in a row passed or failed.
type Tracker struct {
	Health    handlespace.Health
	Successes int // passes in a row
	Failures  int // failures in a row
}

// Observe returns the tracker after one more probe result, and whether the
// health changed. A target starts Unknown, and from Unknown its first pass
// makes it Up (so that a starting registrar serves at once), while fall
// failures in a row make it Down. An Up target goes Down after fall
// failures in a row, a Down one Up after rise passes in a row. A pass
// resets the failure count, a failure the pass count. rise and fall below 1
// count as 1.
func (t Tracker) Observe(ok bool, rise, fall int) (next Tracker, changed bool) {
	rise, fall = max(rise, 1), max(fall, 1)
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

// sat keeps counters from overflowing (a target down for years).
func sat(n int) int { return min(n, 1<<30) }

// SmoothRTT returns the smoothed RTT after one more sample: an exponentially
// weighted moving average with gain 1/8, RFC 6298's SRTT. A prev of 0
// (no estimate yet) gives the sample.
func SmoothRTT(prev, sample time.Duration) time.Duration {
	if prev <= 0 {
		return sample
	}
	return prev + (sample-prev)/8
}

// NextDelay returns the time from the start of a probe to the start of the
// next one of the same target. It is the spec's interval, multiplied by a
// uniform factor in [1−jitter, 1+jitter) drawn from r (rand.Float64 if
// nil), so that targets added together drift apart and a backend sees no
// lockstep from many registrars. jitter is clamped to [0, 0.5].
//
// A target that is Down backs off: its interval is doubled for each
// failure beyond fall (interval × 2^(failures−fall)) up to
// max(interval, BackoffCap) = 5 s, before jitter. The cap bounds the time
// to notice a recovery: a Down target's first pass resets its failures, so
// its later probes come at the plain interval again, and a recovered
// element is back within cap + (rise−1) × interval (each stretched by the
// jitter) — 6 s with the defaults — while a dead one costs one probe per
// 5 s rather than one per interval.
func NextDelay(spec handlespace.ProbeSpec, t Tracker, jitter float64, r func() float64) time.Duration {
	spec = normalize(spec)
	d := spec.Interval
	if t.Health == handlespace.HealthDown && t.Failures > spec.Fall {
		limit := max(spec.Interval, BackoffCap)
		for i := spec.Fall; i < t.Failures && d < limit; i++ {
			d *= 2
		}
		d = min(d, limit)
	}
	jitter = min(max(jitter, 0), 0.5) // also NaN → 0
	if jitter > 0 {
		if r == nil {
			r = rand.Float64
		}
		d = time.Duration(float64(d) * (1 + jitter*(2*r()-1)))
	}
	return d
}
