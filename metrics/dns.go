package metrics

import (
	"github.com/poolnsd/poolnsd/metrics/dnsmetrics"
	"github.com/prometheus/client_golang/prometheus"
)

// DNS holds the counters of the DNS front: see package dnsmetrics, which
// keeps them apart from Prometheus so that the DNS front does not depend
// on it.
type DNS = dnsmetrics.DNS

// QtypeNone is the query type for a query without a question.
const QtypeNone = dnsmetrics.QtypeNone

// Reasons for DNS.Rejected.
const (
	RejectFormErr = dnsmetrics.RejectFormErr
	RejectNotImp  = dnsmetrics.RejectNotImp
	RejectIgnored = dnsmetrics.RejectIgnored
)

// DefaultLatencySample is the default of Options.LatencySample: one query
// in 8 is timed.
const DefaultLatencySample = dnsmetrics.DefaultLatencySample

// dnsCollector exports the DNS front's counters at scrape time.
type dnsCollector struct {
	d                                                     *DNS
	descQueries, descTruncated, descRejected, descLatency *prometheus.Desc
	descSojourn                                           *prometheus.Desc
}

func newDNSCollector(d *DNS) *dnsCollector {
	return &dnsCollector{
		d: d,
		descQueries: prometheus.NewDesc("poolnsd_dns_queries_total",
			"DNS queries answered, by query type, response code (NODATA counts as NOERROR) and transport.",
			[]string{"qtype", "rcode", "transport"}, nil),
		descTruncated: prometheus.NewDesc("poolnsd_dns_truncated_total",
			"UDP replies sent truncated (TC=1) because the answer did not fit.", nil, nil),
		descRejected: prometheus.NewDesc("poolnsd_dns_rejected_total",
			"DNS messages turned away before their question was read, by what was done: answered FORMERR, answered NOTIMP (an opcode other than QUERY and UPDATE), or ignored (responses, messages shorter than a header).",
			[]string{"reason"}, nil),
		descLatency: prometheus.NewDesc("poolnsd_dns_answer_duration_seconds",
			"Time from the handler getting a query to its reply being written, for a random sample of the queries (one in 8 by default: poolnsd_dns_answer_sample_ratio).",
			nil, nil),
		descSojourn: prometheus.NewDesc("poolnsd_dns_udp_sojourn_seconds",
			"With dns.udp_sojourn on: time from the kernel's receipt of a UDP query (SO_TIMESTAMPNS) to the write of its reply by the serving loop: the answer's time and the wait before it in the socket's queue, behind other queries or for the loop's thread to get a CPU; for a random sample of the UDP queries answered in their batch (poolnsd_dns_answer_sample_ratio), not the updates and the answers that wait for a commit or a signature.",
			nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *dnsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.descQueries
	ch <- c.descTruncated
	ch <- c.descRejected
	ch <- c.descLatency
	ch <- c.descSojourn
}

// Collect implements prometheus.Collector: the non-zero query counters,
// the truncations, the rejections and the latency histogram.
func (c *dnsCollector) Collect(ch chan<- prometheus.Metric) {
	c.d.EachQuery(func(qtype, rcode, transport string, n uint64) {
		ch <- prometheus.MustNewConstMetric(c.descQueries, prometheus.CounterValue, float64(n), qtype, rcode, transport)
	})
	ch <- prometheus.MustNewConstMetric(c.descTruncated, prometheus.CounterValue, float64(c.d.Truncations()))
	c.d.EachRejection(func(reason string, n uint64) {
		ch <- prometheus.MustNewConstMetric(c.descRejected, prometheus.CounterValue, float64(n), reason)
	})
	ch <- histMetric(c.d.LatencyHistogram(), c.descLatency)
	ch <- histMetric(c.d.SojournHistogram(), c.descSojourn)
}

var _ prometheus.Collector = (*dnsCollector)(nil)
