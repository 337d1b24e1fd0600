package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// DNSSECStats are the counters of the signature cache of signed zones,
// read at scrape time (see SetDNSSECStats). The counts are totals since
// the process started.
type DNSSECStats struct {
	// Hits, Misses and Refreshes count the RRsets of signed answers looked
	// up in the cache: signatures found, made because the RRset was new,
	// made again because less than a quarter of their validity was left.
	Hits, Misses, Refreshes uint64
	// Evictions counts entries dropped to keep the cache within its bound.
	Evictions uint64
	// Entries and Bytes are what the cache holds now (bytes as counted
	// against dnssec.cache_size).
	Entries int
	Bytes   int64
	// ColdQueued, ColdAnswered, ColdTruncated and ColdDropped count the
	// UDP queries with DO whose answers needed a signature the cache
	// lacked (the UDP loops' cold queues): queued, answered from the queue
	// (signed, or SERVFAIL if signing failed), answered TC=1 at once
	// because the queue was full, and dropped unanswered (the server
	// stopping before it could sign them, or a defect).
	ColdQueued, ColdAnswered, ColdTruncated, ColdDropped uint64
}

var (
	descSigLookups = prometheus.NewDesc("poolnsd_dnssec_cache_lookups_total",
		"RRsets of signed answers (DO queries of zones with keys) looked up in the signature cache, by result: hit (signatures found), miss (signed now: an RRset not seen before, such as a new set of pool elements) or refresh (signed again: less than a quarter of dnssec.validity was left). Each miss and refresh costs a signature per active key.",
		[]string{"result"}, nil)
	descSigEvictions = prometheus.NewDesc("poolnsd_dnssec_cache_evictions_total",
		"Signature cache entries dropped to keep the cache within dnssec.cache_size.", nil, nil)
	descSigEntries = prometheus.NewDesc("poolnsd_dnssec_cache_entries",
		"RRsets whose signatures the signature cache holds.", nil, nil)
	descSigCold = prometheus.NewDesc("poolnsd_dnssec_cold_queries_total",
		"UDP queries with DO whose answers needed a signature the cache lacked, by result: queued (to be signed between the UDP loop's batches, so that no other query on the socket waits for more than one signature), answered (from the queue), truncated (answered TC=1 at once, the queue being full: the client asks again over TCP) or dropped (left unanswered: the server stopped before it could sign them, or a defect). queued = answered + dropped + those in the queues now.",
		[]string{"result"}, nil)
	descSigBytes = prometheus.NewDesc("poolnsd_dnssec_cache_bytes",
		"Bytes the signature cache holds, as counted against dnssec.cache_size (keys, signatures and a fixed overhead per entry).", nil, nil)
)

// SetDNSSECStats gives the function that the signature cache's families
// read at scrape time; without it they are not exported.
func (m *Metrics) SetDNSSECStats(f func() DNSSECStats) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.dnssecStats = f
	m.mu.Unlock()
}

type dnssecCollector struct{ m *Metrics }

func (c *dnssecCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSigLookups, descSigEvictions, descSigEntries, descSigBytes, descSigCold} {
		ch <- d
	}
}

func (c *dnssecCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	f := c.m.dnssecStats
	c.m.mu.Unlock()
	if f == nil {
		return
	}
	s := f()
	constCounter(ch, descSigLookups, s.Hits, "hit")
	constCounter(ch, descSigLookups, s.Misses, "miss")
	constCounter(ch, descSigLookups, s.Refreshes, "refresh")
	constCounter(ch, descSigEvictions, s.Evictions)
	ch <- prometheus.MustNewConstMetric(descSigEntries, prometheus.GaugeValue, float64(s.Entries))
	ch <- prometheus.MustNewConstMetric(descSigBytes, prometheus.GaugeValue, float64(s.Bytes))
	constCounter(ch, descSigCold, s.ColdQueued, "queued")
	constCounter(ch, descSigCold, s.ColdAnswered, "answered")
	constCounter(ch, descSigCold, s.ColdTruncated, "truncated")
	constCounter(ch, descSigCold, s.ColdDropped, "dropped")
}
