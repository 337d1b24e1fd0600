package main

// poolnsd demo: the server on its defaults plus a few HTTP backends on
// loopback addresses, in one pool probed over HTTP, to watch a failover.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poolnsd/poolnsd/config"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/spf13/pflag"
)

// The demo's zone and pool.
const (
	demoZone = "demo.example."
	demoPool = "web." + demoZone
)

// demoBackend is one demo HTTP server: GET / says who it is, GET /healthz
// is its health check. Stopping it closes its listener, so that probes get
// "connection refused" as from a crashed server.
type demoBackend struct {
	name string
	addr netip.AddrPort
	load float64 // what its health check reports in Pool-Load

	mu   sync.Mutex
	srv  *http.Server // nil when stopped
	hits atomic.Uint64
}

func (b *demoBackend) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Pool-Load", strconv.FormatFloat(b.load, 'f', 2, 64))
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		n := b.hits.Add(1)
		fmt.Fprintf(w, "hello from %s (%s), request %d\n", b.name, b.addr, n)
	})
	return mux
}

// start listens again (a no-op when running).
func (b *demoBackend) start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		return nil
	}
	ln, err := net.Listen("tcp", b.addr.String())
	if err != nil {
		return err
	}
	b.addr = netip.MustParseAddrPort(ln.Addr().String())
	srv := &http.Server{Handler: b.handler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	b.srv = srv
	return nil
}

// stop closes the listener and the connections (a no-op when stopped).
func (b *demoBackend) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		b.srv.Close()
		b.srv = nil
	}
}

func (b *demoBackend) running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.srv != nil
}

// demoBackendPort is the port the backends try first; if it is taken on an
// address, the backend takes any free port there.
const demoBackendPort = 8080

// startBackends starts n backends, web1 on 127.0.0.2, web2 on 127.0.0.3 and
// so on (Linux routes all of 127.0.0.0/8 to the loopback interface), on
// port (or any free port where it is taken).
func startBackends(n int, port uint16) ([]*demoBackend, error) {
	var bs []*demoBackend
	for i := 1; i <= n; i++ {
		ip := netip.AddrFrom4([4]byte{127, 0, 0, byte(1 + i)})
		b := &demoBackend{name: fmt.Sprintf("web%d", i), addr: netip.AddrPortFrom(ip, port), load: float64(i) / 10}
		if err := b.start(); err != nil {
			b.addr = netip.AddrPortFrom(ip, 0)
			if err2 := b.start(); err2 != nil {
				for _, o := range bs {
					o.stop()
				}
				return nil, fmt.Errorf("demo backend %s: %v", b.name, err2)
			}
		}
		bs = append(bs, b)
	}
	return bs, nil
}

// demoZoneFile is the zone of the demo: pool web with the backends, probed
// over HTTP twice a second, answering one address at a time in turn.
func demoZoneFile(bs []*demoBackend) string {
	var b strings.Builder
	b.WriteString(`; The zone of "poolnsd demo", written at start into a temporary directory.
$ORIGIN ` + demoZone + `
$TTL 300
@    SOA ns1 hostmaster 1 3600 600 86400 5
@    NS  ns1
ns1  A   127.0.0.1

; Round robin, one address per answer, a 1 s TTL; probed with GET /healthz
; every 500 ms: down after 2 failures in a row, up after 2 passes.
$POOL web policy=rr service=_http._tcp ttl=1 answers=1 uri=http://{addr}:{port}/ probe=http:/healthz interval=500ms timeout=250ms rise=2 fall=2
`)
	for _, be := range bs {
		fmt.Fprintf(&b, "web  PE %s name=%s\n", be.addr, be.name)
	}
	return b.String()
}

