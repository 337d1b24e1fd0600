package metrics

import "time"

// Totals returns the DNS front's running totals: the queries answered
// (every type, rcode and transport), and the count and sum of the answer
// latencies timed (the sample of LatencySample). Zero on a nil *DNS. The
// status page's history makes its query rate and mean latency of them.
func (d *DNS) Totals() (queries, timed uint64, timedSum time.Duration) {
	if d == nil {
		return 0, 0, 0
	}
	for q := range d.queries {
		for r := range d.queries[q] {
			for t := range d.queries[q][r] {
				queries += d.queries[q][r][t].Load()
			}
		}
	}
	// Read one after the other, not at once: an observation in flight
	// may be in the count and not yet in the sum (a skew of one sample).
	timedSum = time.Duration(d.latency.sumNS.Load())
	timed = d.latency.count()
	return queries, timed, timedSum
}
