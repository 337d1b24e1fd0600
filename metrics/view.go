package metrics

import (
	"slices"
	"strings"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/prometheus/client_golang/prometheus"
)

// viewCollector computes the pool and element gauges from the current
// handlespace view at scrape time, nothing on the handlespace's write
// path. It reads the counts each pool's view keeps
// (handlespace.PoolView.Counts) and the disputed elements it keeps apart
// (PoolView.Disputed): a scrape costs O(pools) plus O(series) for the
// vantage series, whatever the pools' sizes and however many changes
// since the last, and keeps nothing between scrapes.
type viewCollector struct {
	view func() *handlespace.View

	zones, pools, unserved, failOpen, elems, served, admin, reported, owned *prometheus.Desc
	disputed, last, vantage                                                 *prometheus.Desc
}

func newViewCollector(view func() *handlespace.View) *viewCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &viewCollector{
		view:     view,
		zones:    d("poolnsd_zones", "Zones served."),
		pools:    d("poolnsd_pools", "Pools, by origin: zone (a $POOL of a zone file) or registration (created by a registration).", "origin"),
		unserved: d("poolnsd_pools_unserved", "Pools with elements of which none is in the answers (they answer NODATA, or fail open)."),
		failOpen: d("poolnsd_pools_fail_open", "Pools answering with elements that are not up, because none is (alldown=all)."),
		elems:    d("poolnsd_elements", "Pool elements, by health.", "health"),
		served:   d("poolnsd_elements_served", "Pool elements in the answers now: up, not drained or forced down, not taken out by failure reports."),
		admin:    d("poolnsd_elements_admin", "Pool elements by administrative state.", "state"),
		reported: d("poolnsd_elements_reported", "Pool elements out of the answers because of failure reports."),
		owned:    d("poolnsd_elements_owned", "Pool elements this registrar is home for."),
		disputed: d("poolnsd_elements_disputed", "Pool elements whose vantage points disagreed at their last health confirmation: they stay in the answers."),
		last:     d("poolnsd_elements_last", "Disputed pool elements out of this registrar's reach, put last in its answers."),
		vantage: d("poolnsd_element_vantage",
			"What each vantage point saw of a disputed element at its last confirmation (1 per element and registrar; at most 1000 series).",
			"pool", "element", "registrar", "health"),
	}
}

func (c *viewCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.zones, c.pools, c.unserved, c.failOpen, c.elems, c.served, c.admin, c.reported, c.owned,
		c.disputed, c.last, c.vantage} {
		ch <- d
	}
}

func (c *viewCollector) Collect(ch chan<- prometheus.Metric) {
	v := c.view()
	var zones, static, dynamic, unserved, failOpen, served, reported, owned, disputed, last int
	var health, admin [3]int
	var disputes []*handlespace.PoolView
	if v != nil {
		for _, z := range v.Zones() {
			zones++
			for _, h := range z.PoolHandles() {
				pv := z.Pool(h)
				if pv == nil {
					continue
				}
				if pv.Static {
					static++
				} else {
					dynamic++
				}
				if pv.FailOpen {
					failOpen++
				}
				n := pv.Counts() // kept by the view: no walk of the elements
				health[handlespace.HealthUnknown] += n.Unknown
				health[handlespace.HealthUp] += n.Up
				health[handlespace.HealthDown] += n.Down
				admin[handlespace.AdminAuto] += pv.Len() - n.Drained - n.ForcedDown
				admin[handlespace.AdminDrain] += n.Drained
				admin[handlespace.AdminForceDown] += n.ForcedDown
				served += n.Served
				reported += n.Reported
				owned += n.Owned
				disputed += n.Disputed
				last += n.Last
				if n.Served == 0 && pv.Len() > 0 {
					unserved++
				}
				if n.Disputed > 0 {
					disputes = append(disputes, pv)
				}
			}
		}
	}
	// The vantage series of the disputed elements, at most
	// maxVantageSeries, by pool and element.
	type view struct{ pool, element, registrar, health string }
	var views []view
	slices.SortFunc(disputes, func(a, b *handlespace.PoolView) int { return strings.Compare(a.Name, b.Name) })
	for _, pv := range disputes {
		for e := range pv.Disputed() {
			for _, vp := range e.Vantage.All() {
				if len(views) < maxVantageSeries {
					views = append(views, view{pv.Name, handlespace.IDString(e.ID), handlespace.IDString(vp.Registrar), vp.Health.String()})
				}
			}
			if len(views) >= maxVantageSeries {
				break
			}
		}
		if len(views) >= maxVantageSeries {
			break
		}
	}
	g := func(d *prometheus.Desc, n int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(n), labels...)
	}
	g(c.zones, zones)
	g(c.pools, static, "zone")
	g(c.pools, dynamic, "registration")
	g(c.unserved, unserved)
	g(c.failOpen, failOpen)
	for h, n := range health {
		g(c.elems, n, handlespace.Health(h).String())
	}
	g(c.served, served)
	for a, n := range admin {
		g(c.admin, n, handlespace.Admin(a).String())
	}
	g(c.reported, reported)
	g(c.owned, owned)
	g(c.disputed, disputed)
	g(c.last, last)
	for _, vw := range views {
		g(c.vantage, 1, vw.pool, vw.element, vw.registrar, vw.health)
	}
}
