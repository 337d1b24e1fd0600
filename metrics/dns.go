package metrics

import (
	"math/bits"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// qtypeNames are the values of the qtype label, by index. Query types not
// listed count as "other"; "none" is a query without a question.
var qtypeNames = [...]string{
	"other", "A", "AAAA", "SRV", "URI", "TXT", "NS", "SOA", "CNAME", "MX", "PTR",
	"ANY", "HTTPS", "SVCB", "CAA", "DS", "DNSKEY", "AXFR", "IXFR", "none",
}

const nQtypes = len(qtypeNames)

// QtypeNone is the query type to pass to Query for a query without a
// question (which is answered FORMERR).
const QtypeNone = 0xFFFF_0000

// qtypeIndex maps a DNS query type to its index in qtypeNames.
func qtypeIndex(t uint32) int {
	switch t {
	case 1:
		return 1
	case 28:
		return 2
	case 33:
		return 3
	case 256:
		return 4
	case 16:
		return 5
	case 2:
		return 6
	case 6:
		return 7
	case 5:
		return 8
	case 15:
		return 9
	case 12:
		return 10
	case 255:
		return 11
	case 65:
		return 12
	case 64:
		return 13
	case 257:
		return 14
	case 43:
		return 15
	case 48:
		return 16
	case 252:
		return 17
	case 251:
		return 18
	case QtypeNone:
		return 19
	}
	return 0
}

// rcodeNames are the values of the rcode label, by index; rcodes not
// listed count as "other".
var rcodeNames = [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "BADVERS", "other"}

const nRcodes = len(rcodeNames)

func rcodeIndex(rc int) int {
	switch {
	case rc >= 0 && rc <= 5:
		return rc
	case rc == 16: // BADVERS, an extended rcode (RFC 6891)
		return 6
	}
	return 7
}

var transportNames = [2]string{"udp", "tcp"}

// Reasons for RejectedQuery: what the DNS server did with a message that
// it turned away before reading its question.
const (
	RejectFormErr = "formerr" // answered FORMERR: more than one question, records where a query has none
	RejectNotImp  = "notimp"  // answered NOTIMP: an opcode other than QUERY
	RejectIgnored = "ignored" // no reply: a response, or a message whose header does not parse
)

var rejectNames = [...]string{RejectFormErr, RejectNotImp, RejectIgnored}

// DefaultLatencySample is the default of Options.LatencySample: one query
// in 8 is timed.
const DefaultLatencySample = 8

// DNS holds the counters of the DNS front. Its methods are safe for
// concurrent use, allocate nothing and take no lock; on a nil *DNS they do
// nothing.
type DNS struct {
	queries    [nQtypes][nRcodes][2]atomic.Uint64
	truncated  atomic.Uint64
	rejected   [len(rejectNames)]atomic.Uint64
	latency    *histogram
	sampleMask uint32   // time a query when rand & mask == 0
	parent     *Metrics // for UpdateRefused

	descQueries, descTruncated, descRejected, descLatency *prometheus.Desc
}

func newDNS(sample int) *DNS {
	if sample <= 0 {
		sample = DefaultLatencySample
	}
	// Round up to a power of two, so that the pick is a mask.
	mask := uint32(0)
	if sample > 1 {
		mask = 1<<bits.Len32(uint32(sample-1)) - 1
	}
	return &DNS{
		latency:    newHistogram(dnsBuckets),
		sampleMask: mask,
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
	}
}

// Query counts an answered query: its type (QtypeNone for none), the
// reply's rcode (extended rcodes included) and whether it came over TCP.
func (d *DNS) Query(qtype uint16, rcode int, tcp bool) {
	if d == nil {
		return
	}
	d.query(uint32(qtype), rcode, tcp)
}

// QueryNoQuestion counts a query without a question.
func (d *DNS) QueryNoQuestion(rcode int, tcp bool) {
	if d == nil {
		return
	}
	d.query(QtypeNone, rcode, tcp)
}

func (d *DNS) query(qtype uint32, rcode int, tcp bool) {
	t := 0
	if tcp {
		t = 1
	}
	d.queries[qtypeIndex(qtype)][rcodeIndex(rcode)][t].Add(1)
}

// Truncated counts a UDP reply sent with TC=1.
func (d *DNS) Truncated() {
	if d == nil {
		return
	}
	d.truncated.Add(1)
}

// Rejected counts a message turned away before its question was read;
// reason is one of RejectFormErr, RejectNotImp, RejectIgnored.
func (d *DNS) Rejected(reason string) {
	if d == nil {
		return
	}
	for i, r := range rejectNames {
		if r == reason {
			d.rejected[i].Add(1)
			return
		}
	}
}

// Sample reports whether to time this query: true for a random one in
// LatencySample. It is false on a nil *DNS.
func (d *DNS) Sample() bool {
	if d == nil {
		return false
	}
	return d.sampleMask == 0 || rand.Uint32()&d.sampleMask == 0
}

// Latency records the time one sampled query took.
func (d *DNS) Latency(dur time.Duration) {
	if d == nil {
		return
	}
	d.latency.observe(dur)
}

// UpdateRefused counts a DNS UPDATE refused before it reached the
// registrar (a bad or missing signature, a key not allowed the pool, a
// malformed update, the source's rate) in
// poolnsd_registration_rejections_total{source="dns"}. The registrar's
// own refusals are counted where it is called.
func (d *DNS) UpdateRefused(c Cause) {
	if d == nil || d.parent == nil {
		return
	}
	d.parent.Rejected(SourceDNS, c)
}

// SampleRatio is the share of queries whose latency is recorded.
func (d *DNS) SampleRatio() float64 { return 1 / float64(d.sampleMask+1) }

// Describe implements prometheus.Collector.
func (d *DNS) Describe(ch chan<- *prometheus.Desc) {
	ch <- d.descQueries
	ch <- d.descTruncated
	ch <- d.descRejected
	ch <- d.descLatency
}

// Collect implements prometheus.Collector: the non-zero query counters,
// the truncations, the rejections and the latency histogram.
func (d *DNS) Collect(ch chan<- prometheus.Metric) {
	for q := range d.queries {
		for r := range d.queries[q] {
			for t := range d.queries[q][r] {
				if n := d.queries[q][r][t].Load(); n > 0 {
					ch <- prometheus.MustNewConstMetric(d.descQueries, prometheus.CounterValue, float64(n),
						qtypeNames[q], rcodeNames[r], transportNames[t])
				}
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(d.descTruncated, prometheus.CounterValue, float64(d.truncated.Load()))
	for i, r := range rejectNames {
		ch <- prometheus.MustNewConstMetric(d.descRejected, prometheus.CounterValue, float64(d.rejected[i].Load()), r)
	}
	ch <- d.latency.metric(d.descLatency)
}

var _ prometheus.Collector = (*DNS)(nil)
