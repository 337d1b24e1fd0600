package metrics

import (
	"context"
	"slices"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/metrics/dnsmetrics"
	"github.com/poolnsd/poolnsd/probe"
	"github.com/prometheus/client_golang/prometheus"
)

// Probe kinds: the values of the kind label ("other" for any other).
var kindNames = [...]string{"tcp", "http", "https", "dns", "tls", "other"}

const nKinds = len(kindNames)

func kindIndex(kind string) int {
	for i, k := range kindNames[:nKinds-1] {
		if k == kind {
			return i
		}
	}
	return nKinds - 1
}

// Probe counts one finished probe of the given kind (tcp, http, https,
// dns, tls), whether it passed, and how long it took.
func (m *Metrics) Probe(kind string, ok bool, d time.Duration) {
	if m == nil {
		return
	}
	k := kindIndex(kind)
	if ok {
		m.probes[k][1].Inc()
	} else {
		m.probes[k][0].Inc()
	}
	m.probeDur[k].Observe(d)
}

// InstrumentCheckers returns checkers that call m.Probe with each result
// of the given ones, by kind: the prober's Config.Checkers. nil checkers
// are probe.DefaultCheckers(). A wrapped checker that can forget a target
// (a Forget(key) method, as the HTTP checker's kept connections) still can.
func (m *Metrics) InstrumentCheckers(checkers map[string]probe.Checker) map[string]probe.Checker {
	if checkers == nil {
		checkers = probe.DefaultCheckers()
	}
	if m == nil {
		return checkers
	}
	out := make(map[string]probe.Checker, len(checkers))
	for kind, c := range checkers {
		out[kind] = &instrumented{c: c, kind: kind, m: m}
	}
	return out
}

// instrumented is a checker that counts its results.
type instrumented struct {
	c    probe.Checker
	kind string
	m    *Metrics
}

var _ probe.Checker = (*instrumented)(nil)

// Check implements probe.Checker.
func (i *instrumented) Check(ctx context.Context, t probe.Target) probe.Result {
	r := i.c.Check(ctx, t)
	i.m.Probe(i.kind, r.OK, r.RTT)
	return r
}

// Forget passes a forgotten target on to the wrapped checker, if it keeps
// state per target.
func (i *instrumented) Forget(key string) {
	if f, ok := i.c.(interface{ Forget(string) }); ok {
		f.Forget(key)
	}
}

// SetProbeStats gives the function that poolnsd_probe_targets and the
// other prober gauges read at scrape time (the monitor's Stats).
func (m *Metrics) SetProbeStats(f func() probe.Stats) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.probeInfo = f
	m.mu.Unlock()
}

// HealthChange counts an element's change of health to h.
func (m *Metrics) HealthChange(h handlespace.Health) {
	if m == nil || int(h) >= len(m.healthChanges) {
		return
	}
	m.healthChanges[h].Inc()
}

// AdminChange counts an element's change of administrative state to a.
func (m *Metrics) AdminChange(a handlespace.Admin) {
	if m == nil || int(a) >= len(m.adminChanges) {
		return
	}
	m.adminChanges[a].Inc()
}

// Outcomes of failure reports, for FailureReport.
const (
	ReportCounted     = "counted"      // counted; the element stays in the answers
	ReportRemoved     = "removed"      // this report took the element out of the answers
	ReportRateLimited = "rate_limited" // refused: the client sent too many
	ReportUnknown     = "unknown"      // refused: no such pool or element
	ReportForwarded   = "forwarded"    // passed on to the element's home registrar, which counts it
)

var reportOutcomeNames = [...]string{ReportCounted, ReportRemoved, ReportRateLimited, ReportUnknown, ReportForwarded}

const nReportOutcomes = len(reportOutcomeNames)

// The ways a failure report comes, for FailureReport.
const (
	ReportViaAPI  = "api"  // from a pool user, through this registrar's HTTP API
	ReportViaPeer = "peer" // passed on by a peer registrar: the element is homed here
)

var reportViaNames = [...]string{ReportViaAPI, ReportViaPeer}

const nReportVias = len(reportViaNames)

// FailureReport counts a pool user's failure report by the way it came
// (ReportViaAPI, ReportViaPeer) and its outcome (one of the Report
// constants); anything else is not counted. A report made at one
// registrar and counted at the element's home is counted twice across
// the cluster: via=api outcome=forwarded where it was made, via=peer with
// its outcome at the home.
func (m *Metrics) FailureReport(via, outcome string) {
	if m == nil {
		return
	}
	v := slices.Index(reportViaNames[:], via)
	i := slices.Index(reportOutcomeNames[:], outcome)
	if v >= 0 && i >= 0 && m.reports[v][i] != nil {
		m.reports[v][i].Inc()
	}
}

