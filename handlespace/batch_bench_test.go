package handlespace

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// benchElem is registered element i.
func benchElem(i int) *Element {
	a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	return &Element{ID: uint32(i + 1), Label: LabelOf(fmt.Sprintf("pe%d", i)), Addrs: AddrsOf(a), Port: 80, Weight: 1,
		Expires: ExpiryOf(time.Unix(2e9, 0)), Lease: time.Minute, Owner: OwnerOf("tsig:bench.")}
}

// benchSpace returns a handlespace with n registered elements spread over
// pools pools of zone z.test. (pool p holds elements i with i%pools == p).
func benchSpace(b testing.TB, n, pools int) *Handlespace {
	hs := New(Options{RegistrarID: 1})
	if err := hs.ApplyZones([]ZoneDef{zoneDef(b)}); err != nil {
		b.Fatal(err)
	}
	const chunk = 65536
	var groups [][]Op
	for i := 0; i < n; i++ {
		groups = append(groups, []Op{{Pool: fmt.Sprintf("p%d.z.test.", i%pools), Elem: benchElem(i)}})
		if len(groups) == chunk || i == n-1 {
			for _, err := range hs.Apply(groups, nil) {
				if err != nil {
					b.Fatal(err)
				}
			}
			groups = groups[:0]
		}
	}
	return hs
}

// BenchmarkRegisterDeregister measures a registration and a deregistration
// (the figure is per operation: ns/op is for one of them) with 100 000
// registered elements, in 1 000 pools of 100 and in one pool of 100 000,
// applied one operation at a time and in batches of 64 and 1024 (what
// group commit gives under load).
func BenchmarkRegisterDeregister(b *testing.B) {
	const n = 100_000
	for _, layout := range []struct {
		name  string
		pools int
	}{{"pools=1000x100", 1000}, {"pools=1x100000", 1}} {
		hs := benchSpace(b, n, layout.pools)
		names := make([]string, layout.pools)
		for p := range names {
			names[p] = fmt.Sprintf("p%d.z.test.", p)
		}
		// One operation at a time (Do), for comparison.
		b.Run(layout.name+"/Register+Deregister", func(b *testing.B) {
			next := 2 * n
			ops := 0
			b.ReportAllocs()
			for b.Loop() {
				e := benchElem(next)
				if err := hs.Do(Op{Pool: names[next%layout.pools], Elem: e}); err != nil {
					b.Fatal(err)
				}
				if err := hs.Do(Op{Pool: names[next%layout.pools], ID: e.ID}); err != nil {
					b.Fatal(err)
				}
				next++
				ops += 2
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ops), "ns/element-op")
		})
		for _, batch := range []int{1, 64, 1024} {
			b.Run(fmt.Sprintf("%s/batch=%d", layout.name, batch), func(b *testing.B) {
				next := n
				groups := make([][]Op, 0, batch)
				ops := 0
				b.ReportAllocs()
				for b.Loop() {
					// batch registrations of new elements, then their
					// deregistrations: 2*batch operations.
					groups = groups[:0]
					first := next
					for k := 0; k < batch; k++ {
						groups = append(groups, []Op{{Pool: names[next%layout.pools], Elem: benchElem(next)}})
						next++
					}
					for _, err := range hs.Apply(groups, nil) {
						if err != nil {
							b.Fatal(err)
						}
					}
					groups = groups[:0]
					for k := first; k < next; k++ {
						groups = append(groups, []Op{{Pool: names[k%layout.pools], ID: uint32(k + 1)}})
					}
					for _, err := range hs.Apply(groups, nil) {
						if err != nil {
							b.Fatal(err)
						}
					}
					ops += 2 * batch
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ops), "ns/element-op")
			})
		}
	}
}

// BenchmarkPolicyChange measures single changes of one pool of 100 000
// elements under every policy: a registration and a deregistration
// (ns/element-op per operation), and a load report (a new Load, which
// moves the element in lu's order and resets lud's degradation) of an
// existing element. For hash the table itself is rebuilt in the
// background (not measured here; see policy/hash_big.go).
func BenchmarkPolicyChange(b *testing.B) {
	const n = 100_000
	// nearest+sites: nearest with elements at 4 sites (and a quarter at
	// none), RTTs known: the set's tree by site is kept too.
	for _, name := range append(PolicyNames(), "nearest+sites") {
		policy, sited := strings.CutSuffix(name, "+sites")
		site := func(e *Element, i int) *Element {
			if sited {
				e.Site = SiteNameOf([]string{"", "b-fra", "b-ams", "b-lon", "b-nyc"}[i%5])
				e.RTT = time.Duration(1+i%97) * 100 * time.Microsecond
			}
			return e
		}
		spec := DefaultPoolSpec()
		spec.Policy = policy
		hs := New(Options{RegistrarID: 1, DefaultSpec: spec})
		if err := hs.ApplyZones([]ZoneDef{zoneDef(b)}); err != nil {
			b.Fatal(err)
		}
		var groups [][]Op
		for i := 0; i < n; i++ {
			e := site(benchElem(i), i)
			e.Load, e.LoadDeg, e.Weight, e.Priority = uint32(i%7)*1000, 100, uint32(1+i%5), uint32(i%3)
			groups = append(groups, []Op{{Pool: "p0.z.test.", Elem: e}})
		}
		for _, err := range hs.Apply(groups, nil) {
			if err != nil {
				b.Fatal(err)
			}
		}
		b.Run(name+"/register+deregister", func(b *testing.B) {
			next, ops := 2*n, 0
			b.ReportAllocs()
			for b.Loop() {
				e := site(benchElem(next), next)
				if err := hs.Do(Op{Pool: "p0.z.test.", Elem: e}); err != nil {
					b.Fatal(err)
				}
				if err := hs.Do(Op{Pool: "p0.z.test.", ID: e.ID}); err != nil {
					b.Fatal(err)
				}
				next++
				ops += 2
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ops), "ns/element-op")
		})
		b.Run(name+"/load-report", func(b *testing.B) {
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				load := uint32(i%11) * 900
				if err := hs.Update("p0.z.test.", uint32(1+(i*7919)%n), func(e *Element) { e.Load = load }); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
