package dnsserve

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/internal/nettest"
	"github.com/poolnsd/poolnsd/internal/proctest"
	"golang.org/x/sys/unix"
)

// threadsAtNice returns the threads of the process whose nice value is
// nice (/proc/self/task/TID/stat, field 19).
func threadsAtNice(t *testing.T, nice int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var tids []int
	for _, e := range ents {
		b, err := os.ReadFile("/proc/self/task/" + e.Name() + "/stat")
		if err != nil {
			continue // the thread has ended
		}
		// The fields after the command's, which may hold anything, in
		// parentheses: state is field 3, nice field 19.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 17 {
			t.Fatalf("/proc/self/task/%s/stat: %q", e.Name(), b)
		}
		if n, err := strconv.Atoi(f[16]); err == nil && n == nice {
			tid, _ := strconv.Atoi(e.Name())
			tids = append(tids, tid)
		}
	}
	return tids
}

// processNice is the nice value of the process (its main thread's).
func processNice(t *testing.T) int {
	t.Helper()
	n, err := threadNice(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// startNiced starts a server of two threaded UDP loops with UDPNice nice
// on a fake handler, logging to log, and returns its address and the
// function that shuts it down.
func startNiced(t *testing.T, nice int, log *slog.Logger) (addr string, stop func()) {
	t.Helper()
	if p := anyThreadPolicy(); realtime(p) {
		t.Skipf("the test runs under %s already", policyName(p))
	}
	s, err := Start(Config{Listen: []string{"127.0.0.1:0"}, UDPSockets: 2, UDPNice: nice, Logger: log}, &fakeHandler{})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s.Shutdown(ctx)
		})
	}
	t.Cleanup(stop)
	return s.Addrs()[0].String(), stop
}

// exchangeN sends n queries to addr and checks their answers.
func exchangeN(t *testing.T, addr string, n int) {
	t.Helper()
	for i := range n {
		id := uint16(i + 1)
		if r, err := nettest.Exchange(nil, query(id, "udp.test."), addr); err != nil || r.Id != id {
			t.Fatalf("UDP: %v, %v", r, err)
		}
	}
}

// TestUDPNice: with UDPNice the two threaded loops' threads, and no other,
// run at the process's nice plus it, and the loops answer; once the
// server has shut down those threads have ended (the goroutines that ran
// on them ended locked: no thread with the changed nice went back to the
// runtime's pool) and no thread of the process has that nice.
func TestUDPNice(t *testing.T) {
	base := processNice(t)
	if base-3 < -20 {
		t.Skipf("the process runs at nice %d already", base)
	}
	want := base - 3
	if tids := threadsAtNice(t, want); len(tids) != 0 {
		t.Fatalf("threads %v at nice %d before the server", tids, want)
	}
	failures := NiceFailures()
	addr, stop := startNiced(t, -3, quiet())
	exchangeN(t, addr, 8)
	var tids []int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if tids = threadsAtNice(t, want); len(tids) == 2 && NicedLoops() == 2 {
			break
		}
		if NiceFailures() != failures {
			t.Skip("the nice could not be set: no CAP_SYS_NICE")
		}
		if time.Now().After(deadline) {
			t.Fatalf("threads %v at nice %d, %d niced loops, 5 s after the start: want the 2 loops'\n%s", tids, want, NicedLoops(), taskNices())
		}
	}
	exchangeN(t, addr, 8)
	stop()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var left []int
		for _, tid := range tids {
			if _, err := os.Stat("/proc/self/task/" + strconv.Itoa(tid)); err == nil && tid != os.Getpid() {
				left = append(left, tid) // the main thread is parked, not ended
			}
		}
		at := threadsAtNice(t, want)
		if len(left) == 0 && len(at) == 0 && NicedLoops() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 s after Shutdown: the loops' threads %v still there, threads %v at nice %d, %d niced loops", left, at, want, NicedLoops())
		}
	}
}

