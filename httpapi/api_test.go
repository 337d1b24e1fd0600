package httpapi_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
)

const auth = "Bearer " + testToken

func TestHealthz(t *testing.T) {
	f := newFixture(t, "")
	rp := f.do(t, "GET", "/healthz", "", "")
	rp.want(t, http.StatusOK, "")
	sameJSON(t, "healthz", rp.json, `{"status":"ok"}`)
	if cc := rp.hdr.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	// HEAD: the headers of GET, no body.
	if rp := f.do(t, "HEAD", "/healthz", "", ""); rp.code != http.StatusOK || rp.body != "" {
		t.Errorf("HEAD /healthz: %d %q, want 200 and no body", rp.code, rp.body)
	}
}

func TestListPools(t *testing.T) {
	f := newFixture(t, "")
	rp := f.do(t, "GET", "/v1/pools", "", "")
	rp.want(t, http.StatusOK, "")
	pools, _ := rp.json["pools"].([]any)
	var names []string
	for _, p := range pools {
		m := p.(map[string]any)
		names = append(names, m["name"].(string))
		if _, ok := m["elements"]; ok {
			t.Errorf("pool %s: the list carries elements; only GET /v1/pools/{pool} does", m["name"])
		}
	}
	if got, want := strings.Join(names, " "), "api.pool.test. solo.other.test. web.other.test. web.pool.test."; got != want {
		t.Fatalf("pools %q, want %q (sorted by name)", got, want)
	}
	web := pools[3].(map[string]any)
	if g, ok := web["gen"].(float64); !ok || g < 1 {
		t.Errorf("gen %v, want a number > 0 after three changes", web["gen"])
	}
	delete(web, "gen")
	sameJSON(t, "web.pool.test.", web, `{
		"name": "web.pool.test.", "handle": "web", "zone": "pool.test.", "static": true,
		"policy": "rr", "ttl": 5, "answers": 3, "alldown": "none",
		"service": "_http._tcp", "uri": "http://{name}:{port}/",
		"probe": {"kind": "http", "target": "/healthz", "interval_ms": 1000, "timeout_ms": 300, "rise": 2, "fall": 2, "jitter": 0.1},
		"fail_open": false,
		"counts": {"elements": 4, "served": 3, "up": 3, "down": 1, "unknown": 0, "drained": 0, "forced_down": 0, "reported": 0}
	}`)
	api := pools[0].(map[string]any)
	if api["probe"] != nil || api["service"] != "" || api["policy"] != "wrr" {
		t.Errorf("api pool: probe %v service %q policy %v, want null, \"\", wrr", api["probe"], api["service"], api["policy"])
	}
}

