package dnssec

import (
	"encoding/binary"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Benchmarks of the signer: go test -run '^$' -bench . -benchmem ./dnssec

func benchZone(b *testing.B, alg uint8, cacheSize int64) *Zone {
	b.Helper()
	k, err := Generate("pool.example.", alg, FlagsCSK, Timing{})
	if err != nil {
		b.Fatal(err)
	}
	s := NewSigner(Options{CacheSize: cacheSize})
	s.SetKeys(keysOf(b, time.Now(), k))
	return s.Zone("pool.example.")
}

// fillPool puts into set the A RRset of web.pool.example. of 3 addresses
// numbered from i: a new RRset for each i.
func fillPool(set *RRset, i uint32) {
	set.Reset("web.pool.example.", dns.TypeA, 5)
	var a [4]byte
	for j := range uint32(3) {
		binary.BigEndian.PutUint32(a[:], 0x0A000000+3*i+j)
		set.Add(a[:])
	}
}

// BenchmarkSignCold: a pool answer's A RRset never seen before (the
// worst case: a rand policy over a large pool): canonical form, cache
// miss and insertion, one signature.
func BenchmarkSignCold(b *testing.B) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		b.Run(AlgorithmName(alg), func(b *testing.B) {
			z := benchZone(b, alg, 0)
			var set RRset
			b.ReportAllocs()
			i := uint32(0)
			cpu := cpuTime()
			for b.Loop() {
				i++
				fillPool(&set, i)
				if _, err := z.SignSet(&set); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkCacheHit: the same pool answer again: from packed RDATA (the
// wire renderer's way) and from dns.RR records (the dns.Msg renderer's).
func BenchmarkCacheHit(b *testing.B) {
	z := benchZone(b, dns.ECDSAP256SHA256, 0)
	b.Run("wire", func(b *testing.B) {
		var set RRset
		fillPool(&set, 1)
		z.SignSet(&set)
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			fillPool(&set, 1)
			if _, err := z.SignSet(&set); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	})
	b.Run("records", func(b *testing.B) {
		rrs := rrs(b, "web.pool.example. 5 IN A 10.0.0.1", "web.pool.example. 5 IN A 10.0.0.2", "web.pool.example. 5 IN A 10.0.0.3")
		z.Sign(rrs)
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			if _, err := z.Sign(rrs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	})
	b.Run("nxdomain", func(b *testing.B) {
		z.NXDomain("nosuch.pool.example.", 5)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := z.NXDomain("nosuch.pool.example.", 5); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCacheMemory reports the heap that a cache entry of a pool
// answer (3 A records, one P-256 signature) takes, and what the cache
// counts for it against its bound.
func BenchmarkCacheMemory(b *testing.B) {
	const n = 20000
	z := benchZone(b, dns.ECDSAP256SHA256, 1<<30)
	var set RRset
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range uint32(n) {
		fillPool(&set, i)
		if _, err := z.SignSet(&set); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := z.s.CacheStats()
	runtime.KeepAlive(z)
	for b.Loop() {
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-B/entry")
	b.ReportMetric(float64(st.Bytes)/n, "counted-B/entry")
}

// cpuTime returns the CPU time this process has used (user and system),
// in nanoseconds: on a loaded machine, a figure per operation that other
// processes do not inflate (GC and other goroutines of this one count).
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
