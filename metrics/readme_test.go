package metrics_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/metrics"
	"github.com/poolnsd/poolnsd/probe"
)

// TestDocsListEveryMetric: the metrics table of docs/metrics.md names every
// poolnsd_ metric family, and nothing else.
func TestDocsListEveryMetric(t *testing.T) {
	readme, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(poolnsd_[a-z_]+)` \\|").FindAllSubmatch(readme, -1) {
		documented = append(documented, string(m[1]))
	}
	hs := newSpace(t)
	m := metrics.New(metrics.Options{NoRuntime: true, View: hs.View})
	// Make every family appear: some export only non-zero series.
	m.DNS().Query(1, 0, false)
	m.DNS().Latency(time.Microsecond)
	m.Probe("tcp", true, time.Millisecond)
	m.SetPeerStates(func() map[string]int { return map[string]int{"active": 1} })
	m.SetProbeStats(func() probe.Stats { return probe.Stats{} })
	s, _ := expose(t, m)
	var exported []string
	for name := range s {
		if strings.HasPrefix(name, "poolnsd_") {
			exported = append(exported, name)
		}
	}
	slices.Sort(documented)
	slices.Sort(exported)
	for _, n := range exported {
		if !slices.Contains(documented, n) {
			t.Errorf("%s is exported but not in docs/metrics.md's metrics table", n)
		}
	}
	for _, n := range documented {
		if !slices.Contains(exported, n) {
			t.Errorf("docs/metrics.md lists %s, which is not exported", n)
		}
	}
}