func TestGetPool(t *testing.T) {
	f := newFixture(t, "")
	rp := f.do(t, "GET", "/v1/pools/web.pool.test.", "", "")
	rp.want(t, http.StatusOK, "")
	if es := rp.json["elements"].([]any); len(es) != 4 {
		t.Fatalf("%d elements, want 4", len(es))
	}
	sameJSON(t, "web1", elementJSON(t, rp.json, id(web1)), `{
		"id": "`+id(web1)+`", "label": "web1", "name": "web1.web.pool.test.",
		"addresses": ["192.0.2.10"], "port": 8080, "transport": "tcp",
		"weight": 10, "priority": 0, "load": 0, "loaddeg": 0, "site": "",
		"health": "up", "admin": "auto", "reported": false, "served": true,
		"rtt_ms": 1.5, "local_rtt_ms": 0.9, "home": "00000007", "static": true,
		"expires": null, "lease_left_s": null, "probe": null,
		"last_probe": {"at": "2026-01-02T03:04:04Z", "ok": true, "error": "", "rtt_ms": 1.234}
	}`)
	sameJSON(t, "web2", elementJSON(t, rp.json, id(web2))["last_probe"],
		`{"at": "2026-01-02T03:04:03Z", "ok": false, "error": "connection refused", "rtt_ms": 0.25}`)
	if e := elementJSON(t, rp.json, id(web2)); e["health"] != "down" || e["served"] != false {
		t.Errorf("web2: health %v served %v, want down, false", e["health"], e["served"])
	}
	sameJSON(t, "web3", elementJSON(t, rp.json, id(web3)), `{
		"id": "`+id(web3)+`", "label": "web3", "name": "web3.web.pool.test.",
		"addresses": ["192.0.2.12", "2001:db8::12"], "port": 8080, "transport": "udp",
		"weight": 30, "priority": 2, "load": 0.25, "loaddeg": 0.05, "site": "fra",
		"health": "up", "admin": "auto", "reported": false, "served": true,
		"rtt_ms": null, "local_rtt_ms": null, "home": "00000007", "static": true,
		"expires": null, "lease_left_s": null,
		"probe": {"kind": "tcp", "target": "", "interval_ms": 2000, "timeout_ms": 1000, "rise": 1, "fall": 3, "jitter": 0.25},
		"last_probe": null
	}`)
	sameJSON(t, "dyn", elementJSON(t, rp.json, id(dyn)), `{
		"id": "`+id(dyn)+`", "label": "dyn", "name": "dyn.web.pool.test.",
		"addresses": ["2001:db8::99"], "port": 8443, "transport": "tcp",
		"weight": 5, "priority": 0, "load": 0, "loaddeg": 0, "site": "",
		"health": "up", "admin": "auto", "reported": false, "served": true,
		"rtt_ms": null, "local_rtt_ms": null, "home": "0a0b0c0d", "static": false,
		"expires": "2026-01-02T03:04:47.5Z", "lease_left_s": 42.5, "probe": null,
		"last_probe": null
	}`)

	// Every way of naming a pool.
	for _, c := range []struct {
		path string
		code int
		want string // name of the pool, or part of the error
	}{
		{"/v1/pools/web.pool.test", 200, "web.pool.test."},
		{"/v1/pools/WEB.Pool.TEST.", 200, "web.pool.test."},
		{"/v1/pools/api", 200, "api.pool.test."},
		{"/v1/pools/SOLO", 200, "solo.other.test."},
		{"/v1/pools/web.other.test", 200, "web.other.test."},
		{"/v1/pools/web", 409, `pool handle "web" is in 2 zones`},
		{"/v1/pools/nope", 404, `no such pool "nope"`},
		{"/v1/pools/nope.pool.test", 404, `no such pool "nope.pool.test"`},
		{"/v1/pools/web.nope.test.", 404, `no such pool`},
		{"/v1/pools/ns1.pool.test", 404, `no such pool`},
		{"/v1/pools/pool.test.", 404, `no such pool`},
		{"/v1/pools/a..b", 400, `bad pool name "a..b"`},
	} {
		rp := f.do(t, "GET", c.path, "", "")
		if rp.code != c.code {
			t.Errorf("GET %s: %d, want %d: %s", c.path, rp.code, c.code, rp.body)
			continue
		}
		if c.code == 200 {
			if rp.json["name"] != c.want {
				t.Errorf("GET %s: pool %v, want %s", c.path, rp.json["name"], c.want)
			}
		} else if e, _ := rp.json["error"].(string); !strings.Contains(e, c.want) {
			t.Errorf("GET %s: error %q, want %q", c.path, e, c.want)
		}
	}
	rp = f.do(t, "GET", "/v1/pools/web", "", "")
	sameJSON(t, "candidates", rp.json["candidates"], `["web.other.test.", "web.pool.test."]`)
}

func TestRoutingErrors(t *testing.T) {
	f := newFixture(t, testToken)
	rp := f.do(t, "GET", "/v1/nothing", "", "")
	rp.want(t, http.StatusNotFound, "no such endpoint /v1/nothing")
	f.do(t, "GET", "/v1/pools/", "", "").want(t, http.StatusNotFound, "no such endpoint")
	for _, c := range []struct{ method, path, allow string }{
		{"POST", "/v1/pools", "GET, HEAD"},
		{"DELETE", "/v1/pools/web.pool.test.", "GET, HEAD"},
		{"GET", "/v1/pools/web.pool.test./reports", "POST"},
		{"POST", "/v1/pools/web.pool.test./elements/web1/admin", "PUT"},
		{"PUT", "/healthz", "GET, HEAD"},
	} {
		rp := f.do(t, c.method, c.path, "", auth)
		rp.want(t, http.StatusMethodNotAllowed, "method "+c.method+" not allowed")
		if got := rp.hdr.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
	}
}

