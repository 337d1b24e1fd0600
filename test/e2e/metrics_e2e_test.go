package e2e

import (
	"github.com/poolnsd/poolnsd/internal/proctest"
	"net/http"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/metrics/metricstest"
)

// TestRegistrationMetrics: registrations, refreshes, deregistrations and
// refusals by DNS UPDATE and by HTTP, against the built binary, give exact
// counts at /metrics, by source and cause.
func TestRegistrationMetrics(t *testing.T) {
	dir := daemonDir(t, goodZone, regConfig()...)
	p := startDaemon(t, dir, "--http.token", regToken)
	dnsAddr, _ := p.ready()
	api, _ := p.waitLog(0, "the HTTP line", msgIs("serving HTTP API"))
	base := "http://" + api.Str("addr")

	// DNS UPDATE: a registration, its refresh, one unsigned, one signed
	// with a wrong secret.
	if err := register(dnsAddr, "r1", 1, 60); err != nil {
		t.Fatal(err)
	}
	if err := register(dnsAddr, "r1", 1, 60); err != nil {
		t.Fatal(err)
	}
	upd := func(secret string) int {
		m := new(dns.Msg)
		m.SetUpdate("pool.example.")
		srv, _ := dns.NewRR("r2.reg.pool.example. 60 IN SRV 0 0 80 r2.reg.pool.example.")
		a, _ := dns.NewRR("r2.reg.pool.example. 60 IN A 10.0.9.2")
		m.Insert([]dns.RR{srv, a})
		c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
		if secret != "" {
			m.SetTsig("pe-key.", dns.HmacSHA256, 300, time.Now().Unix())
			c.TsigSecret = map[string]string{"pe-key.": secret}
		}
		r, _, err := c.Exchange(m, dnsAddr)
		if err != nil && r == nil {
			t.Fatal(err)
		}
		return r.Rcode
	}
	if rc := upd(""); rc != dns.RcodeRefused {
		t.Fatalf("unsigned update: %s, want REFUSED", dns.RcodeToString[rc])
	}
	if rc := upd("d3JvbmctbG9uZy1zZWNyZXQtMTIzNDU2Nzg5MA=="); rc != dns.RcodeNotAuth {
		t.Fatalf("wrongly signed update: %s, want NOTAUTH", dns.RcodeToString[rc])
	}

	// HTTP: a registration, one with another policy than the pool's, one
	// over a zone file's element, a deregistration.
	doAs := func(token, method, path, body string, want int) {
		t.Helper()
		if code, b := proctest.APIDo(t, method, base+path, token, body); code != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
		}
	}
	do := func(method, path, body string, want int) {
		t.Helper()
		doAs(regToken, method, path, body, want)
	}
	do("PUT", "/v1/pools/reg.pool.example./elements/h1", `{"addresses":["10.0.9.10"],"port":80}`, 201)
	do("PUT", "/v1/pools/reg.pool.example./elements/h2", `{"addresses":["10.0.9.11"],"port":80,"policy":"wrr"}`, 409)
	zoneElem := handlespace.IDString(handlespace.ElementID(netip.MustParseAddr("10.0.0.1"), 8080))
	do("PUT", "/v1/pools/web.pool.example./elements/"+zoneElem, `{"addresses":["10.0.0.1"],"port":8080}`, 409)
	do("DELETE", "/v1/pools/reg.pool.example./elements/h1", "", 200)
	// Refused with 401: a registration without a token and a
	// deregistration with a wrong one count as auth rejections; a failure
	// report with a wrong token is no registration and does not.
	doAs("", "PUT", "/v1/pools/reg.pool.example./elements/h3", `{"addresses":["10.0.9.12"],"port":80}`, 401)
	doAs("wrong-token", "DELETE", "/v1/pools/reg.pool.example./elements/h3", "", 401)
	doAs("wrong-token", "POST", "/v1/pools/web.pool.example./reports", `{"element":"`+zoneElem+`"}`, 401)

	s, text, err := metricstest.Scrape(http.DefaultClient, base+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	s.Expect(t,
		"poolnsd_registrations_total{source=dns} 1",
		"poolnsd_registration_refreshes_total{source=dns} 1",
		"poolnsd_registrations_total{source=http} 1",
		"poolnsd_registration_refreshes_total{source=http} 0",
		"poolnsd_deregistrations_total{source=http} 1",
		"poolnsd_deregistrations_total{source=dns} 0",
		"poolnsd_registration_rejections_total{source=dns,cause=auth} 2",
		"poolnsd_registration_rejections_total{source=http,cause=policy} 1",
		"poolnsd_registration_rejections_total{source=http,cause=conflict} 1",
		"poolnsd_registration_rejections_total{source=http,cause=auth} 2",
	)
	if got := s.Sum("poolnsd_registration_rejections_total"); got != 6 {
		t.Errorf("poolnsd_registration_rejections_total in all = %v, want 6: %v", got, s.Series("poolnsd_registration_rejections_total"))
	}
	if got, _ := s.Value("poolnsd_pools", "origin=registration"); got != 1 {
		t.Errorf("pools made by registrations: %v, want 1 (reg, with r1)", got)
	}
	metricstest.Promtool(t, text)
}