// TestUDPNiceRestore: niceLoop's restore sets its thread's nice back (for
// the main thread, which does not end with a locked goroutine).
func TestUDPNiceRestore(t *testing.T) {
	base := processNice(t)
	if base-2 < -20 {
		t.Skipf("the process runs at nice %d already", base)
	}
	var logged atomic.Bool
	done := make(chan struct{})
	failures := NiceFailures()
	go func() {
		defer close(done)
		// Locked by niceLoop, the goroutine ends locked: its thread ends.
		was, _ := threadNice(0)
		restore := niceLoop(-2, quiet(), &logged)
		if restore == nil {
			return // no CAP_SYS_NICE: skipped below
		}
		if n, _ := threadNice(0); n != base-2 {
			t.Errorf("nice %d in the niced loop, want %d", n, base-2)
		}
		restore()
		if n, _ := threadNice(0); n != was {
			t.Errorf("nice %d after restore, want %d", n, was)
		}
	}()
	<-done
	if NiceFailures() != failures {
		t.Skip("the nice could not be set: no CAP_SYS_NICE")
	}
}

// TestUDPNiceFallback: where the nice may not be set (no CAP_SYS_NICE:
// the setter made to fail as setpriority does), the loops answer at the
// process's nice, each failure is counted and logged once for the server.
func TestUDPNiceFallback(t *testing.T) {
	defer func(f func(int, int) error) { setThreadNice = f }(setThreadNice)
	setThreadNice = func(int, int) error { return unix.EACCES }
	base := processNice(t)
	failures := NiceFailures()
	var logs proctest.Buffer
	addr, stop := startNiced(t, -7, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	exchangeN(t, addr, 8)
	for deadline := time.Now().Add(5 * time.Second); NiceFailures()-failures < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d failures counted 5 s after the start, want 2", NiceFailures()-failures)
		}
	}
	if n := NicedLoops(); n != 0 {
		t.Errorf("%d niced loops, want 0", n)
	}
	if tids := threadsAtNice(t, max(base-7, -20)); len(tids) != 0 {
		t.Errorf("threads %v at nice %d", tids, max(base-7, -20))
	}
	stop()
	if n := strings.Count(logs.String(), "dns.udp_nice needs CAP_SYS_NICE"); n != 1 {
		t.Errorf("%d log lines of the failure, want 1:\n%s", n, logs.String())
	}
	if n := NiceFailures() - failures; n != 2 {
		t.Errorf("%d failures counted, want 2", n)
	}
}

// taskNices lists every thread of the process with its nice, for a
// failure's message.
func taskNices() string {
	ents, _ := os.ReadDir("/proc/self/task")
	var b strings.Builder
	for _, e := range ents {
		tid, _ := strconv.Atoi(e.Name())
		n, err := threadNice(tid)
		fmt.Fprintf(&b, "%d:%d(%v) ", tid, n, err)
	}
	return b.String()
}

// TestUDPNiceRealtime: under a real-time policy found at the start (as
// holdP records it) the loops are neither locked nor niced: nice values
// mean nothing to a real-time thread.
func TestUDPNiceRealtime(t *testing.T) {
	base := processNice(t)
	procsRT.Store(true) // releaseP clears it as the last loop ends
	defer procsRT.Store(false)
	failures := NiceFailures()
	addr, stop := startNiced(t, -4, quiet())
	exchangeN(t, addr, 8)
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if n := NicedLoops(); n != 0 {
			t.Fatalf("%d niced loops under a real-time policy, want 0", n)
		}
		if tids := threadsAtNice(t, max(base-4, -20)); len(tids) != 0 {
			t.Fatalf("threads %v at nice %d under a real-time policy", tids, max(base-4, -20))
		}
	}
	stop()
	if n := NiceFailures() - failures; n != 0 {
		t.Errorf("%d failures counted, want 0 (nothing tried)", n)
	}
}
