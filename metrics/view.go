package metrics

import (
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/prometheus/client_golang/prometheus"
)

// viewCollector computes the pool and element gauges from the current
// handlespace view at scrape time, nothing on the handlespace's write
// path. It keeps each pool's counts with the view they count and follows
// a pool's new view by its changes (handlespace.DiffElements): a scrape
// costs O(pools) plus O(d log n) for d elements changed since the last,
// not a walk of every element.
type viewCollector struct {
	view func() *handlespace.View
	self func() uint32

	mu      sync.Mutex
	counts  map[string]*poolCounts // by pool name; guarded by mu
	scrapes uint64                 // Collect calls; guarded by mu

	zones, pools, unserved, failOpen, elems, served, admin, reported, owned *prometheus.Desc
	disputed, last, vantage                                                 *prometheus.Desc
}

func newViewCollector(view func() *handlespace.View, self func() uint32) *viewCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &viewCollector{
		view: view, self: self, counts: map[string]*poolCounts{},
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

// poolCounts are the counts of one view of a pool.
type poolCounts struct {
	pv                                      *handlespace.PoolView
	health, admin                           [3]int
	served, reported, owned, disputed, last int
	disputes                                map[uint32]*handlespace.Element // the disputed elements, by ID
	seen                                    uint64                          // the Collect that last found the pool
}

// add counts element e into pc, d = 1, or out of it, d = -1.
func (pc *poolCounts) add(e *handlespace.Element, d int, self uint32) {
	if int(e.Health) < len(pc.health) {
		pc.health[e.Health] += d
	}
	if int(e.Admin) < len(pc.admin) {
		pc.admin[e.Admin] += d
	}
	if e.Served() {
		pc.served += d
	}
	if e.Reported {
		pc.reported += d
	}
	if e.Home == self || e.Home == 0 { // 0: a zone file's, homed here
		pc.owned += d
	}
	if e.Disputed() {
		pc.disputed += d
		if e.Last {
			pc.last += d
		}
		if d > 0 {
			if pc.disputes == nil {
				pc.disputes = map[uint32]*handlespace.Element{}
			}
			pc.disputes[e.ID] = e
		} else {
			delete(pc.disputes, e.ID)
		}
	}
}

// follow brings pc from its view to pv: the elements that differ only
// (handlespace.DiffElements), O(d log n) for d changes in a pool of n.
func (pc *poolCounts) follow(pv *handlespace.PoolView, self uint32) {
	handlespace.DiffElements(pc.pv, pv, func(was, now *handlespace.Element) {
		if was != nil {
			pc.add(was, -1, self)
		}
		if now != nil {
			pc.add(now, 1, self)
		}
	})
	pc.pv = pv
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
	var disputes []*poolCounts
	c.mu.Lock()
	c.scrapes++
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
				pc := c.counts[pv.Name]
				if pc == nil {
					pc = &poolCounts{}
					c.counts[pv.Name] = pc
				}
				pc.seen = c.scrapes
				if pc.pv != pv {
					pc.follow(pv, self)
				}
				for i := range health {
					health[i] += pc.health[i]
					admin[i] += pc.admin[i]
				}
				served += pc.served
				reported += pc.reported
				owned += pc.owned
				disputed += pc.disputed
				last += pc.last
				if pc.served == 0 && pv.Len() > 0 {
					unserved++
				}
				if len(pc.disputes) > 0 {
					disputes = append(disputes, pc)
				}
			}
		}
	}
	for name, pc := range c.counts {
		if pc.seen != c.scrapes {
			delete(c.counts, name)
		}
	}
	// The vantage series of the disputed elements, at most
	// maxVantageSeries, by pool and element.
	slices.SortFunc(disputes, func(a, b *poolCounts) int { return strings.Compare(a.pv.Name, b.pv.Name) })
	for _, pc := range disputes {
		ids := slices.Sorted(maps.Keys(pc.disputes))
		for _, id := range ids {
			for _, vp := range pc.disputes[id].Vantage {
				if len(views) < maxVantageSeries {
					views = append(views, view{pc.pv.Name, handlespace.IDString(id), handlespace.IDString(vp.Registrar), vp.Health.String()})
				}
			}
		}
		if len(views) >= maxVantageSeries {
			break
		}
	}
	c.mu.Unlock()
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
