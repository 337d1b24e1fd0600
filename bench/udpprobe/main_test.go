package main

import (
	"net"
	"os"
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

func TestProbeTimesEveryReply(t *testing.T) {
	addr := responder(t, func(int) bool { return true }, true)
	r, err := probe(addr, "web.pool.test.", "A", 2000, 200*time.Millisecond, 300*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.sent != 400 || r.lost() != 0 || r.bad != 0 {
		t.Fatalf("sent %d, lost %d, bad %d; want 400, 0, 0", r.sent, r.lost(), r.bad)
	}
	for i := range r.server {
		// The kernel stamps the reply when it is delivered, before the
		// probe reads it; both after the query was sent.
		if r.server[i] <= 0 || r.server[i] > r.client[i] {
			t.Fatalf("reply %d: server latency %v, client %v; want 0 < server <= client", i, r.server[i], r.client[i])
		}
	}
}

func TestProbeCountsLostAndBad(t *testing.T) {
	addr := responder(t, func(i int) bool { return i%4 != 0 }, true)
	r, err := probe(addr, "web.pool.test.", "SRV", 2000, 200*time.Millisecond, 300*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.sent != 400 || r.lost() != 100 || r.bad != 0 {
		t.Fatalf("sent %d, lost %d, bad %d; want 400, 100, 0", r.sent, r.lost(), r.bad)
	}

	addr = responder(t, func(int) bool { return true }, false) // echoes queries back
	r, err = probe(addr, "web.pool.test.", "A", 1000, 50*time.Millisecond, 300*time.Millisecond, 0)
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
	x := 0
	for start := time.Now(); time.Since(start) < 20*time.Millisecond; {
		x++
	}
	c1, _ := cpuClock(os.Getpid())
	if d := c1 - c0; d < 5*time.Millisecond || d > 5*time.Second {
		t.Errorf("20 ms of spinning moved the CPU clock by %v (%d)", d, x)
	}
	if _, ok := cpuClock(0); ok {
		t.Error("a clock for process 0")
	}
}
