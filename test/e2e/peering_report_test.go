package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrpnet"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/nettest"
	"github.com/poolnsd/poolnsd/internal/proctest"
	"github.com/poolnsd/poolnsd/metrics/metricstest"
)

// service is a TCP listener standing in for a pool element's service:
// it accepts connections and closes them, until stopped; start binds the
// same address again.
type service struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	ln   net.Listener
}

func newService(t *testing.T, ip string) *service {
	ln := nettest.ListenTCP(t, ip)
	s := &service{t: t, addr: ln.Addr().String()}
	s.serve(ln)
	t.Cleanup(s.stop)
	return s
}

// start listens on the service's address again.
func (s *service) start() {
	s.serve(listenAgain(s.t, s.addr))
}

func (s *service) serve(ln net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ln = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

func (s *service) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
}

// reportAt posts a failure report of element label of pool at p's API and
// returns the status and the decoded body.
func reportAt(t *testing.T, p *peer, pool, label string) (int, map[string]any) {
	t.Helper()
	code, b := proctest.APIDo(t, http.MethodPost, "http://"+p.http+"/v1/pools/"+pool+"/reports", adminToken, `{"element":"`+label+`"}`)
	body := map[string]any{}
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("report at %s: %d %q: %v", p.name, code, b, err)
	}
	return code, body
}

// reportedAt says whether p's API shows element label of pool reported.
func reportedAt(t *testing.T, p *peer, pool, label string) bool {
	t.Helper()
	return p.mustElement(t, pool, label).Reported
}

