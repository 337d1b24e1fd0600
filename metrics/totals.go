package metrics

import "time"

// DNSTotals returns the DNS front's running totals: the queries answered
// (every type, rcode and transport), and the count and sum of the answer
// latencies timed (the sample of LatencySample). Zero for a nil *DNS.
// The status page's history makes its query rate and mean latency of
// them.
func DNSTotals(d *DNS) (queries, timed uint64, timedSum time.Duration) {
	if d == nil {
		return 0, 0, 0
	}
	d.EachQuery(func(_, _, _ string, n uint64) { queries += n })
	var buf [32]uint64
	counts, sum := d.LatencyHistogram().Read(buf[:0])
	for _, n := range counts {
		timed += n
	}
	return queries, timed, sum
}
