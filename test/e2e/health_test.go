package e2e

import (
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/miekg/dns"
)

// gatedBackend is an HTTP element whose answers the test sets: 200, 500,
// or held (no answer until the test opens the gate or the client leaves).
type gatedBackend struct {
	addr string
	mode atomic.Int32 // gateOK, gateFail, gateHold
	hits atomic.Int64

	mu   sync.Mutex
	gate chan struct{} // closed: held requests go on
}

const (
	gateOK int32 = iota
	gateFail
	gateHold
)

func newGatedBackend(t *testing.T) *gatedBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &gatedBackend{addr: ln.Addr().String(), gate: make(chan struct{})}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		if b.mode.Load() == gateHold {
			b.mu.Lock()
			gate := b.gate
			b.mu.Unlock()
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		if b.mode.Load() == gateFail {
			http.Error(w, "sick", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("ok\n"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() {
		b.open(gateOK)
		srv.Close()
	})
	return b
}

// hold makes the backend keep its answers until open.
func (b *gatedBackend) hold() {
	b.mu.Lock()
	b.gate = make(chan struct{})
	b.mu.Unlock()
	b.mode.Store(gateHold)
}

// open sets the mode (gateOK or gateFail) and lets held requests go on.
func (b *gatedBackend) open(mode int32) {
	b.mode.Store(mode)
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-b.gate:
	default:
		close(b.gate)
	}
}

// srvNames returns the sorted element labels of name's SRV answer at addr.
func srvNames(t *testing.T, addr, name string) []string {
	t.Helper()
	r := query(t, addr, name, dns.TypeSRV)
	if r.Rcode != dns.RcodeSuccess {
		t.Fatalf("%s SRV: %s", name, dns.RcodeToString[r.Rcode])
	}
	var out []string
	for _, rr := range r.Answer {
		if s, ok := rr.(*dns.SRV); ok {
			out = append(out, strings.TrimSuffix(s.Target, "."+name))
		}
	}
	slices.Sort(out)
	return out
}

// TestHealthSurvivesRestart runs poolnsd with three HTTP elements, a and
// b passing and c failing, kills it (SIGKILL) once it has kept their
// health, and starts it again while every element holds its answers: the
// pool answers a and b at once (probe.start last), before any probe has
// an answer. Then the first results replace the restored health: b, sick
// now, leaves after fall failures, c, well now, is back at its first pass
// (not after rise = 3). After a clean stop with b removed from the zone
// file, its stored health is dropped; with probe.start unknown the held
// pool answers nothing, and with up everything.
func TestHealthSurvivesRestart(t *testing.T) {
	t.Parallel()
	a, b, c := newGatedBackend(t), newGatedBackend(t), newGatedBackend(t)
	c.mode.Store(gateFail)
	zoneOf := func(elems ...string) string {
		z := `$ORIGIN pool.example.
$TTL 300
@      SOA ns1 hostmaster 1 3600 600 86400 5
@      NS  ns1
ns1    A   192.0.2.53
$POOL web probe=http:/healthz interval=6s timeout=5s rise=3 fall=2 answers=5
`
		for _, e := range elems {
			z += e + "\n"
		}
		return z
	}
	all := []string{"web PE " + a.addr + " name=a", "web PE " + b.addr + " name=b", "web PE " + c.addr + " name=c"}
	dir := t.TempDir()
	writeFile(t, dir, "zones/pool.example.zone", zoneOf(all...))
	writeFile(t, dir, "poolnsd.yaml", `dns:
  listen: ["127.0.0.1:0"]
  udp_sockets: 1
http:
  listen: ""
zones: zones
data: data
log:
  level: debug
  format: json
`)
	const name = "web.pool.example."
	healthTo := func(label, to string) func(logRec) bool {
		return func(r logRec) bool {
			return r.Str("msg") == "health changed" && r.Str("name") == label && r.Str("to") == to
		}
	}
	atStart := func(p *daemonProc, mode string, up, down, dropped int) {
		t.Helper()
		r, _ := p.waitLog(0, "the health at start line", msgIs("health at start"))
		if r.Str("probe_start") != mode || r["up"] != float64(up) || r["down"] != float64(down) || r["dropped"] != float64(dropped) {
			t.Errorf("health at start: %v; want probe_start %s, up %d, down %d, dropped %d", r, mode, up, down, dropped)
		}
	}

	// First run: a and b up, c down; once kept, kill -9.
	p := startDaemon(t, dir)
	addr, _ := p.ready()
	atStart(p, "last", 0, 0, 0)
	_, n := p.waitLog(0, "c down", healthTo("c", "down"))
	for _, l := range []string{"a", "b"} {
		p.waitLog(0, l+" up", healthTo(l, "up"))
	}
	if got := srvNames(t, addr, name); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("first run: %v, want a and b", got)
	}
	p.waitLog(n, "the health kept after c went down", msgIs("health kept"))
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.waitExit(waitLimit)

	// Second run, every element holding its answers: a and b at once.
	for _, be := range []*gatedBackend{a, b, c} {
		be.hold()
	}
	p = startDaemon(t, dir)
	addr, _ = p.ready()
	if got := srvNames(t, addr, name); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("at once after the restart: %v, want a and b (their stored health)", got)
	}
	atStart(p, "last", 2, 1, 0)
	if rs := p.Records(0, p.cursor()); slices.ContainsFunc(rs, func(r logRec) bool { return r.Str("msg") == "health changed" }) {
		t.Fatal("a health change before the backends answered: the answer above may not be the restored one")
	}
	// The first results decide: b is sick now, c well.
	a.open(gateOK)
	b.open(gateFail)
	c.open(gateOK)
	p.waitLog(0, "c up", healthTo("c", "up"))
	_, n = p.waitLog(0, "b down", healthTo("b", "down"))
	if hits := c.hits.Load(); hits < 1 {
		t.Errorf("c up after %d probes", hits)
	}
	if got := srvNames(t, addr, name); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("after the first probes: %v, want a and c", got)
	}
	p.waitLog(n, "the health kept after b went down", msgIs("health kept"))
	// b leaves the zone file while poolnsd is stopped (SIGTERM: the last
	// health is written on the way out).
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.waitExit(waitLimit); code != exitOK {
		t.Fatalf("SIGTERM: exit %d", code)
	}
	writeFile(t, dir, "zones/pool.example.zone", zoneOf(all[0], all[2]))

	// probe.start unknown: nothing until probes pass.
	for _, be := range []*gatedBackend{a, c} {
		be.hold()
	}
	p = startDaemon(t, dir, "--probe.start=unknown")
	addr, _ = p.ready()
	if r := query(t, addr, name, dns.TypeSRV); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Errorf("probe.start unknown, before any probe: %v", r)
	}
	atStart(p, "unknown", 0, 0, 1)
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.waitExit(waitLimit)

	// probe.start up: every probed element until probes say otherwise;
	// last again: the stored a and c.
	writeFile(t, dir, "zones/pool.example.zone", zoneOf(all...))
	p = startDaemon(t, dir, "--probe.start=up")
	addr, _ = p.ready()
	if got := srvNames(t, addr, name); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("probe.start up, before any probe: %v, want all", got)
	}
	atStart(p, "up", 3, 0, 0)
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.waitExit(waitLimit)
	p = startDaemon(t, dir)
	addr, _ = p.ready()
	if got := srvNames(t, addr, name); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("probe.start last after all that: %v, want a and c (b's health was dropped with it)", got)
	}
	atStart(p, "last", 2, 0, 0)
}
