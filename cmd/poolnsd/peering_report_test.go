package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/proctest"
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
	s := &service{t: t, addr: fmt.Sprintf("%s:%d", ip, freePort(t, ip))}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *service) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("listen on %s: %v", s.addr, err)
	}
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
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.http+"/v1/pools/"+pool+"/reports",
		strings.NewReader(`{"element":"`+label+`"}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	body := map[string]any{}
	if err := json.Unmarshal(buf.Bytes(), &body); err != nil {
		t.Fatalf("report at %s: %d %q: %v", p.name, resp.StatusCode, buf.String(), err)
	}
	return resp.StatusCode, body
}

// reportedAt says whether p's API shows element label of pool reported.
func reportedAt(t *testing.T, p *peer, pool, label string) bool {
	t.Helper()
	resp, err := http.Get("http://" + p.http + "/v1/pools/" + pool)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Elements []struct {
			Label    string `json:"label"`
			Reported bool   `json:"reported"`
		} `json:"elements"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s's API: %d %v", p.name, resp.StatusCode, err)
	}
	for _, e := range body.Elements {
		if e.Label == label {
			return e.Reported
		}
	}
	t.Fatalf("%s has no %s in %s", p.name, label, pool)
	return false
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
	for _, p := range ps {
		p.p = startDaemon(t, p.dir, "--http.token="+adminToken, "--reports.burst=5", "--reports.rate=1")
	}
	for _, p := range ps {
		p.p.ready()
	}
	for _, p := range ps {
		for _, o := range ps {
			if o != p {
				p.p.waitLog(0, p.name+" hearing "+o.name, eventIs("peer-up", "peer", handlespace.IDString(o.id)))
			}
		}
	}
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
	t.Logf("flood at %s: %d accepted, %d rate-limited", at.name, accepted, limited)
}
