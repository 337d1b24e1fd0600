package metrics

import (
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/prometheus/client_golang/prometheus"
)

// viewCollector computes the pool and element gauges from the current
// handlespace view at scrape time: O(elements) per scrape, nothing on the
// handlespace's write path.
type viewCollector struct {
	view func() *handlespace.View
	self func() uint32

	zones, pools, unserved, failOpen, elems, served, admin, reported, owned *prometheus.Desc
	disputed, last, vantage                                                 *prometheus.Desc
}

func newViewCollector(view func() *handlespace.View, self func() uint32) *viewCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &viewCollector{
		view: view, self: self,
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
	var self uint32
	if c.self != nil {
		self = c.self()
	}
	var zones, static, dynamic, unserved, failOpen, served, reported, owned, disputed, last int
	type view struct{ pool, element, registrar, health string }
	var views []view
	var health [3]int
	var admin [3]int
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
				n := 0
				for e := range pv.Range() {
					if int(e.Health) < len(health) {
						health[e.Health]++
					}
					if int(e.Admin) < len(admin) {
						admin[e.Admin]++
					}
					if e.Served() {
						n++
					}
					if e.Reported {
						reported++
					}
					if e.Home == self || e.Home == 0 { // 0: a zone file's, homed here
						owned++
					}
					if e.Disputed() {
						disputed++
						if e.Last {
							last++
						}
						for _, vp := range e.Vantage {
							if len(views) < maxVantageSeries {
								views = append(views, view{pv.Name, handlespace.IDString(e.ID), handlespace.IDString(vp.Registrar), vp.Health.String()})
							}
						}
					}
				}
				served += n
				if n == 0 && pv.Len() > 0 {
					unserved++
				}
			}
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
