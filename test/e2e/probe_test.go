package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/nettest"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

// backend is a real HTTP server on a loopback port that the test can kill
// (close its listener and connections) and start again on the same port.
type backend struct {
	t    *testing.T
	addr string
	hits atomic.Int64 // /healthz requests answered

	mu  sync.Mutex
	srv *http.Server
}

func newBackend(t *testing.T) *backend {
	b := &backend{t: t}
	// A port outside the kernel's ephemeral range, held till the test
	// ends: while the backend is killed the kernel gives it to no other
	// socket, so that revive can listen there again.
	ln := nettest.ListenTCP(t, "127.0.0.1")
	b.addr = ln.Addr().String()
	b.serve(ln)
	t.Cleanup(b.kill)
	return b
}

func (b *backend) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			b.hits.Add(1)
		}
		fmt.Fprintln(w, "ok")
	})}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
	go srv.Serve(ln)
}

// kill closes the listener and every connection.
func (b *backend) kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		b.srv.Close()
		b.srv = nil
	}
}

// revive listens on the same port again.
func (b *backend) revive() {
	ln := listenAgain(b.t, b.addr)
	b.hits.Store(0)
	b.serve(ln)
}

// TestServeProbes runs poolnsd with a pool of two real HTTP backends on
// loopback: both are answered once probed, a dead one leaves the answers
// (miekg/dns and dig) and comes back after rise probes; failure reports
// and admin states go through the HTTP API with the token, and without it
// get 401.
func TestServeProbes(t *testing.T) {
	t.Parallel()
	proctest.LookTool(t, "dig", "bind9-dnsutils")
	a, b := newBackend(t), newBackend(t)
	// Two elements on 127.0.0.1 with different ports: the answers carry
	// addresses, so they are told apart through SRV.
	zone := `$ORIGIN pool.example.
$TTL 300
@      SOA ns1 hostmaster 1 3600 600 86400 5
@      NS  ns1
ns1    A   192.0.2.53
$POOL web service=_http._tcp probe=http:/healthz interval=100ms timeout=50ms rise=2 fall=2 answers=5
web    PE ` + a.addr + ` name=a
web    PE ` + b.addr + ` name=b
`
	const token = "s3cret-t0ken"
	dir := t.TempDir()
	writeFile(t, dir, "zones/pool.example.zone", zone)
	writeFile(t, dir, "poolnsd.yaml", `dns:
  listen: ["127.0.0.1:0"]
  udp_sockets: 2
http:
  listen: "127.0.0.1:0"
  token: "`+token+`"
zones: zones
data: data
log:
  level: debug
  format: json
`)
	p := startDaemon(t, dir)
	dnsAddr, _ := p.ready()
	apiLine, _ := p.waitLog(0, "the HTTP API line", msgIs("serving HTTP API"))
	api := "http://" + apiLine.Str("addr")

	srvTargets := func() []string {
		t.Helper()
		r := query(t, dnsAddr, "_http._tcp.web.pool.example.", dns.TypeSRV)
		var out []string
		for _, rr := range r.Answer {
			if s, ok := rr.(*dns.SRV); ok {
				out = append(out, strings.TrimSuffix(s.Target, ".web.pool.example."))
			}
		}
		slices.Sort(out)
		return out
	}
	healthTo := func(name, to string) func(logRec) bool {
		return func(r logRec) bool {
			return r.Str("msg") == "health changed" && r.Str("name") == name && r.Str("to") == to
		}
	}

	// Start-up: unknown, then up after the first probe.
	from := 0
	p.waitLog(from, "a up", healthTo("a", "up"))
	p.waitLog(from, "b up", healthTo("b", "up"))
	p.waitLog(from, "first probes done", msgIs("first probes done"))
	if got := srvTargets(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("SRV targets with both backends up: %v", got)
	}

	t.Run("backend dies and comes back", func(t *testing.T) {
		from := p.cursor()
		b.kill()
		r, _ := p.waitLog(from, "b down", healthTo("b", "down"))
		if r.Str("reason") != "connect: connection refused" {
			t.Errorf("down because %q, want connect: connection refused", r.Str("reason"))
		}
		if got := srvTargets(); !slices.Equal(got, []string{"a"}) {
			t.Errorf("SRV targets with b dead: %v, want a only", got)
		}
		out, err := exec.Command("dig", "@127.0.0.1", "-p", portOf(dnsAddr), "+norecurse", "+short", proctest.ToolTime, "+tries=1",
			"_http._tcp.web.pool.example.", "SRV").CombinedOutput()
		if err != nil {
			t.Fatalf("dig: %v\n%s", err, out)
		}
		if strings.Contains(string(out), "b.web.pool.example.") || !strings.Contains(string(out), "a.web.pool.example.") {
			t.Errorf("dig with b dead:\n%s", out)
		}
		from = p.cursor()
		b.revive()
		p.waitLog(from, "b up again", healthTo("b", "up"))
		if n := b.hits.Load(); n < 2 {
			t.Errorf("b up again after %d probes answered, want rise=2", n)
		}
		if got := srvTargets(); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("SRV targets with b back: %v", got)
		}
	})

	idA := handlespace.IDString(elementID(t, a.addr))
	do := func(method, path, token, body string) (int, map[string]any) {
		t.Helper()
		code, raw := proctest.APIDo(t, method, api+path, token, body)
		var v map[string]any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s %s: not JSON (%v): %s", method, path, err, raw)
		}
		return code, v
	}

	t.Run("API without or with a wrong token", func(t *testing.T) {
		for _, auth := range []string{"", "wrong"} {
			code, v := do("POST", "/v1/pools/web.pool.example/reports", auth, `{"element":"`+idA+`"}`)
			if code != http.StatusUnauthorized || v["error"] == nil || v["error"] == "" {
				t.Errorf("report with token %q: %d %v, want 401 with a JSON error", auth, code, v)
			}
			code, v = do("PUT", "/v1/pools/web/elements/a/admin", auth, `{"state":"drain"}`)
			if code != http.StatusUnauthorized || v["error"] == nil {
				t.Errorf("admin with token %q: %d %v, want 401 with a JSON error", auth, code, v)
			}
		}
		if got := srvTargets(); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("after refused writes: %v", got)
		}
	})

	t.Run("GET pool", func(t *testing.T) {
		code, v := do("GET", "/v1/pools/web.pool.example", "", "")
		if code != http.StatusOK {
			t.Fatalf("GET pool: %d %v", code, v)
		}
		els, _ := v["elements"].([]any)
		if len(els) != 2 {
			t.Fatalf("elements %v", v["elements"])
		}
		for _, x := range els {
			e := x.(map[string]any)
			lp, _ := e["last_probe"].(map[string]any)
			if e["health"] != "up" || e["served"] != true || lp == nil || lp["ok"] != true || e["rtt_ms"] == nil {
				t.Errorf("element %v: want up, served, a passing last probe and an RTT", e)
			}
		}
	})

	t.Run("failure reports", func(t *testing.T) {
		from := p.cursor()
		for i := 1; i <= 3; i++ {
			code, v := do("POST", "/v1/pools/web.pool.example/reports", token, `{"element":"`+idA+`"}`)
			if code != http.StatusAccepted || v["reports"] != float64(i) || v["removed"] != (i == 3) {
				t.Fatalf("report %d: %d %v", i, code, v)
			}
		}
		// a still answers its probes, so it is out only until the next
		// probe that starts after the reports passes.
		p.waitLog(from, "a out", msgIs("element out of the answers after failure reports"))
		p.waitLog(from, "a back", msgIs("probe passed; element back in the answers after failure reports"))
		if got := srvTargets(); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("after a probe passed: %v", got)
		}
	})

	t.Run("drain and auto", func(t *testing.T) {
		code, v := do("PUT", "/v1/pools/web/elements/a/admin", token, `{"state":"drain"}`)
		if code != http.StatusOK || v["admin"] != "drain" || v["served"] != false {
			t.Fatalf("drain: %d %v", code, v)
		}
		if got := srvTargets(); !slices.Equal(got, []string{"b"}) {
			t.Errorf("a drained: %v, want b only", got)
		}
		code, v = do("PUT", "/v1/pools/web/elements/a/admin", token, `{"state":"auto"}`)
		if code != http.StatusOK || v["admin"] != "auto" || v["served"] != true {
			t.Fatalf("auto: %d %v", code, v)
		}
		if got := srvTargets(); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("a back to auto: %v", got)
		}
	})

	t.Run("reload keeps health", func(t *testing.T) {
		p.hup("the reload", msgIs("zones reloaded"))
		if got := srvTargets(); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("right after a reload: %v, want both still answered", got)
		}
	})

	t.Run("SIGTERM", func(t *testing.T) {
		from := p.cursor()
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := p.waitExit(shutdownGrace + 5*time.Second); code != exitOK {
			t.Errorf("exit %d after SIGTERM, want 0", code)
		}
		p.waitLog(from, "stopped", msgIs("stopped"))
		if c, err := net.DialTimeout("tcp", apiLine.Str("addr"), time.Second); err == nil {
			c.Close()
			t.Error("the HTTP API still accepts after SIGTERM")
		}
	})
}

func portOf(addr string) string { _, p, _ := strings.Cut(addr, ":"); return p }

// elementID is the identifier a zone file gives the element at addr.
func elementID(t *testing.T, addr string) uint32 {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return handlespace.ElementID(ap.Addr(), ap.Port())
}
