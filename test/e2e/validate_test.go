package e2e

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/proctest"
	"github.com/poolnsd/poolnsd/regcommit"
	"github.com/poolnsd/poolnsd/store"
)

// TestRegistrationValidation: pool names DNS cannot carry and addresses
// that cannot be an element's are refused by the real binary, over HTTP
// (400 naming the field) and DNS UPDATE (the real nsupdate: REFUSED,
// with the reason in the log); nothing of them is stored, so nothing
// comes back after a restart. Loopback is refused unless
// registration.allow_loopback is on.
func TestRegistrationValidation(t *testing.T) {
	t.Parallel()
	proctest.LookTool(t, "nsupdate", "bind9-dnsutils")
	dir := daemonDir(t, goodZone, regConfig()...)
	key := keyFile(t, dir, "pe-key", regSecret)
	p := startDaemon(t, dir, "--http.token="+regToken)
	addr, _ := p.ready()
	api, _ := p.waitLog(0, "the HTTP API", msgIs("serving HTTP API"))
	base := "http://" + api.Str("addr")

	put := func(pool, label, body string) (int, string) {
		code, b := proctest.APIDo(t, http.MethodPut, base+"/v1/pools/"+pool+"/elements/"+label, regToken, body)
		var e struct{ Error string }
		json.Unmarshal(b, &e)
		return code, e.Error
	}
	body := func(addrs ...string) string {
		return `{"addresses":["` + strings.Join(addrs, `","`) + `"],"port":8080}`
	}
	for _, c := range []struct{ name, pool, label, body, msg string }{
		{"a space", "we%20b.pool.example", "x", body("192.0.2.1"), `pool: bad pool name "we b.pool.example": pool handle: label "we b" has a space`},
		{"a NUL", "we%00b.pool.example", "x", body("192.0.2.1"), "has a NUL byte"},
		{"a wildcard", "%2A.pool.example", "x", body("192.0.2.1"), `label "*" has "*"`},
		{"a bare -", "-.pool.example", "x", body("192.0.2.1"), `label "-" begins or ends with '-'`},
		{"a label of 64", strings.Repeat("l", 64) + ".pool.example", "x", body("192.0.2.1"), "is 64 octets long; want at most 63"},
		{"0.0.0.0", "dyn.pool.example", "x", body("0.0.0.0"), "addresses[0]: 0.0.0.0 is the unspecified address"},
		{"::", "dyn.pool.example", "x", body("192.0.2.1", "::"), "addresses[1]: :: is the unspecified address"},
		{"multicast", "dyn.pool.example", "x", body("224.0.0.1"), "addresses[0]: 224.0.0.1 is a multicast address"},
		{"broadcast", "dyn.pool.example", "x", body("255.255.255.255"), "addresses[0]: 255.255.255.255 is the broadcast address"},
		{"loopback", "dyn.pool.example", "x", body("127.0.0.1"), "addresses[0]: 127.0.0.1: a loopback address"},
	} {
		if code, msg := put(c.pool, c.label, c.body); code != http.StatusBadRequest || !strings.Contains(msg, c.msg) {
			t.Errorf("HTTP %s: %d %q, want 400 %q", c.name, code, msg, c.msg)
		}
	}

	// DNS UPDATE: the same holes, refused by the registrar.
	for _, c := range []struct{ name, owner, rr, why string }{
		{"a wildcard pool", "pe1.*.pool.example.", "A 192.0.2.1", `label "*" has "*"`},
		{"a bare - pool", "pe1.-.pool.example.", "A 192.0.2.1", `label "-" begins or ends with '-'`},
		{"a bare - label", "-.dyn.pool.example.", "A 192.0.2.1", `label "-" begins or ends with '-'`},
		{"0.0.0.0", "pe1.dyn.pool.example.", "A 0.0.0.0", "0.0.0.0 is the unspecified address"},
		{"::", "pe1.dyn.pool.example.", "AAAA ::", ":: is the unspecified address"},
		{"multicast", "pe1.dyn.pool.example.", "A 239.1.1.1", "is a multicast address"},
		{"broadcast", "pe1.dyn.pool.example.", "A 255.255.255.255", "is the broadcast address"},
		{"loopback", "pe1.dyn.pool.example.", "A 127.0.0.1", "127.0.0.1: a loopback address"},
	} {
		from := p.cursor()
		out, err := nsupdate(t, addr, key, "check-names no", // nsupdate's own check would stop * and - before sending
			"update add "+c.owner+" 60 SRV 0 1 8080 "+c.owner, "update add "+c.owner+" 60 "+c.rr)
		if err == nil || !strings.Contains(out, "REFUSED") {
			t.Errorf("nsupdate %s: %v, want REFUSED:\n%s", c.name, err, out)
			continue
		}
		r, _ := p.waitLog(from, "the refusal of "+c.name, msgIs("update refused"))
		if !strings.Contains(r.Str("reason"), c.why) {
			t.Errorf("nsupdate %s refused for %q, want %q", c.name, r.Str("reason"), c.why)
		}
	}
	// A good one passes, both ways.
	if code, msg := put("dyn.pool.example", "good", body("192.0.2.10")); code != http.StatusCreated {
		t.Fatalf("a good HTTP registration: %d %s", code, msg)
	}
	if out, err := nsupdate(t, addr, key, "update add pe2.dyn.pool.example. 60 SRV 0 1 8080 pe2.dyn.pool.example.",
		"update add pe2.dyn.pool.example. 60 A 192.0.2.11"); err != nil {
		t.Fatalf("a good nsupdate: %v\n%s", err, out)
	}

	// Restarted with loopback allowed: nothing refused came back, the
	// good ones did, and loopback registers now.
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.waitExit(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	p = startDaemon(t, dir, "--http.token="+regToken, "--registration.allow_loopback")
	addr, _ = p.ready()
	api, _ = p.waitLog(0, "the HTTP API", msgIs("serving HTTP API"))
	base = "http://" + api.Str("addr")
	code, b := proctest.APIDo(t, http.MethodGet, base+"/v1/pools", "", "")
	var pools struct{ Pools []struct{ Name string } }
	if err := json.Unmarshal(b, &pools); code != http.StatusOK || err != nil {
		t.Fatalf("GET /v1/pools: %d %v", code, err)
	}
	var names []string
	for _, pl := range pools.Pools {
		names = append(names, pl.Name)
	}
	if want := []string{"dyn.pool.example.", "web.pool.example."}; !slices.Equal(names, want) {
		t.Errorf("pools after the restart: %q, want %q", names, want)
	}
	if got := dig(t, addr, "+short", "dyn.pool.example", "A"); !slices.Equal(got, []string{"192.0.2.10", "192.0.2.11"}) {
		t.Errorf("dig after the restart: %q", got)
	}
	if code, msg := put("dyn.pool.example", "lo", body("127.0.0.1")); code != http.StatusCreated {
		t.Errorf("loopback with registration.allow_loopback: %d %s", code, msg)
	}
	if out, err := nsupdate(t, addr, key, "update add lo2.dyn.pool.example. 60 SRV 0 1 8080 lo2.dyn.pool.example.",
		"update add lo2.dyn.pool.example. 60 A 127.0.0.2"); err != nil {
		t.Errorf("loopback by nsupdate with registration.allow_loopback: %v\n%s", err, out)
	}
	if code, msg := put("dyn.pool.example", "x", body("0.0.0.0")); code != http.StatusBadRequest {
		t.Errorf("0.0.0.0 with registration.allow_loopback: %d %s, want 400", code, msg)
	}
}

// TestStoredBadRegistrations: registrations that an older poolnsd stored
// with names or addresses it should have refused are not loaded (a
// warning each), so neither served nor sent to peers; the good ones are.
func TestStoredBadRegistrations(t *testing.T) {
	t.Parallel()
	dir := daemonDir(t, goodZone)
	st, err := store.Open(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	el := func(label, addr string) *handlespace.Element {
		id, _ := regcommit.LabelID(label)
		return &handlespace.Element{ID: id, Label: handlespace.LabelOf(label), Addrs: handlespace.AddrsOf(netip.MustParseAddr(addr)), Port: 80,
			Expires: handlespace.ExpiryOf(exp), Lease: time.Hour, Owner: handlespace.OwnerOf("http")}
	}
	for _, c := range []struct {
		pool string
		e    *handlespace.Element
	}{
		{"good.pool.example.", el("ok", "192.0.2.1")},
		{"we b.pool.example.", el("x1", "192.0.2.2")},
		{"*.pool.example.", el("x2", "192.0.2.3")},
		{"good.pool.example.", el("x3", "0.0.0.0")},
		{"good.pool.example.", el("-", "192.0.2.4")},
	} {
		if err := st.PutElement(c.pool, c.e); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	p := startDaemon(t, dir)
	addr, r := p.ready()
	if r["registrations"] != 1.0 {
		t.Errorf("ready with %v registrations, want 1", r["registrations"])
	}
	var warned []string
	for _, rec := range p.Records(0, p.Cursor()) {
		if rec.Str("msg") == "stored registration not loaded" {
			warned = append(warned, rec.Str("pool")+" "+rec.Str("err"))
		}
	}
	if len(warned) != 4 {
		t.Errorf("warnings %q, want 4", warned)
	}
	if got := dig(t, addr, "+short", "good.pool.example", "A"); !slices.Equal(got, []string{"192.0.2.1"}) {
		t.Errorf("dig good.pool.example: %q", got)
	}
}
