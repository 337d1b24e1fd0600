package metrics

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/probe"
)

// Family describes one metric family of poolnsd for its reference
// documentation, as the registry has it.
type Family struct {
	// Name is the family's name: "poolnsd_dns_queries_total".
	Name string
	// Type is "counter", "gauge" or "histogram".
	Type string
	// Help is the family's help text, as /metrics shows it.
	Help string
	// Labels are the family's labels with every value they take.
	Labels []Label
	// Buckets are the upper bounds of a histogram's buckets (+Inf left
	// out); nil for other types.
	Buckets []time.Duration
}

// Label is one label of a family and the values it takes.
type Label struct {
	Name string
	// Values are every value the label takes, nil for the labels of
	// poolnsd_build_info, whose values are the build's, and those of
	// poolnsd_element_vantage, which name pools, elements and registrars.
	Values []string
}

// buildLabels are poolnsd_build_info's labels.
var buildLabels = []string{"version", "goversion"}

// freeLabels are the labels, by family, whose values are not a fixed set.
var freeLabels = map[string][]string{
	"poolnsd_build_info":      buildLabels,
	"poolnsd_element_vantage": {"pool", "element", "registrar"},
}

// disputedView is a handlespace view with one disputed element, so that
// the families of disputed elements are in the reference.
func disputedView() (*handlespace.View, error) {
	var rrs []dns.RR
	for _, s := range []string{"example. 3600 IN SOA ns.example. h.example. 1 3600 600 86400 30", "example. 3600 IN NS ns.example."} {
		rr, err := dns.NewRR(s)
		if err != nil {
			return nil, fmt.Errorf("metrics: reference zone: %w", err)
		}
		rrs = append(rrs, rr)
	}
	hs := handlespace.New(handlespace.Options{RegistrarID: 1})
	e := &handlespace.Element{Label: handlespace.LabelOf("a"), Addrs: handlespace.AddrsOf(netip.MustParseAddr("192.0.2.1")), Port: 80, Weight: 1}
	e.ID = handlespace.ElementID(e.Addrs.At(0), e.Port)
	if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "example.", Records: rrs,
		Pools: []handlespace.PoolDef{{Handle: "web", Spec: handlespace.DefaultPoolSpec(), Elements: []*handlespace.Element{e}}}}}); err != nil {
		return nil, fmt.Errorf("metrics: reference zone: %w", err)
	}
	if err := hs.Update("web.example.", e.ID, func(e *handlespace.Element) {
		e.Vantage = handlespace.VantagesOf([]handlespace.Vantage{{Registrar: 1, Health: handlespace.HealthUp}, {Registrar: 2, Health: handlespace.HealthDown}})
	}); err != nil {
		return nil, fmt.Errorf("metrics: reference element: %w", err)
	}
	return hs.View(), nil
}

// Reference returns every poolnsd_ metric family that a server exports,
// sorted by name: a fresh Metrics with every hook called once for each of
// its label values, so that families whose series appear only once they
// are non-zero are there too, gathered from its registry.
func Reference() ([]Family, error) {
	view, err := disputedView()
	if err != nil {
		return nil, err
	}
	m := New(Options{NoRuntime: true, View: func() *handlespace.View { return view }})
	m.dns.CountEverySeries()
	m.dns.Latency(time.Microsecond)
	for _, k := range kindNames {
		m.Probe(k, true, time.Millisecond)
	}
	m.SetProbeStats(func() probe.Stats { return probe.Stats{} })
	m.SetPeerStates(func() map[string]int {
		out := map[string]int{}
		for _, s := range peerStateNames {
			out[s] = 0
		}
		return out
	})
	ps := ProtectStats{Cookies: map[string]uint64{}}
	for _, c := range rrlClassNames {
		ps.RRL = append(ps.RRL, RRLClassStats{Class: c})
	}
	m.SetProtectStats(func() ProtectStats { return ps })
	m.SetDNSSECStats(func() DNSSECStats { return DNSSECStats{} })
	m.SetStoreStats(func() StoreStats { return StoreStats{} })
	m.SetAnswerSlots(func() int { return 0 })
	mfs, err := m.reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("metrics: gather: %w", err)
	}
	var out []Family
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "poolnsd_") {
			continue
		}
		f := Family{Name: mf.GetName(), Help: mf.GetHelp(), Type: strings.ToLower(mf.GetType().String())}
		seen := map[string][]string{}
		var order []string
		for _, s := range mf.GetMetric() {
			for _, lp := range s.GetLabel() {
				n, v := lp.GetName(), lp.GetValue()
				if _, ok := seen[n]; !ok {
					order = append(order, n)
				}
				if !slices.Contains(seen[n], v) {
					seen[n] = append(seen[n], v)
				}
			}
			if h := s.GetHistogram(); h != nil && f.Buckets == nil {
				for _, b := range h.GetBucket() {
					f.Buckets = append(f.Buckets, time.Duration(b.GetUpperBound()*float64(time.Second)))
				}
			}
		}
		for _, n := range order {
			var vs []string // nil for the build's labels and the like: no fixed set
			if !slices.Contains(freeLabels[f.Name], n) {
				vs = seen[n]
				slices.SortFunc(vs, compareLabelValues)
			}
			f.Labels = append(f.Labels, Label{Name: n, Values: vs})
		}
		out = append(out, f)
	}
	return out, nil
}

// compareLabelValues orders label values alphabetically, with the
// catch-alls "other" and "none" last.
func compareLabelValues(a, b string) int {
	rank := func(s string) int {
		switch s {
		case "other":
			return 1
		case "none":
			return 2
		}
		return 0
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra - rb
	}
	return strings.Compare(a, b)
}

// WriteMarkdown writes the metrics reference as a Markdown table: metric,
// type, labels with their values, and the help text (with a histogram's
// bucket range).
func WriteMarkdown(w io.Writer) error {
	fams, err := Reference()
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("| metric | type | labels | meaning |\n")
	b.WriteString("|---|---|---|---|\n")
	for _, f := range fams {
		var labels []string
		for _, l := range f.Labels {
			if l.Values == nil {
				labels = append(labels, "`"+l.Name+"`")
				continue
			}
			labels = append(labels, fmt.Sprintf("`%s` (%s)", l.Name, strings.Join(l.Values, ", ")))
		}
		help := f.Help
		if len(f.Buckets) > 0 {
			help = strings.TrimSuffix(help, ".") + fmt.Sprintf("; buckets %v … %v.", f.Buckets[0], f.Buckets[len(f.Buckets)-1])
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.Name, f.Type, strings.Join(labels, ", "),
			strings.ReplaceAll(help, "|", `\|`))
	}
	_, err = io.WriteString(w, b.String())
	return err
}
