package metrics

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// histogram is a fixed-bucket histogram of durations on atomic counters:
// Observe costs a short search and two atomic adds, no lock and no
// allocation. Its samples come out through a const histogram at scrape time.
type histogram struct {
	bounds []time.Duration // upper bounds, ascending
	le     []float64       // the same in seconds, for the exposition
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sumNS  atomic.Uint64   // sum of the observations in nanoseconds
}

func newHistogram(bounds []time.Duration) *histogram {
	h := &histogram{bounds: bounds, le: make([]float64, len(bounds)), counts: make([]atomic.Uint64, len(bounds)+1)}
	for i, b := range bounds {
		h.le[i] = b.Seconds()
	}
	return h
}

// observe adds one observation of d (negative counts as 0).
func (h *histogram) observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(h.bounds) && d > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNS.Add(uint64(d))
}

// metric returns the histogram as a const metric. The count is the sum of
// the buckets as read, so the +Inf bucket always equals the count, even
// while observations go on.
func (h *histogram) metric(desc *prometheus.Desc, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.le))
	var cum uint64
	for i, le := range h.le {
		cum += h.counts[i].Load()
		buckets[le] = cum
	}
	cum += h.counts[len(h.le)].Load()
	sum := float64(h.sumNS.Load()) / float64(time.Second)
	return prometheus.MustNewConstHistogram(desc, cum, sum, buckets, labels...)
}

// count returns how many observations the histogram holds.
func (h *histogram) count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// dnsBuckets are the bounds of the answer latency: the handler answers a
// pool query in a few microseconds, a slow answer (a large static RRset,
// a TCP write to a slow client) in milliseconds.
var dnsBuckets = []time.Duration{
	5 * time.Microsecond, 10 * time.Microsecond, 25 * time.Microsecond, 50 * time.Microsecond,
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 100 * time.Millisecond,
}

// probeBuckets are the bounds of probe durations: a loopback connect takes
// tens of microseconds, a remote HTTP check milliseconds, a timeout up to
// the probe's timeout.
var probeBuckets = []time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second,
}
