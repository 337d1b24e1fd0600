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
//     one address, expiry);
//   - nil: the same layout, every pointer word nil;
//   - noscan: an object of the same size without pointers;
//   - onenil, oneshared: an object of the same size with one pointer
//     word, nil or to one shared object.
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
		"nil": func(i int) *Element { return &Element{ID: uint32(i + 1)} },
	}
	for _, name := range []string{"today", "nil", "noscan", "onenil", "oneshared"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				switch name {
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
					b.ReportMetric(modelGC(n, elems[name]), "ms/GC")
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
