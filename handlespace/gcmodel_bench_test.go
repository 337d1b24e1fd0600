package handlespace

import (
	"fmt"
	"math"
	"net/netip"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// BenchmarkGCModel is a scratch model of what the collector's mark phase
// pays per element: 1 000 000 element-sized objects (each in the
// allocator's class of an Element) in leaves of 48, as a pool's tree
// holds them, and the CPU time of a full collection with GOMAXPROCS=1
// (getrusage, the best of three), per kind of element:
//
//   - today: elements as a registration makes them (label, site, owner,
//     one address, expiry); dual: the same with two addresses, IPv4 and
//     IPv6 (B/elem, objects/elem: the heap of an element, leaves left out);
//   - nil: the same layout, every pointer word nil;
//   - noscan: an object of the same size without pointers;
//   - onenil, oneshared: an object of the same size with one pointer
//     word, nil or to one shared object; twofront: with two nil pointer
//     words, first;
//   - noscancleanup: noscan, each object with a runtime.AddCleanup;
//   - q-today, q-noscan, q-noscanmap: queried elements (modelQueried).
func BenchmarkGCModel(b *testing.B) {
	const n = 1_000_000
	owner := strings.Clone("tsig:bench-key.")
	site := strings.Clone("site-a")
	exp := time.Now().Add(time.Hour)
	elems := map[string]func(i int) *Element{
		"today": func(i int) *Element {
			return &Element{ID: uint32(i + 1), Label: LabelOf(fmt.Sprintf("pe%d", i)), Owner: OwnerOf(owner), Site: SiteNameOf(site),
				Addrs: AddrsOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})),
				Port:  8080, Weight: 1, Expires: ExpiryOf(exp), Lease: time.Hour}
		},
		"dual": func(i int) *Element {
			return &Element{ID: uint32(i + 1), Label: LabelOf(fmt.Sprintf("pe%d", i)), Owner: OwnerOf(owner), Site: SiteNameOf(site),
				Addrs: AddrsOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
					netip.AddrFrom16([16]byte{0: 0x20, 1: 0x01, 2: 0x0d, 3: 0xb8, 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)})),
				Port: 8080, Weight: 1, Expires: ExpiryOf(exp), Lease: time.Hour}
		},
		"nil": func(i int) *Element { return &Element{ID: uint32(i + 1)} },
	}
	for _, name := range []string{"today", "dual", "nil", "noscan", "onenil", "oneshared", "twofront", "noscancleanup", "q-today", "q-noscan", "q-noscanmap"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				switch name {
				case "q-today", "q-noscan", "q-noscanmap":
					b.ReportMetric(modelQueried(n, name), "ms/GC")
					continue
				case "noscancleanup":
					b.ReportMetric(modelGC(n, func(i int) *[unsafe.Sizeof(Element{}) / 8]uint64 {
						p := new([unsafe.Sizeof(Element{}) / 8]uint64)
						p[0] = uint64(i)
						runtime.AddCleanup(p, func(uint32) {}, uint32(i))
						return p
					}), "ms/GC")
					continue
				case "twofront":
					b.ReportMetric(modelGC(n, func(i int) *twoPtrFront {
						return &twoPtrFront{p: nil, q: nil, w: [len(twoPtrFront{}.w)]uint64{uint64(i)}}
					}), "ms/GC")
					continue
				case "onenil", "oneshared":
					var x *int
					if name == "oneshared" {
						x = new(int)
					}
					b.ReportMetric(modelGC(n, func(i int) *onePtr {
						return &onePtr{p: x, w: [len(onePtr{}.w)]uint64{uint64(i)}}
					}), "ms/GC")
					continue
				}
				if name == "noscan" {
					b.ReportMetric(modelGC(n, func(i int) *[unsafe.Sizeof(Element{}) / 8]uint64 {
						p := new([unsafe.Sizeof(Element{}) / 8]uint64)
						p[0] = uint64(i)
						return p
					}), "ms/GC")
				} else {
					var m0, m1 runtime.MemStats
					runtime.GC()
					runtime.ReadMemStats(&m0)
					var live []*Element
					b.ReportMetric(modelGC(n, func(i int) *Element {
						e := elems[name](i)
						if i == 0 {
							live = make([]*Element, 0, n) // after m0, counted below
						}
						live = append(live, e)
						return e
					}), "ms/GC")
					runtime.ReadMemStats(&m1)
					b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc-uint64(cap(live))*8-uint64(n/48+1)*(48*8+8))/n, "B/elem")
					b.ReportMetric(float64(m1.HeapObjects-m0.HeapObjects-2-uint64(n/48+1))/n, "objects/elem")
					runtime.KeepAlive(live)
				}
			}
		})
	}
}

