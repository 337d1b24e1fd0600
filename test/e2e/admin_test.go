package e2e

import (
	"encoding/json"
	"github.com/poolnsd/poolnsd/internal/proctest"
	"io"
	"net/http"
	"net/netip"
	"syscall"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
)

// poolElements returns the elements of pool from the HTTP API at base.
func poolElements(t *testing.T, base, pool string) []httpapi.ElementJSON {
	t.Helper()
	resp, err := http.Get(base + "/v1/pools/" + pool)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var pj httpapi.PoolJSON
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s/v1/pools/%s: %d %s", base, pool, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&pj); err != nil {
		t.Fatalf("GET %s/v1/pools/%s: %v", base, pool, err)
	}
	if pj.Elements == nil {
		return nil
	}
	return *pj.Elements
}

// adminStates returns the administrative state of every element of pool,
// by label and by ID, from the HTTP API at base.
func adminStates(t *testing.T, base, pool string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, e := range poolElements(t, base, pool) {
		out[e.Label] = e.Admin
		out[e.ID] = e.Admin
	}
	return out
}

// setAdmin sets an element's administrative state through the HTTP API.
func setAdmin(t *testing.T, base, pool, pe, state string) {
	t.Helper()
	if code, b := proctest.APIDo(t, "PUT", base+"/v1/pools/"+pool+"/elements/"+pe+"/admin", regToken, `{"state":"`+state+`"}`); code != 200 {
		t.Fatalf("PUT %s/%s admin %s: %d %s", pool, pe, state, code, b)
	}
}

// TestAdminSurvivesRestart: a drained or forced-down element stays so
// after kill -9 and a restart (the state is on disk when the PUT is
// answered), and an element given back (auto), or deregistered and
// registered again, starts in auto after the next restart.
func TestAdminSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := daemonDir(t, goodZone, regConfig()...)
	start := func() (*daemonProc, string, string) {
		p := startDaemon(t, dir, "--http.token", regToken)
		dnsAddr, _ := p.ready()
		api, _ := p.waitLog(0, "the HTTP line", msgIs("serving HTTP API"))
		return p, dnsAddr, "http://" + api.Str("addr")
	}
	zoneID := func(a string) string {
		return handlespace.IDString(handlespace.ElementID(netip.MustParseAddr(a), 8080))
	}
	z1, z2 := zoneID("10.0.0.1"), zoneID("10.0.0.2")
	expect := func(base, pool string, want map[string]string) {
		t.Helper()
		got := adminStates(t, base, pool)
		for pe, st := range want {
			if got[pe] != st {
				t.Errorf("%s: element %s is %q, want %q (all: %v)", pool, pe, got[pe], st, got)
			}
		}
	}

	p, dnsAddr, base := start()
	for i, l := range []string{"r1", "r2"} {
		if err := register(dnsAddr, l, i+1, 3600); err != nil {
			t.Fatal(err)
		}
	}
	setAdmin(t, base, "web.pool.example.", z1, "drain")
	setAdmin(t, base, "web.pool.example.", z2, "force-down")
	setAdmin(t, base, "reg.pool.example.", "r1", "drain")
	setAdmin(t, base, "reg.pool.example.", "r2", "drain")
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.waitExit(waitLimit)

	p, dnsAddr, base = start()
	p.waitLog(0, "the admin states line", func(r logRec) bool {
		return r.Str("msg") == "admin states" && r["restored"] == float64(4) && r["dropped"] == float64(0)
	})
	expect(base, "web.pool.example.", map[string]string{z1: "drain", z2: "force-down"})
	expect(base, "reg.pool.example.", map[string]string{"r1": "drain", "r2": "drain"})
	if r := addrsOf(t, dnsAddr, "web.pool.example."); len(r) != 0 {
		t.Errorf("web.pool.example. A after the restart: %v, want none (one drained, one forced down)", r)
	}

	// Give z1 back; deregister r2 and register it again (a new element).
	setAdmin(t, base, "web.pool.example.", z1, "auto")
	if code, _ := proctest.APIDo(t, "DELETE", base+"/v1/pools/reg.pool.example./elements/r2", regToken, ""); code != 200 {
		t.Fatalf("DELETE r2: %d", code)
	}
	if err := register(dnsAddr, "r2", 2, 3600); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.waitExit(waitLimit); code != exitOK {
		t.Fatalf("SIGTERM: exit %d", code)
	}

	_, _, base = start()
	expect(base, "web.pool.example.", map[string]string{z1: "auto", z2: "force-down"})
	expect(base, "reg.pool.example.", map[string]string{"r1": "drain", "r2": "auto"})
}
