package httpapi_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/internal/hstest"
)

// t0 is the tests' clock reading.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const testToken = "s3cret-token"

// fakeBackend serves a real handlespace. Reports count per element and take
// the element out of the answers at the third, as the monitor does; reportErr,
// when set, is what Report returns instead.
type fakeBackend struct {
	hs *handlespace.Handlespace

	mu        sync.Mutex
	status    map[string]httpapi.ProbeStatus // by pool/id
	reports   map[string]int
	from      []netip.Addr
	reportErr error
	adminErr  error
	admins    []string // "pool/id=state"
}

var _ httpapi.Backend = (*fakeBackend)(nil)

func key(pool string, id uint32) string { return pool + "/" + handlespace.IDString(id) }

func (f *fakeBackend) View() *handlespace.View { return f.hs.View() }

func (f *fakeBackend) ProbeStatus(pool string, id uint32) (httpapi.ProbeStatus, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.status[key(pool, id)]
	return st, ok
}

func (f *fakeBackend) Report(pool string, id uint32, from netip.Addr) (httpapi.ReportOutcome, error) {
	f.mu.Lock()
	if f.reportErr != nil {
		err := f.reportErr
		f.mu.Unlock()
		return httpapi.ReportOutcome{}, err
	}
	f.from = append(f.from, from)
	f.reports[key(pool, id)]++
	n := f.reports[key(pool, id)]
	f.mu.Unlock()
	if n >= 3 {
		if err := f.hs.Update(pool, id, func(e *handlespace.Element) { e.Reported = true }); err != nil {
			return httpapi.ReportOutcome{}, err
		}
	}
	return httpapi.ReportOutcome{Reports: n, Removed: n >= 3}, nil
}

func (f *fakeBackend) SetAdmin(pool string, id uint32, a handlespace.Admin) error {
	f.mu.Lock()
	err := f.adminErr
	f.admins = append(f.admins, key(pool, id)+"="+a.String())
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.hs.Update(pool, id, func(e *handlespace.Element) { e.Admin = a })
}

func apex(origin string) string {
	return origin + ` 3600 IN SOA ns1.` + origin + ` hostmaster.` + origin + ` 1 3600 600 86400 30
` + origin + ` 3600 IN NS ns1.` + origin + `
ns1.` + origin + ` 3600 IN A 192.0.2.53
`
}

func id(e *handlespace.Element) string { return handlespace.IDString(e.ID) }

// The test handlespace: zone pool.test. with pools web (rr, probed over
// HTTP, three static elements, one of them dual-stack, and one registered
// element with a lease) and api (wrr); zone other.test. with pools web
// (so that the handle web is ambiguous) and solo.
var (
	web1 = hstest.Elem("web1", "192.0.2.10", 8080, 10)
	web2 = hstest.Elem("web2", "192.0.2.11", 8080, 20)
	web3 = hstest.Elem("web3", "192.0.2.12,2001:db8::12", 8080, 30)
	dyn  = hstest.Elem("dyn", "2001:db8::99", 8443, 5)
	api1 = hstest.Elem("api1", "192.0.2.20", 443, 1)
	oth1 = hstest.Elem("o1", "198.51.100.1", 80, 1)
	solo = hstest.Elem("s1", "198.51.100.2", 80, 1)
)

type fixture struct {
	hs *handlespace.Handlespace
	b  *fakeBackend
	h  http.Handler
}

func newFixture(t testing.TB, token string) *fixture {
	t.Helper()
	return newFixtureWith(t, httpapi.Config{Token: token})
}

