package metrics_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/metrics"
	"github.com/poolnsd/poolnsd/metrics/metricstest"
	"github.com/poolnsd/poolnsd/probe"
)

func expose(t *testing.T, m *metrics.Metrics) (metricstest.Samples, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	m.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body.String())
	}
	text := rec.Body.String()
	s, err := metricstest.Parse(strings.NewReader(text))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, text)
	}
	return s, text
}

// TestHooks: each hook moves its counter by exactly what it was given,
// values outside a label's fixed set count as "other" (or not at all for
// outcomes), and a nil *Metrics takes every call.
func TestHooks(t *testing.T) {
	m := metrics.New(metrics.Options{NoRuntime: true, Version: "v9"})
	m.Registered(metrics.SourceDNS, false)
	m.Registered(metrics.SourceDNS, false)
	m.Registered(metrics.SourceHTTP, false)
	m.Registered(metrics.SourceDNS, true)
	m.Registered("carrier-pigeon", false)
	m.Deregistered(metrics.SourceHTTP)
	m.Expired(3)
	m.Expired(0)
	m.Rejected(metrics.SourceDNS, metrics.CauseAuth)
	m.Rejected(metrics.SourceDNS, metrics.CauseAuth)
	m.Rejected(metrics.SourceHTTP, metrics.CausePolicy)
	m.Rejected(metrics.SourceHTTP, "cosmic rays")
	m.FailureReport(metrics.ReportViaAPI, metrics.ReportCounted)
	m.FailureReport(metrics.ReportViaAPI, metrics.ReportCounted)
	m.FailureReport(metrics.ReportViaAPI, metrics.ReportRemoved)
	m.FailureReport(metrics.ReportViaAPI, metrics.ReportRateLimited)
	m.FailureReport(metrics.ReportViaAPI, "bogus")
	m.FailureReport(metrics.ReportViaPeer, metrics.ReportCounted)
	m.FailureReport(metrics.ReportViaPeer, metrics.ReportForwarded) // never: not counted
	m.FailureReport("pigeon", metrics.ReportCounted)
	m.HealthChange(handlespace.HealthDown)
	m.HealthChange(handlespace.HealthUp)
	m.HealthChange(handlespace.HealthDown)
	m.AdminChange(handlespace.AdminDrain)
	m.Probe("http", true, 2*time.Millisecond)
	m.Probe("http", false, 300*time.Millisecond)
	m.Probe("gopher", true, time.Millisecond)
	m.ENRPMessage(true, metrics.ENRPHandleUpdate)
	m.ENRPMessage(false, metrics.ENRPHandleUpdate)
	m.ENRPMessage(false, metrics.ENRPHandleUpdate)
	m.ENRPMessage(true, metrics.ENRPPresence)
	m.ENRPMessage(true, 99)
	m.Takeover(metrics.TakeoverStarted, 0)
	m.Takeover(metrics.TakeoverCompleted, 7)
	m.SetPeerStates(func() map[string]int { return map[string]int{"active": 2, "dead": 1} })
	m.SetProbeStats(func() probe.Stats {
		return probe.Stats{Targets: 12, InFlight: 3, Late: 4, MaxLate: 250 * time.Millisecond}
	})
	m.ZonesLoaded(true, time.Unix(1700000000, 0))
	m.ZonesLoaded(false, time.Unix(1700000100, 0))
	m.SetReady(true)
	m.DNS().Sojourn(300 * time.Microsecond)
	m.DNS().Sojourn(2 * time.Millisecond)

	s, text := expose(t, m)
	for _, want := range []string{`poolnsd_dns_udp_sojourn_seconds_bucket{le="0.00025"} 0`,
		`poolnsd_dns_udp_sojourn_seconds_bucket{le="0.0005"} 1`, `poolnsd_dns_udp_sojourn_seconds_bucket{le="0.0025"} 2`} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("no %s in the exposition", want)
		}
	}
	s.Expect(t,
		"poolnsd_dns_udp_sojourn_seconds 2",
		"poolnsd_interned_limit{table=site_names} 16777215",
		"poolnsd_interned_limit{table=probes} 65535",
		"poolnsd_interned_refused_total{table=site_names} 0",
		"poolnsd_registrations_total{source=dns} 2",
		"poolnsd_registrations_total{source=http} 1",
		"poolnsd_registrations_total{source=other} 1",
		"poolnsd_registrations_total{source=enrp} 0",
		"poolnsd_registration_refreshes_total{source=dns} 1",
		"poolnsd_deregistrations_total{source=http} 1",
		"poolnsd_registration_expiries_total 3",
		"poolnsd_registration_rejections_total{source=dns,cause=auth} 2",
		"poolnsd_registration_rejections_total{source=http,cause=policy} 1",
		"poolnsd_registration_rejections_total{source=http,cause=other} 1",
		"poolnsd_failure_reports_total{via=api,outcome=counted} 2",
		"poolnsd_failure_reports_total{via=api,outcome=removed} 1",
		"poolnsd_failure_reports_total{via=api,outcome=rate_limited} 1",
		"poolnsd_failure_reports_total{via=api,outcome=unknown} 0",
		"poolnsd_failure_reports_total{via=peer,outcome=counted} 1",
		"poolnsd_failure_reports_total{via=peer,outcome=removed} 0",
		"poolnsd_health_changes_total{to=down} 2",
		"poolnsd_health_changes_total{to=up} 1",
		"poolnsd_admin_changes_total{to=drain} 1",
		"poolnsd_probes_total{kind=http,result=pass} 1",
		"poolnsd_probes_total{kind=http,result=fail} 1",
		"poolnsd_probes_total{kind=other,result=pass} 1",
		"poolnsd_probe_duration_seconds{kind=http} 2",
		"poolnsd_enrp_handle_updates_total{direction=sent} 1",
		"poolnsd_enrp_handle_updates_total{direction=received} 2",
		"poolnsd_enrp_messages_total{direction=sent,type=presence} 1",
		"poolnsd_enrp_messages_total{direction=sent,type=other} 1",
		"poolnsd_enrp_takeovers_total{outcome=started} 1",
		"poolnsd_enrp_takeovers_total{outcome=completed} 1",
		"poolnsd_enrp_elements_taken_over_total 7",
		"poolnsd_enrp_peers{state=active} 2",
		"poolnsd_enrp_peers{state=dead} 1",
		"poolnsd_probe_targets 12",
		"poolnsd_probes_late_total 4",
		"poolnsd_probe_max_lateness_seconds 0.25",
		"poolnsd_zone_loads_total{result=ok} 1",
		"poolnsd_zone_loads_total{result=error} 1",
		"poolnsd_zone_load_success_timestamp_seconds 1700000000",
		"poolnsd_ready 1",
		"poolnsd_build_info{version=v9} 1",
	)

	// The probe histogram: 2 ms in the 2.5 ms bucket, 300 ms in the 500 ms
	// one, and the +Inf bucket is the count.
	h := s["poolnsd_probe_duration_seconds"].Metric[0].Histogram
	var le25, le500, inf uint64
	for _, b := range h.Bucket {
		switch b.GetUpperBound() {
		case 0.0025:
			le25 = b.GetCumulativeCount()
		case 0.5:
			le500 = b.GetCumulativeCount()
		}
	}
	inf = h.GetSampleCount()
	if le25 != 1 || le500 != 2 || inf != 2 || h.GetSampleSum() < 0.301 || h.GetSampleSum() > 0.303 {
		t.Errorf("probe histogram le=0.0025 %d, le=0.5 %d, count %d, sum %v; want 1, 2, 2, 0.302", le25, le500, inf, h.GetSampleSum())
	}

	// nil takes everything.
	var nm *metrics.Metrics
	nm.Registered(metrics.SourceDNS, false)
	nm.Rejected(metrics.SourceDNS, metrics.CauseAuth)
	nm.FailureReport(metrics.ReportViaAPI, metrics.ReportCounted)
	nm.Probe("tcp", true, time.Millisecond)
	nm.ENRPMessage(true, 1)
	nm.Takeover(metrics.TakeoverCompleted, 1)
	nm.SetReady(true)
	nm.DNS().Query(1, 0, false)
	nm.DNS().Truncated()
	nm.DNS().Sojourn(time.Millisecond)
	if nm.DNS().Sample() {
		t.Error("a nil DNS samples")
	}
}

