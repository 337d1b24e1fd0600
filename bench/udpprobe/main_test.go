package main

import (
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

// responder answers on 127.0.0.1:0 each query that keep says to, as a DNS
// response (the QR bit set) when resp is true; it stops at the test's end.
func responder(t *testing.T, keep func(i int) bool, resp bool) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { c.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for i := 0; ; i++ {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if !keep(i) || n < 12 {
				continue
			}
			if resp {
				buf[2] |= 0x80
			}
			c.WriteToUDP(buf[:n], from)
		}
	}()
	return c.LocalAddr().String()
}

// The tests send at most 100 queries: a socket's default receive buffer
// (212 992 bytes) holds about 250 of them, so that none is dropped even
// when the responder or the probe's reader gets no core for the whole
// run, as can happen on a loaded machine (400 queries once lost 43).

func TestProbeTimesEveryReply(t *testing.T) {
	addr := responder(t, func(int) bool { return true }, true)
	// The probe stops when every reply is in: the timeout is only how
	// long a loaded machine may take to answer.
	const timeout = 10 * time.Second
	start := time.Now()
	r, err := probe(addr, "web.pool.test.", "A", 2000, 50*time.Millisecond, timeout, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.sent != 100 || r.lost() != 0 || r.bad != 0 {
		t.Fatalf("sent %d, lost %d, bad %d; want 100, 0, 0", r.sent, r.lost(), r.bad)
	}
	if d := time.Since(start); d >= timeout {
		t.Errorf("probe took %v with every reply in; want it to stop before the timeout (%v)", d, timeout)
	}
	for i := range r.server {
		// The kernel stamps the reply when it is delivered, before the
		// probe reads it; both after the query was sent (all by the
		// wall clock: wallNow).
		if r.server[i] <= 0 || r.server[i] > r.client[i] {
			t.Fatalf("reply %d: server latency %v, client %v; want 0 < server <= client", i, r.server[i], r.client[i])
		}
	}
}

func TestProbeCountsLostAndBad(t *testing.T) {
	// With queries lost the probe waits the whole timeout: long enough
	// for a loaded machine to answer the others.
	const timeout = time.Second
	addr := responder(t, func(i int) bool { return i%4 != 0 }, true)
	r, err := probe(addr, "web.pool.test.", "SRV", 2000, 50*time.Millisecond, timeout, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.sent != 100 || r.lost() != 25 || r.bad != 0 {
		t.Fatalf("sent %d, lost %d, bad %d; want 100, 25, 0", r.sent, r.lost(), r.bad)
	}

	addr = responder(t, func(int) bool { return true }, false) // echoes queries back
	r, err = probe(addr, "web.pool.test.", "A", 1000, 50*time.Millisecond, timeout, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.sent != 50 || r.lost() != 50 || r.bad != 50 {
		t.Fatalf("sent %d, lost %d, bad %d; want 50, 50, 50", r.sent, r.lost(), r.bad)
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 1000; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := percentiles(ds)
	want := [5]float64{500, 900, 990, 999, 1000}
	if got != want {
		t.Fatalf("percentiles = %v, want %v", got, want)
	}
	if percentiles(nil) != [5]float64{} {
		t.Fatal("percentiles of none should be zeros")
	}
}

// TestCPUClock: the CPU clock of a process, read by its ID, moves by the
// CPU it uses.
func TestCPUClock(t *testing.T) {
	c0, ok := cpuClock(os.Getpid())
	if !ok {
		t.Skip("no CPU clock of a process here")
	}
	// Spins until the clock has moved by 20 ms: on a loaded machine the
	// spinning thread may get a fraction of a core, so the time it takes
	// is no measure; the clock must move, and by no more than the
	// machine's cores could give in that time.
	x, start := 0, time.Now()
	var d time.Duration
	for d < 20*time.Millisecond && time.Since(start) < 10*time.Second {
		for range 10000 {
			x++
		}
		c1, _ := cpuClock(os.Getpid())
		d = c1 - c0
	}
	wall := time.Since(start)
	if d < 20*time.Millisecond || d > wall*time.Duration(runtime.NumCPU())+time.Millisecond {
		t.Errorf("%v of spinning moved the CPU clock by %v (%d); want at least 20 ms, at most %d cores' time", wall, d, x, runtime.NumCPU())
	}
	if _, ok := cpuClock(0); ok {
		t.Error("a clock for process 0")
	}
}
