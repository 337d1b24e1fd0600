// Command failover measures how fast poolnsd takes a failed pool element
// out of its DNS answers, and what probing costs.
//
// Failover: poolnsd (a real process) serves a pool of five real HTTP
// backends on 127.0.3.1–5. Each trial waits a random fraction of the probe
// interval (so that the fault falls at a random point of the probe
// schedule), then breaks one backend — kill: its listener is closed, so
// connections are refused; freeze: it keeps accepting connections but never
// answers on them — and asks poolnsd for the pool's A records in a tight
// loop until an answer lacks the broken backend. The time from the fault to
// that answer is the trial's figure. The backend is then repaired and the
// next trial waits until it is answered again. With -reports, three failure
// reports for the element go to poolnsd's HTTP API right after the fault.
//
// CPU: poolnsd probes 10 000 elements (100 pools of 100) at a 1 s interval,
// on 127.0.3.1–50 and 127.0.4.1–50 port 18081, served by 100 minimal HTTP
// listeners in this process; its CPU time (utime + stime from
// /proc/PID/stat) over a fixed window, divided by the window, is the share
// of one core. The same is measured with probe=tcp and with no probes.
//
// With -registrars 3 the failover runs again over three peering poolnsd
// (127.0.0.1–3, plain TCP peering on port 9441, health.confirm 2, each
// probing from its own address): the element's home has its change
// confirmed by the two others before it is published, and a trial's
// figure is the time until all three registrars' answers lack the broken
// backend.
//
// All traffic stays on loopback: DNS on 127.0.0.1:5400, the HTTP API on
// 127.0.0.1:8400 (and .2, .3 with three registrars), backends on
// 127.0.3.x and 127.0.4.x.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

var (
	bin      = flag.String("poolnsd", "bin/poolnsd", "poolnsd binary")
	trials   = flag.Int("trials", 20, "trials per scenario")
	dnsAddr  = flag.String("dns", "127.0.0.1:5400", "poolnsd's DNS address (with 3 registrars, its port on 127.0.0.1-3)")
	apiAddr  = flag.String("api", "127.0.0.1:8400", "poolnsd's HTTP API address (with 3 registrars, its port on 127.0.0.1-3)")
	enrpPort = flag.Int("enrp-port", 9441, "the registrars' ENRP port on 127.0.0.1-3, with 3 registrars")
	only     = flag.String("only", "", "run only the scenarios whose name contains this (e.g. 100ms, freeze, cpu)")
	cpuWin   = flag.Duration("cpu-window", 20*time.Second, "CPU measurement window")
	cpuWarm  = flag.Duration("cpu-warmup", 5*time.Second, "time after the first probes before the CPU window")
	keepLogs = flag.String("logs", "", "directory to keep poolnsd's logs in (default: discarded)")
	debug    = flag.Bool("v", false, "print every trial")
	pinCPU   = flag.Int("cpu-pin", -1, "for the CPU runs, also measure poolnsd pinned to this CPU (taskset) with GOMAXPROCS=1; -1: only unpinned")
	clusters = flag.String("registrars", "1,3", "cluster sizes of the failover runs: 1 (one poolnsd) and 3 (three peering poolnsd on 127.0.0.1-3 that confirm health changes, health.confirm 2)")
)

const token = "bench-token"

