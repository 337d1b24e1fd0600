package e2e

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/metrics/metricstest"
)

// TestProtectionsReload: SIGHUP applies the DNS front's protections: an
// NSID set in the file is sent after the reload, and an allow_query that
// leaves the client out refuses it, with Extended DNS Error 18.
func TestProtectionsReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "zones/pool.example.zone", `$ORIGIN pool.example.
$TTL 300
@      SOA ns1 hostmaster 1 3600 600 86400 5
@      NS  ns1
ns1    A   192.0.2.53
$POOL web
web    PE 192.0.2.10:80
`)
	conf := func(extra string) {
		writeFile(t, dir, "poolnsd.yaml", `dns:
  listen: ["127.0.0.1:0"]
`+extra+`http:
  listen: "127.0.0.1:0"
zones: zones
data: data
log:
  format: json
`)
	}
	conf("")
	p := startDaemon(t, dir)
	addr, _ := p.ready()
	ask := func() *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion("web.pool.example.", dns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
		r, _, err := (&dns.Client{Timeout: 3 * time.Second}).Exchange(m, addr)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	option := func(r *dns.Msg, code uint16) dns.EDNS0 {
		if opt := r.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				if o.Option() == code {
					return o
				}
			}
		}
		return nil
	}
	if r := ask(); len(r.Answer) != 1 || option(r, dns.EDNS0NSID) != nil {
		t.Fatalf("before: %v; want the answer and no NSID", r)
	}
	conf("  nsid: reload-test\n")
	p.hup("the reload", func(r logRec) bool { return r.Str("msg") == "configuration reloaded" })
	if r := ask(); option(r, dns.EDNS0NSID) == nil || option(r, dns.EDNS0NSID).(*dns.EDNS0_NSID).Nsid != "72656c6f61642d74657374" {
		t.Errorf("after nsid: reload-test: %v", r)
	}
	conf("  nsid: reload-test\n  allow_query: [\"192.0.2.0/24\"]\n")
	rec := p.hup("the reload", func(r logRec) bool { return r.Str("msg") == "configuration reloaded" })
	if !strings.Contains(fmt.Sprint(rec["applied"]), "dns.allow_query") {
		t.Errorf("reload log %v, want dns.allow_query applied", rec)
	}
	r := ask()
	ede, _ := option(r, dns.EDNS0EDE).(*dns.EDNS0_EDE)
	if r.Rcode != dns.RcodeRefused || ede == nil || ede.InfoCode != 18 {
		t.Errorf("from outside allow_query: %v; want REFUSED with EDE 18", r)
	}
}

// TestProtectMetrics: a flood from one client is cut by the rate limit,
// and /metrics counts what was sent, dropped and slipped, the queries'
// cookies, and the UDP loop's system calls; a reload that replaces the
// limiter keeps the counts (counters never go back).
func TestProtectMetrics(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "zones/pool.example.zone", `$ORIGIN pool.example.
$TTL 300
@      SOA ns1 hostmaster 1 3600 600 86400 5
@      NS  ns1
ns1    A   192.0.2.53
$POOL web
web    PE 192.0.2.10:80
`)
	conf := func(rate int) {
		writeFile(t, dir, "poolnsd.yaml", fmt.Sprintf(`dns:
  listen: ["127.0.0.1:0"]
  rrl:
    responses_per_second: %d
    slip: 2
http:
  listen: "127.0.0.1:0"
zones: zones
data: data
log:
  format: json
`, rate))
	}
	conf(1)
	p := startDaemon(t, dir)
	addr, _ := p.ready()
	api, _ := p.waitLog(0, "the HTTP line", msgIs("serving HTTP API"))
	base := "http://" + api.Str("addr")

	// 40 queries at once from one socket: the bucket holds a few, the
	// rest are dropped or slipped (every second one).
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := new(dns.Msg)
	m.SetQuestion("web.pool.example.", dns.TypeA)
	for i := 0; i < 40; i++ {
		m.Id = uint16(i)
		b, _ := m.Pack()
		c.Write(b)
	}
	// One with a client cookie; its reply (or its slip) is sent.
	ck := new(dns.Msg)
	ck.SetQuestion("web.pool.example.", dns.TypeA)
	ck.SetEdns0(1232, false)
	ck.IsEdns0().Option = append(ck.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
	b, _ := ck.Pack()
	c.Write(b)

	scrape := func() metricstest.Samples {
		t.Helper()
		s, _, err := metricstest.Scrape(http.DefaultClient, base+"/metrics")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	var s metricstest.Samples
	deadline := time.Now().Add(waitLimit)
	for {
		s = scrape()
		if s.Sum("poolnsd_dns_rrl_responses_total") >= 41 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	sent, _ := s.Value("poolnsd_dns_rrl_responses_total", "class=answer", "verdict=sent")
	dropped, _ := s.Value("poolnsd_dns_rrl_responses_total", "class=answer", "verdict=dropped")
	slipped, _ := s.Value("poolnsd_dns_rrl_responses_total", "class=answer", "verdict=slipped")
	if sent+dropped+slipped != 41 || sent < 1 || sent > 10 || dropped < 10 || slipped < 10 {
		t.Errorf("rate-limit counts sent %v dropped %v slipped %v, want 41 in all, most cut", sent, dropped, slipped)
	}
	// Slipped replies have TC=1 but are no truncation: the rate limit's
	// family counts them, not the truncation counter.
	s.Expect(t, "poolnsd_dns_cookies_total{status=client-only} 1", "poolnsd_dns_cookies_total{status=valid} 0",
		"poolnsd_dns_truncated_total 0")
	if r, _ := s.Value("poolnsd_dns_udp_datagrams_total", "direction=read"); r < 41 {
		t.Errorf("UDP datagrams read %v, want at least 41", r)
	}
	if calls, _ := s.Value("poolnsd_dns_udp_syscalls_total", "direction=read"); calls < 1 {
		t.Errorf("UDP read calls %v, want some", calls)
	}

	// A new rate: a new limiter; the counts carry on.
	conf(2)
	p.hup("the reload", func(r logRec) bool { return r.Str("msg") == "configuration reloaded" })
	after := scrape()
	for _, v := range []string{"sent", "dropped", "slipped"} {
		was, _ := s.Value("poolnsd_dns_rrl_responses_total", "class=answer", "verdict="+v)
		now, _ := after.Value("poolnsd_dns_rrl_responses_total", "class=answer", "verdict="+v)
		if now < was {
			t.Errorf("after the reload, %s went back from %v to %v", v, was, now)
		}
	}
}
