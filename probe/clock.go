package probe

import "time"

// Clock is the Scheduler's source of time: SystemClock in production,
// probetest.FakeClock in tests.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that sends the time on its channel once d
	// has passed.
	NewTimer(d time.Duration) Timer
}

// Timer is a Clock's timer, with time.Timer's semantics since Go 1.23:
// after Stop or Reset returns, no stale value is received from C.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; false if it had fired or been
	// stopped.
	Stop() bool
	// Reset makes the timer fire d from now (again).
	Reset(d time.Duration)
}

// SystemClock returns the Clock of the time package.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

var _ Clock = systemClock{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

var _ Timer = systemTimer{}

func (t systemTimer) C() <-chan time.Time   { return t.t.C }
func (t systemTimer) Stop() bool            { return t.t.Stop() }
func (t systemTimer) Reset(d time.Duration) { t.t.Reset(d) }