func TestWriteAuth(t *testing.T) {
	report := `{"element":"` + id(web1) + `"}`
	admin := `{"state":"drain"}`
	writes := []struct{ method, path, body string }{
		{"POST", "/v1/pools/web.pool.test./reports", report},
		{"PUT", "/v1/pools/web.pool.test./elements/web1/admin", admin},
	}

	// No token configured: writes are refused, whatever the client sends.
	f := newFixture(t, "")
	for _, w := range writes {
		for _, a := range []string{"", auth, "Bearer "} {
			f.do(t, w.method, w.path, w.body, a).want(t, http.StatusForbidden, "set http.token")
		}
	}

	f = newFixture(t, testToken)
	for _, w := range writes {
		for _, c := range []struct{ auth, www, msg string }{
			{"", `Bearer realm="poolnsd"`, "needs an Authorization: Bearer token"},
			{"Bearer", `Bearer realm="poolnsd"`, "needs an Authorization"},
			{"Bearer ", `Bearer realm="poolnsd"`, "needs an Authorization"},
			{"Basic " + testToken, `Bearer realm="poolnsd"`, "needs an Authorization"},
			{"Bearer wrong", `Bearer realm="poolnsd", error="invalid_token"`, "wrong bearer token"},
			{"Bearer " + testToken + "x", `Bearer realm="poolnsd", error="invalid_token"`, "wrong bearer token"},
			{"Bearer " + testToken[:4], `Bearer realm="poolnsd", error="invalid_token"`, "wrong bearer token"},
		} {
			rp := f.do(t, w.method, w.path, w.body, c.auth)
			rp.want(t, http.StatusUnauthorized, c.msg)
			if got := rp.hdr.Get("WWW-Authenticate"); got != c.www {
				t.Errorf("%s %s with %q: WWW-Authenticate %q, want %q", w.method, w.path, c.auth, got, c.www)
			}
		}
		// Authentication comes before any lookup: an unknown pool is 401 too.
		f.do(t, w.method, strings.Replace(w.path, "web.pool.test.", "nope", 1), w.body, "").want(t, http.StatusUnauthorized, "")
	}
	if len(f.b.from) != 0 || len(f.b.admins) != 0 {
		t.Fatalf("refused writes reached the backend: reports from %v, admins %v", f.b.from, f.b.admins)
	}
	// The scheme is case-insensitive.
	f.do(t, "PUT", "/v1/pools/web.pool.test./elements/web1/admin", admin, "bearer "+testToken).want(t, http.StatusOK, "")
	// Reads need no token.
	f.do(t, "GET", "/v1/pools", "", "").want(t, http.StatusOK, "")
}

