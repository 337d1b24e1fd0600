// Package metricstest reads Prometheus text expositions for tests: Parse
// turns one into samples, Samples.Value finds one by name and labels,
// Samples.Expect checks a table of them, and Promtool has promtool check
// an exposition.
package metricstest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/poolnsd/poolnsd/internal/proctest"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Samples are the metric families of one exposition, by name.
type Samples map[string]*dto.MetricFamily

// Parse reads a text exposition (format 0.0.4).
func Parse(r io.Reader) (Samples, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	return Samples(fams), nil
}

// Scrape fetches url (asking for the text format) and parses it; it also
// returns the exposition's text.
func Scrape(c *http.Client, url string) (Samples, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	s, err := Parse(strings.NewReader(string(b)))
	return s, string(b), err
}

// Value returns the value of the sample of family name whose labels
// include every "label=value" given (for a histogram: its count), and
// whether there is exactly one such sample.
func (s Samples) Value(name string, labels ...string) (float64, bool) {
	f := s[name]
	if f == nil {
		return 0, false
	}
	var found []float64
	for _, m := range f.Metric {
		if !match(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			found = append(found, m.Counter.GetValue())
		case m.Gauge != nil:
			found = append(found, m.Gauge.GetValue())
		case m.Histogram != nil:
			found = append(found, float64(m.Histogram.GetSampleCount()))
		case m.Untyped != nil:
			found = append(found, m.Untyped.GetValue())
		}
	}
	if len(found) != 1 {
		return 0, false
	}
	return found[0], true
}

// Sum returns the sum of the samples of family name whose labels include
// every "label=value" given (0 if none).
func (s Samples) Sum(name string, labels ...string) float64 {
	f := s[name]
	if f == nil {
		return 0
	}
	var sum float64
	for _, m := range f.Metric {
		if !match(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// Series lists the samples of family name as "name{l=v,...} value" lines,
// sorted, for messages.
func (s Samples) Series(name string) []string {
	f := s[name]
	if f == nil {
		return nil
	}
	var out []string
	for _, m := range f.Metric {
		var ls []string
		for _, l := range m.Label {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		var v float64
		switch {
		case m.Counter != nil:
			v = m.Counter.GetValue()
		case m.Gauge != nil:
			v = m.Gauge.GetValue()
		case m.Histogram != nil:
			v = float64(m.Histogram.GetSampleCount())
		}
		out = append(out, fmt.Sprintf("%s{%s} %g", name, strings.Join(ls, ","), v))
	}
	sort.Strings(out)
	return out
}

// Expect reports an error to t for each expected sample in wants that s
// does not have (and goes on). Each is written as in an exposition, labels
// unquoted: "name value" or "name{label=value,...} value", meaning that
// the one sample of family name whose labels include those has that value
// (for a histogram: its count). A malformed one fails the test.
func (s Samples) Expect(t testing.TB, wants ...string) {
	t.Helper()
	for _, w := range wants {
		name, labels, v, err := parseWant(w)
		if err != nil {
			t.Fatalf("expected sample %q: %v", w, err)
		}
		if got, ok := s.Value(name, labels...); !ok || got != v {
			t.Errorf("%s{%s} = %v (found %v), want %v; series: %v", name, strings.Join(labels, ","), got, ok, v, s.Series(name))
		}
	}
}

// parseWant reads "name{l=v,...} value" (the braces optional).
func parseWant(w string) (name string, labels []string, v float64, err error) {
	sel, val, ok := strings.Cut(strings.TrimSpace(w), " ")
	if !ok {
		return "", nil, 0, errors.New("want NAME{LABELS} VALUE")
	}
	if v, err = strconv.ParseFloat(strings.TrimSpace(val), 64); err != nil {
		return "", nil, 0, err
	}
	name, ls, braces := strings.Cut(sel, "{")
	if braces {
		if !strings.HasSuffix(ls, "}") {
			return "", nil, 0, errors.New("labels without a closing brace")
		}
		for _, l := range strings.Split(strings.TrimSuffix(ls, "}"), ",") {
			if !strings.Contains(l, "=") {
				return "", nil, 0, fmt.Errorf("label %q is not label=value", l)
			}
			labels = append(labels, l)
		}
	}
	return name, labels, v, nil
}

// Promtool runs "promtool check metrics" on the exposition text and
// reports an error to t if it finds fault. Without promtool the test fails
// (skips under -short): apt-get install prometheus.
func Promtool(t testing.TB, text string) {
	t.Helper()
	cmd := exec.Command(proctest.LookTool(t, "promtool", "prometheus"), "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func match(m *dto.Metric, labels []string) bool {
	for _, want := range labels {
		k, v, _ := strings.Cut(want, "=")
		ok := false
		for _, l := range m.Label {
			if l.GetName() == k && l.GetValue() == v {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