// TestPeeringReportAtNonHome: three poolnsd peering over TLS, a zone-file
// pool of six probed elements (real TCP services on loopback) spread over
// their homes. The service of one element H homes stops; three failure
// reports at another registrar R are passed on to H (202, forwarded_to
// H), which counts them by the reporter's address: after the third (not
// before) H takes the element out of the answers and dig at all three
// leaves it out, their APIs say reported. The service comes back: H's next
// probe passes and it is answered everywhere again. A flood at R is
// rate-limited at R (429) and H counts no more than R let through.
func TestPeeringReportAtNonHome(t *testing.T) {
	t.Parallel()
	proctest.LookTool(t, "dig", "bind9-dnsutils")
	var svcs []*service
	zone := peeringZone + "\n; failure reports: fall is high so that only reports take an element out\n" +
		"$POOL rep policy=rr ttl=5 answers=10 probe=tcp interval=300ms timeout=200ms rise=1 fall=100000\n"
	var all []string
	for i := 1; i <= 6; i++ {
		s := newService(t, fmt.Sprintf("127.0.1.%d", i))
		svcs = append(svcs, s)
		zone += fmt.Sprintf("rep PE %s name=r%d\n", s.addr, i)
		all = append(all, fmt.Sprintf("127.0.1.%d", i))
	}
	ps := peeringCluster(t, zone)
	startPeers(t, ps, "--http.token="+adminToken, "--reports.burst=5", "--reports.rate=1")
	const pool = "rep.pool.example."
	waitDig(t, ps, pool, all, waitLimit)

	// r1's home H, and a registrar R that is not its home.
	var home, at *peer
	for i := 0; home == nil && i < 1000; i++ {
		_, h, _ := ps[0].adminOf(t, pool, "r1")
		agree := true
		for _, p := range ps {
			_, hp, _ := p.adminOf(t, pool, "r1")
			agree = agree && hp == h
		}
		for _, p := range ps {
			if agree && handlespace.IDString(p.id) == h {
				home = p
			}
		}
	}
	if home == nil {
		t.Fatal("the registrars do not agree on r1's home")
	}
	at = ps[0]
	if at == home {
		at = ps[1]
	}
	t.Logf("r1 is homed at %s; reports at %s", home.name, at.name)

	svcs[0].stop()
	ch := home.p.cursor()
	for i := 1; i <= 3; i++ {
		st, body := reportAt(t, at, pool, "r1")
		if st != http.StatusAccepted || body["forwarded_to"] != handlespace.IDString(home.id) {
			t.Fatalf("report %d at %s: %d %v, want 202 forwarded to %s", i, at.name, st, body, home.name)
		}
		from := ch
		for n := 0; n < i; n++ {
			_, from = home.p.waitLog(from, fmt.Sprintf("%s counting report %d", home.name, n+1), func(r logRec) bool {
				return r.Str("msg") == "ENRP failure report from a peer counted" && r.Str("peer") == handlespace.IDString(at.id) &&
					r.Str("from") != ""
			})
		}
		if i < 3 {
			if reportedAt(t, home, pool, "r1") {
				t.Fatalf("r1 reported at its home after %d reports, want 3 (reports.max_bad)", i)
			}
		}
	}
	home.p.waitLog(ch, home.name+" taking r1 out", msgIs("element out of the answers after failure reports"))
	// The metrics: R counts three reports passed on, H the three it
	// counted for a peer (each counted before its log line).
	scrape(t, at).Expect(t, "poolnsd_failure_reports_total{via=api,outcome=forwarded} 3",
		"poolnsd_failure_reports_total{via=peer,outcome=counted} 0")
	scrape(t, home).Expect(t, "poolnsd_failure_reports_total{via=peer,outcome=counted} 2",
		"poolnsd_failure_reports_total{via=peer,outcome=removed} 1",
		"poolnsd_failure_reports_total{via=api,outcome=counted} 0",
		"poolnsd_failure_reports_total{via=api,outcome=forwarded} 0")
	without := slices.Clone(all[1:])
	waitDig(t, ps, pool, without, waitLimit)
	for _, p := range ps {
		if !reportedAt(t, p, pool, "r1") {
			t.Errorf("%s does not show r1 reported", p.name)
		}
	}

	// The service is back: H's next probe passes.
	svcs[0].start()
	waitDig(t, ps, pool, all, waitLimit)
	for _, p := range ps {
		if reportedAt(t, p, pool, "r1") {
			t.Errorf("%s still shows r1 reported after its probe passed", p.name)
		}
	}

	// A flood at R is limited at R: H hears of what R let through, no
	// more (and counts it, or refuses it for its own limit of the same
	// address).
	ch = home.p.cursor()
	accepted, limited := 0, 0
	for i := 0; i < 12; i++ {
		switch st, body := reportAt(t, at, pool, "r1"); st {
		case http.StatusAccepted:
			accepted++
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Fatalf("flood report %d at %s: %d %v", i, at.name, st, body)
		}
	}
	if limited == 0 || accepted > 7 {
		t.Fatalf("12 reports at %s: %d accepted, %d rate-limited; want at most burst 5 (+ refill) accepted", at.name, accepted, limited)
	}
	heard := func(r logRec) bool {
		return (r.Str("msg") == "ENRP failure report from a peer counted" || r.Str("msg") == "ENRP failure report from a peer not counted") &&
			r.Str("peer") == handlespace.IDString(at.id)
	}
	from := ch
	for n := 0; n < accepted; n++ {
		_, from = home.p.waitLog(from, fmt.Sprintf("%s hearing flood report %d", home.name, n+1), heard)
	}
	if got := len(slices.DeleteFunc(home.p.Records(ch, home.p.Cursor()), func(r logRec) bool { return !heard(r) })); got != accepted {
		t.Errorf("%s heard of %d reports of the flood, %s let %d through", home.name, got, at.name, accepted)
	}
	// H's metrics count every report it heard of from R, whatever came of
	// it; R's, every one it let through as passed on.
	if got := scrape(t, home).Sum("poolnsd_failure_reports_total", "via=peer"); got != float64(3+accepted) {
		t.Errorf("%s counts %v reports via peers, want %d", home.name, got, 3+accepted)
	}
	scrape(t, at).Expect(t, fmt.Sprintf("poolnsd_failure_reports_total{via=api,outcome=forwarded} %d", 3+accepted),
		fmt.Sprintf("poolnsd_failure_reports_total{via=api,outcome=rate_limited} %d", limited))
	t.Logf("flood at %s: %d accepted, %d rate-limited", at.name, accepted, limited)
}

