package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// ProtectStats are the counters of the DNS front's protections and of its
// UDP loops, read at scrape time (see SetProtectStats). Every count is a
// total since the process started.
type ProtectStats struct {
	// RRL are the rate limiter's counts by response class ("answer",
	// "nxdomain", …); nil when rate limiting never ran.
	RRL []RRLClassStats
	// RRLEvicted counts buckets replaced while they limited their prefix.
	RRLEvicted uint64
	// Cookies counts the queries with a COOKIE option by what it was
	// ("valid", "client-only", "invalid", …).
	Cookies map[string]uint64
	// LogSuppressed and LogSummaries count the log lines the repeat limit
	// left out and the summary lines it wrote instead.
	LogSuppressed, LogSummaries uint64
	// UDP counts the UDP loops' system calls and the datagrams they moved.
	UDPReadCalls, UDPReadMsgs, UDPWriteCalls, UDPWriteMsgs uint64
	// UDPRealtimeFallbacks counts the UDP loops' switches to the wait
	// through the scheduler under a real-time scheduling policy.
	UDPRealtimeFallbacks uint64
	// UDPQuietSwitches counts the UDP loops' switches to the wait through
	// the scheduler in a quiet second.
	UDPQuietSwitches uint64
	// UDPNicedLoops is the UDP loops whose thread runs at dns.udp_nice
	// now; UDPNiceFailures counts those whose thread could not be given it.
	UDPNicedLoops   int64
	UDPNiceFailures uint64
}

// RRLClassStats are the rate limiter's counts of one response class.
type RRLClassStats struct {
	Class                     string
	Counted, Dropped, Slipped uint64
}

var (
	descRRL = prometheus.NewDesc("poolnsd_dns_rrl_responses_total",
		"UDP responses the response rate limit (dns.rrl) saw, by response class and verdict: sent (within the rate), dropped, or slipped (sent truncated, or BADCOOKIE to a client with a cookie, so that a real client retries). Replies over TCP, with a valid server cookie or to an exempt prefix are not counted. In a dry run (dns.rrl.dry_run) dropped and slipped count what would have been.",
		[]string{"class", "verdict"}, nil)
	descRRLEvicted = prometheus.NewDesc("poolnsd_dns_rrl_evictions_total",
		"Rate-limit buckets replaced while they were limiting their prefix: more flooding prefixes than dns.rrl.table_size holds.", nil, nil)
	descCookies = prometheus.NewDesc("poolnsd_dns_cookies_total",
		"Queries with a DNS COOKIE option (RFC 7873), by what the option held: malformed, a client cookie only, a server cookie that is not valid (invalid), a valid one, or a valid one that the reply renews (valid-renew).",
		[]string{"status"}, nil)
	descLogSuppressed = prometheus.NewDesc("poolnsd_log_lines_suppressed_total",
		"Log lines left out by the limit of repeated lines (log.repeat_limit); a summary line says what was left out.", nil, nil)
	descLogSummaries = prometheus.NewDesc("poolnsd_log_summaries_total",
		"Summary lines written in place of repeated log lines.", nil, nil)
	descUDPCalls = prometheus.NewDesc("poolnsd_dns_udp_syscalls_total",
		"System calls of the batched UDP loops (recvmmsg, sendmmsg), by direction, the reads that found nothing (a wait ended by the runtime or a timeout) included; with poolnsd_dns_udp_datagrams_total, the datagrams moved per call.",
		[]string{"direction"}, nil)
	descUDPMsgs = prometheus.NewDesc("poolnsd_dns_udp_datagrams_total",
		"Datagrams the batched UDP loops read and sent, by direction.", []string{"direction"}, nil)
	descUDPRealtime = prometheus.NewDesc("poolnsd_dns_udp_realtime_fallbacks_total",
		"Times the UDP loops (dns.udp_wait: thread) found the process under a real-time scheduling policy (SCHED_FIFO, SCHED_RR, SCHED_DEADLINE), at their start or later, and went to wait through the Go scheduler with GOMAXPROCS at its base (they go back once no thread is real-time).", nil, nil)
	descUDPQuiet = prometheus.NewDesc("poolnsd_dns_udp_quiet_switches_total",
		"Times the UDP loops (dns.udp_wait: thread) had a quiet second (fewer than 100 datagrams per loop) and went to wait through the Go scheduler with GOMAXPROCS at its base; the first busy second switches them back.", nil, nil)
	descUDPNiced = prometheus.NewDesc("poolnsd_dns_udp_niced_loops",
		"UDP loops (dns.udp_wait: thread) whose thread runs at the better nice value of dns.udp_nice now: 0 with dns.udp_nice 0, or where it could not be set.", nil, nil)
	descUDPNiceFailures = prometheus.NewDesc("poolnsd_dns_udp_nice_failures_total",
		"UDP loops whose thread could not be given the nice value of dns.udp_nice (no CAP_SYS_NICE): they run at the process's.", nil, nil)
)

// cookieStatusNames are the statuses poolnsd_dns_cookies_total exports.
var cookieStatusNames = [...]string{"malformed", "client-only", "invalid", "valid", "valid-renew"}

// rrlClassNames are the response classes of the rate limiter.
var rrlClassNames = [...]string{"answer", "nodata", "nxdomain", "referral", "error"}

// SetProtectStats gives the function that the protections' and UDP loops'
// families read at scrape time.
func (m *Metrics) SetProtectStats(f func() ProtectStats) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.protectStats = f
	m.mu.Unlock()
}

type protectCollector struct{ m *Metrics }

func (c *protectCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRRL, descRRLEvicted, descCookies, descLogSuppressed, descLogSummaries, descUDPCalls, descUDPMsgs, descUDPRealtime, descUDPQuiet, descUDPNiced, descUDPNiceFailures} {
		ch <- d
	}
}

func (c *protectCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	f := c.m.protectStats
	c.m.mu.Unlock()
	if f == nil {
		return
	}
	s := f()
	for _, r := range s.RRL {
		constCounter(ch, descRRL, r.Counted-min(r.Counted, r.Dropped+r.Slipped), r.Class, "sent")
		constCounter(ch, descRRL, r.Dropped, r.Class, "dropped")
		constCounter(ch, descRRL, r.Slipped, r.Class, "slipped")
	}
	if s.RRL != nil {
		constCounter(ch, descRRLEvicted, s.RRLEvicted)
	}
	for _, st := range cookieStatusNames {
		constCounter(ch, descCookies, s.Cookies[st], st)
	}
	constCounter(ch, descLogSuppressed, s.LogSuppressed)
	constCounter(ch, descLogSummaries, s.LogSummaries)
	constCounter(ch, descUDPCalls, s.UDPReadCalls, "read")
	constCounter(ch, descUDPCalls, s.UDPWriteCalls, "write")
	constCounter(ch, descUDPMsgs, s.UDPReadMsgs, "read")
	constCounter(ch, descUDPMsgs, s.UDPWriteMsgs, "write")
	constCounter(ch, descUDPRealtime, s.UDPRealtimeFallbacks)
	constCounter(ch, descUDPQuiet, s.UDPQuietSwitches)
	ch <- prometheus.MustNewConstMetric(descUDPNiced, prometheus.GaugeValue, float64(s.UDPNicedLoops))
	constCounter(ch, descUDPNiceFailures, s.UDPNiceFailures)
}

// constCounter sends a counter read at scrape time: the collectors that
// read a function's totals (protections, the DNSSEC cache) share it.
func constCounter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}
