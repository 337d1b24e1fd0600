package main

import (
	"bytes"
	"encoding/json"
	"github.com/poolnsd/poolnsd/internal/proctest"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/config"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/metrics/metered"
	"github.com/poolnsd/poolnsd/metrics/metricstest"
	"github.com/poolnsd/poolnsd/store"
)

// testBackend serves the API from the daemon's handlespace: reports count
// per element and take it out of the answers at the third, as the monitor
// does; admin states go to the handlespace.
type testBackend struct {
	d  *daemon
	mu sync.Mutex
	n  map[uint32]int
}

func (b *testBackend) View() *handlespace.View { return b.d.hs.View() }
func (b *testBackend) RegistrarID() uint32     { return b.d.hs.RegistrarID() }
func (b *testBackend) ProbeStatus(string, uint32) (httpapi.ProbeStatus, bool) {
	return httpapi.ProbeStatus{}, false
}
func (b *testBackend) Report(pool string, id uint32, _ netip.Addr) (httpapi.ReportOutcome, error) {
	b.mu.Lock()
	b.n[id]++
	n := b.n[id]
	b.mu.Unlock()
	if n >= 3 {
		if err := b.d.hs.Update(pool, id, func(e *handlespace.Element) { e.Reported = true }); err != nil {
			return httpapi.ReportOutcome{}, err
		}
	}
	return httpapi.ReportOutcome{Reports: n, Removed: n >= 3}, nil
}
func (b *testBackend) SetAdmin(pool string, id uint32, a handlespace.Admin) error {
	return b.d.hs.Update(pool, id, func(e *handlespace.Element) { e.Admin = a })
}

const testToken = "t0ken-for-tests"

// inproc is a daemon run inside the test: its DNS on real loopback
// sockets, its HTTP handler on an httptest server.
type inproc struct {
	d    *daemon
	dir  string
	dns  string // DNS address
	base string // HTTP base URL
	log  *proctest.Buffer
	sigc chan os.Signal
	done chan int
	code *int
}

