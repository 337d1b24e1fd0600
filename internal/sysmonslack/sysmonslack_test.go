package sysmonslack

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// voluntary returns each thread's count of voluntary context switches.
func voluntary(t *testing.T) map[int]int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Skip(err)
	}
	m := map[int]int{}
	for _, e := range ents {
		tid, _ := strconv.Atoi(e.Name())
		b, err := os.ReadFile("/proc/self/task/" + e.Name() + "/status")
		if err != nil {
			continue // the thread ended
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "voluntary_ctxt_switches:"); ok {
				m[tid], _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
	}
	return m
}

// spin keeps a P busy for d, with a system call now and then (which
// wakes sysmon from a deep sleep).
func spin(d time.Duration) {
	for t0 := time.Now(); time.Since(t0) < d; {
		_, _ = os.Stat("/")
		for i := 0; i < 10000; i++ {
		}
	}
}

// TestFindSysmon: the thread Find names is the one that sleeps and wakes
// again and again while a goroutine runs and every other thread of the
// process waits (sysmon's 20 µs naps): the most voluntary context
// switches of all threads over the spin.
func TestFindSysmon(t *testing.T) {
	tid, err := Find()
	if err != nil {
		t.Fatal(err)
	}
	if tid == os.Getpid() {
		t.Fatalf("Find named the main thread %d", tid)
	}
	before := voluntary(t)
	spin(100 * time.Millisecond)
	after := voluntary(t)
	most, n := 0, -1
	for id, v := range after {
		if d := v - before[id]; d > n {
			most, n = id, d
		}
	}
	if most != tid {
		t.Fatalf("Find named thread %d (%d voluntary switches in the spin); the one that woke most is %d (%d)",
			tid, after[tid]-before[tid], most, n)
	}
	t.Logf("sysmon is thread %d: %d voluntary switches in 100 ms of a busy goroutine", tid, n)
}

// TestSet: sysmon's slack is what Set gave it (with CAP_SYS_NICE; without,
// Set says why and changes nothing).
func TestSet(t *testing.T) {
	tid, err := Find()
	if err != nil {
		t.Fatal(err)
	}
	was, err := slackOf(tid)
	if err != nil {
		t.Skip(err) // reading another thread's slack needs CAP_SYS_NICE too
	}
	got, err := Set(Default)
	if errors.Is(err, os.ErrPermission) {
		t.Skip(err)
	}
	if err != nil || got != tid {
		t.Fatalf("Set = %d, %v; Find %d", got, err, tid)
	}
	t.Cleanup(func() { _ = write(tid, was) })
	if now, err := slackOf(tid); err != nil || now != Default {
		t.Fatalf("sysmon's slack after Set(%v): %v, %v (was %v)", Default, now, err, was)
	}
}

// slackOf returns thread tid's timer slack.
func slackOf(tid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/timerslack_ns")
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return time.Duration(n), err
}