func demo(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("demo", pflag.ContinueOnError)
	config.RegisterFlags(fs)
	n := fs.Int("backends", 4, "how many demo HTTP backends to run, 1..9 (on 127.0.0.2 ... 127.0.0.10)")
	port := fs.Uint16("backend-port", demoBackendPort, "port of the demo backends (any free one where it is taken)")
	if code, ok := parseFlags(fs, "demo", args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "poolnsd demo: unexpected argument %q; see poolnsd help\n", fs.Arg(0))
		return exitUsage
	}
	if *n < 1 || *n > 9 {
		fmt.Fprintf(stderr, "poolnsd demo: --backends %d: want 1..9\n", *n)
		return exitUsage
	}
	tmp, err := os.MkdirTemp("", "poolnsd-demo-")
	if err != nil {
		fmt.Fprintf(stderr, "poolnsd demo: %v\n", err)
		return exitRuntime
	}
	defer os.RemoveAll(tmp)
	// The defaults and the flags (and --config if given), not ./poolnsd.yaml:
	// the demo runs on poolnsd's defaults wherever it is started.
	cfg, warns, err := config.Load(config.LoadOptions{Flags: fs, Dir: tmp})
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, line)
		}
		return exitUsage
	}
	if !fs.Changed("zones") {
		cfg.Zones = filepath.Join(tmp, "zones")
	}
	if !fs.Changed("data") {
		cfg.Data = filepath.Join(tmp, "data")
	}
	if !fs.Changed("registration.allow_loopback") {
		// Everything of the demo is on this host: elements registered
		// into it (DNS UPDATE, HTTP) are too.
		cfg.Registration.AllowLoopback = true
	}
	if cfg.HTTP.Token == "" {
		var b [12]byte
		rand.Read(b[:])
		cfg.HTTP.Token = hex.EncodeToString(b[:])
	}
	if cfg.HTTP.Listen == "" {
		fmt.Fprintln(stderr, "poolnsd demo: http.listen is off; the demo needs the HTTP listener (status page, backend control)")
		return exitUsage
	}
	bs, err := startBackends(*n, *port)
	if err != nil {
		fmt.Fprintf(stderr, "poolnsd demo: %v\n", err)
		return exitRuntime
	}
	defer func() {
		for _, b := range bs {
			b.stop()
		}
	}()
	if err := os.MkdirAll(cfg.Zones, 0o755); err != nil {
		fmt.Fprintf(stderr, "poolnsd demo: %v\n", err)
		return exitRuntime
	}
	if err := os.WriteFile(filepath.Join(cfg.Zones, "demo.zone"), []byte(demoZoneFile(bs)), 0o644); err != nil {
		fmt.Fprintf(stderr, "poolnsd demo: %v\n", err)
		return exitRuntime
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prepare := func(d *daemon) error {
		d.ops.routes = func(mux *http.ServeMux) { demoRoutes(mux, bs) }
		d.ops.onReady = func() {
			var dnsBound []string
			for _, a := range d.dns.Addrs() {
				dnsBound = append(dnsBound, a.String())
			}
			printDemo(stdout, selfName(os.Args[0]), cfg, d.ops.httpURL(cfg), dnsBound, bs)
			if stdinIsTerminal() {
				go demoKeys(ctx, os.Stdin, stdout, bs)
			}
		}
		return nil
	}
	return runServe(fs, cfg, warns, stderr, prepare)
}

// demoRoutes adds the backend controls to the HTTP listener: GET
// /demo/backends lists them, POST /demo/backends/{name}/stop and /start
// stop and start one. They need no token: the demo serves on loopback.
func demoRoutes(mux *http.ServeMux, bs []*demoBackend) {
	find := func(name string) *demoBackend {
		for _, b := range bs {
			if b.name == name {
				return b
			}
		}
		return nil
	}
	list := func(w http.ResponseWriter, r *http.Request) {
		type item struct {
			Name    string `json:"name"`
			Addr    string `json:"addr"`
			Running bool   `json:"running"`
			Hits    uint64 `json:"hits"`
		}
		out := []item{}
		for _, b := range bs {
			out = append(out, item{b.name, b.addr.String(), b.running(), b.hits.Load()})
		}
		httpapi.WriteJSON(w, r, http.StatusOK, map[string]any{"backends": out})
	}
	mux.HandleFunc("GET /demo/backends", func(w http.ResponseWriter, r *http.Request) { list(w, r) })
	mux.HandleFunc("POST /demo/backends/{name}/{op}", func(w http.ResponseWriter, r *http.Request) {
		b := find(r.PathValue("name"))
		if b == nil {
			httpapi.WriteJSON(w, r, http.StatusNotFound, map[string]any{"error": "no demo backend " + strconv.Quote(r.PathValue("name"))})
			return
		}
		switch r.PathValue("op") {
		case "stop":
			b.stop()
		case "start":
			if err := b.start(); err != nil {
				httpapi.WriteJSON(w, r, http.StatusInternalServerError, map[string]any{"error": err.Error()})
				return
			}
		default:
			httpapi.WriteJSON(w, r, http.StatusNotFound, map[string]any{"error": "want POST /demo/backends/NAME/stop or /start"})
			return
		}
		list(w, r)
	})
}

