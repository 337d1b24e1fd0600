package httpapi_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/internal/proctest"
	"github.com/poolnsd/poolnsd/regcommit"
	"github.com/poolnsd/poolnsd/store"
)

// regFixture is the API with the registration endpoints over a real
// registrar and store (the fixture's handlespace, zones pool.test. and
// other.test.).
type regFixture struct {
	*fixture
	store *store.Store
	reg   *regcommit.Committer
}

func newRegFixture(t testing.TB, cfg regcommit.Config) *regFixture {
	t.Helper()
	f := newFixture(t, testToken)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg.Now = func() time.Time { return t0 }
	cfg.Logger = discard()
	reg := regcommit.New(f.hs, st, cfg)
	t.Cleanup(reg.Close)
	f.h = httpapi.NewHandler(f.b, httpapi.Config{Token: testToken, Logger: discard(), Now: func() time.Time { return t0 }, Registrar: reg})
	return &regFixture{fixture: f, store: st, reg: reg}
}

func (f *regFixture) stored(t *testing.T) []string {
	var out []string
	f.store.Elements(func(pool string, e *handlespace.Element) error {
		out = append(out, e.Label.String()+"."+pool)
		return nil
	})
	return out
}

func TestRegisterEndpoints(t *testing.T) {
	f := newRegFixture(t, regcommit.Config{})
	put := func(path, body string) reply { return f.do(t, "PUT", path, body, auth) }

	// Create: 201 with the element as the pool now has it.
	rp := put("/v1/pools/web.pool.test/elements/h1", `{"addresses":["192.0.2.99","2001:db8::99:1"],"port":9000,"weight":3,"prio":1,"load":0.5,"site":"ams","lease":30}`)
	rp.want(t, http.StatusCreated, "")
	el, _ := rp.json["element"].(map[string]any)
	if rp.json["created"] != true || rp.json["lease_s"] != 30.0 || el["label"] != "h1" || el["port"] != 9000.0 ||
		el["weight"] != 3.0 || el["load"] != 0.5 || el["site"] != "ams" || el["lease_left_s"] != 30.0 || el["static"] != false {
		t.Fatalf("PUT reply %s", rp.body)
	}
	id, _ := regcommit.LabelID("h1")
	if el["id"] != handlespace.IDString(id) {
		t.Errorf("identifier %v, want the label's hash %s", el["id"], handlespace.IDString(id))
	}
	pv := f.hs.View().Zone("pool.test.").Pool("web")
	if e := pv.Label("h1"); e == nil || e.Owner.String() != "http" || e.Addrs.Len() != 2 || !e.Expires.Time().Equal(t0.Add(30*time.Second)) {
		t.Fatalf("element in the handlespace %+v", e)
	}
	if got := f.stored(t); len(got) != 1 || got[0] != "h1.web.pool.test." {
		t.Errorf("store %q", got)
	}
	// Again: 200, an update and refresh.
	rp = put("/v1/pools/web.pool.test./elements/h1", `{"addresses":["192.0.2.98"],"port":9001}`)
	rp.want(t, http.StatusOK, "")
	if rp.json["created"] != false || rp.json["lease_s"] != 60.0 {
		t.Errorf("second PUT %s", rp.body)
	}
	// A new pool by its full name; with policy.
	put("/v1/pools/fresh.pool.test/elements/f1", `{"addresses":["192.0.2.7"],"port":80,"policy":"lu"}`).want(t, http.StatusCreated, "")
	if p := f.hs.View().Zone("pool.test.").Pool("fresh"); p == nil || p.Spec.Policy != "lu" {
		t.Errorf("new pool %+v", p)
	}
	// RSPLIB's policies by name too; a distance-penalty pool takes the
	// default factor and step.
	for i, pol := range []string{"rplud", "plud-dpf", "wrand-dpf"} {
		pool := fmt.Sprintf("rsp%d", i)
		put("/v1/pools/"+pool+".pool.test/elements/r1", `{"addresses":["192.0.2.7"],"port":80,"policy":"`+pol+`"}`).want(t, http.StatusCreated, "")
		if p := f.hs.View().Zone("pool.test.").Pool(pool); p == nil || p.Spec.Policy != pol || p.All.Len() != 1 {
			t.Errorf("new %s pool %+v", pol, p)
		}
		f.do(t, "DELETE", "/v1/pools/"+pool+".pool.test/elements/r1", "", auth).want(t, http.StatusOK, "")
	}

	for _, c := range []struct {
		name, path, body string
		code             int
		msg              string
	}{
		{"no addresses", "/v1/pools/web.pool.test/elements/x", `{"port":80}`, 400, "missing addresses"},
		{"no port", "/v1/pools/web.pool.test/elements/x", `{"addresses":["192.0.2.1"]}`, 400, "missing port"},
		{"bad address", "/v1/pools/web.pool.test/elements/x", `{"addresses":["192.0.2.300"],"port":80}`, 400, "bad address"},
		{"unknown field", "/v1/pools/web.pool.test/elements/x", `{"addresses":["192.0.2.1"],"port":80,"wieght":3}`, 400, `unknown field "wieght"`},
		{"bad load", "/v1/pools/web.pool.test/elements/x", `{"addresses":["192.0.2.1"],"port":80,"load":2}`, 400, "fractions"},
		{"bad policy", "/v1/pools/web.pool.test/elements/x", `{"addresses":["192.0.2.1"],"port":80,"policy":"lru"}`, 400, "unknown policy"},
		{"bad RSPLIB-like policy", "/v1/pools/web.pool.test/elements/x", `{"addresses":["192.0.2.1"],"port":80,"policy":"lu-dfp"}`, 400, `unknown policy "lu-dfp"; want one of hash, lu, lu-dpf,`},
		{"another policy", "/v1/pools/web.pool.test/elements/x", `{"addresses":["192.0.2.1"],"port":80,"policy":"lu"}`, 409, "inconsistent pooling policy"},
		{"a zone file's element", "/v1/pools/web.pool.test/elements/web1", `{"addresses":["192.0.2.1"],"port":80}`, 409, "defined by a zone file"},
		{"bad label", "/v1/pools/web.pool.test/elements/a_b%20c", `{"addresses":["192.0.2.1"],"port":80}`, 400, "bad element label"},
		{"zone not served", "/v1/pools/web.nowhere.test/elements/x", `{"addresses":["192.0.2.1"],"port":80}`, 404, "no served zone"},
		{"ambiguous handle", "/v1/pools/web/elements/x", `{"addresses":["192.0.2.1"],"port":80}`, 409, "name the pool in full"},
		{"new bare handle with two zones", "/v1/pools/brandnew/elements/x", `{"addresses":["192.0.2.1"],"port":80}`, 404, "name the pool in full"},
		// Bodies that encoding/json reads, not the usual form's parser
		// (regbody.go): the same replies as before it.
		{"empty body", "/v1/pools/web.pool.test/elements/x", ``, 400, "empty request body; want a JSON object"},
		{"cut body", "/v1/pools/web.pool.test/elements/x", `{"addresses":["192.0.2.1"],"port":`, 400, "request body ends inside its JSON"},
		{"trailing data", "/v1/pools/web.pool.test/elements/x", `{"addresses":["192.0.2.1"],"port":80} {}`, 400, "trailing data after the JSON object"},
		{"port as a string", "/v1/pools/web.pool.test/elements/x", `{"addresses":["192.0.2.1"],"port":"80"}`, 400, `field "port" is a JSON string; want a number`},
		{"port too large", "/v1/pools/web.pool.test/elements/x", `{"addresses":["192.0.2.1"],"port":65536}`, 400, `field "port" is a JSON number 65536; want a number`},
		{"body too large", "/v1/pools/web.pool.test/elements/x", `{"addresses":["192.0.2.1"],"port":80}` + strings.Repeat(" ", 64<<10), 413, "request body larger than 65536 bytes"},
	} {
		rp := put(c.path, c.body)
		if e, _ := rp.json["error"].(string); rp.code != c.code || !strings.Contains(e, c.msg) {
			t.Errorf("%s: %d %s, want %d %q", c.name, rp.code, rp.body, c.code, c.msg)
		}
	}
	if p := f.hs.View().Zone("pool.test.").Pool("web"); p.Label("x") != nil {
		t.Error("a refused PUT registered x")
	}
	// Escapes and another case of a field's name: encoding/json's
	// meaning.
	rp = put("/v1/pools/web.pool.test/elements/esc", `{"\u0061ddresses":["192.0.2.1"],"Port":80,"site":"x\"y"}`)
	rp.want(t, http.StatusCreated, "")
	if el, _ := rp.json["element"].(map[string]any); el["site"] != `x"y` || el["port"] != 80.0 {
		t.Errorf("PUT with escapes: %s", rp.body)
	}
	f.do(t, "DELETE", "/v1/pools/web.pool.test/elements/esc", "", auth).want(t, http.StatusOK, "")
	// Token: none, wrong.
	f.do(t, "PUT", "/v1/pools/web.pool.test/elements/y", `{"addresses":["192.0.2.1"],"port":80}`, "").want(t, http.StatusUnauthorized, "")
	f.do(t, "PUT", "/v1/pools/web.pool.test/elements/y", `{"addresses":["192.0.2.1"],"port":80}`, "Bearer nope").want(t, http.StatusUnauthorized, "")
	// Method.
	rp = f.do(t, "POST", "/v1/pools/web.pool.test/elements/h1", `{}`, auth)
	if rp.code != http.StatusMethodNotAllowed || rp.hdr.Get("Allow") != "PUT, DELETE" {
		t.Errorf("POST: %d Allow %q", rp.code, rp.hdr.Get("Allow"))
	}

	// DELETE by label and by identifier; missing: 404; a zone file's: 409.
	f.do(t, "DELETE", "/v1/pools/web.pool.test/elements/h1", "", auth).want(t, http.StatusOK, "")
	f.do(t, "DELETE", "/v1/pools/web.pool.test/elements/h1", "", auth).want(t, http.StatusNotFound, "")
	fid, _ := regcommit.LabelID("f1")
	f.do(t, "DELETE", "/v1/pools/fresh.pool.test/elements/"+handlespace.IDString(fid), "", auth).want(t, http.StatusOK, "")
	f.do(t, "DELETE", "/v1/pools/web.pool.test/elements/web1", "", auth).want(t, http.StatusConflict, "defined by a zone file")
	if got := f.stored(t); len(got) != 0 {
		t.Errorf("store after the deletes %q", got)
	}
	if f.hs.View().Zone("pool.test.").Pool("fresh") != nil {
		t.Error("the pool of the last deleted element is still there")
	}
}

