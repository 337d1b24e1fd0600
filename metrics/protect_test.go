package metrics_test

import (
	"testing"

	"github.com/poolnsd/poolnsd/metrics"
)

// TestProtectStats: the protections' and UDP loops' counters are exported
// as the function given to SetProtectStats reads them at each scrape; the
// rate limiter's sent count is what it counted less what it cut.
func TestProtectStats(t *testing.T) {
	m := metrics.New(metrics.Options{NoRuntime: true})
	s, _ := expose(t, m)
	if got := s.Series("poolnsd_dns_cookies_total"); len(got) != 0 {
		t.Errorf("cookie series before SetProtectStats: %v", got)
	}
	st := metrics.ProtectStats{
		RRL:           []metrics.RRLClassStats{{Class: "answer", Counted: 100, Dropped: 60, Slipped: 30}, {Class: "nxdomain", Counted: 5}},
		RRLEvicted:    2,
		Cookies:       map[string]uint64{"valid": 7, "client-only": 3},
		LogSuppressed: 40, LogSummaries: 2,
		UDPReadCalls: 10, UDPReadMsgs: 80, UDPWriteCalls: 11, UDPWriteMsgs: 79,
		UDPRealtimeFallbacks: 1, UDPQuietSwitches: 3, UDPNicedLoops: 2, UDPNiceFailures: 4,
	}
	m.SetProtectStats(func() metrics.ProtectStats { return st })
	s, _ = expose(t, m)
	s.Expect(t,
		"poolnsd_dns_rrl_responses_total{class=answer,verdict=sent} 10",
		"poolnsd_dns_rrl_responses_total{class=answer,verdict=dropped} 60",
		"poolnsd_dns_rrl_responses_total{class=answer,verdict=slipped} 30",
		"poolnsd_dns_rrl_responses_total{class=nxdomain,verdict=sent} 5",
		"poolnsd_dns_rrl_evictions_total 2",
		"poolnsd_dns_cookies_total{status=valid} 7",
		"poolnsd_dns_cookies_total{status=client-only} 3",
		"poolnsd_dns_cookies_total{status=invalid} 0",
		"poolnsd_log_lines_suppressed_total 40",
		"poolnsd_log_summaries_total 2",
		"poolnsd_dns_udp_syscalls_total{direction=read} 10",
		"poolnsd_dns_udp_datagrams_total{direction=write} 79",
		"poolnsd_dns_udp_realtime_fallbacks_total 1",
		"poolnsd_dns_udp_quiet_switches_total 3",
		"poolnsd_dns_udp_niced_loops 2",
		"poolnsd_dns_udp_nice_failures_total 4",
	)
	st.Cookies["valid"] = 9
	s, _ = expose(t, m)
	s.Expect(t, "poolnsd_dns_cookies_total{status=valid} 9")
}