// startInProc starts a daemon on zone (in dir/zones), with the store in
// dir/data, and serves its HTTP handler; the server is up (and /readyz
// checked false) before the daemon starts. setup runs before the start.
func startInProc(t *testing.T, dir, zone string, setup func(dir string)) *inproc {
	t.Helper()
	writeFile(t, dir, "zones/pool.example.zone", zone)
	if setup != nil {
		setup(dir)
	}
	cfg := config.Defaults()
	cfg.DNS.Listen = []string{"127.0.0.1:0"}
	cfg.DNS.UDPSockets = 1
	cfg.Zones = filepath.Join(dir, "zones")
	cfg.Data = filepath.Join(dir, "data")
	cfg.HTTP.Token = testToken
	cfg.ZonesWatch = false // reloads only when the test sends SIGHUP
	cfg.HTTP.Listen = ""   // the test serves the handler on httptest
	buf := &proctest.Buffer{}
	log, level, logLimit := newLiveLogger(cfg, buf)
	t.Cleanup(logLimit.Close)
	d := &daemon{cfg: cfg, log: log, ops: newOperator(nil, level, log)}
	srv := httptest.NewServer(d.httpHandler())
	t.Cleanup(srv.Close)
	p := &inproc{d: d, dir: dir, base: srv.URL, log: buf}

	// Before the start: not ready, the API answers 503, the page is there.
	if code, body := p.get(t, "/readyz"); code != 503 || !strings.Contains(body, `"ready":false`) || !strings.Contains(body, `"reason":"starting"`) {
		t.Fatalf("GET /readyz before the start: %d %s", code, body)
	}
	if code, body := p.get(t, "/v1/status"); code != 503 || !strings.Contains(body, "the server is starting") {
		t.Fatalf("GET /v1/status before the start: %d %s", code, body)
	}
	if code, body := p.get(t, "/"); code != 200 || !strings.Contains(body, "<title>poolnsd</title>") {
		t.Fatalf("GET / before the start: %d %.80s", code, body)
	}

	if code := d.start(); code != exitOK {
		t.Fatalf("start: exit %d; log:\n%s", code, buf.String())
	}
	d.setAPI(func(cfg config.Config) http.Handler {
		return httpapi.NewHandler(metered.Backend{Backend: &testBackend{d: d, n: map[uint32]int{}}, M: d.ops.metrics, ID: d.hs.RegistrarID()}, httpapi.Config{Token: cfg.HTTP.Token, Logger: log})
	})
	p.dns = d.dns.Addrs()[0].String()
	p.sigc = make(chan os.Signal, 1)
	p.done = make(chan int, 1)
	go func() { p.done <- d.loop(p.sigc) }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop sends the loop SIGTERM and returns its exit code (once).
func (p *inproc) stop(t *testing.T) int {
	t.Helper()
	if p.code != nil {
		return *p.code
	}
	p.sigc <- syscall.SIGTERM
	select {
	case c := <-p.done:
		p.code = &c
		return c
	case <-time.After(waitLimit):
		t.Fatalf("the daemon's loop did not end within %v of SIGTERM", waitLimit)
		return -1
	}
}

func (p *inproc) get(t *testing.T, path string) (int, string) {
	t.Helper()
	return p.do(t, "GET", path, "", "")
}

func (p *inproc) do(t *testing.T, method, path, body, token string) (int, string) {
	t.Helper()
	code, b := proctest.APIDo(t, method, p.base+path, token, body)
	return code, string(b)
}

// TestReadyz: /readyz is false while starting (see startInProc), true
// while serving, and false again from the start of the shutdown.
func TestReadyz(t *testing.T) {
	p := startInProc(t, t.TempDir(), goodZone, nil)
	if code, body := p.get(t, "/readyz"); code != 200 || strings.TrimSpace(body) != `{"ready":true}` {
		t.Fatalf("GET /readyz serving: %d %s", code, body)
	}
	if code, body := p.get(t, "/v1/status"); code != 200 {
		t.Fatalf("GET /v1/status serving: %d %s", code, body)
	}
	if code := p.stop(t); code != exitOK {
		t.Fatalf("stop: %d", code)
	}
	if code, body := p.get(t, "/readyz"); code != 503 || !strings.Contains(body, `"reason":"stopping"`) {
		t.Fatalf("GET /readyz after stop: %d %s", code, body)
	}
}

// rawUDP sends b to addr and returns the reply, or nil if none comes
// within wait.
func rawUDP(t *testing.T, addr string, b []byte, wait time.Duration) []byte {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

// TestMetricsEndToEnd: after a known sequence of queries (over real UDP and
// TCP sockets), malformed messages, failure reports, admin changes, lease
// expiries and a failed reload, /metrics has exactly the counts, and
// promtool check metrics accepts it.
func TestMetricsEndToEnd(t *testing.T) {
	zone := goodZone + "web    PE 10.0.0.3:8080\n"
	now := time.Now()
	p := startInProc(t, t.TempDir(), zone, func(dir string) {
		// Two registrations in the store: one whose lease ran out while the
		// server was down, one that runs out two seconds after the start.
		st, err := store.Open(filepath.Join(dir, "data"))
		if err != nil {
			t.Fatal(err)
		}
		for i, exp := range []time.Time{now.Add(-time.Minute), now.Add(2 * time.Second)} {
			a := netip.AddrFrom4([4]byte{10, 9, 0, byte(1 + i)})
			e := &handlespace.Element{ID: handlespace.ElementID(a, 80), Label: handlespace.LabelOf("r" + string(rune('1'+i))), Addrs: handlespace.AddrsOf(a),
				Port: 80, Weight: 1, Expires: handlespace.ExpiryOf(exp), Health: handlespace.HealthUp, Home: st.RegistrarID()}
			if err := st.PutElement("reg.pool.example.", e); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	})
	udp := &dns.Client{Net: "udp", Timeout: 3 * time.Second}
	tcp := &dns.Client{Net: "tcp", Timeout: 3 * time.Second}
	ask := func(c *dns.Client, name string, qtype uint16, rcode int) {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		r, _, err := c.Exchange(m, p.dns)
		if err != nil {
			t.Fatalf("%s %s: %v", name, dns.TypeToString[qtype], err)
		}
		if r.Rcode != rcode {
			t.Fatalf("%s %s: %s, want %s", name, dns.TypeToString[qtype], dns.RcodeToString[r.Rcode], dns.RcodeToString[rcode])
		}
	}
	for range 5 {
		ask(udp, "web.pool.example.", dns.TypeA, dns.RcodeSuccess)
	}
	ask(tcp, "web.pool.example.", dns.TypeSRV, dns.RcodeSuccess)
	ask(tcp, "web.pool.example.", dns.TypeSRV, dns.RcodeSuccess)
	for range 3 {
		ask(udp, "nx.pool.example.", dns.TypeA, dns.RcodeNameError)
	}
	ask(udp, "example.com.", dns.TypeA, dns.RcodeRefused)
	ask(udp, "web.pool.example.", dns.TypeTXT, dns.RcodeSuccess) // NODATA

	// A NOTIFY: NOTIMP before the handler. A question cut short: FORMERR
	// before the handler. A header that promises a question and has none:
	// FORMERR from the handler. Five bytes: no reply at all.
	notify := new(dns.Msg)
	notify.SetNotify("pool.example.")
	b, _ := notify.Pack()
	if r := rawUDP(t, p.dns, b, 3*time.Second); r == nil || r[3]&0xF != dns.RcodeNotImplemented {
		t.Fatalf("NOTIFY: reply %x, want NOTIMP", r)
	}
	hdr := []byte{0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0}
	if r := rawUDP(t, p.dns, append(hdr, 5, 'a'), 3*time.Second); r == nil || r[3]&0xF != dns.RcodeFormatError {
		t.Fatalf("question cut short: reply %x, want FORMERR", r)
	}
	if r := rawUDP(t, p.dns, hdr, 3*time.Second); r == nil || r[3]&0xF != dns.RcodeFormatError {
		t.Fatalf("question missing: reply %x, want FORMERR", r)
	}
	if r := rawUDP(t, p.dns, []byte{1, 2, 3, 4, 5}, 300*time.Millisecond); r != nil {
		t.Fatalf("5 bytes: reply %x, want none", r)
	}

	// Three failure reports for one element: two counted, the third takes
	// it out. Drain another twice (one change) and give it back.
	pv := p.d.hs.View().Zone("pool.example.").Pool("web")
	es := pv.Elements()
	id1, id2 := handlespace.IDString(es[0].ID), handlespace.IDString(es[1].ID)
	for i := range 3 {
		if code, body := p.do(t, "POST", "/v1/pools/web.pool.example./reports", `{"element":"`+id1+`"}`, testToken); code != 202 {
			t.Fatalf("report %d: %d %s", i, code, body)
		}
	}
	for _, st := range []string{"drain", "drain", "auto"} {
		if code, body := p.do(t, "PUT", "/v1/pools/web.pool.example./elements/"+id2+"/admin", `{"state":"`+st+`"}`, testToken); code != 200 {
			t.Fatalf("admin %s: %d %s", st, code, body)
		}
	}
	// A reload that fails (SIGHUP).
	writeFile(t, p.dir, "zones/pool.example.zone", badZone)
	p.sigc <- syscall.SIGHUP

	// The registration with the short lease expires in the sweep; the
	// reload fails.
	var s metricstest.Samples
	deadline := time.Now().Add(waitLimit)
	for {
		var err error
		s, _, err = metricstest.Scrape(http.DefaultClient, p.base+"/metrics")
		if err != nil {
			t.Fatal(err)
		}
		exp, _ := s.Value("poolnsd_registration_expiries_total")
		failed, _ := s.Value("poolnsd_zone_loads_total", "result=error")
		if exp == 2 && failed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("within %v: %v expiries (want 2), %v failed loads (want 1)", waitLimit, exp, failed)
		}
		// The expiry sweep runs every second; the loop polls for it.
		time.Sleep(50 * time.Millisecond)
	}
	// One scrape reads the counters and the view at different moments: the
	// expiry counter moves after the view without the element is
	// published, so a scrape can see the count and still the element. The
	// next scrape starts after both.
	s, text, err := metricstest.Scrape(http.DefaultClient, p.base+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	s.Expect(t,
		"poolnsd_dns_queries_total{qtype=A,rcode=NOERROR,transport=udp} 5",
		"poolnsd_dns_queries_total{qtype=SRV,rcode=NOERROR,transport=tcp} 2",
		"poolnsd_dns_queries_total{qtype=A,rcode=NXDOMAIN,transport=udp} 3",
		"poolnsd_dns_queries_total{qtype=A,rcode=REFUSED,transport=udp} 1",
		"poolnsd_dns_queries_total{qtype=TXT,rcode=NOERROR,transport=udp} 1",
		"poolnsd_dns_truncated_total 0",
		"poolnsd_dns_rejected_total{reason=notimp} 1",
		"poolnsd_dns_rejected_total{reason=formerr} 2", // cut short, and missing: no question to count

		"poolnsd_dns_rejected_total{reason=ignored} 1",
		"poolnsd_failure_reports_total{via=api,outcome=counted} 2",
		"poolnsd_failure_reports_total{via=api,outcome=removed} 1",
		"poolnsd_failure_reports_total{via=api,outcome=rate_limited} 0",
		"poolnsd_admin_changes_total{to=drain} 1",
		"poolnsd_admin_changes_total{to=auto} 1",
		"poolnsd_registration_expiries_total 2",
		"poolnsd_zone_loads_total{result=ok} 1",
		"poolnsd_zone_loads_total{result=error} 1",
		"poolnsd_zones 1",
		"poolnsd_pools{origin=zone} 1",
		"poolnsd_pools{origin=registration} 0", // gone with its last element
		"poolnsd_elements{health=up} 3",
		"poolnsd_elements_served 2",
		"poolnsd_elements_reported 1",
		"poolnsd_elements_owned 3",
		"poolnsd_ready 1",
		"poolnsd_dns_answer_sample_ratio 0.125",
	)
	if got := s.Sum("poolnsd_dns_queries_total"); got != 12 {
		t.Errorf("%v queries counted, want 12: %v", got, s.Series("poolnsd_dns_queries_total"))
	}
	metricstest.Promtool(t, text)
	if err := os.WriteFile(filepath.Join(t.TempDir(), "metrics.txt"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStatusJSONMatchesCLI: poolnsd status --json prints the server's
// /v1/status, indented.
func TestStatusJSONMatchesCLI(t *testing.T) {
	p := startInProc(t, t.TempDir(), goodZone, nil)
	var out, errb bytes.Buffer
	if code := run([]string{"status", "--json", "--server", p.base}, &out, &errb); code != exitOK {
		t.Fatalf("status --json: exit %d: %s", code, errb.String())
	}
	_, body := p.get(t, "/v1/status")
	var a, b map[string]any
	if err := json.Unmarshal(out.Bytes(), &a); err != nil {
		t.Fatalf("status --json printed no JSON: %v\n%s", err, out.String())
	}
	json.Unmarshal([]byte(body), &b)
	delete(a, "time")
	delete(b, "time")
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Errorf("status --json\n%s\nwant /v1/status\n%s", ja, jb)
	}
	if !strings.Contains(out.String(), "\n  \"pools\": [") {
		t.Errorf("status --json is not indented:\n%.200s", out.String())
	}
}