func TestRegisterRateLimit(t *testing.T) {
	f := newRegFixture(t, regcommit.Config{Rate: 1, Burst: 2})
	body := `{"addresses":["192.0.2.1"],"port":80}`
	codes := []int{}
	for i := 0; i < 3; i++ {
		codes = append(codes, f.do(t, "PUT", "/v1/pools/solo.other.test/elements/r1", body, auth).code)
	}
	if codes[0] != 201 || codes[1] != 200 || codes[2] != http.StatusTooManyRequests {
		t.Errorf("codes %v, want 201 200 429", codes)
	}
	// Another client address has its own bucket.
	r := httptest.NewRequest("PUT", "/v1/pools/solo.other.test/elements/r1", strings.NewReader(body))
	r.Header.Set("Authorization", auth)
	r.RemoteAddr = "192.0.2.200:5000"
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Errorf("another source: %d", w.Code)
	}
}

// TestRegisterValidation: pool names DNS cannot carry and addresses that
// cannot be an element's are refused with 400 naming the field, before
// anything is stored; loopback only where allowed.
func TestRegisterValidation(t *testing.T) {
	f := newRegFixture(t, regcommit.Config{})
	put := func(path, body string) reply { return f.do(t, "PUT", path, body, auth) }
	body := `{"addresses":["192.0.2.1"],"port":80}`
	addr := func(a string) string { return `{"addresses":["192.0.2.9","` + a + `"],"port":80}` }
	for _, c := range []struct{ name, path, body, msg string }{
		{"a space in the handle", "/v1/pools/we%20b.pool.test/elements/x", body, `pool: bad pool name "we b.pool.test": pool handle: label "we b" has a space`},
		{"a NUL in the handle", "/v1/pools/we%00b.pool.test/elements/x", body, "pool: bad pool name"},
		{"a wildcard handle", "/v1/pools/%2A.pool.test/elements/x", body, `label "*" has "*"`},
		{"a bare - handle", "/v1/pools/-.pool.test/elements/x", body, `label "-" begins or ends with '-'`},
		{"a handle of 64", "/v1/pools/" + strings.Repeat("h", 64) + ".pool.test/elements/x", body, "64 octets long"},
		{"a bare - label", "/v1/pools/web.pool.test/elements/-", body, `element: bad element label: label "-" begins or ends`},
		{"a label of 64", "/v1/pools/web.pool.test/elements/" + strings.Repeat("e", 64), body, "element: bad element label"},
		{"0.0.0.0", "/v1/pools/web.pool.test/elements/x", addr("0.0.0.0"), "addresses[1]: 0.0.0.0 is the unspecified address"},
		{"::", "/v1/pools/web.pool.test/elements/x", addr("::"), "addresses[1]: :: is the unspecified address"},
		{"multicast", "/v1/pools/web.pool.test/elements/x", addr("224.0.0.251"), "addresses[1]: 224.0.0.251 is a multicast address"},
		{"IPv6 multicast", "/v1/pools/web.pool.test/elements/x", addr("ff02::1"), "is a multicast address"},
		{"broadcast", "/v1/pools/web.pool.test/elements/x", addr("255.255.255.255"), "addresses[1]: 255.255.255.255 is the broadcast address"},
		{"loopback", "/v1/pools/web.pool.test/elements/x", addr("127.0.0.1"), "addresses[1]: 127.0.0.1: a loopback address: clients and the registrar's probes would reach their own host; registration.allow_loopback allows it"},
		{"IPv6 loopback", "/v1/pools/web.pool.test/elements/x", addr("::1"), "registration.allow_loopback allows it"},
		{"IPv4-mapped loopback", "/v1/pools/web.pool.test/elements/x", addr("::ffff:127.0.0.2"), "127.0.0.2: a loopback address"},
		{"not an address", "/v1/pools/web.pool.test/elements/x", addr("localhost"), `addresses[1]: bad address "localhost"`},
	} {
		rp := put(c.path, c.body)
		if e, _ := rp.json["error"].(string); rp.code != http.StatusBadRequest || !strings.Contains(e, c.msg) {
			t.Errorf("%s: %d %s, want 400 %q", c.name, rp.code, rp.body, c.msg)
		}
	}
	if got := f.stored(t); len(got) != 0 {
		t.Errorf("refused registrations stored: %q", got)
	}
	for _, z := range f.hs.View().Zones() {
		for _, h := range z.PoolHandles() {
			if err := handlespace.CheckLabel(h); err != nil {
				t.Errorf("a pool %s.%s: %v", h, z.Origin, err)
			}
		}
	}

	// Where loopback is allowed (the API and the registrar alike), it is
	// registered; the others are still refused.
	g := newRegFixture(t, regcommit.Config{AllowLoopback: true})
	g.h = httpapi.NewHandler(g.b, httpapi.Config{Token: testToken, Logger: discard(), Registrar: g.reg, AllowLoopback: true})
	g.do(t, "PUT", "/v1/pools/web.pool.test/elements/lo", `{"addresses":["127.0.0.1","::1"],"port":80}`, auth).want(t, http.StatusCreated, "")
	g.do(t, "PUT", "/v1/pools/web.pool.test/elements/x", addr("0.0.0.0"), auth).want(t, http.StatusBadRequest, "unspecified")
	// The registrar refuses on its own what the API let through.
	h := newRegFixture(t, regcommit.Config{})
	h.h = httpapi.NewHandler(h.b, httpapi.Config{Token: testToken, Logger: discard(), Registrar: h.reg, AllowLoopback: true})
	h.do(t, "PUT", "/v1/pools/web.pool.test/elements/lo", `{"addresses":["127.0.0.1"],"port":80}`, auth).want(t, http.StatusBadRequest, "registration.allow_loopback allows it")
}

// TestRegisterLogLevels: a new element's registration is logged at Info,
// its refreshes at Debug only (the committer's levels), so that clients
// refreshing by the thousand a second do not fill an Info log.
func TestRegisterLogLevels(t *testing.T) {
	f := newRegFixture(t, regcommit.Config{})
	var buf proctest.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	f.h = httpapi.NewHandler(f.b, httpapi.Config{Token: testToken, Logger: log, Now: func() time.Time { return t0 }, Registrar: f.reg})
	body := `{"addresses":["192.0.2.99"],"port":9000}`
	f.do(t, "PUT", "/v1/pools/web.pool.test/elements/h1", body, auth).want(t, http.StatusCreated, "")
	for range 3 {
		f.do(t, "PUT", "/v1/pools/web.pool.test/elements/h1", body, auth).want(t, http.StatusOK, "")
	}
	out := buf.String()
	if n := strings.Count(out, `msg="http api: registered"`); n != 1 || !strings.Contains(out, "created=true") {
		t.Fatalf("%d Info lines of registrations, want 1 (the creation):\n%s", n, out)
	}
}