// scrape reads p's /metrics.
func scrape(t *testing.T, p *peer) metricstest.Samples {
	t.Helper()
	s, _, err := metricstest.Scrape(http.DefaultClient, "http://"+p.http+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPeeringAdminRefusedByHome: a drain asked for at a real poolnsd (B)
// of an element whose home (A, the real peering driver in this test, over
// TLS) cannot carry it out is answered at once: A's refusal, an ERROR
// naming the request, comes back to B, which answers 503 naming A and
// A's reason, not 504 after its wait; `poolnsd drain` says so and exits
// 3.
func TestPeeringAdminRefusedByHome(t *testing.T) {
	t.Parallel()
	zone := "$ORIGIN pool.example.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 5\n@ NS ns1\nns1 A 192.0.2.53\n"
	ps, ca := peeringClusterCA(t, zone)
	a, b := ps[0], ps[1]
	// B alone; A is the driver below, on A's address.
	startPeers(t, []*peer{b}, "--http.token="+adminToken)

	f, err := ca.WriteFiles(t.TempDir(), "a", a.ip)
	if err != nil {
		t.Fatal(err)
	}
	tlsc, err := enrpnet.LoadTLS(enrpnet.TLSFiles{Cert: f.Cert, Key: f.Key, CA: f.CA})
	if err != nil {
		t.Fatal(err)
	}
	hs := handlespace.New(handlespace.Options{RegistrarID: a.id})
	if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "pool.example.", File: "pool.example.zone", Records: []dns.RR{
		mustRR(t, "pool.example. 300 IN SOA ns1.pool.example. hostmaster.pool.example. 1 3600 600 86400 5"),
		mustRR(t, "pool.example. 300 IN NS ns1.pool.example."),
		mustRR(t, "ns1.pool.example. 300 IN A 192.0.2.53"),
	}}}); err != nil {
		t.Fatal(err)
	}
	asked := make(chan enrp.AdminRequest, 1)
	cfg := enrpnet.DriverConfig{
		Node:        enrp.Config{ID: a.id, PresenceInterval: ptPresence, MaxTimeLastHeard: ptLastHeard, MaxTimeNoResponse: ptNoResponse},
		Listen:      a.enrp,
		Peers:       []string{b.enrp},
		TLS:         tlsc,
		Handlespace: hs,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnAdmin: func(r enrp.AdminRequest) error {
			asked <- r
			return errors.New("cannot write the store: no space left on device")
		},
	}
	// B knows A's address: a program holding it (FreePort's) holds it
	// briefly, and A listens again until it is let go.
	var drv *enrpnet.Driver
	whileTaken(t, "A's driver", func() bool {
		drv, err = enrpnet.StartDriver(cfg)
		if errors.Is(err, syscall.EADDRINUSE) {
			return true
		}
		if err != nil {
			t.Fatal(err)
		}
		return false
	})
	defer drv.Close()
	b.p.waitLog(0, "B hearing A", eventIs("peer-up", "peer", handlespace.IDString(a.id)))
	const pool = "reg.pool.example."
	if err := hs.Do(handlespace.Op{Pool: pool, Elem: &handlespace.Element{ID: 0x0a0b0c0d, Label: handlespace.LabelOf("pe9"), Addrs: handlespace.AddrsOf(netip.MustParseAddr("192.0.2.9")),
		Port: 80, Expires: handlespace.ExpiryOf(time.Now().Add(time.Hour))}, Policy: "rr"}); err != nil {
		t.Fatal(err)
	}
	waitDig(t, []*peer{b}, pool, []string{"192.0.2.9"}, waitLimit)

	out, stderr, code := runPoolnsd(t, b.dir, "drain", "--server", "http://"+b.http, "--token", adminToken, pool, "pe9")
	if code != exitRuntime || !strings.Contains(stderr, "refused") || !strings.Contains(stderr, "no space left on device") ||
		!strings.Contains(stderr, handlespace.IDString(a.id)) || !strings.Contains(stderr, "HTTP 503") {
		t.Fatalf("poolnsd drain at B: exit %d, stdout %q, stderr %q; want exit 3 with A's refusal (503)", code, out, stderr)
	}
	t.Logf("refused: %s", strings.TrimSpace(stderr))
	select {
	case r := <-asked:
		if r.From != b.id || r.Pool != pool || r.ID != 0x0a0b0c0d || r.Admin != handlespace.AdminDrain {
			t.Errorf("A was asked %+v", r)
		}
	default:
		t.Error("A's OnAdmin was not called")
	}
	if _, _, adm := b.adminOf(t, pool, "pe9"); adm != "auto" {
		t.Errorf("B shows pe9 %s after the refusal", adm)
	}
}

func mustRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}