// TestInstrumentCheckers: the wrapped checkers count each result by the
// kind they are registered under.
func TestInstrumentCheckers(t *testing.T) {
	m := metrics.New(metrics.Options{NoRuntime: true})
	pass := probe.CheckerFunc(func(_ context.Context, tg probe.Target) probe.Result {
		return probe.Result{Key: tg.Key, OK: true, RTT: time.Millisecond}
	})
	fail := probe.CheckerFunc(func(_ context.Context, tg probe.Target) probe.Result {
		return probe.Result{Key: tg.Key, Err: "connect: connection refused", RTT: time.Millisecond}
	})
	cs := m.InstrumentCheckers(map[string]probe.Checker{"tcp": pass, "dns": fail})
	for range 3 {
		if r := cs["tcp"].Check(context.Background(), probe.Target{Key: "k"}); !r.OK || r.Key != "k" {
			t.Fatalf("wrapped checker changed the result: %+v", r)
		}
	}
	cs["dns"].Check(context.Background(), probe.Target{Key: "k"})
	s, _ := expose(t, m)
	s.Expect(t,
		"poolnsd_probes_total{kind=tcp,result=pass} 3",
		"poolnsd_probes_total{kind=dns,result=fail} 1",
		"poolnsd_probes_total{kind=dns,result=pass} 0",
	)
	// Forget reaches the wrapped checker.
	fg := &forgetter{}
	metrics.New(metrics.Options{NoRuntime: true}).InstrumentCheckers(map[string]probe.Checker{"http": fg})["http"].(interface{ Forget(string) }).Forget("x")
	if fg.forgot != "x" {
		t.Errorf("Forget did not reach the wrapped checker")
	}
	if got := len(metrics.New(metrics.Options{NoRuntime: true}).InstrumentCheckers(nil)); got != len(probe.DefaultCheckers()) {
		t.Errorf("InstrumentCheckers(nil) has %d kinds, want the defaults' %d", got, len(probe.DefaultCheckers()))
	}
}