// Source is where a registration came from: the value of the source label.
type Source string

// Sources of registrations.
const (
	SourceDNS   Source = "dns"   // DNS UPDATE
	SourceHTTP  Source = "http"  // the HTTP API
	SourceENRP  Source = "enrp"  // a peer registrar's handle update
	SourceOther Source = "other" // anything else
)

var sourceNames = [...]string{string(SourceDNS), string(SourceHTTP), string(SourceENRP), string(SourceOther)}

const nSources = len(sourceNames)

func sourceIndex(s Source) int {
	if i := slices.Index(sourceNames[:], string(s)); i >= 0 {
		return i
	}
	return nSources - 1
}

// Cause is why a registration was refused: the value of the cause label.
// It is dnsmetrics.Cause, so that the DNS front names the causes of its
// refusals without depending on this package.
type Cause = dnsmetrics.Cause

// Causes of refused registrations.
const (
	CauseAuth      = dnsmetrics.CauseAuth      // no or bad TSIG signature or bearer token
	CauseForbidden = dnsmetrics.CauseForbidden // authenticated, but the key may not change this pool
	CauseMalformed = dnsmetrics.CauseMalformed // the request does not describe an element
	CausePolicy    = dnsmetrics.CausePolicy    // inconsistent pooling policy (RFC 5354)
	CauseConflict  = dnsmetrics.CauseConflict  // the name is another element's, or a static name
	CauseNoZone    = dnsmetrics.CauseNoZone    // the pool is not under a served zone
	CauseLimit     = dnsmetrics.CauseLimit     // over a configured limit (lease bounds, sizes)
	CauseStore     = dnsmetrics.CauseStore     // the store could not write it
	CauseOther     = dnsmetrics.CauseOther     // anything else
)

var causeNames = [...]string{
	string(CauseAuth), string(CauseForbidden), string(CauseMalformed), string(CausePolicy),
	string(CauseConflict), string(CauseNoZone), string(CauseLimit), string(CauseStore), string(CauseOther),
}

const nCauses = len(causeNames)

func causeIndex(c Cause) int {
	if i := slices.Index(causeNames[:], string(c)); i >= 0 {
		return i
	}
	return nCauses - 1
}

// Registered counts a registration accepted from src: a new element, or a
// refresh of a registered one.
func (m *Metrics) Registered(src Source, refresh bool) {
	if m == nil {
		return
	}
	if refresh {
		m.refreshes[sourceIndex(src)].Inc()
	} else {
		m.registrations[sourceIndex(src)].Inc()
	}
}

// Deregistered counts an element deregistered by src.
func (m *Metrics) Deregistered(src Source) {
	if m == nil {
		return
	}
	m.deregs[sourceIndex(src)].Inc()
}

// Expired counts n registrations whose lease ended.
func (m *Metrics) Expired(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.expiries.Add(float64(n))
}

// Rejected counts a registration or deregistration from src refused for
// cause.
func (m *Metrics) Rejected(src Source, cause Cause) {
	if m == nil {
		return
	}
	m.rejections[sourceIndex(src)][causeIndex(cause)].Inc()
}

// ENRP message types (RFC 5353 section 2.2), by their type code - 1.
var enrpTypeNames = [...]string{
	"presence", "handle_table_request", "handle_table_response", "handle_update",
	"list_request", "list_response", "init_takeover", "init_takeover_ack",
	"takeover_server", "error", "other",
}

const nENRPTypes = len(enrpTypeNames)

var directionNames = [2]string{"received", "sent"}

// ENRP message type codes of RFC 5353, for ENRPMessage.
const (
	ENRPPresence            = 1
	ENRPHandleTableRequest  = 2
	ENRPHandleTableResponse = 3
	ENRPHandleUpdate        = 4
	ENRPListRequest         = 5
	ENRPListResponse        = 6
	ENRPInitTakeover        = 7
	ENRPInitTakeoverAck     = 8
	ENRPTakeoverServer      = 9
	ENRPError               = 10
)

// ENRPMessage counts an ENRP message of type typ (an RFC 5353 code, 1..10)
// sent to or received from a peer. Handle updates also count in
// poolnsd_enrp_handle_updates_total.
func (m *Metrics) ENRPMessage(sent bool, typ uint8) {
	if m == nil {
		return
	}
	d := 0
	if sent {
		d = 1
	}
	t := nENRPTypes - 1
	if typ >= 1 && int(typ) < nENRPTypes {
		t = int(typ) - 1
	}
	m.enrpMsgs[d][t].Inc()
	if typ == ENRPHandleUpdate {
		m.updates[d].Inc()
	}
}