// modelGC makes n objects by mk in leaves of 48 and returns the CPU time
// of a collection of them (gcCPU).
func modelGC[T any](n int, mk func(int) *T) float64 {
	leaves := make([]*[48]*T, 0, n/48+1)
	for i := 0; i < n; i++ {
		if i%48 == 0 {
			leaves = append(leaves, new([48]*T))
		}
		leaves[len(leaves)-1][i%48] = mk(i)
	}
	ms := gcCPU()
	runtime.KeepAlive(leaves)
	return ms
}

// gcCPU returns the CPU time in ms of a full collection with
// GOMAXPROCS=1, the best of three.
func gcCPU() float64 {
	runtime.GC()
	procs := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(procs)
	best := time.Duration(math.MaxInt64)
	for range 3 {
		c0 := processCPU()
		runtime.GC()
		best = min(best, processCPU()-c0)
	}
	return float64(best) / float64(time.Millisecond)
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// onePtr is an Element-sized object with one pointer word, first.
type onePtr struct {
	p *int
	w [unsafe.Sizeof(Element{})/8 - 1]uint64
}

// twoPtrFront is an Element-sized object with two nil pointer words,
// first.
type twoPtrFront struct {
	p, q *int
	w    [unsafe.Sizeof(Element{})/8 - 2]uint64
}

// modelWire is a queried element's material as the DNS front keeps it
// (dnsfront.elemWire: a memo head, a buffer and numbers; 128 bytes).
type modelWire struct {
	cell *int
	key  any
	buf  []byte
	w    [10]uint64
}

// modelQueried is modelGC for queried elements: each element's material
// (a modelWire) is reached from an array per leaf of 48 (the part's
// material, Pick.PartMemo) and
//
//   - q-today: from the element too (its memo cell, the last word of an
//     object with two pointer words);
//   - q-noscan: from nothing else, the element an object without
//     pointers (the element's memo kept beside it in the leaf);
//   - q-noscanmap: from a map of element ID to material too, the element
//     an object without pointers (the element's memo in a table per pool).
func modelQueried(n int, kind string) float64 {
	type twoPtr struct {
		p *int
		w [unsafe.Sizeof(Element{})/8 - 2]uint64
		m *modelWire
	}
	shared, key := new(int), any(strings.Clone("key"))
	var keep []any
	parts := make([]*[48]*modelWire, 0, n/48+1)
	m := map[uint32]*modelWire{}
	for i := 0; i < n; i++ {
		if i%48 == 0 {
			parts = append(parts, new([48]*modelWire))
		}
		w := &modelWire{cell: shared, key: key, buf: make([]byte, 0), w: [10]uint64{uint64(i)}}
		parts[len(parts)-1][i%48] = w
		switch kind {
		case "q-today":
			keep = append(keep, &twoPtr{p: nil, w: [len(twoPtr{}.w)]uint64{uint64(i)}, m: w})
		default:
			keep = append(keep, new([unsafe.Sizeof(Element{}) / 8]uint64))
			if kind == "q-noscanmap" {
				m[uint32(i)] = w
			}
		}
	}
	ms := gcCPU()
	runtime.KeepAlive(parts)
	runtime.KeepAlive(keep)
	runtime.KeepAlive(m)
	return ms
}
