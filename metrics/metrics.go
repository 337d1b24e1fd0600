package metrics

import (
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/metrics/dnsmetrics"
	"github.com/poolnsd/poolnsd/probe"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configure New. Zero values have defaults.
type Options struct {
	// Version is the value of poolnsd_build_info's version label.
	Version string
	// View returns the current handlespace view, for the pool and element
	// gauges (nil: no such gauges).
	View func() *handlespace.View
	// LatencySample: one query in LatencySample (rounded up to a power of
	// two) has its answer latency timed; 1 times every query (default
	// DefaultLatencySample).
	LatencySample int
	// NoRuntime leaves out the Go runtime and process collectors (tests
	// that compare whole expositions).
	NoRuntime bool
	// Logger gets errors of the exposition (default slog.Default()).
	Logger *slog.Logger
}

// Metrics holds every metric of a poolnsd process. Its hooks are safe for
// concurrent use and do nothing on a nil *Metrics.
type Metrics struct {
	reg *prometheus.Registry
	dns *DNS
	log *slog.Logger

	probes        [nKinds][2]prometheus.Counter // by kind, fail/pass
	probeDur      [nKinds]*histogram
	descProbeDur  *prometheus.Desc
	healthChanges [3]prometheus.Counter                            // to unknown, up, down
	reports       [nReportVias][nReportOutcomes]prometheus.Counter // by way, outcome
	adminChanges  [3]prometheus.Counter                            // to auto, drain, force-down

	registrations [nSources]prometheus.Counter
	refreshes     [nSources]prometheus.Counter
	deregs        [nSources]prometheus.Counter
	expiries      prometheus.Counter
	rejections    [nSources][nCauses]prometheus.Counter

	enrpMsgs      [2][nENRPTypes]prometheus.Counter // received, sent
	updates       [2]prometheus.Counter             // received, sent
	takeovers     [nTakeoverOutcomes]prometheus.Counter
	takenElements prometheus.Counter

	reloads     [2]prometheus.Counter // ok, error
	lastReload  atomic.Int64          // unix nanoseconds of the last good load
	ready       atomic.Bool
	startedUnix float64

	mu        sync.Mutex
	peerState func() map[string]int // guarded by mu
	probeInfo func() probe.Stats    // guarded by mu

	vant *vantageMetrics // health confirmations, hand-offs (vantage.go)
	// protectStats reads the DNS protections' counters; guarded by mu.
	protectStats func() ProtectStats
	// dnssecStats reads the signature cache's counters; guarded by mu.
	dnssecStats func() DNSSECStats
	// storeStats reads the store's element log counters; guarded by mu.
	storeStats func() StoreStats
	// answerSlots reads the answer tally's slots in use; guarded by mu.
	answerSlots func() int
}

// New returns the metrics of one poolnsd process, registered in a new
// registry.
func New(o Options) *Metrics {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	m := &Metrics{reg: prometheus.NewRegistry(), log: o.Logger, startedUnix: float64(time.Now().UnixNano()) / 1e9}
	m.dns = dnsmetrics.New(o.LatencySample, func(c Cause) { m.Rejected(SourceDNS, c) })
	f := factory{m.reg}

	m.reg.MustRegister(newDNSCollector(m.dns))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "poolnsd_dns_answer_sample_ratio",
		Help: "Share of the DNS queries whose answer latency poolnsd_dns_answer_duration_seconds records.",
	}, m.dns.SampleRatio))

	probes := f.counterVec("poolnsd_probes_total", "Health probes finished, by kind and result.", "kind", "result")
	for k, kind := range kindNames {
		m.probes[k][0] = probes.WithLabelValues(kind, "fail")
		m.probes[k][1] = probes.WithLabelValues(kind, "pass")
		m.probeDur[k] = newHistogram(probeBuckets)
	}
	m.descProbeDur = prometheus.NewDesc("poolnsd_probe_duration_seconds",
		"Duration of health probes, passed or failed, by kind.", []string{"kind"}, nil)
	health := f.counterVec("poolnsd_health_changes_total", "Changes of an element's health, by the new health.", "to")
	for h := range m.healthChanges {
		m.healthChanges[h] = health.WithLabelValues(handlespace.Health(h).String())
	}
	reports := f.counterVec("poolnsd_failure_reports_total",
		"Failure reports from pool users (ENDPOINT_UNREACHABLE), by the way they came (via: this registrar's HTTP API, or passed on by a peer because the element is homed here) and what they did: counted, the one that took the element out (removed), refused for the client's rate (rate_limited) or for an unknown element (unknown), or with peering passed on to the element's home registrar, which counts it there (forwarded).", "via", "outcome")
	for v, via := range reportViaNames {
		for i, o := range reportOutcomeNames {
			if via == ReportViaPeer && o == ReportForwarded {
				continue // a report a peer passed on is never passed on again
			}
			m.reports[v][i] = reports.WithLabelValues(via, o)
		}
	}
	admin := f.counterVec("poolnsd_admin_changes_total", "Changes of an element's administrative state, by the new state.", "to")
	for a := range m.adminChanges {
		m.adminChanges[a] = admin.WithLabelValues(handlespace.Admin(a).String())
	}

	regs := f.counterVec("poolnsd_registrations_total", "Pool elements registered (new registrations, not refreshes), by source.", "source")
	refr := f.counterVec("poolnsd_registration_refreshes_total", "Registrations refreshed (re-registered before their lease ended), by source.", "source")
	deregs := f.counterVec("poolnsd_deregistrations_total", "Pool elements deregistered, by source.", "source")
	rej := f.counterVec("poolnsd_registration_rejections_total", "Registrations and deregistrations refused, by source and cause: by the registrar (both sources), DNS UPDATEs refused before it (signature, key not allowed the pool, malformed, rate), and HTTP registrations and deregistrations refused with 401 (no or a wrong bearer token: source=http, cause=auth; a 401 on the report or admin endpoints is not counted).", "source", "cause")
	for s, src := range sourceNames {
		m.registrations[s] = regs.WithLabelValues(src)
		m.refreshes[s] = refr.WithLabelValues(src)
		m.deregs[s] = deregs.WithLabelValues(src)
		for c, cause := range causeNames {
			m.rejections[s][c] = rej.WithLabelValues(src, cause)
		}
	}
	m.expiries = f.counter("poolnsd_registration_expiries_total", "Registrations removed because their lease ended (also those that ended while poolnsd was down).")

	msgs := f.counterVec("poolnsd_enrp_messages_total", "ENRP messages (RFC 5353), by direction and message type.", "direction", "type")
	upd := f.counterVec("poolnsd_enrp_handle_updates_total", "ENRP handle updates (ENRP_HANDLE_UPDATE), by direction.", "direction")
	for d, dir := range directionNames {
		for t, typ := range enrpTypeNames {
			m.enrpMsgs[d][t] = msgs.WithLabelValues(dir, typ)
		}
		m.updates[d] = upd.WithLabelValues(dir)
	}
	tko := f.counterVec("poolnsd_enrp_takeovers_total", "Takeovers of a dead peer's pool elements, by outcome: this registrar started one, completed it, gave it up (abandoned), or another registrar took the dead peer over (yielded).", "outcome")
	for i, o := range takeoverNames {
		m.takeovers[i] = tko.WithLabelValues(o)
	}
	m.takenElements = f.counter("poolnsd_enrp_elements_taken_over_total", "Pool elements this registrar became home for by takeover.")
	m.reg.MustRegister(&peerCollector{m: m, desc: prometheus.NewDesc("poolnsd_enrp_peers",
		"Peer registrars this one knows of, by state: heard from (up), asked to answer after a silence (suspect), dead, stopped by plan after handing its elements off (left, for 10 minutes).", []string{"state"}, nil)})

	rel := f.counterVec("poolnsd_zone_loads_total", "Loads of the zones directory (at start, SIGHUP, file change), by result.", "result")
	m.reloads[0], m.reloads[1] = rel.WithLabelValues("ok"), rel.WithLabelValues("error")
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "poolnsd_zone_load_success_timestamp_seconds",
		Help: "When the zones were last loaded without error, in seconds since the Unix epoch (0: never).",
	}, func() float64 { return float64(m.lastReload.Load()) / 1e9 }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "poolnsd_ready",
		Help: "1 when the server is ready (zones loaded, store open, serving), 0 while it starts or stops.",
	}, func() float64 { return b2f(m.ready.Load()) }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "poolnsd_start_time_seconds",
		Help: "When the server started, in seconds since the Unix epoch.",
	}, func() float64 { return m.startedUnix }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "poolnsd_build_info",
		Help:        "Always 1; the labels say which poolnsd this is.",
		ConstLabels: prometheus.Labels{"version": o.Version, "goversion": runtime.Version()},
	}, func() float64 { return 1 }))
	m.reg.MustRegister(&probeCollector{m: m})
	m.vant = newVantageMetrics(f, m.reg)
	m.reg.MustRegister(&protectCollector{m: m})
	m.reg.MustRegister(&dnssecCollector{m: m})
	m.reg.MustRegister(&storeCollector{m: m})
	m.reg.MustRegister(&tallyCollector{m: m})
	m.reg.MustRegister(internCollector{})

	if o.View != nil {
		m.reg.MustRegister(newViewCollector(o.View))
	}
	if !o.NoRuntime {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// factory registers metrics in one registry.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

// Handler serves the metrics in the Prometheus exposition formats (text
// by default, OpenMetrics or protobuf when the scraper asks), gzipped when
// the scraper accepts it.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:          slogPrinter{m.log},
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
		Timeout:           10 * time.Second,
	})
}

type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.l.Error("metrics exposition", "err", v) }

// DNS returns the DNS front's counters (nil on a nil *Metrics), for
// dnsfront.Config.Metrics.
func (m *Metrics) DNS() *DNS {
	if m == nil {
		return nil
	}
	return m.dns
}

// SetReady sets poolnsd_ready.
func (m *Metrics) SetReady(ready bool) {
	if m == nil {
		return
	}
	m.ready.Store(ready)
}

// ZonesLoaded counts a load of the zones (at start, on SIGHUP, on a file
// change): ok is false when it failed and the last good zones kept
// serving.
func (m *Metrics) ZonesLoaded(ok bool, at time.Time) {
	if m == nil {
		return
	}
	if ok {
		m.reloads[0].Inc()
		m.lastReload.Store(at.UnixNano())
		return
	}
	m.reloads[1].Inc()
}
