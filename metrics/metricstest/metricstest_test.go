package metricstest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParseWant(t *testing.T) {
	for _, c := range []struct {
		in     string
		name   string
		labels []string
		v      float64
		err    bool
	}{
		{in: "poolnsd_ready 1", name: "poolnsd_ready", v: 1},
		{in: "poolnsd_probes_total{kind=http,result=pass} 3", name: "poolnsd_probes_total", labels: []string{"kind=http", "result=pass"}, v: 3},
		{in: "poolnsd_probe_max_lateness_seconds 0.25", name: "poolnsd_probe_max_lateness_seconds", v: 0.25},
		{in: "poolnsd_ready", err: true},
		{in: "poolnsd_ready one", err: true},
		{in: "poolnsd_elements{health=up 1", err: true},
		{in: "poolnsd_elements{up} 1", err: true},
	} {
		name, labels, v, err := parseWant(c.in)
		if (err != nil) != c.err || err == nil && (name != c.name || !slices.Equal(labels, c.labels) || v != c.v) {
			t.Errorf("parseWant(%q) = %q %q %v, %v", c.in, name, labels, v, err)
		}
	}
}

// recorder is a testing.TB that keeps the errors reported to it.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestExpect(t *testing.T) {
	s, err := Parse(strings.NewReader(`# TYPE x_total counter
x_total{a="1",b="2"} 3
x_total{a="1",b="3"} 4
# TYPE y gauge
y 0.5
`))
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{TB: t}
	s.Expect(r, "x_total{a=1,b=2} 3", "x_total{b=3} 4", "y 0.5")
	if len(r.errs) != 0 {
		t.Errorf("samples that are there: %q", r.errs)
	}
	s.Expect(r, "x_total{a=1} 3", "x_total{b=2} 4", "y 1", "z 0")
	if len(r.errs) != 4 || !strings.HasPrefix(r.errs[0], "x_total{a=1} = 0 (found false), want 3") {
		t.Errorf("an ambiguous, a wrong and a missing sample, a missing family: %q", r.errs)
	}
}
