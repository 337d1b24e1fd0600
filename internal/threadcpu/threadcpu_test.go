package threadcpu

import (
	"runtime"
	"testing"
	"time"
)

// TestNowCountsWork: the clock moves with work on the thread and not with
// sleep.
func TestNowCountsWork(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0 := Now()
	x := 0
	for d := time.Now(); time.Since(d) < 20*time.Millisecond; {
		x++
	}
	worked := Now() - t0
	if worked <= 0 || x == 0 {
		t.Fatalf("20 ms of work counted %v", worked)
	}
	t1 := Now()
	time.Sleep(50 * time.Millisecond)
	if slept := Now() - t1; slept >= 40*time.Millisecond {
		t.Errorf("a 50 ms sleep counted %v of CPU", slept)
	}
}
