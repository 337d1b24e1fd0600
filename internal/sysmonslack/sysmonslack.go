// Package sysmonslack widens the timer slack of the Go runtime's sysmon
// thread, so that its short sleeps wake it less often.
//
// sysmon is the runtime's watchdog thread. While any P runs it sleeps
// 20 µs at a time (nanosleep; after 1 ms without work found, longer),
// and when every P is idle it sleeps until the next system call wakes it
// (a futex), back at 20 µs. A registration at 1 000 a second is a burst
// of work between idle spells, so sysmon wakes several times for each:
// on a VM where a context switch is costly, a fifth of the server's CPU
// per HTTP registration was sysmon's (bench/RESULTS.md, "reg15"). The
// kernel ends a sleep anywhere within the thread's timer slack (50 µs by
// default): a slack of 500 µs lets each of sysmon's short sleeps last
// about half a millisecond, so it wakes a few times per registration
// less, and looks at what it watches (goroutines to preempt after 10 ms,
// Ps held by system calls, the network poller) at most that much later.
//
// Changing another thread's slack needs CAP_SYS_NICE
// (/proc/TID/timerslack_ns, proc(5)); without it Set changes nothing and
// says so.
package sysmonslack

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Default is the slack Set gives sysmon in poolnsd serve.
const Default = 500 * time.Microsecond

// Find returns the thread ID of sysmon: the first thread the runtime
// starts (runtime.main, before any package's init), so the lowest thread
// ID above the process's own. An error if there is none, or if thread IDs
// wrapped around while the process started.
func Find() (int, error) {
	pid := os.Getpid()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0, err
	}
	var tids []int
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil && tid != pid {
			tids = append(tids, tid)
		}
	}
	slices.Sort(tids)
	i, _ := slices.BinarySearch(tids, pid)
	if i == len(tids) {
		return 0, errors.New("no thread above the process's ID (thread IDs wrapped)")
	}
	if i > 0 {
		// A thread below the process's ID: the IDs wrapped since it
		// started, and the one above may not be the first.
		if first, _ := startTime(tids[0]); first != 0 {
			if above, _ := startTime(tids[i]); above > first {
				return 0, errors.New("thread IDs wrapped since the process started")
			}
		}
	}
	return tids[i], nil
}

// startTime is thread tid's start time in clock ticks since boot
// (proc(5), /proc/pid/stat field 22), 0 if unknown.
func startTime(tid int) (uint64, error) {
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count after its ')'.
	s := string(b)
	j := strings.LastIndexByte(s, ')')
	if j < 0 {
		return 0, errors.New("bad stat")
	}
	f := strings.Fields(s[j+1:]) // fields 3…
	if len(f) < 20 {
		return 0, errors.New("bad stat")
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// Set gives sysmon's thread the timer slack d and returns its thread ID.
func Set(d time.Duration) (int, error) {
	tid, err := Find()
	if err != nil {
		return 0, err
	}
	if err := write(tid, d); err != nil {
		return tid, err
	}
	return tid, nil
}

func write(tid int, d time.Duration) error {
	p := "/proc/" + strconv.Itoa(tid) + "/timerslack_ns"
	if err := os.WriteFile(p, []byte(strconv.FormatInt(d.Nanoseconds(), 10)), 0); err != nil {
		return fmt.Errorf("sysmon's timer slack (needs CAP_SYS_NICE): %w", err)
	}
	return nil
}
