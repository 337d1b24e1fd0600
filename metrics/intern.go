package metrics

import (
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/prometheus/client_golang/prometheus"
)

// The process's tables of interned values (handlespace.InternStats): they
// only grow, up to a bound; a registration that would grow a full table
// is refused (a site name) or loses the value (an element's own probe
// settings then are its pool's; a vantage list reads as not disputed).
var (
	descInterned = prometheus.NewDesc("poolnsd_interned_values",
		"Distinct values the process has interned, by table: sites (site names, lower case), site_names (as given), probes (elements' own probe settings), vantages (what vantage points saw). Tables only grow, until a restart.",
		[]string{"table"}, nil)
	descInternLimit = prometheus.NewDesc("poolnsd_interned_limit",
		"The most distinct values a table of interned values may hold (poolnsd_interned_values).",
		[]string{"table"}, nil)
	descInternRefused = prometheus.NewDesc("poolnsd_interned_refused_total",
		"Values a full table of interned values could not take: a registration refused for its new site name, or an element given its pool's probe settings or no vantage list.",
		[]string{"table"}, nil)
)

type internCollector struct{}

func (internCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descInterned
	ch <- descInternLimit
	ch <- descInternRefused
}

func (internCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range handlespace.InternStats() {
		ch <- prometheus.MustNewConstMetric(descInterned, prometheus.GaugeValue, float64(s.Values), s.Table)
		ch <- prometheus.MustNewConstMetric(descInternLimit, prometheus.GaugeValue, float64(s.Max), s.Table)
		constCounter(ch, descInternRefused, s.Refused, s.Table)
	}
}
