package metrics

import (
	"time"

	"github.com/poolnsd/poolnsd/metrics/dnsmetrics"
	"github.com/prometheus/client_golang/prometheus"
)

// histogram is a fixed-bucket histogram of durations on atomic counters
// (dnsmetrics.Histogram): Observe costs a short search and two atomic
// adds, no lock and no allocation. Its samples come out through a const
// histogram at scrape time (histMetric).
type histogram = dnsmetrics.Histogram

func newHistogram(bounds []time.Duration) *histogram { return dnsmetrics.NewHistogram(bounds) }

// histMetric returns h as a const metric. The count is the sum of the
// buckets as read, so the +Inf bucket always equals the count, even while
// observations go on.
func histMetric(h *histogram, desc *prometheus.Desc, labels ...string) prometheus.Metric {
	bounds := h.Bounds()
	counts, sum := h.Read(make([]uint64, 0, len(bounds)+1))
	buckets := make(map[float64]uint64, len(bounds))
	var cum uint64
	for i, b := range bounds {
		cum += counts[i]
		buckets[b.Seconds()] = cum
	}
	cum += counts[len(bounds)]
	return prometheus.MustNewConstHistogram(desc, cum, float64(sum)/float64(time.Second), buckets, labels...)
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
