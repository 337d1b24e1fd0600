package metrics_test

import (
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/metrics"
)

// TestTotals: DNSTotals adds up every query counter and the sampled latencies.
func TestTotals(t *testing.T) {
	var nilDNS *metrics.DNS
	if q, n, s := metrics.DNSTotals(nilDNS); q != 0 || n != 0 || s != 0 {
		t.Errorf("nil DNS: %d %d %v", q, n, s)
	}
	d := metrics.New(metrics.Options{NoRuntime: true, LatencySample: 1}).DNS()
	d.Query(1, 0, false)
	d.Query(33, 3, true)
	d.Query(999, 2, false)
	d.QueryNoQuestion(1, false)
	d.Latency(10 * time.Microsecond)
	d.Latency(30 * time.Microsecond)
	q, n, s := metrics.DNSTotals(d)
	if q != 4 || n != 2 || s != 40*time.Microsecond {
		t.Errorf("totals %d queries, %d timed, %v; want 4, 2, 40µs", q, n, s)
	}
}