func TestReport(t *testing.T) {
	f := newFixture(t, testToken)
	path := "/v1/pools/web.pool.test./reports"

	// By identifier, three times: the third takes the element out.
	for n := 1; n <= 3; n++ {
		rp := f.doFrom(t, "POST", path, `{"element":"`+id(web1)+`"}`, auth, "203.0.113.5:4242")
		rp.want(t, http.StatusAccepted, "")
		sameJSON(t, fmt.Sprintf("report %d", n), rp.json,
			fmt.Sprintf(`{"pool":"web.pool.test.","element":"%s","reports":%d,"removed":%v}`, id(web1), n, n >= 3))
	}
	rp := f.do(t, "GET", "/v1/pools/web.pool.test", "", "")
	if e := elementJSON(t, rp.json, id(web1)); e["reported"] != true || e["served"] != false {
		t.Errorf("web1 after 3 reports: reported %v served %v, want true, false", e["reported"], e["served"])
	}
	if c := rp.json["counts"].(map[string]any); c["reported"] != 1.0 || c["served"] != 2.0 {
		t.Errorf("counts after 3 reports: %v, want reported 1, served 2", c)
	}

	// By address: IPv4, IPv6 (the dual-stack element's second address, and
	// a registered element), from an IPv4-mapped and an IPv6 client.
	for _, c := range []struct{ addr, want, remote, from string }{
		{"192.0.2.11:8080", id(web2), "[::ffff:203.0.113.6]:1", "203.0.113.6"},
		{"[2001:db8::12]:8080", id(web3), "[2001:db8:1::7]:555", "2001:db8:1::7"},
		{"[2001:db8::99]:8443", id(dyn), "203.0.113.8:9", "203.0.113.8"},
	} {
		rp := f.doFrom(t, "POST", "/v1/pools/WEB.POOL.TEST/reports", `{"address":"`+c.addr+`"}`, auth, c.remote)
		rp.want(t, http.StatusAccepted, "")
		if rp.json["element"] != c.want || rp.json["reports"] != 1.0 {
			t.Errorf("report at %s: %s, want element %s, 1 report", c.addr, rp.body, c.want)
		}
		if got := f.b.from[len(f.b.from)-1]; got != netip.MustParseAddr(c.from) {
			t.Errorf("report at %s from %s: backend got client %s, want %s", c.addr, c.remote, got, c.from)
		}
	}
	if got := f.b.from[0]; got != netip.MustParseAddr("203.0.113.5") {
		t.Errorf("backend got client %s, want 203.0.113.5", got)
	}

	// A bare handle that is unique names the pool.
	f.do(t, "POST", "/v1/pools/api/reports", `{"element":"`+id(api1)+`"}`, auth).want(t, http.StatusAccepted, "")

	// Errors.
	big := `{"element":"` + strings.Repeat("a", 70<<10) + `"}`
	f.wantReplies(t, "POST", auth, []request{
		{path, ``, 400, "empty request body; want a JSON object"},
		{path, `{}`, 400, "name the element"},
		{path, `{"element":"","address":""}`, 400, "name the element"},
		{path, `{"element":"` + id(web1) + `","address":"192.0.2.10:8080"}`, 400, "not both"},
		{path, `{"element":"web1"}`, 202, ``}, // a label, like the admin endpoint's {pe}
		{path, `{"element":"no.such"}`, 400, `bad element "no.such"; want its identifier (8 hex digits) or its label`},
		{path, `{"element":"123"}`, 404, `pool web.pool.test. has no element "123"`},
		{path, `{"element":"0x123456"}`, 404, `has no element "0x123456"`},
		{path, `{"address":"192.0.2.10"}`, 400, `bad address "192.0.2.10"; want ADDR:PORT`},
		{path, `{"address":"2001:db8::12:8080"}`, 400, `bad address`},
		{path, `{"element":"` + id(web1) + `","pe":"x"}`, 400, `unknown field "pe"; want element or address`},
		{path, `{"element":42}`, 400, `field "element" is a JSON number; want a string`},
		{path, `["x"]`, 400, `request body is a JSON array; want an object`},
		{path, `{"element":`, 400, `request body ends inside its JSON`},
		{path, `{"element" "x"}`, 400, `bad JSON at byte`},
		{path, `{"element":"` + id(web1) + `"} {}`, 400, `trailing data after the JSON object`},
		{path, big, 413, `request body larger than 65536 bytes`},
		{path, `{"element":"00000001"}`, 404, `pool web.pool.test. has no element "00000001"`},
		{path, `{"address":"192.0.2.10:8081"}`, 404, `pool web.pool.test. has no element at 192.0.2.10:8081`},
		{path, `{"address":"192.0.2.20:443"}`, 404, `has no element at`},
		{"/v1/pools/nope.pool.test/reports", `{"element":"` + id(web1) + `"}`, 404, `no such pool "nope.pool.test"`},
		{"/v1/pools/web/reports", `{"element":"` + id(web1) + `"}`, 409, `pool handle "web" is in 2 zones`},
	})
}

