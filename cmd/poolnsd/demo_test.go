package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/zones"
)

// TestDemoBackends: the demo's backends serve on 127.0.0.2... , a stopped
// one refuses connections, a started one serves again, and the control
// routes list, stop and start them.
func TestDemoBackends(t *testing.T) {
	bs, err := startBackends(3, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, b := range bs {
			b.stop()
		}
	}()
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(b *demoBackend, path string) (string, error) {
		resp, err := client.Get("http://" + b.addr.String() + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.Header.Get("Pool-Load") + " " + string(body), nil
	}
	for i, b := range bs {
		if want := "127.0.0." + string(rune('2'+i)); b.addr.Addr().String() != want {
			t.Errorf("%s on %s, want %s", b.name, b.addr, want)
		}
		if got, err := get(b, "/healthz"); err != nil || !strings.HasSuffix(got, " ok\n") {
			t.Errorf("%s /healthz: %q, %v", b.name, got, err)
		}
	}
	if got, _ := get(bs[1], "/"); got != " hello from web2 ("+bs[1].addr.String()+"), request 1\n" {
		t.Errorf("web2 /: %q", got)
	}
	if got, _ := get(bs[2], "/healthz"); !strings.HasPrefix(got, "0.30 ") {
		t.Errorf("web3's load header: %q", got)
	}

	mux := http.NewServeMux()
	demoRoutes(mux, bs)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func(path string) (int, map[string]any) {
		resp, err := client.Post(srv.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if code, m := post("/demo/backends/web2/stop"); code != 200 || !strings.Contains(mustJSON(m), `{"addr":"`+bs[1].addr.String()+`","hits":1,"name":"web2","running":false}`) {
		t.Fatalf("stop web2: %d %s", code, mustJSON(m))
	}
	if _, err := net.DialTimeout("tcp", bs[1].addr.String(), time.Second); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("stopped web2: dial %v, want connection refused", err)
	}
	if code, _ := post("/demo/backends/web2/start"); code != 200 {
		t.Fatalf("start web2: %d", code)
	}
	if got, err := get(bs[1], "/"); err != nil || !strings.Contains(got, "request 2") {
		t.Errorf("restarted web2: %q, %v", got, err)
	}
	if code, m := post("/demo/backends/web9/stop"); code != 404 || m["error"] != `no demo backend "web9"` {
		t.Errorf("unknown backend: %d %v", code, m)
	}
	if code, _ := post("/demo/backends/web1/explode"); code != 404 {
		t.Errorf("unknown op: %d", code)
	}
}

// TestDemoZone: the zone the demo writes is a valid zone file with its
// backends in a probed pool.
func TestDemoZone(t *testing.T) {
	bs, err := startBackends(4, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		b.stop()
	}
	dir := t.TempDir()
	writeFile(t, dir, "demo.zone", demoZoneFile(bs))
	defs, err := zones.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) != 1 || len(defs[0].Pools) != 1 {
		t.Fatalf("zones %+v", defs)
	}
	p := defs[0].Pools[0]
	if p.Handle != "web" || len(p.Elements) != 4 || p.Spec.Probe.Kind != "http" || p.Spec.Probe.Interval != 500*time.Millisecond || p.Spec.Answers != 1 {
		t.Errorf("pool %+v", p)
	}
	for _, e := range p.Elements {
		if !strings.HasPrefix(e.Label.String(), "web") {
			t.Errorf("element label %q", e.Label.String())
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestSelfName: the demo prints commands with the binary as it was
// started, so that they run as printed.
func TestSelfName(t *testing.T) {
	for in, want := range map[string]string{
		"./bin/poolnsd":          "./bin/poolnsd",
		"/usr/local/bin/poolnsd": "/usr/local/bin/poolnsd",
		"poolnsd":                "poolnsd",
		"/tmp/my dir/poolnsd":    `'/tmp/my dir/poolnsd'`,
		"/tmp/it's/poolnsd":      `'/tmp/it'\''s/poolnsd'`,
	} {
		if got := selfName(in); got != want {
			t.Errorf("selfName(%q) = %s, want %s", in, got, want)
		}
	}
}
