package dnsserve

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/internal/nettest"
	"golang.org/x/sys/unix"
)

// policyThread runs a goroutine on a thread of its own under policy (at
// priority prio) and returns the thread's id and a function that ends it:
// the goroutine returns still locked, so the thread exits with it. It
// skips the test when the policy may not be set (EPERM: not root).
func policyThread(t *testing.T, policy, prio int) (tid int, end func()) {
	t.Helper()
	started := make(chan error, 1)
	stop := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: uint32(policy), Priority: uint32(prio)}
		if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
			started <- err
			return
		}
		tid = unix.Gettid()
		started <- nil
		<-stop // blocked: under SCHED_FIFO it takes no CPU
		// Back to the normal policy before the goroutine ends: a locked
		// thread ends with it, but the main thread cannot end and is
		// wedged instead, keeping its policy; a goroutine can run on it
		// (seen in the whole suite: TestRealtimeSwitch found the process
		// real-time 5 s after end).
		normal := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL}
		if err := unix.SchedSetAttr(0, &normal, 0); err != nil {
			panic(fmt.Sprintf("setting the thread back to SCHED_OTHER: %v", err))
		}
	}()
	if err := <-started; err != nil {
		if errors.Is(err, unix.EPERM) {
			t.Skipf("setting policy %s: %v (needs root or CAP_SYS_NICE)", policyName(policy), err)
		}
		t.Fatalf("setting policy %s: %v", policyName(policy), err)
	}
	var ended bool
	end = func() {
		if !ended {
			ended = true
			close(stop)
			<-exited
		}
	}
	t.Cleanup(end)
	return tid, end
}

