package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

var descTallySlots = prometheus.NewDesc("poolnsd_dns_answer_tally_slots",
	"Slots in use in the tally of pool answers that the history reads: one per element whose packed answer material the DNS front holds, given back once that material is collected (at most 4194304). A count that grows while the pools do not means old material is not freed.", nil, nil)

// SetAnswerSlots gives the function that poolnsd_dns_answer_tally_slots
// reads at scrape time (the answer tally's Table.InUse); without it the
// gauge is not exported.
func (m *Metrics) SetAnswerSlots(f func() int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.answerSlots = f
	m.mu.Unlock()
}

type tallyCollector struct{ m *Metrics }

func (c *tallyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descTallySlots }

func (c *tallyCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	f := c.m.answerSlots
	c.m.mu.Unlock()
	if f == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descTallySlots, prometheus.GaugeValue, float64(f()))
}
