package dnsmetrics

import (
	"sync/atomic"
	"time"
)

// Histogram is a fixed-bucket histogram of durations on atomic counters:
// Observe costs a short search and two atomic adds, no lock and no
// allocation. The DNS answer latency is one; package metrics keeps the
// probes' durations in others and exports them all at scrape time.
type Histogram struct {
	bounds []time.Duration // upper bounds, ascending
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sumNS  atomic.Uint64   // sum of the observations in nanoseconds
}

// NewHistogram returns an empty histogram with the given upper bounds,
// ascending (and a last bucket for everything above them).
func NewHistogram(bounds []time.Duration) *Histogram {
	return &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// Observe adds one observation of d (negative counts as 0).
func (h *Histogram) Observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(h.bounds) && d > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNS.Add(uint64(d))
}

// Bounds returns the buckets' upper bounds (not to be modified).
func (h *Histogram) Bounds() []time.Duration { return h.bounds }

// Read returns the count of each bucket (len(Bounds())+1 of them, the last
// one above every bound), not cumulative, appended to dst, and the sum of
// the observations. Observations that run meanwhile may be in the buckets
// and not yet in the sum.
func (h *Histogram) Read(dst []uint64) ([]uint64, time.Duration) {
	for i := range h.counts {
		dst = append(dst, h.counts[i].Load())
	}
	return dst, time.Duration(h.sumNS.Load())
}

// Count returns how many observations the histogram holds.
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}