// TestPolicyCheck: policyOf reads a thread's policy, its own (0) or
// another's; SCHED_BATCH is not real-time, SCHED_FIFO is; anyThreadPolicy
// finds the one thread of the process under SCHED_FIFO, and no more once
// that thread has ended.
func TestPolicyCheck(t *testing.T) {
	if p := anyThreadPolicy(); realtime(p) {
		t.Skipf("the test runs under %s already", policyName(p))
	}
	if p := policyOf(0); p != unix.SCHED_NORMAL {
		t.Errorf("policyOf(0) = %s, want SCHED_OTHER", policyName(p))
	}
	if p := policyOf(-1); p != -1 {
		t.Errorf("policyOf(-1) = %d, want -1 (no such thread)", p)
	}
	batch, _ := policyThread(t, unix.SCHED_BATCH, 0)
	if p := policyOf(batch); p != unix.SCHED_BATCH || realtime(p) {
		t.Errorf("policyOf(SCHED_BATCH thread) = %s, realtime %v", policyName(p), realtime(p))
	}
	fifo, end := policyThread(t, unix.SCHED_FIFO, 1)
	if p := policyOf(fifo); p != unix.SCHED_FIFO || !realtime(p) {
		t.Errorf("policyOf(SCHED_FIFO thread) = %s, realtime %v", policyName(p), realtime(p))
	}
	if p := policyOf(0, batch, fifo); p != unix.SCHED_FIFO {
		t.Errorf("policyOf(self, batch, fifo) = %s, want SCHED_FIFO (the first real-time one)", policyName(p))
	}
	if p := anyThreadPolicy(); p != unix.SCHED_FIFO {
		t.Errorf("anyThreadPolicy() = %s with a SCHED_FIFO thread, want SCHED_FIFO", policyName(p))
	}
	end()
	for deadline := time.Now().Add(5 * time.Second); realtime(anyThreadPolicy()); {
		if time.Now().After(deadline) {
			t.Fatal("anyThreadPolicy still real-time 5 s after the SCHED_FIFO thread ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// loopsState returns, under procs' lock, how many threaded loops hold a
// P and whether they wait through the scheduler: GOMAXPROCS agrees with
// both once the lock is free.
func loopsState() (loops int, rt bool) {
	procs.Lock()
	defer procs.Unlock()
	return len(procs.loops), procs.rt
}

// TestRealtimeSwitch: threaded UDP loops raise GOMAXPROCS by one each;
// switched to the scheduler wait (as a loop does when it finds its thread
// under a real-time policy) GOMAXPROCS is back at its base, the loops
// still answer, and the switch is counted; while a thread of the process
// is under SCHED_FIFO the watcher keeps them there, and once it has ended
// it switches them back (GOMAXPROCS raised again). Shutdown sets
// GOMAXPROCS back.
func TestRealtimeSwitch(t *testing.T) {
	defer quietBelow.Store(quietBelow.Swap(0)) // quiet seconds are TestQuietSwitch's
	addr, base := startThreaded(t)
	exchange := func(id uint16) {
		t.Helper()
		for i := range 4 { // the kernel spreads the sources over both loops
			if r, err := nettest.Exchange(nil, query(id+uint16(i), "udp.test."), addr); err != nil || r.Id != id+uint16(i) {
				t.Fatalf("UDP: %v, %v", r, err)
			}
		}
	}
	exchange(1)
	// Each loop raises GOMAXPROCS when its goroutine starts (holdP):
	// the queries above may all have gone to one of them.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n, _ := loopsState(); n == 2 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("%d threaded loops running 5 s after the start, want 2", n)
		}
	}
	if n := runtime.GOMAXPROCS(0); n != base+2 {
		t.Fatalf("GOMAXPROCS %d with 2 threaded loops, want %d", n, base+2)
	}
	// Counted from before the SCHED_FIFO thread: should it be the main
	// thread, the watcher may switch first (then the call below does
	// nothing), and that switch is the one counted.
	switches := RealtimeSwitches()
	_, end := policyThread(t, unix.SCHED_FIFO, 1)
	setRealtime(true, unix.SCHED_FIFO)
	if n := runtime.GOMAXPROCS(0); n != base {
		t.Errorf("GOMAXPROCS %d with the loops waiting through the scheduler, want %d", n, base)
	}
	if n := RealtimeSwitches() - switches; n != 1 {
		t.Errorf("%d switches counted, want 1", n)
	}
	exchange(10)
	// The watcher looks every watchPolicyEvery: the SCHED_FIFO thread
	// keeps the loops where they are.
	time.Sleep(watchPolicyEvery + watchPolicyEvery/2)
	if _, rt := loopsState(); !rt {
		t.Fatal("the loops left the scheduler wait while a thread was under SCHED_FIFO")
	}
	end()
	// Not procsRT: the switch back stores it before it raises GOMAXPROCS
	// (both under procs' lock); read alone, it let the check below run
	// in between (GOMAXPROCS 2, want 4: once in 200 runs at load 11-15).
	for deadline := time.Now().Add(5 * watchPolicyEvery); ; {
		if _, rt := loopsState(); !rt {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the loops still wait through the scheduler %v after the SCHED_FIFO thread ended", 5*watchPolicyEvery)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.GOMAXPROCS(0); n != base+2 {
		t.Errorf("GOMAXPROCS %d after the switch back, want %d", n, base+2)
	}
	exchange(20)
}

// TestQuietSwitch: threaded loops that read fewer than quietBelow
// datagrams a second each wait through the scheduler, GOMAXPROCS at its
// base, and still answer, the switch counted (QuietSwitches); a second
// with more raises it again.
func TestQuietSwitch(t *testing.T) {
	// 10 datagrams a second for the two loops: the stream below is well
	// above it on a loaded machine too.
	defer quietBelow.Store(quietBelow.Swap(5))
	switches := QuietSwitches()
	addr, base := startThreaded(t)
	var id uint16
	exchange := func(n int) {
		t.Helper()
		for range n {
			id = id%1000 + 1 // clear of the fake's IDs that do more (panicID, …)
			if r, err := nettest.Exchange(nil, query(id, "udp.test."), addr); err != nil || r.Id != id {
				t.Fatalf("UDP: %v, %v", r, err)
			}
		}
	}
	state := func() (bool, int) {
		procs.Lock()
		defer procs.Unlock()
		return procs.quiet, runtime.GOMAXPROCS(0)
	}
	exchange(1)
	// No query for a second or two: the watcher's next look finds the
	// loops quiet.
	for deadline := time.Now().Add(5 * watchPolicyEvery); ; time.Sleep(10 * time.Millisecond) {
		if q, _ := state(); q {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the loops not quiet %v after their last query", 5*watchPolicyEvery)
		}
	}
	if _, n := state(); n != base {
		t.Errorf("GOMAXPROCS %d with the loops quiet, want %d", n, base)
	}
	if n := QuietSwitches() - switches; n != 1 {
		t.Errorf("%d quiet switches counted, want 1", n)
	}
	exchange(4) // they answer while quiet
	// A stream of queries, well above quietBelow a second for both loops,
	// until a look of the watcher has seen a second of it.
	for deadline := time.Now().Add(5 * watchPolicyEvery); ; {
		exchange(50)
		if q, n := state(); !q {
			if n != base+2 {
				t.Errorf("GOMAXPROCS %d with the loops busy again, want %d", n, base+2)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the loops still quiet after %v of queries", 5*watchPolicyEvery)
		}
	}
}

// startThreaded starts a server of two threaded UDP loops on a fake
// handler (the test skipped under a real-time policy) and returns its
// address and GOMAXPROCS before it; at the test's end it shuts the server
// down and checks that GOMAXPROCS is back at that.
func startThreaded(t *testing.T) (addr string, base int) {
	t.Helper()
	if p := anyThreadPolicy(); realtime(p) {
		t.Skipf("the test runs under %s already", policyName(p))
	}
	base = runtime.GOMAXPROCS(0)
	s, err := Start(Config{Listen: []string{"127.0.0.1:0"}, UDPSockets: 2, Logger: quiet()}, &fakeHandler{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if n := runtime.GOMAXPROCS(0); n != base {
			t.Errorf("GOMAXPROCS %d after Shutdown, want %d", n, base)
		}
	})
	return s.Addrs()[0].String(), base
}
