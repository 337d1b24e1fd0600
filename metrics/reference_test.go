package metrics_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/metrics"
	"github.com/poolnsd/poolnsd/probe"
)

// TestReferenceHasEveryFamily: Reference, from which docs/metrics.md is
// generated, names every poolnsd_ family that a server with its hooks
// called exports, and nothing else; each has a help text, and each label
// but the build's has its values.
func TestReferenceHasEveryFamily(t *testing.T) {
	ref, err := metrics.Reference()
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, f := range ref {
		documented = append(documented, f.Name)
		if f.Help == "" {
			t.Errorf("%s has no help text", f.Name)
		}
		for _, l := range f.Labels {
			if len(l.Values) == 0 && f.Name != "poolnsd_build_info" && f.Name != "poolnsd_element_vantage" {
				t.Errorf("%s: label %s has no values", f.Name, l.Name)
			}
		}
		if f.Type == "histogram" && len(f.Buckets) == 0 {
			t.Errorf("%s: a histogram without buckets", f.Name)
		}
	}
	hs := newSpace(t)
	m := metrics.New(metrics.Options{NoRuntime: true, View: hs.View})
	// Make every family appear: some export only non-zero series.
	m.DNS().Query(1, 0, false)
	m.DNS().Latency(time.Microsecond)
	m.Probe("tcp", true, time.Millisecond)
	m.SetPeerStates(func() map[string]int { return map[string]int{metrics.PeerUp: 1} })
	m.SetProbeStats(func() probe.Stats { return probe.Stats{} })
	web := hs.View().Pool("web.t.").Elements()
	if err := hs.Update("web.t.", web[0].ID, func(e *handlespace.Element) { // a disputed element
		e.Vantage = handlespace.VantagesOf([]handlespace.Vantage{{Registrar: 7, Health: handlespace.HealthUp}, {Registrar: 9, Health: handlespace.HealthDown}})
	}); err != nil {
		t.Fatal(err)
	}
	m.SetProtectStats(func() metrics.ProtectStats {
		return metrics.ProtectStats{RRL: []metrics.RRLClassStats{{Class: "answer"}}}
	})
	m.SetDNSSECStats(func() metrics.DNSSECStats { return metrics.DNSSECStats{Hits: 1} })
	m.SetStoreStats(func() metrics.StoreStats { return metrics.StoreStats{Batches: 1, Compactions: 1, Compacted: 1} })
	m.SetAnswerSlots(func() int { return 1 })
	s, _ := expose(t, m)
	var exported []string
	for name := range s {
		if strings.HasPrefix(name, "poolnsd_") {
			exported = append(exported, name)
		}
	}
	slices.Sort(exported)
	for _, n := range exported {
		if !slices.Contains(documented, n) {
			t.Errorf("%s is exported but not in Reference", n)
		}
	}
	for _, n := range documented {
		if !slices.Contains(exported, n) {
			t.Errorf("Reference lists %s, which is not exported", n)
		}
	}
}

// TestReferenceLabels: a few label sets as the code has them.
func TestReferenceLabels(t *testing.T) {
	ref, err := metrics.Reference()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"poolnsd_enrp_peers":                 "state=dead,left,suspect,up",
		"poolnsd_failure_reports_total":      "outcome=counted,forwarded,rate_limited,removed,unknown via=api,peer",
		"poolnsd_probes_total":               "kind=dns,http,https,tcp,tls,other result=fail,pass",
		"poolnsd_build_info":                 "goversion= version=",
		"poolnsd_element_vantage":            "element= health=down,up pool= registrar=",
		"poolnsd_health_confirmations_total": "outcome=agreed,alone,disputed,moved,overruled",
	}
	for _, f := range ref {
		w, ok := want[f.Name]
		if !ok {
			continue
		}
		var got []string
		for _, l := range f.Labels {
			got = append(got, l.Name+"="+strings.Join(l.Values, ","))
		}
		if g := strings.Join(got, " "); g != w {
			t.Errorf("%s labels: %s, want %s", f.Name, g, w)
		}
		delete(want, f.Name)
	}
	for n := range want {
		t.Errorf("%s missing", n)
	}
}
