package metrics_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/metrics"
	"github.com/poolnsd/poolnsd/probe"
)

// TestREADMEListsEveryMetric: the metrics tables of README.md and of the
// documents in docs/ name every poolnsd_ metric family, and nothing else.
func TestREADMEListsEveryMetric(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	docs, _ := filepath.Glob("../docs/*.md")
	for _, d := range docs {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		readme = append(append(readme, '\n'), b...)
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
	web := hs.View().Pool("web.t.").Elements()
	hs.Update("web.t.", web[0].ID, func(e *handlespace.Element) { // a disputed element
		e.Vantage = []handlespace.Vantage{{Registrar: 7, Health: handlespace.HealthUp}, {Registrar: 9, Health: handlespace.HealthDown}}
	})
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
			t.Errorf("%s is exported but not in README.md's metrics table", n)
		}
	}
	for _, n := range documented {
		if !slices.Contains(exported, n) {
			t.Errorf("README.md lists %s, which is not exported", n)
		}
	}
}