// TestViewGauges: the pool and element gauges follow the handlespace view.
func TestViewGauges(t *testing.T) {
	hs := newSpace(t)
	m := metrics.New(metrics.Options{NoRuntime: true, View: hs.View})
	s, _ := expose(t, m)
	s.Expect(t,
		"poolnsd_zones 1",
		"poolnsd_pools{origin=zone} 2",
		"poolnsd_pools{origin=registration} 1",
		"poolnsd_elements{health=up} 5",
		"poolnsd_elements{health=down} 1",
		"poolnsd_elements{health=unknown} 0",
		"poolnsd_elements_served 4",
		"poolnsd_elements_admin{state=drain} 1",
		"poolnsd_elements_admin{state=auto} 5",
		"poolnsd_pools_unserved 1",
		"poolnsd_pools_fail_open 0",
		"poolnsd_elements_reported 0",
		"poolnsd_elements_owned 5", // the registered one is homed elsewhere
	)
}

// TestPromtool: promtool check metrics accepts the whole exposition, the
// Go and process collectors included, after every hook has run.
func TestPromtool(t *testing.T) {
	hs := newSpace(t)
	m := metrics.New(metrics.Options{View: hs.View, Version: "test"})
	m.DNS().Query(1, 0, false)
	m.DNS().Latency(3 * time.Microsecond)
	m.Probe("tcp", true, time.Millisecond)
	m.SetPeerStates(func() map[string]int { return map[string]int{"active": 1} })
	m.SetProbeStats(func() probe.Stats { return probe.Stats{} })
	_, text := expose(t, m)
	metricstest.Promtool(t, text)
}

