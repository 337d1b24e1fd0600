package metrics

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
	_ "github.com/poolnsd/poolnsd/handlespace/policy" // the policies register themselves
	"github.com/poolnsd/poolnsd/internal/hstest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestViewCollectorFollowsChanges: through random registrations,
// removals, health, administrative, report, home and dispute changes over
// pools that come and go, the gauges of a collector that follows each
// pool by its changes equal a walk of every element of the view (the
// computation before it kept counts), after every scrape.
func TestViewCollectorFollowsChanges(t *testing.T) {
	hs := handlespace.New(handlespace.Options{RegistrarID: 7})
	rrs := hstest.RRs(t, "t. 3600 IN SOA ns.t. h.t. 1 3600 600 86400 30\nt. 3600 IN NS ns.t.\nns.t. 3600 IN A 192.0.2.1\n")
	if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "t.", File: "t.zone", Records: rrs}}); err != nil {
		t.Fatal(err)
	}
	self := func() uint32 { return 7 }
	c := newViewCollector(hs.View, self)
	rng := rand.New(rand.NewPCG(13, 5))
	for round := range 300 {
		for range rng.IntN(15) {
			pool := fmt.Sprintf("p%d.t.", rng.IntN(12))
			id := uint32(1 + rng.IntN(6))
			switch rng.IntN(6) {
			case 0, 1:
				a := netip.AddrFrom4([4]byte{10, 0, byte(id), 1})
				e := &handlespace.Element{ID: id, Label: fmt.Sprintf("e%d", id), Addrs: handlespace.AddrsOf(a), Port: 80, Weight: 1,
					Home: uint32(rng.IntN(3) * 7)}
				hs.Do(handlespace.Op{Pool: pool, Elem: e})
			case 2:
				hs.Do(handlespace.Op{Pool: pool, ID: id}) // may be missing: fine
			default:
				hs.Update(pool, id, func(e *handlespace.Element) {
					e.Health = handlespace.Health(rng.IntN(3))
					e.Admin = handlespace.Admin(rng.IntN(3))
					e.Reported = rng.IntN(4) == 0
					e.Home = uint32(rng.IntN(3) * 7)
					e.Vantage, e.Last = nil, false
					if rng.IntN(3) == 0 {
						e.Vantage = []handlespace.Vantage{{Registrar: 7, Health: handlespace.HealthDown}, {Registrar: 9, Health: handlespace.HealthUp}}
						e.Last = rng.IntN(2) == 0
					}
				})
			}
		}
		if rng.IntN(3) == 0 {
			continue // several rounds of changes between scrapes
		}
		got, want := gauges(t, c), walkGauges(hs.View(), 7)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: following the changes\n%s\nwalking every element\n%s", round, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// gauges are the collector's metrics as sorted "name{labels} value" lines.
func gauges(t testing.TB, c prometheus.Collector) []string {
	t.Helper()
	ch := make(chan prometheus.Metric, 4096)
	c.Collect(ch)
	close(ch)
	var out []string
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		var ls []string
		for _, l := range pb.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		name := m.Desc().String()
		name = name[strings.Index(name, `fqName: "`)+9:]
		name = name[:strings.Index(name, `"`)]
		out = append(out, fmt.Sprintf("%s{%s} %g", name, strings.Join(ls, ","), pb.GetGauge().GetValue()))
	}
	slices.Sort(out)
	return out
}

// walkGauges are the gauges computed by a walk of every element of v.
func walkGauges(v *handlespace.View, self uint32) []string {
	var zones, static, dynamic, unserved, failOpen, served, reported, owned, disputed, last int
	var health, admin [3]int
	var views []string
	for _, z := range v.Zones() {
		zones++
		for _, h := range z.PoolHandles() {
			pv := z.Pool(h)
			if pv.Static {
				static++
			} else {
				dynamic++
			}
			if pv.FailOpen {
				failOpen++
			}
			n := 0
			for e := range pv.Range() {
				health[e.Health]++
				admin[e.Admin]++
				if e.Served() {
					n++
				}
				if e.Reported {
					reported++
				}
				if e.Home == self || e.Home == 0 {
					owned++
				}
				if e.Disputed() {
					disputed++
					if e.Last {
						last++
					}
					for _, vp := range e.Vantage {
						views = append(views, fmt.Sprintf("poolnsd_element_vantage{element=%s,health=%s,pool=%s,registrar=%s} 1",
							handlespace.IDString(e.ID), vp.Health, pv.Name, handlespace.IDString(vp.Registrar)))
					}
				}
			}
			served += n
			if n == 0 && pv.Len() > 0 {
				unserved++
			}
		}
	}
	out := []string{
		fmt.Sprintf("poolnsd_zones{} %d", zones),
		fmt.Sprintf("poolnsd_pools{origin=zone} %d", static),
		fmt.Sprintf("poolnsd_pools{origin=registration} %d", dynamic),
		fmt.Sprintf("poolnsd_pools_unserved{} %d", unserved),
		fmt.Sprintf("poolnsd_pools_fail_open{} %d", failOpen),
		fmt.Sprintf("poolnsd_elements_served{} %d", served),
		fmt.Sprintf("poolnsd_elements_reported{} %d", reported),
		fmt.Sprintf("poolnsd_elements_owned{} %d", owned),
		fmt.Sprintf("poolnsd_elements_disputed{} %d", disputed),
		fmt.Sprintf("poolnsd_elements_last{} %d", last),
	}
	for i, n := range health {
		out = append(out, fmt.Sprintf("poolnsd_elements{health=%s} %d", handlespace.Health(i), n))
	}
	for i, n := range admin {
		out = append(out, fmt.Sprintf("poolnsd_elements_admin{state=%s} %d", handlespace.Admin(i), n))
	}
	out = append(out, views...)
	slices.Sort(out)
	return out
}

// BenchmarkViewScrape: a scrape of the view's gauges after one refresh in a
// pool of 1 000 000 elements: the collector that follows the changes
// (follow) against a walk of every element (walk, the computation before).
func BenchmarkViewScrape(b *testing.B) {
	hs := handlespace.New(handlespace.Options{RegistrarID: 7})
	rrs := hstest.RRs(b, "t. 3600 IN SOA ns.t. h.t. 1 3600 600 86400 30\nt. 3600 IN NS ns.t.\nns.t. 3600 IN A 192.0.2.1\n")
	if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "t.", File: "t.zone", Records: rrs}}); err != nil {
		b.Fatal(err)
	}
	const n = 1_000_000
	elem := func(i, load int) *handlespace.Element {
		return &handlespace.Element{ID: uint32(i + 1), Label: fmt.Sprintf("e%d", i), Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})),
			Port: 80, Weight: 1, Load: uint32(load)}
	}
	var groups [][]handlespace.Op
	for i := range n {
		groups = append(groups, []handlespace.Op{{Pool: "big.t.", Elem: elem(i, 0)}})
	}
	for _, err := range hs.Apply(groups, nil) {
		if err != nil {
			b.Fatal(err)
		}
	}
	c := newViewCollector(hs.View, func() uint32 { return 7 })
	gauges(b, c)
	for _, mode := range []string{"follow", "walk"} {
		b.Run(mode, func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				if err := hs.Do(handlespace.Op{Pool: "big.t.", Elem: elem(i%n, i)}); err != nil {
					b.Fatal(err)
				}
				if mode == "follow" {
					gauges(b, c)
				} else {
					walkGauges(hs.View(), 7)
				}
			}
		})
	}
}
