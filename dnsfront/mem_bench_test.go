package dnsfront

import (
	"fmt"
	"math"
	"net/netip"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/regcommit"
	"github.com/poolnsd/poolnsd/store"
)

type nopStore struct{}

func (nopStore) Commit([]store.Write) error { return nil }

// BenchmarkMemoryPerElement measures the heap that registered elements
// take in a serving poolnsd: the handlespace's views, the DNS front's
// packed records (every pool queried for A and SRV, so that every element
// is packed) and the registrar's lease wheel and counts, for 1 000 000
// elements in 1 000 pools of 1 000 and in one pool. It runs once per
// layout (-benchtime 1x); the figure is B/element, HeapAlloc after GC over
// the heap before, per element. Beside it, what a collection has to mark:
// heap objects and scannable bytes (runtime/metrics /gc/scan/heap:bytes)
// per element, and ms/GC, the CPU time of a full collection with
// GOMAXPROCS=1 (the best of three; what a server on one CPU loses to
// the mark phase of each cycle, with the elements making most of the
// heap). The elements are made as a registration or the store makes
// them: each with its own owner string. /unqueried: the same elements,
// none of them packed (a pool nobody asks for; bench/bigpool's big
// pool). The store's bbolt file is mapped memory (page cache), not heap,
// and is not counted.
func BenchmarkMemoryPerElement(b *testing.B) {
	for _, c := range []struct {
		n, pools int
		name     string
	}{{1_000_000, 1000, ""}, {1_000_000, 1, ""}, {1_000_000, 1, "/unqueried"}} {
		b.Run(fmt.Sprintf("n=%d/pools=%d%s", c.n, c.pools, c.name), func(b *testing.B) {
			for b.Loop() {
				m := measureElements(b, c.n, c.pools, c.name == "")
				b.ReportMetric(m.bytes, "B/element")
				b.ReportMetric(m.objects, "objects/element")
				b.ReportMetric(m.scan, "scan-B/element")
				b.ReportMetric(m.gcMS, "ms/GC")
			}
		})
	}
}

// TestMemoryPerElement runs the measurement at 50 000 elements in make
// test and holds it to the 1 KiB budget.
func TestMemoryPerElement(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 50 000 elements")
	}
	if per := memoryPerElement(t, 50_000, 50); per > 1024 {
		t.Errorf("%.0f bytes per registered element, want at most 1024", per)
	}
}

// elementCost is what n registered elements cost the heap and the
// collector, per element (ms/GC: the whole heap).
type elementCost struct{ bytes, objects, scan, gcMS float64 }

func memoryPerElement(t testing.TB, n, pools int) float64 {
	return measureElements(t, n, pools, true).bytes
}

// gcMetrics reads the heap's objects and scannable bytes.
func gcMetrics() (objects, scan uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/objects:objects"}, {Name: "/gc/scan/heap:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

func measureElements(t testing.TB, n, pools int, packed bool) elementCost {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	obj0, scan0 := gcMetrics()
	hs := handlespace.New(handlespace.Options{RegistrarID: 1})
	if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "pool.test.", File: "t", Records: mustRRs(t, testZone)}}); err != nil {
		t.Fatal(err)
	}
	names := make([]string, pools)
	for p := range names {
		names[p] = fmt.Sprintf("p%d.pool.test.", p)
	}
	exp := time.Now().Add(time.Hour)
	const chunk = 1 << 16
	groups := make([][]handlespace.Op, 0, chunk)
	for i := 0; i < n; i++ {
		e := &handlespace.Element{ID: uint32(i + 1), Label: handlespace.LabelOf(fmt.Sprintf("pe%d", i)),
			Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})),
			Port:  8080, Weight: 1, Expires: handlespace.ExpiryOf(exp), Lease: time.Hour, Owner: handlespace.OwnerOf(strings.Clone("tsig:bench-key."))}
		groups = append(groups, []handlespace.Op{{Pool: names[i%pools], Elem: e}})
		if len(groups) == chunk || i == n-1 {
			for _, err := range hs.Apply(groups, nil) {
				if err != nil {
					t.Fatal(err)
				}
			}
			groups = groups[:0]
		}
	}
	reg := regcommit.New(hs, nopStore{}, regcommit.Config{Logger: discardLog()})
	h := NewHandler(hs, Config{Logger: discardLog()})
	w := &discard{}
	if !packed {
		names = nil
	}
	for _, name := range names {
		for _, qt := range []uint16{dns.TypeA, dns.TypeSRV} {
			m := new(dns.Msg)
			m.SetQuestion(name, qt)
			h.ServeDNS(w, m)
		}
	}
	// The SRV answers above pack only the elements that fit; pack every
	// element as queries of all of them would.
	for _, z := range hs.View().Zones() {
		if !packed {
			break
		}
		for _, hd := range z.PoolHandles() {
			pv := z.Pool(hd)
			pw := pv.Memo(buildPoolWire).(*poolWire)
			for e := range pv.Range() {
				pw.wireOf(e)
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	obj1, scan1 := gcMetrics()
	procs := runtime.GOMAXPROCS(1)
	gc := time.Duration(math.MaxInt64)
	for range 3 {
		c0 := cpuTime()
		runtime.GC()
		gc = min(gc, cpuTime()-c0)
	}
	runtime.GOMAXPROCS(procs)
	runtime.KeepAlive(hs)
	runtime.KeepAlive(h)
	reg.Close()
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	return elementCost{bytes: per(after.HeapAlloc, before.HeapAlloc), objects: per(obj1, obj0),
		scan: per(scan1, scan0), gcMS: float64(gc) / float64(time.Millisecond)}
}