type forgetter struct{ forgot string }

func (f *forgetter) Check(_ context.Context, t probe.Target) probe.Result {
	return probe.Result{Key: t.Key, OK: true}
}
func (f *forgetter) Forget(key string) { f.forgot = key }

// TestVantageMetrics: disputed elements, what each vantage point saw of
// them, confirmations, probes for peers, refusals and hand-offs.
func TestVantageMetrics(t *testing.T) {
	hs := newSpace(t)
	web := hs.View().Pool("web.t.").Elements()
	if err := hs.Update("web.t.", web[0].ID, func(e *handlespace.Element) {
		e.Health = handlespace.HealthDown
		e.Vantage = handlespace.VantagesOf([]handlespace.Vantage{{Registrar: 7, Health: handlespace.HealthDown}, {Registrar: 9, Health: handlespace.HealthUp}})
		e.Last = handlespace.LastAt(e, 7)
	}); err != nil {
		t.Fatal(err)
	}
	m := metrics.New(metrics.Options{NoRuntime: true, View: hs.View})
	m.Confirmation(metrics.ConfirmAgreed)
	m.Confirmation(metrics.ConfirmOverruled)
	m.Confirmation(metrics.ConfirmOverruled)
	m.PeerProbe(handlespace.HealthUp)
	m.PeerProbe(handlespace.HealthUnknown)
	m.SetConfirmRefused(func() uint64 { return 42 })
	m.SetApplyConflicts(func() uint64 { return 5 })
	m.Handoff(metrics.HandoffGiven, 100)
	m.Handoff(metrics.HandbackTaken, 3)
	s, _ := expose(t, m)
	id := handlespace.IDString(web[0].ID)
	s.Expect(t,
		"poolnsd_elements_disputed 1",
		"poolnsd_elements_last 1",
		"poolnsd_elements_served 4", // the disputed one stays, though down
		"poolnsd_element_vantage{element="+id+",health=down,pool=web.t.,registrar=00000007} 1",
		"poolnsd_element_vantage{element="+id+",health=up,pool=web.t.,registrar=00000009} 1",
		"poolnsd_health_confirmations_total{outcome=agreed} 1",
		"poolnsd_health_confirmations_total{outcome=overruled} 2",
		"poolnsd_health_confirmations_total{outcome=alone} 0",
		"poolnsd_health_peer_probes_total{result=up} 1",
		"poolnsd_health_peer_probes_total{result=unknown} 1",
		"poolnsd_health_confirm_refused_total 42",
		"poolnsd_enrp_apply_conflicts_total 5",
		"poolnsd_enrp_handoff_elements_total{direction=given} 100",
		"poolnsd_enrp_handoff_elements_total{direction=taken_back} 3",
	)
}

// TestAnswerSlots: the answer tally's gauge is absent until its hook is
// set, then reads the hook at each scrape.
func TestAnswerSlots(t *testing.T) {
	m := metrics.New(metrics.Options{NoRuntime: true})
	if s, _ := expose(t, m); len(s.Series("poolnsd_dns_answer_tally_slots")) != 0 {
		t.Errorf("poolnsd_dns_answer_tally_slots exported without its hook")
	}
	n := 3
	m.SetAnswerSlots(func() int { return n })
	for _, want := range []int{3, 7} {
		n = want
		s, _ := expose(t, m)
		if v, ok := s.Value("poolnsd_dns_answer_tally_slots"); !ok || v != float64(want) {
			t.Errorf("poolnsd_dns_answer_tally_slots = %v (%v), want %d", v, ok, want)
		}
	}
	var nilM *metrics.Metrics
	nilM.SetAnswerSlots(func() int { return 1 }) // takes the call
}