func TestReportBackendErrors(t *testing.T) {
	f := newFixture(t, testToken)
	path := "/v1/pools/web.pool.test./reports"
	body := `{"element":"` + id(web2) + `"}`
	for _, c := range []struct {
		err   error
		code  int
		retry string
		msg   string
	}{
		{httpapi.ErrRateLimited, 429, "1", "too many failure reports from 203.0.113.9; retry after 1s"},
		{fmt.Errorf("monitor: %w", httpapi.ErrRateLimited), 429, "1", "too many failure reports"},
		{&httpapi.RateLimitError{RetryAfter: 2500 * time.Millisecond}, 429, "3", "retry after 3s"},
		{fmt.Errorf("x: %w", &httpapi.RateLimitError{RetryAfter: time.Millisecond}), 429, "1", "retry after 1s"},
		{handlespace.ErrNoElement, 404, "", "no such pool element"},
		{fmt.Errorf("gone: %w", handlespace.ErrNoPool), 404, "", "no such pool"},
		{errors.New("store: disk full"), 500, "", "store: disk full"},
	} {
		f.b.mu.Lock()
		f.b.reportErr = c.err
		f.b.mu.Unlock()
		rp := f.doFrom(t, "POST", path, body, auth, "203.0.113.9:1000")
		rp.want(t, c.code, c.msg)
		if got := rp.hdr.Get("Retry-After"); got != c.retry {
			t.Errorf("backend error %v: Retry-After %q, want %q", c.err, got, c.retry)
		}
	}
	if !errors.Is(&httpapi.RateLimitError{}, httpapi.ErrRateLimited) {
		t.Error("a RateLimitError is not ErrRateLimited under errors.Is")
	}
}

func TestSetAdmin(t *testing.T) {
	f := newFixture(t, testToken)
	base := "/v1/pools/web.pool.test./elements/"

	// By identifier.
	rp := f.do(t, "PUT", base+id(web1)+"/admin", `{"state":"drain"}`, auth)
	rp.want(t, http.StatusOK, "")
	if rp.json["id"] != id(web1) || rp.json["admin"] != "drain" || rp.json["served"] != false || rp.json["health"] != "up" {
		t.Errorf("after drain: %s, want web1 drained, up, not served", rp.body)
	}
	if rp.json["last_probe"] == nil {
		t.Errorf("admin reply lacks web1's last probe: %s", rp.body)
	}
	// By label, any case, in a pool named by its bare handle elsewhere.
	rp = f.do(t, "PUT", base+"WEB3/admin", `{"state":"force-down"}`, auth)
	rp.want(t, http.StatusOK, "")
	if rp.json["id"] != id(web3) || rp.json["admin"] != "force-down" || rp.json["served"] != false {
		t.Errorf("after force-down: %s, want web3 forced down, not served", rp.body)
	}
	f.do(t, "PUT", "/v1/pools/solo/elements/s1/admin", `{"state":"drain"}`, auth).want(t, http.StatusOK, "")

	want := []string{
		"web.pool.test./" + id(web1) + "=drain",
		"web.pool.test./" + id(web3) + "=force-down",
		"solo.other.test./" + id(solo) + "=drain",
	}
	if got := strings.Join(f.b.admins, " "); got != strings.Join(want, " ") {
		t.Errorf("backend SetAdmin calls %q, want %q", got, want)
	}
	c := f.do(t, "GET", "/v1/pools/web.pool.test.", "", "").json["counts"].(map[string]any)
	sameJSON(t, "counts", c, `{"elements":4,"served":1,"up":3,"down":1,"unknown":0,"drained":1,"forced_down":1,"reported":0}`)

	// Back to auto.
	rp = f.do(t, "PUT", base+"web1/admin", `{"state":"auto"}`, auth)
	if rp.want(t, http.StatusOK, ""); rp.json["admin"] != "auto" || rp.json["served"] != true {
		t.Errorf("after auto: %s, want web1 auto and served", rp.body)
	}

	// Errors.
	f.wantReplies(t, "PUT", auth, []request{
		{base + "web1/admin", `{"state":"down"}`, 400, `unknown admin state "down"; want auto, drain or force-down`},
		{base + "web1/admin", `{}`, 400, `missing state`},
		{base + "web1/admin", `{"state":"drain","why":"x"}`, 400, `unknown field "why"; want state`},
		{base + "web1/admin", `{"state":1}`, 400, `field "state" is a JSON number; want a string`},
		{base + "web1/admin", ``, 400, `empty request body`},
		{base + "nope/admin", `{"state":"drain"}`, 404, `pool web.pool.test. has no element "nope"`},
		{base + "00000001/admin", `{"state":"drain"}`, 404, `has no element "00000001"`},
		{base + "a.b/admin", `{"state":"drain"}`, 400, `bad element "a.b"; want its identifier (8 hex digits) or its label`},
		{base + strings.Repeat("x", 64) + "/admin", `{"state":"drain"}`, 400, `bad element`},
		{base + "o1/admin", `{"state":"drain"}`, 404, `has no element "o1"`},
		{"/v1/pools/nope/elements/web1/admin", `{"state":"drain"}`, 404, `no such pool "nope"`},
		{"/v1/pools/web/elements/web1/admin", `{"state":"drain"}`, 409, `pool handle "web" is in 2 zones`},
	})

	// The backend's own errors: the element went away meanwhile.
	f.b.adminErr = fmt.Errorf("update: %w", handlespace.ErrNoElement)
	f.do(t, "PUT", base+"web2/admin", `{"state":"drain"}`, auth).want(t, http.StatusNotFound, "no such pool element")
	f.b.adminErr = errors.New("store: read-only")
	f.do(t, "PUT", base+"web2/admin", `{"state":"drain"}`, auth).want(t, http.StatusInternalServerError, "store: read-only")
}