// Takeover outcomes, for Takeover.
const (
	TakeoverStarted   = "started"   // this registrar sent ENRP_INIT_TAKEOVER
	TakeoverCompleted = "completed" // it became home of the dead peer's elements
	TakeoverYielded   = "yielded"   // another registrar's takeover won (it acknowledged one)
	TakeoverAbandoned = "abandoned" // the peer came back, or the takeover failed
)

var takeoverNames = [...]string{TakeoverStarted, TakeoverCompleted, TakeoverYielded, TakeoverAbandoned}

const nTakeoverOutcomes = len(takeoverNames)

// Takeover counts a takeover event by outcome (one of the Takeover
// constants); for TakeoverCompleted, elements is how many elements this
// registrar took over.
func (m *Metrics) Takeover(outcome string, elements int) {
	if m == nil {
		return
	}
	if i := slices.Index(takeoverNames[:], outcome); i >= 0 {
		m.takeovers[i].Inc()
	}
	if outcome == TakeoverCompleted && elements > 0 {
		m.takenElements.Add(float64(elements))
	}
}

// Peer states: the values of poolnsd_enrp_peers' state label.
const (
	PeerUp      = "up"      // heard from
	PeerSuspect = "suspect" // asked to answer after a silence
	PeerDead    = "dead"    // did not answer: dead, its elements taken over
	PeerLeft    = "left"    // stopped by plan: handed its elements off (listed for enrp.LeftMemory)
)

var peerStateNames = [...]string{PeerUp, PeerSuspect, PeerDead, PeerLeft}

// SetPeerStates gives the function that poolnsd_enrp_peers reads at scrape
// time: the number of peers in each state (PeerUp, PeerSuspect, PeerDead,
// PeerLeft).
// The states must be a small fixed set; at most maxPeerStates are
// exported.
func (m *Metrics) SetPeerStates(f func() map[string]int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.peerState = f
	m.mu.Unlock()
}

const maxPeerStates = 16

type peerCollector struct {
	m    *Metrics
	desc *prometheus.Desc
}

func (c *peerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *peerCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	f := c.m.peerState
	c.m.mu.Unlock()
	if f == nil {
		return
	}
	states := f()
	keys := make([]string, 0, len(states))
	for k := range states {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys[:min(len(keys), maxPeerStates)] {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(states[k]), k)
	}
}

// probeCollector exports the probe duration histograms and the prober's
// gauges.
type probeCollector struct {
	m *Metrics
}

var (
	descProbeTargets  = prometheus.NewDesc("poolnsd_probe_targets", "Pool elements this registrar probes.", nil, nil)
	descProbeInFlight = prometheus.NewDesc("poolnsd_probes_in_flight", "Probes started and not finished.", nil, nil)
	descProbeLate     = prometheus.NewDesc("poolnsd_probes_late_total",
		"Probes that started more than a tenth of their interval late (too few probe.workers, or checks that hang).", nil, nil)
	descProbeMaxLate = prometheus.NewDesc("poolnsd_probe_max_lateness_seconds", "The latest start of a probe so far.", nil, nil)
	descProbeStalled = prometheus.NewDesc("poolnsd_probes_stalled_total",
		"Probe failures not counted because this process did not run while the probe waited (SIGSTOP, a paused machine, starvation); each target was probed again at once.", nil, nil)
)

func (c *probeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.m.descProbeDur
	ch <- descProbeTargets
	ch <- descProbeInFlight
	ch <- descProbeLate
	ch <- descProbeMaxLate
	ch <- descProbeStalled
}

func (c *probeCollector) Collect(ch chan<- prometheus.Metric) {
	for k, kind := range kindNames {
		if c.m.probeDur[k].Count() > 0 {
			ch <- histMetric(c.m.probeDur[k], c.m.descProbeDur, kind)
		}
	}
	c.m.mu.Lock()
	f := c.m.probeInfo
	c.m.mu.Unlock()
	if f == nil {
		return
	}
	st := f()
	ch <- prometheus.MustNewConstMetric(descProbeTargets, prometheus.GaugeValue, float64(st.Targets))
	ch <- prometheus.MustNewConstMetric(descProbeInFlight, prometheus.GaugeValue, float64(st.InFlight))
	ch <- prometheus.MustNewConstMetric(descProbeLate, prometheus.CounterValue, float64(st.Late))
	ch <- prometheus.MustNewConstMetric(descProbeMaxLate, prometheus.GaugeValue, st.MaxLate.Seconds())
	ch <- prometheus.MustNewConstMetric(descProbeStalled, prometheus.CounterValue, float64(st.Stalled))
}