func main() {
	flag.Parse()
	if _, err := os.Stat(*bin); err != nil {
		fatalf("poolnsd binary %s: %v (build it with make build)", *bin, err)
	}
	fmt.Printf("# failover benchmark, %s, load before: %s\n", time.Now().UTC().Format(time.RFC3339), loadavg())
	type scenario struct {
		interval, timeout time.Duration
		mode              string
		reports           bool
	}
	var scs []scenario
	for _, iv := range []struct{ i, t time.Duration }{{time.Second, 500 * time.Millisecond}, {100 * time.Millisecond, 50 * time.Millisecond}} {
		for _, mode := range []string{"kill", "freeze"} {
			for _, rep := range []bool{false, true} {
				scs = append(scs, scenario{iv.i, iv.t, mode, rep})
			}
		}
	}
	var rows []string
	for _, nr := range strings.Split(*clusters, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(nr))
		if err != nil || n < 1 || n > 3 {
			fatalf("-registrars: %q, want 1 or 3", nr)
		}
		for _, iv := range []time.Duration{time.Second, 100 * time.Millisecond} {
			var mine []scenario
			for _, sc := range scs {
				name := fmt.Sprintf("%dx/", n) + scenarioName(sc.interval, sc.timeout, sc.mode, sc.reports)
				if sc.interval == iv && (*only == "" || strings.Contains(name, *only)) {
					mine = append(mine, sc)
				}
			}
			if len(mine) == 0 {
				continue
			}
			f := startFailover(n, mine[0].interval, mine[0].timeout)
			for _, sc := range mine {
				rows = append(rows, f.run(sc.mode, sc.reports))
			}
			f.close()
		}
	}
	if len(rows) > 0 {
		fmt.Println()
		fmt.Println("| registrars | interval | timeout | fall | fault | reports | trials | median | p99 | max | target p99 | met |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|")
		for _, r := range rows {
			fmt.Println(r)
		}
	}
	if *only == "" || strings.Contains("cpu", *only) {
		var cpuRows []string
		for _, kind := range []string{"http", "http#fresh", "tcp", "none"} {
			cpuRows = append(cpuRows, cpuRun(kind, -1))
			if *pinCPU >= 0 && kind != "none" {
				cpuRows = append(cpuRows, cpuRun(kind, *pinCPU))
			}
		}
		cpuRows = append(cpuRows, cpuFloor())
		fmt.Println()
		fmt.Println("| probes | elements | interval | poolnsd on | probes/s at the backends | new connections/s | poolnsd CPU, % of one core | window | target |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|")
		for _, r := range cpuRows {
			fmt.Println(r)
		}
	}
	fmt.Printf("\n# load after: %s\n", loadavg())
}

func scenarioName(interval, timeout time.Duration, mode string, reports bool) string {
	r := ""
	if reports {
		r = "+reports"
	}
	return fmt.Sprintf("%v/%v/%s%s", interval, timeout, mode, r)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "failover: "+format+"\n", args...)
	os.Exit(1)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// --- backends ---------------------------------------------------------

// backend is a real HTTP server on addr that can be killed (listener
// closed: connections refused), frozen (connections accepted and never
// answered) and repaired.
type backend struct {
	addr string
	last atomic.Int64 // when it last answered, Unix ns

	mu  sync.Mutex
	srv *http.Server
	fl  *freezeListener
}

func newBackend(addr string) *backend {
	b := &backend{addr: addr}
	if err := b.start(); err != nil {
		fatalf("backend %s: %v", addr, err)
	}
	return b
}

func (b *backend) start() error {
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		return err
	}
	b.fl = &freezeListener{Listener: ln, thaw: make(chan struct{})}
	fl := b.fl
	b.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fl.wait() // a frozen server answers nothing, on old connections either
			b.last.Store(time.Now().UnixNano())
			io.WriteString(w, "ok\n")
		}),
	}
	go b.srv.Serve(b.fl)
	return nil
}

func (b *backend) kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.srv.Close()
}

func (b *backend) freeze() { b.fl.setFrozen(true) }

