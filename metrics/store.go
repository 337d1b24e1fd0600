package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// StoreStats are the counters of the store's element log, read at scrape
// time (see SetStoreStats): store.LogStats, without the package's types.
type StoreStats struct {
	// Batches counts the group commits appended to the log since the
	// start; Compactions the compaction passes that moved the log into
	// the bbolt file, and Compacted the writes they moved.
	Batches, Compactions, Compacted uint64
	// Bytes and Segments are the log's size and segment files now.
	Bytes    int64
	Segments int
	// Failing is true while the last compaction failed (the log grows
	// on; the next one tries again).
	Failing bool
}

var (
	descLogBatches = prometheus.NewDesc("poolnsd_store_log_batches_total",
		"Group commits (batches of registrations, refreshes and deregistrations) appended to the store's element log, each one write and one fdatasync.", nil, nil)
	descLogBytes = prometheus.NewDesc("poolnsd_store_log_bytes",
		"Bytes in the store's element log (all segments): what a restart replays; a compaction moves it into the bbolt file once it holds store.log_compact MiB.", nil, nil)
	descLogSegments = prometheus.NewDesc("poolnsd_store_log_segments",
		"Segment files of the store's element log.", nil, nil)
	descLogCompactions = prometheus.NewDesc("poolnsd_store_log_compactions_total",
		"Compaction passes that moved the element log into the store's bbolt file.", nil, nil)
	descLogCompacted = prometheus.NewDesc("poolnsd_store_log_compacted_writes_total",
		"Writes the compactions moved into the bbolt file (before dropping the ones a later write of the same element superseded).", nil, nil)
	descLogFailing = prometheus.NewDesc("poolnsd_store_log_compaction_failing",
		"1 while the last compaction of the element log failed (the log grows on and the next compaction tries again; the log line says why), else 0.", nil, nil)
)

// SetStoreStats gives the function that the store's families read at
// scrape time; without it they are not exported.
func (m *Metrics) SetStoreStats(f func() StoreStats) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.storeStats = f
	m.mu.Unlock()
}

type storeCollector struct{ m *Metrics }

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLogBatches, descLogBytes, descLogSegments, descLogCompactions, descLogCompacted, descLogFailing} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	f := c.m.storeStats
	c.m.mu.Unlock()
	if f == nil {
		return
	}
	s := f()
	constCounter(ch, descLogBatches, s.Batches)
	constCounter(ch, descLogCompactions, s.Compactions)
	constCounter(ch, descLogCompacted, s.Compacted)
	ch <- prometheus.MustNewConstMetric(descLogBytes, prometheus.GaugeValue, float64(s.Bytes))
	ch <- prometheus.MustNewConstMetric(descLogSegments, prometheus.GaugeValue, float64(s.Segments))
	failing := 0.0
	if s.Failing {
		failing = 1
	}
	ch <- prometheus.MustNewConstMetric(descLogFailing, prometheus.GaugeValue, failing)
}
