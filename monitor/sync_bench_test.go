package monitor

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/probe"
	"github.com/poolnsd/poolnsd/zones/zonestest"
)

// BenchmarkSyncChange is what the monitor pays for one change in a pool
// of n elements (issue 13 part 3): an element's load changes (a refresh)
// and sync brings the prober's targets up to date. In a pool nobody
// probes (probe=none) and in one whose every element is probed here
// (probe=tcp); the figure should not grow with n.
func BenchmarkSyncChange(b *testing.B) {
	for _, probed := range []bool{false, true} {
		for _, n := range []int{1000, 1_000_000} {
			name := fmt.Sprintf("probe=none/n=%d", n)
			if probed {
				name = fmt.Sprintf("probe=tcp/n=%d", n)
			}
			b.Run(name, func(b *testing.B) { benchSyncChange(b, n, probed) })
		}
	}
}

func benchSyncChange(b *testing.B, n int, probed bool) {
	const pool = "big.pool.test."
	hs := handlespace.New(handlespace.Options{RegistrarID: 7})
	var probe0 *handlespace.ProbeSpec
	if probed {
		probe0 = &handlespace.ProbeSpec{Kind: "tcp", Interval: time.Hour, Timeout: time.Second, Rise: 1, Fall: 1}
	}
	zone := "$ORIGIN pool.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 5\n@ NS ns1\nns1 A 192.0.2.53\n"
	zonestest.Apply(b, hs, zone)
	const chunk = 1 << 16
	groups := make([][]handlespace.Op, 0, chunk)
	for i := 0; i < n; i++ {
		e := &handlespace.Element{ID: uint32(i + 1), Label: fmt.Sprintf("e%d", i),
			Addrs: []netip.Addr{netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})},
			Port:  8080, Weight: 1, Home: 7, Probe: probe0}
		groups = append(groups, []handlespace.Op{{Pool: pool, Elem: e}})
		if len(groups) == chunk || i == n-1 {
			for _, err := range hs.Apply(groups, nil) {
				if err != nil {
					b.Fatal(err)
				}
			}
			groups = groups[:0]
		}
	}
	m := New(hs, Config{Self: 7, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Probe: probe.Config{Clock: probe.SystemClock()}})
	if want := 0; !probed && m.Stats().Targets != want {
		b.Fatalf("%d targets, want %d", m.Stats().Targets, want)
	} else if probed && m.Stats().Targets != n {
		b.Fatalf("%d targets, want %d", m.Stats().Targets, n)
	}
	c0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		id := uint32(i%n + 1)
		if err := hs.Update(pool, id, func(e *handlespace.Element) { e.Load = uint32(i) }); err != nil {
			b.Fatal(err)
		}
		m.sync()
	}
	b.StopTimer()
	// CPU time, not wall-clock: the figure to compare on a loaded machine.
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