func TestPretty(t *testing.T) {
	f := newFixture(t, "")
	rp := f.do(t, "GET", "/v1/pools?pretty", "", "")
	if !strings.Contains(rp.body, "\n  \"pools\": [\n") {
		t.Errorf("?pretty: reply not indented: %.80q", rp.body)
	}
	if rp := f.do(t, "GET", "/v1/pools", "", ""); strings.Count(rp.body, "\n") != 1 {
		t.Errorf("reply without ?pretty is not one line: %.80q", rp.body)
	}
}

// TestDisputedJSON: a disputed element says so, with what each vantage
// point saw and whether it goes last here; the pool's and the status's
// counts count it; an undisputed element has none of these keys.
func TestDisputedJSON(t *testing.T) {
	f := newFixture(t, "")
	if err := f.hs.Update("web.pool.test.", web2.ID, func(e *handlespace.Element) {
		e.Vantage = handlespace.VantagesOf([]handlespace.Vantage{{Registrar: 7, Health: handlespace.HealthDown}, {Registrar: 0xb, Health: handlespace.HealthUp}})
		e.Last = handlespace.LastAt(e, 7)
	}); err != nil {
		t.Fatal(err)
	}
	rp := f.do(t, "GET", "/v1/pools/web.pool.test.", "", "")
	rp.want(t, http.StatusOK, "")
	e := elementJSON(t, rp.json, id(web2))
	if e["disputed"] != true || e["last"] != true || e["served"] != true || e["health"] != "down" {
		t.Errorf("web2: %v", e)
	}
	sameJSON(t, "vantage", e["vantage"], `[{"registrar": "00000007", "health": "down"}, {"registrar": "0000000b", "health": "up"}]`)
	for _, k := range []string{"disputed", "last", "vantage"} {
		if _, ok := elementJSON(t, rp.json, id(web1))[k]; ok {
			t.Errorf("web1, not disputed, has %q", k)
		}
	}
	if c := rp.json["counts"].(map[string]any); c["disputed"] != 1.0 || c["served"] != 4.0 {
		t.Errorf("counts %v, want 1 disputed, 4 served", c)
	}
	st := f.do(t, "GET", "/v1/status", "", "")
	if c := st.json["totals"].(map[string]any); c["disputed"] != 1.0 {
		t.Errorf("status totals %v, want 1 disputed", c)
	}
}