// selfName is how to run this program again from the directory it was
// started in: arg0 (os.Args[0]) when it is a path (./bin/poolnsd, as make
// demo starts it), shell-quoted if need be; else "poolnsd", found in PATH.
func selfName(arg0 string) string {
	if !strings.Contains(arg0, "/") {
		return "poolnsd"
	}
	if strings.ContainsFunc(arg0, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '+' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) {
		return "'" + strings.ReplaceAll(arg0, "'", `'\''`) + "'"
	}
	return arg0
}

// printDemo says what to run; self is how to run poolnsd (selfName).
func printDemo(w io.Writer, self string, cfg config.Config, httpURL string, dnsBound []string, bs []*demoBackend) {
	dnsAddr := cfg.DNS.Listen[0]
	if len(dnsBound) > 0 {
		dnsAddr = dnsBound[0]
	}
	host, port, _ := net.SplitHostPort(dnsAddr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	digAt := "@" + host + " -p " + port
	var b strings.Builder
	fmt.Fprintf(&b, "\npoolnsd demo: pool %s with %d HTTP backends, probed with GET /healthz every 500 ms\n\n", demoPool, len(bs))
	for i, be := range bs {
		fmt.Fprintf(&b, "  %d  %-5s http://%s/\n", i+1, be.name, be.addr)
	}
	fmt.Fprintf(&b, `
Ask for the pool (each answer is the next live backend; TTL 1 s):
  dig %[1]s +short web.demo.example A
  dig %[1]s _http._tcp.web.demo.example SRV
  watch -n 0.5 dig %[1]s +short web.demo.example A
Watch the pool live:    %[2]s/            (status page)
                        %[4]s status --server %[2]s
Kill a backend:         type its number and Enter here (again to bring it back), or
                        curl -X POST %[2]s/demo/backends/web2/stop   (and .../start)
Drain one by hand:      %[4]s drain --server %[2]s --token %[3]s web.demo.example web3
                        %[4]s undrain --server %[2]s --token %[3]s web.demo.example web3
Metrics:                curl %[2]s/metrics
Stop the demo:          Ctrl-C
`, digAt, httpURL, cfg.HTTP.Token, self)
	io.WriteString(w, b.String())
}

// demoKeys reads lines from in: a backend's number toggles it, q quits.
func demoKeys(ctx context.Context, in io.Reader, out io.Writer, bs []*demoBackend) {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if ctx.Err() != nil {
			return
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if line == "q" {
			p, _ := os.FindProcess(os.Getpid())
			p.Signal(os.Interrupt)
			return
		}
		i, err := strconv.Atoi(line)
		if err != nil || i < 1 || i > len(bs) {
			fmt.Fprintf(out, "type a backend's number (1..%d) to stop or start it, q to quit\n", len(bs))
			continue
		}
		b := bs[i-1]
		if b.running() {
			b.stop()
			fmt.Fprintf(out, "%s stopped: its next probe fails, and within about half a second it leaves the answers\n", b.name)
		} else if err := b.start(); err != nil {
			fmt.Fprintf(out, "%s: cannot start: %v\n", b.name, err)
		} else {
			fmt.Fprintf(out, "%s started: after 2 passed probes it is back in the answers, within 0.5 to 5.5 s\n"+
				"  (a stopped backend is probed less often the longer it was down: after 0.5, 1, 2, 4, then every 5 s)\n", b.name)
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, os.ErrClosed) {
		fmt.Fprintf(out, "demo: reading the keyboard: %v\n", err)
	}
}

// stdinIsTerminal reports whether standard input is a terminal.
func stdinIsTerminal() bool {
	fi, err := os.Stdin.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
