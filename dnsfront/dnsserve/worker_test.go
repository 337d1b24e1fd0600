package dnsserve

import (
	"bytes"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// goid is the calling goroutine's ID, from its stack's header.
func goid() int {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	id, _ := strconv.Atoi(string(b[:bytes.IndexByte(b, ' ')]))
	return id
}

// eventually waits (10 s at most) until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("still not %s after 10 s", what)
		}
	}
}

// workerSocket is a Socket with Go's workers, as a loop's.
func workerSocket() *Socket { return &Socket{work: make(chan func()), quit: make(chan struct{})} }

// TestGoReusesWorker: with a loop, the work of a second Go runs on the
// goroutine that ran the first (whose stack has grown), not on a new one;
// stopWorkers ends it.
func TestGoReusesWorker(t *testing.T) {
	s := workerSocket()
	ids := make(chan int, 2)
	s.Go(func() { ids <- goid() })
	first := <-ids
	s.inflight.Wait()
	eventually(t, "one worker idle", func() bool { return s.idle.Load() == 1 })
	s.Go(func() { ids <- goid() })
	if second := <-ids; second != first {
		t.Fatalf("the second Go ran on goroutine %d, the first on %d", second, first)
	}
	s.inflight.Wait()
	eventually(t, "one worker idle", func() bool { return s.idle.Load() == 1 })
	base := runtime.NumGoroutine()
	s.stopWorkers()
	eventually(t, "the worker ended", func() bool { return s.idle.Load() == 0 && runtime.NumGoroutine() == base-1 })
}

// TestGoIdleWorkersBounded: after a burst of work at once, at most
// maxIdleWorkers workers wait for more; the others end.
func TestGoIdleWorkersBounded(t *testing.T) {
	s := workerSocket()
	base := runtime.NumGoroutine()
	release := make(chan struct{})
	const burst = 3 * maxIdleWorkers
	for range burst {
		s.Go(func() { <-release })
	}
	close(release)
	s.inflight.Wait()
	eventually(t, "maxIdleWorkers workers left", func() bool {
		return s.idle.Load() == maxIdleWorkers && runtime.NumGoroutine() == base+maxIdleWorkers
	})
	s.stopWorkers()
	eventually(t, "every worker ended", func() bool { return runtime.NumGoroutine() == base })
}

// TestGoWithoutLoop: a Socket without a loop runs each Go's work on a
// goroutine that ends with it.
func TestGoWithoutLoop(t *testing.T) {
	s := &Socket{}
	base := runtime.NumGoroutine()
	done := make(chan struct{})
	s.Go(func() { close(done) })
	<-done
	s.inflight.Wait()
	eventually(t, "the goroutine ended", func() bool { return runtime.NumGoroutine() == base })
}
