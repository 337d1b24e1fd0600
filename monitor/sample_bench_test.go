package monitor_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/monitor"
	"github.com/poolnsd/poolnsd/probe"
	"github.com/poolnsd/poolnsd/zones/zonestest"
)

// sampleCounter counts finished samples and lets one wait for a count.
type sampleCounter struct {
	mu   sync.Mutex
	n    int64
	want int64
	hit  chan struct{}
}

func (c *sampleCounter) add() {
	c.mu.Lock()
	c.n++
	if c.hit != nil && c.n >= c.want {
		close(c.hit)
		c.hit = nil
	}
	c.mu.Unlock()
}

func (c *sampleCounter) load() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *sampleCounter) wait(n int64) {
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

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSampler is the load that nearest.rtt_interval adds to one
// registrar of five serving a nearest pool of 10 000 elements: the 8 000
// that the four others are home for are sampled at the default interval
// of 10 s, on the real clock, by the real http (kept connections) or tcp
// checker, against 100 loopback listeners in this process (so both ends'
// CPU counts, the listeners' included). It reports the samples a second
// (samples/s), the process's CPU per sample (cpu-ns/sample) and the share
// of one core (cpu-%core) over b.N samples.
func BenchmarkSampler(b *testing.B) {
	for _, kind := range []string{"http", "tcp"} {
		b.Run(kind, func(b *testing.B) { benchSampler(b, kind, 8000, 10*time.Second) })
	}
}

func benchSampler(b *testing.B, kind string, n int, interval time.Duration) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	var addrs []netip.AddrPort
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		addrs = append(addrs, netip.MustParseAddrPort(ln.Addr().String()))
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					buf := make([]byte, 1024)
					for {
						if _, err := c.Read(buf); err != nil {
							return
						}
						c.Write(resp)
					}
				}()
			}
		}()
	}
	hs := handlespace.New(handlespace.Options{RegistrarID: self, Probing: true})
	probeSpec := "probe=tcp"
	if kind == "http" {
		probeSpec = "probe=http:/healthz"
	}
	zone := zoneHead + "$POOL near policy=nearest " + probeSpec + " interval=1s timeout=500ms\n"
	zonestest.Apply(b, hs, zone)
	edits := make([]handlespace.Edit, n)
	for i := range edits {
		ap := addrs[i%len(addrs)]
		edits[i] = handlespace.Edit{Pool: near, Put: &handlespace.Element{
			ID: uint32(i + 1), Label: handlespace.LabelOf(fmt.Sprintf("e%d", i)), Addrs: handlespace.AddrsOf(ap.Addr()), Port: ap.Port(),
			Weight: 1, Health: handlespace.HealthUp, Home: elsewhere, RTT: time.Millisecond,
		}}
	}
	for i, err := range hs.ApplyEdits(edits) {
		if err != nil {
			b.Fatalf("element %d: %v", i, err)
		}
	}
	var count sampleCounter
	base := probe.DefaultCheckers()
	counted := map[string]probe.Checker{}
	for k, c := range base {
		counted[k] = probe.CheckerFunc(func(ctx context.Context, t probe.Target) probe.Result {
			r := c.Check(ctx, t)
			if r.OK {
				count.add()
			}
			return r
		})
	}
	m := monitor.New(hs, monitor.Config{Self: self, Logger: discard(), RTTInterval: interval,
		Sample: probe.Config{Checkers: counted}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		for _, c := range base {
			if f, ok := c.(probe.Forgetter); ok {
				for i := range n {
					f.Forget(monitor.Key(near, uint32(i+1)))
				}
			}
		}
	}()
	count.wait(2 * int64(n)) // two rounds: every element (and its connection) in its steady schedule
	late0 := m.SampleStats().Late
	b.ResetTimer()
	start, c0, n0 := time.Now(), processCPU(b), count.load()
	count.wait(n0 + int64(b.N))
	b.StopTimer()
	wall, c1, n1 := time.Since(start), processCPU(b), count.load()
	b.ReportMetric(float64(n1-n0)/wall.Seconds(), "samples/s")
	b.ReportMetric(float64(c1-c0)/float64(n1-n0), "cpu-ns/sample")
	b.ReportMetric(100*float64(c1-c0)/float64(wall), "cpu-%core")
	st := m.SampleStats()
	if st.Confirms != 0 {
		b.Errorf("sampler stats %+v: confirming probes", st)
	}
	b.ReportMetric(float64(st.Late-late0)/float64(n1-n0), "late/sample")
}
