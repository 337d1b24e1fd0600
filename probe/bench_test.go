package probe_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/probe"
)

// counter counts results and lets one wait for a count without polling.
type counter struct {
	mu   sync.Mutex
	n    int64
	want int64
	hit  chan struct{}
}

func (c *counter) add() {
	c.mu.Lock()
	c.n++
	if c.hit != nil && c.n >= c.want {
		close(c.hit)
		c.hit = nil
	}
	c.mu.Unlock()
}

func (c *counter) load() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// wait returns once the count is at least n.
func (c *counter) wait(n int64) {
	c.mu.Lock()
	if c.n >= n {
		c.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	c.want, c.hit = n, ch
	c.mu.Unlock()
	<-ch
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSchedulerOverhead is the CPU the Scheduler itself spends per
// probe, on the real clock: 10 000 targets at a 100 ms interval (100 000
// probes a second) with a checker that passes at once. It reports CPU
// time per probe (cpu-ns/probe) beside the wall time.
func BenchmarkSchedulerOverhead(b *testing.B) {
	var n counter
	pass := probe.CheckerFunc(func(ctx context.Context, t probe.Target) probe.Result {
		return probe.Result{OK: true, RTT: 50 * time.Microsecond}
	})
	s := probe.NewScheduler(probe.Config{Checkers: map[string]probe.Checker{"fake": pass}},
		func(probe.Result, probe.Tracker, bool) { n.add() })
	spec := handlespace.ProbeSpec{Kind: "fake", Interval: 100 * time.Millisecond, Timeout: 50 * time.Millisecond, Rise: 2, Fall: 2, Jitter: 0.1}
	s.Set(fakeTargets(10000, spec))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	n.wait(20000) // warm up: two rounds
	measure(b, &n)
}

// measure waits for b.N more probes and reports the CPU time and the
// allocations per probe of the whole process.
func measure(b *testing.B, n *counter) {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	c0, n0 := cpuTime(b), n.load()
	n.wait(n0 + int64(b.N))
	b.StopTimer()
	c1, n1 := cpuTime(b), n.load()
	runtime.ReadMemStats(&m1)
	b.ReportMetric(float64(c1-c0)/float64(n1-n0), "cpu-ns/probe")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(n1-n0), "allocs/probe")
}

// BenchmarkHTTPKeepAlive is the CPU per probe of the http checker on kept
// connections to a loopback server in this process (so both ends count),
// driven by a Scheduler: 1000 targets at a 100 ms interval.
func BenchmarkHTTPKeepAlive(b *testing.B) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	benchChecker(b, "http", "/healthz", func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 1024)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
			c.Write(resp)
		}
	})
}

// BenchmarkTCPConnect is the CPU per probe of the tcp checker (a connection
// opened and reset per probe) to a loopback listener in this process (so
// both ends count), driven by a Scheduler: 1000 targets at a 100 ms
// interval.
func BenchmarkTCPConnect(b *testing.B) {
	benchChecker(b, "tcp", "", func(c net.Conn) { c.Close() })
}

// benchChecker measures the probes of kind (with target) of 1000 targets
// at a 100 ms interval, driven by a Scheduler, against a loopback listener
// in this process that hands each connection to serve.
func benchChecker(b *testing.B, kind, target string, serve func(net.Conn)) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	serveConns(ln, serve)
	addr := netip.MustParseAddrPort(ln.Addr().String())
	var n counter
	s := probe.NewScheduler(probe.Config{}, func(r probe.Result, _ probe.Tracker, _ bool) {
		if r.OK {
			n.add()
		}
	})
	spec := handlespace.ProbeSpec{Kind: kind, Target: target, Interval: 100 * time.Millisecond, Timeout: 50 * time.Millisecond, Rise: 2, Fall: 2, Jitter: 0.1}
	ts := make([]probe.Target, 1000)
	for i := range ts {
		ts[i] = probe.Target{Key: fmt.Sprintf("p/%d", i), Addr: addr, Spec: spec}
	}
	s.Set(ts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	n.wait(2000)
	measure(b, &n)
}
