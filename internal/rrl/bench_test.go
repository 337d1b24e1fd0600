package rrl

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkDecide: one decision for an IPv4 or IPv6 client, on a bucket
// that sends (under its rate) or cuts (a flood), and for many prefixes
// (the table churning).
func BenchmarkDecide(b *testing.B) {
	for _, c := range []struct {
		name string
		ip   string
		rate int
	}{
		{"ipv4-send", "192.0.2.1", 1 << 30},
		{"ipv4-cut", "192.0.2.1", 1},
		{"ipv6-cut", "2001:db8::1", 1},
	} {
		b.Run(c.name, func(b *testing.B) {
			l := newLimiter(b, Config{ResponsesPerSecond: c.rate})
			r := resp(c.ip, Answer, "web.pool.example.", 1)
			now := time.Now()
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				l.Decide(r, now)
			}
		})
	}
	b.Run("ipv4-many-prefixes", func(b *testing.B) {
		// 65 536 prefixes in turn, spread over the default table.
		l := newLimiter(b, Config{ResponsesPerSecond: 5})
		r := resp("10.0.0.1", NXDomain, "pool.example.", 1)
		now := time.Now()
		b.ReportAllocs()
		defer reportCPU(b)()
		i := 0
		for b.Loop() {
			r.Client = netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1})
			l.Decide(r, now)
			i += 7919
		}
	})
}

// BenchmarkDecideParallel: decisions from every P (2 on this machine, as
// two UDP loops), on one flooded bucket (the same lock) or on a bucket
// each (different shards, most likely).
func BenchmarkDecideParallel(b *testing.B) {
	for _, shared := range []bool{true, false} {
		name := "own-bucket"
		if shared {
			name = "one-bucket"
		}
		b.Run(name, func(b *testing.B) {
			l := newLimiter(b, Config{ResponsesPerSecond: 5})
			var id atomic.Int32
			now := time.Now()
			b.ReportAllocs()
			defer reportCPU(b)()
			b.RunParallel(func(pb *testing.PB) {
				ip := "192.0.2.1"
				if !shared {
					ip = fmt.Sprintf("10.%d.0.1", id.Add(1))
				}
				r := &Response{Client: netip.MustParseAddr(ip), Class: Answer, Name: "web.pool.example.", Type: 1}
				for pb.Next() {
					l.Decide(r, now)
				}
			})
		})
	}
}