// TestReportCredentials: pool users report with the report-only token or
// from a prefix of ReportAllow without one; the report token opens no
// other write endpoint; the admin token still reports.
func TestReportCredentials(t *testing.T) {
	const reportToken = "pool-users-token"
	report := `{"element":"` + id(web1) + `"}`
	path := "/v1/pools/web.pool.test./reports"
	adminPath := "/v1/pools/web.pool.test./elements/web2/admin"
	allow := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("2001:db8:5::/48")}
	inside, outside := "10.1.2.3:5555", "10.2.0.1:5555"

	for _, c := range []struct {
		name string
		cfg  httpapi.Config
		// the statuses of a report without a token from inside and
		// outside allow, with the report token, with the admin token,
		// and of a drain with the report token
		noTokIn, noTokOut, withReport, withAdmin, drain int
	}{
		{"report token only", httpapi.Config{ReportToken: reportToken}, 401, 401, 202, 401, 403},
		{"both tokens", httpapi.Config{Token: testToken, ReportToken: reportToken}, 401, 401, 202, 202, 401},
		{"allow only", httpapi.Config{ReportAllow: allow}, 202, 403, 403, 403, 403},
		{"allow and report token", httpapi.Config{ReportToken: reportToken, ReportAllow: allow}, 202, 401, 202, 401, 403},
		{"admin token only", httpapi.Config{Token: testToken}, 401, 401, 401, 202, 401},
	} {
		f := newFixtureWith(t, c.cfg)
		check := func(what string, got reply, want int) {
			t.Helper()
			if got.code != want {
				t.Errorf("%s: %s: %d %s, want %d", c.name, what, got.code, got.body, want)
			}
		}
		check("no token, inside reports.allow", f.doFrom(t, "POST", path, report, "", inside), c.noTokIn)
		check("no token, outside reports.allow", f.doFrom(t, "POST", path, report, "", outside), c.noTokOut)
		check("the report token", f.doFrom(t, "POST", path, report, "Bearer "+reportToken, outside), c.withReport)
		check("the admin token", f.doFrom(t, "POST", path, report, "Bearer "+testToken, outside), c.withAdmin)
		check("a drain with the report token", f.doFrom(t, "PUT", adminPath, `{"state":"drain"}`, "Bearer "+reportToken, inside), c.drain)
		// An IPv6 client inside, and an IPv4-mapped one: the mapping is
		// undone before the prefixes are matched.
		if c.noTokIn == 202 {
			check("no token, IPv6 inside", f.doFrom(t, "POST", path, report, "", "[2001:db8:5::9]:1"), 202)
			check("no token, IPv4-mapped inside", f.doFrom(t, "POST", path, report, "", "[::ffff:10.1.9.9]:1"), 202)
		}
		if len(f.b.admins) != 0 {
			t.Errorf("%s: the report token drained: %v", c.name, f.b.admins)
		}
	}
	// The reports that got in reached the backend with their client's
	// address, for its per-client rate limit.
	f := newFixtureWith(t, httpapi.Config{ReportAllow: allow})
	f.doFrom(t, "POST", path, report, "", inside).want(t, http.StatusAccepted, "")
	if len(f.b.from) != 1 || f.b.from[0] != netip.MustParseAddr("10.1.2.3") {
		t.Errorf("backend got clients %v, want [10.1.2.3]", f.b.from)
	}
	// Refusals say what to configure.
	f.doFrom(t, "POST", path, report, "", outside).want(t, http.StatusForbidden, "not in reports.allow")
	f = newFixtureWith(t, httpapi.Config{ReportToken: reportToken})
	f.doFrom(t, "POST", path, report, "", outside).want(t, http.StatusUnauthorized, "http.report_token")
}
