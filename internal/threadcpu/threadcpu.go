// Package threadcpu reads the calling thread's CPU time, the figure the
// benchmarks of long runs beside the UDP loop compare (history's sampler,
// the monitor's sync, handlespace's and ptree's diffs): on a loaded
// machine the wall clock also counts the time the thread waited for a
// CPU. A leaf, for tests and benchmarks only.
//
// # Caveats
//
// The figure is the thread's: a goroutine that moves to another thread
// between two readings compares two clocks. Benchmarks read it around
// work that does not block (runtime.LockOSThread makes it certain).
package threadcpu

import (
	"time"

	"golang.org/x/sys/unix"
)

// Now is the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID), 0 where
// the clock cannot be read.
func Now() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