// newFixtureWith is newFixture with the API's configuration cfg (its
// Logger and Now are the fixture's).
func newFixtureWith(t testing.TB, cfg httpapi.Config) *fixture {
	t.Helper()
	hs := handlespace.New(handlespace.Options{RegistrarID: 7, Now: func() time.Time { return t0 }})
	spec := func(policy string) handlespace.PoolSpec {
		s := handlespace.DefaultPoolSpec()
		s.Policy = policy
		return s
	}
	web := spec("rr")
	web.Service = "_http._tcp"
	web.URI = "http://{name}:{port}/"
	web.Probe = handlespace.ProbeSpec{Kind: "http", Target: "/healthz", Interval: time.Second, Timeout: 300 * time.Millisecond, Rise: 2, Fall: 2, Jitter: 0.1}
	w3 := web3.Clone()
	w3.Site, w3.Priority = handlespace.SiteNameOf("fra"), 2
	w3.Load, w3.LoadDeg = handlespace.LoadFromFraction(0.25), handlespace.LoadFromFraction(0.05)
	w3.Transport = handlespace.TransportUDP
	w3.Probe = handlespace.ProbeRefOf(&handlespace.ProbeSpec{Kind: "tcp", Interval: 2 * time.Second, Timeout: time.Second, Rise: 1, Fall: 3, Jitter: 0.25})
	defs := []handlespace.ZoneDef{
		{Origin: "pool.test.", File: "pool.zone", Records: hstest.RRs(t, apex("pool.test.")), Pools: []handlespace.PoolDef{
			{Handle: "web", Spec: web, Elements: []*handlespace.Element{web1.Clone(), web2.Clone(), w3}},
			{Handle: "api", Spec: spec("wrr"), Elements: []*handlespace.Element{api1.Clone()}},
		}},
		{Origin: "other.test.", File: "other.zone", Records: hstest.RRs(t, apex("other.test.")), Pools: []handlespace.PoolDef{
			{Handle: "web", Spec: spec("rr"), Elements: []*handlespace.Element{oth1.Clone()}},
			{Handle: "solo", Spec: spec("rr"), Elements: []*handlespace.Element{solo.Clone()}},
		}},
	}
	if err := hs.ApplyZones(defs); err != nil {
		t.Fatal(err)
	}
	d := dyn.Clone()
	d.Home = 0x0a0b0c0d
	d.Expires = handlespace.ExpiryOf(t0.Add(42500 * time.Millisecond))
	if err := hs.Do(handlespace.Op{Pool: "web.pool.test.", Elem: d}); err != nil {
		t.Fatal(err)
	}
	if err := hs.Update("web.pool.test.", web2.ID, func(x *handlespace.Element) { x.Health = handlespace.HealthDown }); err != nil {
		t.Fatal(err)
	}
	if err := hs.Update("web.pool.test.", web1.ID, func(e *handlespace.Element) { e.RTT, e.LocalRTT = 1500*time.Microsecond, 900*time.Microsecond }); err != nil {
		t.Fatal(err)
	}
	b := &fakeBackend{hs: hs, status: map[string]httpapi.ProbeStatus{}, reports: map[string]int{}}
	b.status[key("web.pool.test.", web1.ID)] = httpapi.ProbeStatus{At: t0.Add(-time.Second), OK: true, RTT: 1234 * time.Microsecond}
	b.status[key("web.pool.test.", web2.ID)] = httpapi.ProbeStatus{At: t0.Add(-2 * time.Second), Err: "connection refused", RTT: 250 * time.Microsecond}
	cfg.Logger, cfg.Now = discard(), func() time.Time { return t0 }
	h := httpapi.NewHandler(b, cfg)
	return &fixture{hs: hs, b: b, h: h}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// reply is a recorded response.
type reply struct {
	code int
	hdr  http.Header
	body string
	json map[string]any
}

// do sends a request through the handler. auth is the Authorization header
// ("" none); remote the client's address ("" httptest's default).
func (f *fixture) do(t testing.TB, method, path, body, auth string) reply {
	t.Helper()
	return f.doFrom(t, method, path, body, auth, "")
}

func (f *fixture) doFrom(t testing.TB, method, path, body, auth, remote string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	if remote != "" {
		r.RemoteAddr = remote
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return decodeReply(t, method+" "+path, w.Code, w.Header(), w.Body.String())
}

func decodeReply(t testing.TB, what string, code int, hdr http.Header, body string) reply {
	t.Helper()
	rp := reply{code: code, hdr: hdr, body: body}
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: Content-Type %q, want application/json (body %q)", what, ct, body)
	}
	if body != "" {
		if err := json.Unmarshal([]byte(body), &rp.json); err != nil {
			t.Fatalf("%s: reply is not a JSON object: %v: %q", what, err, body)
		}
	}
	return rp
}

// want checks the status code and, for errors, that the error message
// contains msg.
func (rp reply) want(t testing.TB, code int, msg string) {
	t.Helper()
	if rp.code != code {
		t.Fatalf("status %d, want %d: %s", rp.code, code, rp.body)
	}
	if msg != "" {
		e, _ := rp.json["error"].(string)
		if !strings.Contains(e, msg) {
			t.Fatalf("error %q, want it to contain %q", e, msg)
		}
	}
}

// request is a request to send and the reply it must get: the status and
// a part of the error message ("" for any).
type request struct {
	path, body string
	code       int
	msg        string
}

// wantReplies sends each request with method and the Authorization header
// auth, and checks its reply's status and error message.
func (f *fixture) wantReplies(t testing.TB, method, auth string, reqs []request) {
	t.Helper()
	for _, c := range reqs {
		rp := f.do(t, method, c.path, c.body, auth)
		if rp.code != c.code {
			t.Errorf("%s %s %.60q: %d, want %d: %s", method, c.path, c.body, rp.code, c.code, rp.body)
			continue
		}
		if e, _ := rp.json["error"].(string); !strings.Contains(e, c.msg) {
			t.Errorf("%s %s %.60q: error %q, want %q", method, c.path, c.body, e, c.msg)
		}
	}
}

// sameJSON fails unless got (decoded JSON) equals the JSON text want.
func sameJSON(t testing.TB, what string, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad expected JSON: %v", what, err)
	}
	g, _ := json.Marshal(got)
	ws, _ := json.Marshal(w)
	if string(g) != string(ws) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, ws)
	}
}

// elementJSON returns the element with the given id from a pool reply.
func elementJSON(t testing.TB, pool map[string]any, idHex string) map[string]any {
	t.Helper()
	es, _ := pool["elements"].([]any)
	for _, e := range es {
		m := e.(map[string]any)
		if m["id"] == idHex {
			return m
		}
	}
	t.Fatalf("pool %v has no element %s", pool["name"], idHex)
	return nil
}