// TestPeeringMetrics: two peering registrars (over TLS) count their ENRP
// messages, handle updates, peers by state, and the takeover of the one
// that is killed.
func TestPeeringMetrics(t *testing.T) {
	ps := peeringCluster(t, peeringZone)
	a, b := ps[0], ps[1] // C is never started: a peer A and B are told of but never hear
	startPeers(t, []*peer{a, b})
	scrape := func(p *peer) (metricstest.Samples, string) {
		t.Helper()
		s, text, err := metricstest.Scrape(http.DefaultClient, "http://"+p.http+"/metrics")
		if err != nil {
			t.Fatal(err)
		}
		return s, text
	}
	val := func(s metricstest.Samples, name string, labels ...string) float64 {
		v, _ := s.Value(name, labels...)
		return v
	}
	before, _ := scrape(b)
	if err := register(a.dns, "r1", 1, 60); err != nil {
		t.Fatal(err)
	}
	waitAnswer(t, "b", b.dns, "reg.pool.example.", []string{"10.0.0.1"})
	sa, _ := scrape(a)
	sb, _ := scrape(b)
	sent := val(sa, "poolnsd_enrp_handle_updates_total", "direction=sent")
	got := val(sb, "poolnsd_enrp_handle_updates_total", "direction=received") - val(before, "poolnsd_enrp_handle_updates_total", "direction=received")
	if sent < 1 || got < 1 {
		t.Errorf("handle updates: A sent %v, B received %v since the registration; want at least 1 each", sent, got)
	}
	if v := val(sa, "poolnsd_enrp_messages_total", "direction=sent", "type=handle_update"); v != sent {
		t.Errorf("A's handle_update messages %v, its handle updates %v: want them equal", v, sent)
	}
	for _, s := range []metricstest.Samples{sa, sb} {
		if v := val(s, "poolnsd_enrp_messages_total", "direction=sent", "type=presence"); v < 1 {
			t.Errorf("presence messages sent: %v, want some", v)
		}
		if v := val(s, "poolnsd_enrp_peers", "state=up"); v != 1 {
			t.Errorf("peers up: %v, want 1; series %v", v, s.Series("poolnsd_enrp_peers"))
		}
	}
	if v := val(sa, "poolnsd_registrations_total", "source=dns"); v != 1 {
		t.Errorf("A's DNS registrations: %v, want 1", v)
	}

	// Kill A: B takes its registration over.
	from := b.p.cursor()
	if err := a.p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.p.waitExit(waitLimit)
	b.p.waitLog(from, "B taking A over", eventIs("takeover-done", "target", handlespace.IDString(a.id)))
	sb, text := scrape(b)
	sb.Expect(t,
		"poolnsd_enrp_takeovers_total{outcome=started} 1",
		"poolnsd_enrp_takeovers_total{outcome=completed} 1",
		"poolnsd_enrp_takeovers_total{outcome=abandoned} 0",
		"poolnsd_enrp_elements_taken_over_total 1",
		"poolnsd_enrp_peers{state=dead} 1",
		"poolnsd_enrp_peers{state=up} 0",
	)
	metricstest.Promtool(t, text)
}