// repair undoes kill or freeze.
func (b *backend) repair(mode string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch mode {
	case "kill":
		for i := 0; ; i++ {
			if err := b.start(); err == nil {
				return
			} else if i == 100 {
				fatalf("backend %s: listen again: %v", b.addr, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	case "freeze":
		b.fl.setFrozen(false)
	}
}

func (b *backend) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fl.setFrozen(false)
	b.srv.Close()
}

// freezeListener hands connections to the HTTP server, or while frozen
// keeps them open without a word; while frozen the handler waits too.
type freezeListener struct {
	net.Listener
	mu     sync.Mutex
	frozen bool
	thaw   chan struct{} // closed when the freeze ends
	held   []net.Conn
}

func (l *freezeListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		if l.frozen {
			l.held = append(l.held, c)
			l.mu.Unlock()
			continue
		}
		l.mu.Unlock()
		return c, nil
	}
}

// wait returns at once, or when the freeze ends.
func (l *freezeListener) wait() {
	l.mu.Lock()
	frozen, thaw := l.frozen, l.thaw
	l.mu.Unlock()
	if frozen {
		<-thaw
	}
}

func (l *freezeListener) setFrozen(f bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f == l.frozen {
		return
	}
	l.frozen = f
	if f {
		l.thaw = make(chan struct{})
		return
	}
	close(l.thaw)
	for _, c := range l.held {
		c.Close()
	}
	l.held = nil
}

// --- poolnsd ----------------------------------------------------------

type daemon struct {
	*proctest.Proc
	dir      string
	dns, api string
	logf     *os.File
}

// startDaemon runs poolnsd serve on a zones directory holding zone, on
// CPU pin with GOMAXPROCS=1 if pin >= 0.
func startDaemon(name, zone string, pin int) *daemon {
	return startDaemonAt(name, zone, pin, *dnsAddr, *apiAddr, "")
}

// startDaemonAt is startDaemon with its DNS and API addresses, and extra
// configuration (YAML, top level).
func startDaemonAt(name, zone string, pin int, dnsAt, apiAt, extra string) *daemon {
	dir, err := os.MkdirTemp("", "poolnsd-failover-")
	if err != nil {
		fatalf("%v", err)
	}
	os.MkdirAll(filepath.Join(dir, "zones"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "zones", "bench.zone"), []byte(zone), 0o644); err != nil {
		fatalf("%v", err)
	}
	cfg := fmt.Sprintf(`dns:
  listen: [%q]
http:
  listen: %q
  token: %q
zones: %s
zones_watch: false
data: %s
reports:
  max_bad: 3
  burst: 1000
  rate: 1000
log:
  format: json
`, dnsAt, apiAt, token, filepath.Join(dir, "zones"), filepath.Join(dir, "data")) + extra
	if err := os.WriteFile(filepath.Join(dir, "poolnsd.yaml"), []byte(cfg), 0o644); err != nil {
		fatalf("%v", err)
	}
	d := &daemon{dir: dir, dns: dnsAt, api: apiAt}
	cmd := exec.Command(*bin, "serve", "--config", filepath.Join(dir, "poolnsd.yaml"))
	if pin >= 0 {
		cmd = exec.Command("taskset", "-c", strconv.Itoa(pin), *bin, "serve", "--config", filepath.Join(dir, "poolnsd.yaml"))
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	}
	var tee io.Writer
	if *keepLogs != "" {
		os.MkdirAll(*keepLogs, 0o755)
		d.logf, _ = os.Create(filepath.Join(*keepLogs, name+".log"))
		tee = d.logf
	}
	if d.Proc, err = proctest.Start(cmd, tee); err != nil {
		fatalf("start poolnsd: %v", err)
	}
	if !d.logged("ready", 30*time.Second) {
		d.stop()
		fatalf("poolnsd did not get ready:\n%s", d.Tail(20))
	}
	return d
}

// logged waits up to limit for poolnsd to log msg.
func (d *daemon) logged(msg string, limit time.Duration) bool {
	_, _, err := d.Wait(0, limit, proctest.MsgIs(msg))
	return err == nil
}

func (d *daemon) stop() {
	d.Stop(os.Interrupt, 10*time.Second)
	if d.logf != nil {
		d.logf.Close()
	}
	os.RemoveAll(d.dir)
}

// --- failover ---------------------------------------------------------

type failover struct {
	interval, timeout time.Duration
	backs             []*backend
	ds                []*daemon // the registrars; the first takes the reports
	client            *dns.Client
	conns             []*dns.Conn // to each registrar's DNS
	ids               []string    // element identifiers, for reports
}

const zoneHead = `$ORIGIN bench.test.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 5
@ NS ns1
ns1 A 127.0.0.1
`

// startFailover starts n registrars (one, or three peering on
// 127.0.0.1–3 with health.confirm 2, each probing from its own address)
// over the five backends.
func startFailover(n int, interval, timeout time.Duration) *failover {
	f := &failover{interval: interval, timeout: timeout}
	zone := zoneHead + fmt.Sprintf("$POOL web ttl=0 answers=5 probe=http:/healthz interval=%v timeout=%v rise=2 fall=2\n", interval, timeout)
	for i := 1; i <= 5; i++ {
		addr := fmt.Sprintf("127.0.3.%d:18080", i)
		f.backs = append(f.backs, newBackend(addr))
		zone += fmt.Sprintf("web PE %s name=b%d\n", addr, i)
	}
	if n == 1 {
		f.ds = []*daemon{startDaemon(fmt.Sprintf("failover-%v", interval), zone, -1)}
	} else {
		_, dnsPort, _ := net.SplitHostPort(*dnsAddr)
		_, apiPort, _ := net.SplitHostPort(*apiAddr)
		var peers []string
		for i := 1; i <= n; i++ {
			peers = append(peers, fmt.Sprintf("%q", fmt.Sprintf("127.0.0.%d:%d", i, *enrpPort)))
		}
		for i := 1; i <= n; i++ {
			ip := fmt.Sprintf("127.0.0.%d", i)
			extra := fmt.Sprintf("probe:\n  source: %s\nhealth:\n  confirm: 2\nenrp:\n  listen: \"%s:%d\"\n  peers: [%s]\n  insecure: true\n  presence_interval: 250ms\n  max_time_last_heard: 750ms\n  max_time_no_response: 250ms\n",
				ip, ip, *enrpPort, strings.Join(peers, ", "))
			f.ds = append(f.ds, startDaemonAt(fmt.Sprintf("failover-%dx-%v-%d", n, interval, i), zone, -1,
				net.JoinHostPort(ip, dnsPort), net.JoinHostPort(ip, apiPort), extra))
		}
		for _, d := range f.ds {
			if !d.waitPeers(n-1, 30*time.Second) {
				fatalf("registrar %s did not hear its peers:\n%s", d.api, d.Tail(20))
			}
		}
	}
	f.client = &dns.Client{Net: "udp", Timeout: time.Second}
	for _, d := range f.ds {
		c, err := f.client.Dial(d.dns)
		if err != nil {
			fatalf("dial %s: %v", d.dns, err)
		}
		f.conns = append(f.conns, c)
	}
	if !f.waitAnswered(5, "", 30*time.Second) {
		fatalf("the five backends were not all answered:\n%s", f.ds[0].Tail(20))
	}
	f.ids = f.elementIDs()
	return f
}

// waitPeers waits for the registrar to log peer-up n times.
func (d *daemon) waitPeers(n int, limit time.Duration) bool {
	from := 0
	for range n {
		_, next, err := d.Wait(from, limit, func(r proctest.Rec) bool { return r.Str("event") == "peer-up" })
		if err != nil {
			return false
		}
		from = next
	}
	return true
}

func (f *failover) close() {
	for _, c := range f.conns {
		c.Close()
	}
	for _, d := range f.ds {
		d.stop()
	}
	for _, b := range f.backs {
		b.close()
	}
}

// answerAt asks registrar i for web.bench.test. A.
func (f *failover) answerAt(i int) ([]string, error) {
	m := new(dns.Msg)
	m.SetQuestion("web.bench.test.", dns.TypeA)
	r, _, err := f.client.ExchangeWithConn(m, f.conns[i])
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out, nil
}

// waitAnswered waits until every registrar's answer has n addresses
// including want (if set).
func (f *failover) waitAnswered(n int, want string, limit time.Duration) bool {
	end := time.Now().Add(limit)
	for i := range f.conns {
		for {
			got, err := f.answerAt(i)
			if err == nil && len(got) == n && (want == "" || slices.Contains(got, want)) {
				break
			}
			if time.Now().After(end) {
				return false
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return true
}

func (f *failover) elementIDs() []string {
	resp, err := http.Get("http://" + f.ds[0].api + "/v1/pools/web.bench.test")
	if err != nil {
		fatalf("GET pool: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	ids := make([]string, len(f.backs))
	for i, b := range f.backs {
		// The elements' JSON carries "id" before "label": find each label.
		key := fmt.Sprintf(`"label":"b%d"`, i+1)
		j := bytes.Index(body, []byte(key))
		k := bytes.LastIndex(body[:max(j, 0)], []byte(`"id":"`))
		if j < 0 || k < 0 {
			fatalf("no element b%d (%s) in %s", i+1, b.addr, body)
		}
		ids[i] = string(body[k+6 : k+14])
	}
	return ids
}

func (f *failover) report(i int) {
	req, _ := http.NewRequest("POST", "http://"+f.ds[0].api+"/v1/pools/web.bench.test/reports",
		strings.NewReader(`{"element":"`+f.ids[i]+`"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fatalf("report: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		fatalf("report: HTTP %d", resp.StatusCode)
	}
}

// run makes the trials of one scenario and returns its table row. A
// trial's figure is the time until every registrar's answer lacks the
// broken backend.
func (f *failover) run(mode string, reports bool) string {
	name := fmt.Sprintf("%dx/", len(f.ds)) + scenarioName(f.interval, f.timeout, mode, reports)
	var times []time.Duration
	for trial := 0; trial < *trials; trial++ {
		i := trial % len(f.backs)
		b := f.backs[i]
		victim := strings.Split(b.addr, ":")[0]
		// A random point of the probe schedule.
		time.Sleep(time.Duration(rand.Int64N(int64(f.interval))))
		t0 := time.Now()
		sinceLast := t0.Sub(time.Unix(0, b.last.Load()))
		if mode == "kill" {
			b.kill()
		} else {
			b.freeze()
		}
		if reports {
			for range 3 {
				f.report(i)
			}
		}
		var d time.Duration
		for i := range f.conns {
			for n := 0; ; n++ {
				got, err := f.answerAt(i)
				if err == nil && len(got) > 0 && !slices.Contains(got, victim) {
					d = time.Since(t0)
					break
				}
				if time.Since(t0) > 30*time.Second {
					fatalf("%s trial %d: %s still answered by %s after 30 s (%d queries)", name, trial, victim, f.ds[i].dns, n)
				}
			}
		}
		times = append(times, d)
		if *debug {
			fmt.Printf("  trial %d %s: fault %v after its last answer; out after %v\n", trial, victim, ms(sinceLast), ms(d))
		}
		b.repair(mode)
		if !f.waitAnswered(5, victim, 30*time.Second) {
			fatalf("%s trial %d: %s not answered again after repair:\n%s", name, trial, victim, f.ds[0].Tail(20))
		}
	}
	slices.Sort(times)
	med, p99, mx := quantile(times, 0.5), quantile(times, 0.99), times[len(times)-1]
	target := f.interval*(2-1) + f.timeout + 50*time.Millisecond
	if len(f.ds) > 1 {
		// Confirmation may add one probe timeout (issue 11: 250 ms at
		// 100 ms / 50 ms).
		target += f.timeout
	}
	if reports {
		target = f.timeout + 50*time.Millisecond
	}
	met := "yes"
	if p99 > target {
		met = "**no**"
	}
	fmt.Printf("%-28s trials %d  median %-8v p99 %-8v max %-8v target %v  all: %v\n", name, len(times), ms(med), ms(p99), ms(mx), target, msAll(times))
	rep := "none"
	if reports {
		rep = "3 at the fault"
	}
	return fmt.Sprintf("| %d | %v | %v | 2 | %s | %s | %d | %v | %v | %v | ≤ %v | %s |", len(f.ds), f.interval, f.timeout, mode, rep, len(times), ms(med), ms(p99), ms(mx), target, met)
}

// quantile is the nearest-rank quantile of sorted xs.
func quantile(xs []time.Duration, q float64) time.Duration {
	i := int(float64(len(xs))*q+0.999999) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}

func ms(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }

func msAll(xs []time.Duration) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatFloat(float64(x)/1e6, 'f', 1, 64)
	}
	return strings.Join(s, " ")
}

// --- CPU --------------------------------------------------------------

// cpuRun measures poolnsd's CPU while it probes 10 000 elements with kind
// (http, tcp, or none: no probes).
func cpuRun(kind string, pin int) string {
	const pools, per = 100, 100
	var conns, reqs atomic.Int64
	addrs, closeAll := miniBackends(18081, &conns, &reqs)
	defer closeAll()
	probeKeys := "probe=none"
	switch kind {
	case "http":
		probeKeys = "probe=http:/healthz"
	case "http#fresh":
		probeKeys = "probe=http:/healthz#fresh"
	case "tcp":
		probeKeys = "probe=tcp"
	}
	if kind != "none" {
		probeKeys += " interval=1s timeout=500ms rise=2 fall=2"
	}
	var zone strings.Builder
	zone.WriteString(zoneHead)
	for p := 0; p < pools; p++ {
		fmt.Fprintf(&zone, "$POOL p%d answers=3 %s\n", p, probeKeys)
		for e := 0; e < per; e++ {
			fmt.Fprintf(&zone, "p%d PE %s name=e%d\n", p, addrs[e], e)
		}
	}
	d := startDaemon("cpu-"+strings.ReplaceAll(kind, "#", "-"), zone.String(), pin)
	where := "any CPU"
	if pin >= 0 {
		where = fmt.Sprintf("CPU %d, GOMAXPROCS=1", pin)
	}
	defer d.stop()
	if kind != "none" && !d.logged("first probes done", 60*time.Second) {
		fatalf("cpu %s: the first probes did not finish:\n%s", kind, d.Tail(20))
	}
	time.Sleep(*cpuWarm)
	pid := d.Cmd.Process.Pid
	u0, k0 := cpuSplit(pid)
	c0, r0 := conns.Load(), reqs.Load()
	start := time.Now()
	time.Sleep(*cpuWin)
	u1, k1 := cpuSplit(pid)
	c1, r1 := conns.Load(), reqs.Load()
	wall := time.Since(start)
	pct := func(ticks int64) float64 { return float64(ticks) / clockTicks / wall.Seconds() * 100 }
	cpu := pct(u1 - u0 + k1 - k0)
	user, sys := pct(u1-u0), pct(k1-k0)
	target := "< 25 %"
	if kind == "none" {
		target = "(baseline)"
	}
	per_s := func(a, b int64) float64 { return float64(b-a) / wall.Seconds() }
	probes := per_s(r0, r1) // requests
	if kind == "tcp" {
		probes = per_s(c0, c1) // connections
	}
	fmt.Printf("cpu %-10s %d elements on %s: %.1f %% of one core (user %.1f, system %.1f) over %v; backends saw %.0f connections/s, %.0f requests/s; load %s\n",
		kind, pools*per, where, cpu, user, sys, wall.Round(time.Millisecond), per_s(c0, c1), per_s(r0, r1), loadavg())
	return fmt.Sprintf("| %s | %d | 1s | %s | %.0f | %.0f | %.1f %% (user %.1f, system %.1f) | %v | %s |",
		kind, pools*per, where, probes, per_s(c0, c1), cpu, user, sys, wall.Round(time.Second), target)
}

// miniBackends listens on port of 127.0.3.1–50 and 127.0.4.1–50 with
// miniHTTP, counting into conns and reqs, and returns the 100 addresses
// and a func that closes the listeners.
func miniBackends(port int, conns, reqs *atomic.Int64) ([]string, func()) {
	var addrs []string
	for i := 1; i <= 50; i++ {
		addrs = append(addrs, fmt.Sprintf("127.0.3.%d:%d", i, port), fmt.Sprintf("127.0.4.%d:%d", i, port))
	}
	var lns []net.Listener
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			fatalf("listen %s: %v", a, err)
		}
		lns = append(lns, ln)
		go miniHTTP(ln, conns, reqs)
	}
	return addrs, func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
}

// cpuFloor measures the kernel's cost of a TCP probe on this machine: one
// locked thread of this process connects (blocking socket, connect, close
// with a reset) to the same 100 loopback listeners 10 000 times a second,
// and its own CPU time (/proc/self/task/TID/stat, which like poolnsd's
// includes the listener side's TCP work done in its system calls) over
// the window is the floor under any connect-per-probe design.
func cpuFloor() string {
	var conns, reqs atomic.Int64
	addrs, closeAll := miniBackends(18082, &conns, &reqs)
	defer closeAll()
	sas := make([]syscall.SockaddrInet4, len(addrs))
	for i, a := range addrs {
		ap := netip.MustParseAddrPort(a)
		sas[i] = syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	type out struct {
		user, sys int64
		n         int
		wall      time.Duration
	}
	res := make(chan out)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid := syscall.Gettid()
		ticks := func() (int64, int64) {
			b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
			if err != nil {
				fatalf("%v", err)
			}
			s := string(b)
			f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
			u, _ := strconv.ParseInt(f[11], 10, 64)
			k, _ := strconv.ParseInt(f[12], 10, 64)
			return u, k
		}
		linger := &syscall.Linger{Onoff: 1, Linger: 0}
		u0, k0 := ticks()
		start := time.Now()
		n := 0
		for next := start; time.Since(start) < *cpuWin; next = next.Add(100 * time.Microsecond) {
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
			if err != nil {
				fatalf("socket: %v", err)
			}
			if err := syscall.Connect(fd, &sas[n%len(sas)]); err != nil {
				fatalf("connect: %v", err)
			}
			syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, linger)
			syscall.Close(fd)
			n++
		}
		wall := time.Since(start)
		u1, k1 := ticks()
		res <- out{u1 - u0, k1 - k0, n, wall}
	}()
	o := <-res
	pct := func(t int64) float64 { return float64(t) / clockTicks / o.wall.Seconds() * 100 }
	fmt.Printf("cpu floor      %d raw connects (connect + reset close, one thread) at %.0f/s: %.1f %% of one core (user %.1f, system %.1f); load %s\n",
		o.n, float64(o.n)/o.wall.Seconds(), pct(o.user+o.sys), pct(o.user), pct(o.sys), loadavg())
	return fmt.Sprintf("| floor: raw connect + reset, one thread, no poolnsd | — | — | — | %.0f | %.0f | %.1f %% (user %.1f, system %.1f) | %v | (reference) |",
		float64(o.n)/o.wall.Seconds(), float64(o.n)/o.wall.Seconds(), pct(o.user+o.sys), pct(o.user), pct(o.sys), o.wall.Round(time.Second))
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times (100 on
// Linux everywhere that matters).
const clockTicks = 100

// cpuSplit returns utime and stime of pid.
func cpuSplit(pid int) (user, sys int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		fatalf("%v", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u, st
}

// miniHTTP answers every request with a 200, keeping connections open
// (HTTP/1.1 keep-alive), and a TCP probe's bare connect with nothing,
// cheaply: the backends' CPU is not what is measured, but it shares the
// machine. It counts connections and requests.
func miniHTTP(ln net.Listener, conns, reqs *atomic.Int64) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		conns.Add(1)
		go func() {
			defer c.Close()
			br := bufio.NewReaderSize(c, 1024)
			for {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				for {
					line, err := br.ReadSlice('\n')
					if err != nil {
						return // a tcp probe's reset, or the end
					}
					if len(bytes.TrimSpace(line)) == 0 {
						break
					}
				}
				reqs.Add(1)
				if _, err := c.Write(resp); err != nil {
					return
				}
			}
		}()
	}
}
