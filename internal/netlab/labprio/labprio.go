// Package labprio raises the network lab's processes above other work on
// the machine (internal/netlab: the relay, the backends, the checker, and
// the registrars they start), so that what a lab test measures is the
// cluster and not the machine's load.
//
// # Basics
//
// Call Prioritize (a nice value, Nice) or PrioritizeRealTime (SCHED_RR)
// once, in TestMain, before the lab starts anything: threads and children
// made later inherit it.
//
// # Caveats
//
// Both need root (CAP_SYS_NICE). A nice value is per thread on Linux, so
// Prioritize goes over the process's threads until none was missed.
package labprio

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Nice is the scheduling priority (nice value) of the lab's processes:
// the test's own (the relay, the backends, the checker; see Prioritize)
// and the registrars, which inherit it. The relay plays
// the network and the backends the servers: on a machine shared with
// other work they must keep time as hardware would, or what a test
// measures is the machine's load (a starved relay delays packets by
// seconds, and every probe times out). Relay.Stats says how late the
// relay was.
const Nice = -10

// Prioritize sets every thread of this process to Nice (on Linux a nice
// value is per thread; a new thread, or a child process, inherits its
// maker's), going over the threads again until none was missed. It needs
// root (CAP_SYS_NICE).
func Prioritize() error {
	return eachThread(func(tid int) (bool, error) {
		// getpriority(2) returns 20 - nice.
		if p, err := unix.Getpriority(unix.PRIO_PROCESS, tid); err == nil && 20-p == Nice {
			return false, nil
		}
		return true, unix.Setpriority(unix.PRIO_PROCESS, tid, Nice)
	})
}

// PrioritizeRealTime sets every thread of this process to real-time
// round-robin priority prio (1..99; the lab process runs at 10, real-time
// registrars at 5, so the test's own threads belong below both). Threads
// and processes made later inherit it. It needs root (CAP_SYS_NICE).
func PrioritizeRealTime(prio int) error {
	attr := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_RR, Priority: uint32(prio)}
	return eachThread(func(tid int) (bool, error) {
		if cur, err := unix.SchedGetAttr(tid, 0); err == nil && cur.Policy == unix.SCHED_RR && cur.Priority == uint32(prio) {
			return false, nil
		}
		return true, unix.SchedSetAttr(tid, attr, 0)
	})
}

// eachThread calls set for every thread of this process, and again, up to
// ten passes, while a pass changed one (set reports whether it did): a
// thread started meanwhile is seen on the next pass.
func eachThread(set func(tid int) (changed bool, err error)) error {
	for pass := 0; pass < 10; pass++ {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		changed := false
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			c, err := set(tid)
			if err != nil {
				return err
			}
			changed = changed || c
		}
		if !changed {
			return nil
		}
	}
	return nil
}
