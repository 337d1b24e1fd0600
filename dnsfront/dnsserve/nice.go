package dnsserve

import (
	"log/slog"
	"runtime"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// A threaded UDP loop (udpbatch.NewThread) may run ahead of the rest of
// the process on a CPU: with Config.UDPNice its goroutine locks itself to
// its thread (runtime.LockOSThread) and gives that thread a better nice
// value (setpriority, per thread on Linux), so that the kernel's
// scheduler prefers it to the registrations' handlers, the commits, the
// monitor and the collector's workers, whose threads keep the process's.
// The goroutine never unlocks: a goroutine that ends locked takes its
// thread with it, so no thread with the changed nice goes back to the
// runtime's pool to run other goroutines. Threads the runtime starts
// while a locked thread runs are made by its template thread, not cloned
// from the locked one (a clone would inherit its nice). Before the loop
// ends it sets its thread's nice back, for the one thread that does not
// end with its goroutine (the process's main thread, which the runtime
// parks instead).
//
// Not under a real-time scheduling policy found at the start (threads.go):
// the kernel ignores the nice of a real-time thread, and there the loops
// wait through the scheduler and yield after each full batch, which for a
// locked goroutine is a hand-off of its P to another thread and back.
//
// A better (lower) nice than the process's needs CAP_SYS_NICE (or an
// RLIMIT_NICE that allows it): without, the loops run at the process's
// nice as before and the first of them logs one Info line.

var (
	// nicedLoops is the loops whose thread runs at Config.UDPNice now.
	nicedLoops atomic.Int64
	// niceFailures counts the loops whose thread could not be given it.
	niceFailures atomic.Uint64
)

// setThreadNice is unix.Setpriority for one thread (a variable for the
// tests, which make it fail as without CAP_SYS_NICE).
var setThreadNice = func(tid, nice int) error {
	return unix.Setpriority(unix.PRIO_PROCESS, tid, nice)
}

// threadNice returns the nice value of thread tid (0: the calling one).
func threadNice(tid int) (int, error) {
	// The system call returns 20 - nice (1..40), not the nice itself.
	p, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return 0, err
	}
	return 20 - p, nil
}

// niceLoop locks the calling goroutine, a threaded loop, to its thread for
// good and gives the thread the process's nice plus delta (at least -20).
// It returns the function that sets the thread's nice back, to be called
// as the loop ends (nil if nothing was changed); logged says whether a
// failure was logged already (one Info line per Server).
func niceLoop(delta int, log *slog.Logger, logged *atomic.Bool) (restore func()) {
	runtime.LockOSThread() // never unlocked: see above
	tid := unix.Gettid()
	was, err := threadNice(0)
	if err != nil {
		niceFailures.Add(1)
		if !logged.Swap(true) {
			log.Info("UDP loops run at the process's nice: reading a thread's nice", "err", err)
		}
		return nil
	}
	// The thread's nice is the process's: the runtime's threads start
	// with it (not the main thread's, which a loop may hold).
	want := max(was+delta, -20)
	if err := setThreadNice(tid, want); err != nil {
		niceFailures.Add(1)
		if !logged.Swap(true) {
			log.Info("UDP loops run at the process's nice: dns.udp_nice needs CAP_SYS_NICE",
				"udp_nice", delta, "nice", was, "err", err)
		}
		return nil
	}
	nicedLoops.Add(1)
	return func() {
		nicedLoops.Add(-1)
		// A higher nice is always allowed.
		_ = setThreadNice(tid, was)
	}
}

// NicedLoops is the number of UDP loops whose thread runs at the better
// nice of Config.UDPNice now.
func NicedLoops() int64 { return nicedLoops.Load() }

// NiceFailures counts the UDP loops whose thread could not be given the
// nice of Config.UDPNice (no CAP_SYS_NICE) since the process started.
func NiceFailures() uint64 { return niceFailures.Load() }
