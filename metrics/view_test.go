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
	"github.com/poolnsd/poolnsd/internal/testrand"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestViewCollectorFollowsChanges: through random registrations,
// removals, health, administrative, report, home and dispute changes over
// pools that come and go, the gauges the collector reads from the counts
// the views keep (and their disputed elements) equal a walk of every
// element of the view (the computation before the views kept counts),
// after every scrape.
func TestViewCollectorFollowsChanges(t *testing.T) {
	hs := handlespace.New(handlespace.Options{RegistrarID: 7})
	rrs := hstest.RRs(t, "t. 3600 IN SOA ns.t. h.t. 1 3600 600 86400 30\nt. 3600 IN NS ns.t.\nns.t. 3600 IN A 192.0.2.1\n")
	if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "t.", File: "t.zone", Records: rrs}}); err != nil {
		t.Fatal(err)
	}
	c := newViewCollector(hs.View)
	rng := rand.New(testrand.New(13))
	for round := range 300 {
		for range rng.IntN(15) {
			pool := fmt.Sprintf("p%d.t.", rng.IntN(12))
			id := uint32(1 + rng.IntN(6))
			switch rng.IntN(6) {
			case 0, 1:
				a := netip.AddrFrom4([4]byte{10, 0, byte(id), 1})
				e := &handlespace.Element{ID: id, Label: handlespace.LabelOf(fmt.Sprintf("e%d", id)), Addrs: handlespace.AddrsOf(a), Port: 80, Weight: 1,
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
					e.Vantage, e.Last = handlespace.VantagesOf(nil), false
					if rng.IntN(3) == 0 {
						e.Vantage = handlespace.VantagesOf([]handlespace.Vantage{{Registrar: 7, Health: handlespace.HealthDown}, {Registrar: 9, Health: handlespace.HealthUp}})
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

// TestVantageSeriesCap: with more disputed elements than series allowed,
// the vantage series are those of the first pools by name and, in them,
// the first elements by ID, and no more than maxVantageSeries.
func TestVantageSeriesCap(t *testing.T) {
	hs := handlespace.New(handlespace.Options{RegistrarID: 7})
	rrs := hstest.RRs(t, "t. 3600 IN SOA ns.t. h.t. 1 3600 600 86400 30\nt. 3600 IN NS ns.t.\nns.t. 3600 IN A 192.0.2.1\n")
	if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "t.", File: "t.zone", Records: rrs}}); err != nil {
		t.Fatal(err)
	}
	for _, pool := range []string{"b.t.", "a.t."} { // 1 200 disputed > maxVantageSeries
		var groups [][]handlespace.Op
		for i := range 650 {
			e := &handlespace.Element{ID: uint32(i + 1), Label: handlespace.LabelOf(fmt.Sprintf("e%d", i)), Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})), Port: 80}
			if i%13 != 5 { // every 13th not disputed: 600 of 650 are
				e.Vantage = handlespace.VantagesOf([]handlespace.Vantage{{Registrar: 9, Health: handlespace.HealthDown}})
			}
			groups = append(groups, []handlespace.Op{{Pool: pool, Elem: e}})
		}
		hs.Apply(groups, nil)
	}
	var want []string
	for _, pool := range []string{"a.t.", "b.t."} {
		for e := range hs.View().Pool(pool).Range() {
			if e.Disputed() && len(want) < maxVantageSeries {
				want = append(want, pool+"/"+handlespace.IDString(e.ID))
			}
		}
	}
	if len(want) != maxVantageSeries {
		t.Fatalf("the test's pools have %d disputed elements, want more than %d", len(want), maxVantageSeries)
	}
	ch := make(chan prometheus.Metric, 4096)
	newViewCollector(hs.View).Collect(ch)
	close(ch)
	var got []string
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Desc().String(), `"poolnsd_element_vantage"`) {
			continue
		}
		l := map[string]string{}
		for _, lp := range pb.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		got = append(got, l["pool"]+"/"+l["element"])
	}
	if !slices.Equal(got, want) {
		t.Errorf("%d vantage series, want %d: first differing %v", len(got), len(want), firstDiff(got, want))
	}
}

// firstDiff returns the first index where a and b differ and their
// entries there ("" past the end).
func firstDiff(a, b []string) []string {
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return []string{fmt.Sprint(i), x, y}
		}
	}
	return nil
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
					for _, vp := range e.Vantage.All() {
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

// BenchmarkViewScrape: one scrape of the view's gauges in a pool of
// 1 000 000 elements after changes=c refreshes (a new load each, in
// batches of 32, as group commits make them; not timed): 15 000 is 15 s
// of 1 000 registrations a second, beyond the pool's change log (n/256).
func BenchmarkViewScrape(b *testing.B) {
	hs := handlespace.New(handlespace.Options{RegistrarID: 7})
	rrs := hstest.RRs(b, "t. 3600 IN SOA ns.t. h.t. 1 3600 600 86400 30\nt. 3600 IN NS ns.t.\nns.t. 3600 IN A 192.0.2.1\n")
	if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "t.", File: "t.zone", Records: rrs}}); err != nil {
		b.Fatal(err)
	}
	const n = 1_000_000
	elem := func(i, load int) *handlespace.Element {
		return &handlespace.Element{ID: uint32(i + 1), Label: handlespace.LabelOf(fmt.Sprintf("e%d", i)), Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})),
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
	c := newViewCollector(hs.View)
	gauges(b, c)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, changes := range []int{1, 15000} {
		b.Run(fmt.Sprintf("changes=%d", changes), func(b *testing.B) {
			load := 0
			for b.Loop() {
				b.StopTimer()
				for done := 0; done < changes; {
					groups = groups[:0]
					for ; done < changes && len(groups) < 32; done++ {
						load++
						groups = append(groups, []handlespace.Op{{Pool: "big.t.", Elem: elem(rng.IntN(n), load)}})
					}
					for _, err := range hs.Apply(groups, nil) {
						if err != nil {
							b.Fatal(err)
						}
					}
				}
				b.StartTimer()
				gauges(b, c)
			}
		})
	}
}
