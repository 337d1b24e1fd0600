package probe_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/probe"
)

func TestTCPChecker(t *testing.T) {
	ln := listen(t)
	serveConns(ln, func(c net.Conn) { c.Close() })
	c := probe.TCPChecker{}
	if r := check(t, c, "tcp", "", addrOf(ln.Addr()), time.Second); !r.OK || r.RTT <= 0 {
		t.Errorf("listening port: %+v, want a pass with an RTT", r)
	}
	if r := check(t, c, "tcp", "", closedPort(t), time.Second); r.OK || r.Err != "connect: connection refused" {
		t.Errorf("closed port: %+v, want connect: connection refused", r)
	}
	// Without a deadline (the scheduler always sets one) the checker dials.
	if r := c.Check(context.Background(), probe.Target{Key: "k", Addr: addrOf(ln.Addr())}); !r.OK {
		t.Errorf("listening port, no deadline: %+v, want a pass", r)
	}
	// IPv6, where the machine has it.
	if ln6, err := net.Listen("tcp", "[::1]:0"); err == nil {
		defer ln6.Close()
		serveConns(ln6, func(c net.Conn) { c.Close() })
		if r := check(t, c, "tcp", "", addrOf(ln6.Addr()), time.Second); !r.OK {
			t.Errorf("[::1] listening port: %+v, want a pass", r)
		}
		a := addrOf(ln6.Addr())
		ln6.Close()
		if r := check(t, c, "tcp", "", a, time.Second); r.OK || r.Err != "connect: connection refused" {
			t.Errorf("[::1] closed port: %+v, want connect: connection refused", r)
		}
	}
	// A listener that never accepts, its queue full: the kernel drops the
	// SYN and the connect waits out the timeout.
	full := fullListener(t)
	start := time.Now()
	if r := check(t, c, "tcp", "", full, 200*time.Millisecond); r.OK || r.Err != "timeout after 200ms" {
		t.Errorf("listener with a full queue: %+v, want timeout after 200ms", r)
	}
	if took := time.Since(start); took < 190*time.Millisecond {
		t.Errorf("timed out after %v, before the 200ms timeout", took)
	}
}

// fullListener returns the address of a loopback listener with a backlog
// of 0 that never accepts, after filling its accept queue: connects to it
// get no answer.
func fullListener(t *testing.T) netip.AddrPort {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.AddrPortFrom(netip.AddrFrom4(sa.(*syscall.SockaddrInet4).Addr), uint16(sa.(*syscall.SockaddrInet4).Port))
	// Fill the queue: connects until one does not complete within 100ms
	// (a backlog of 0 queues one or two).
	for i := 0; ; i++ {
		if i == 8 {
			t.Fatalf("8 connections to %v completed; its queue does not fill", a)
		}
		c, err := net.DialTimeout("tcp", a.String(), 100*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	return a
}

// request is what a test HTTP server saw of a probe.
type request struct {
	method, uri, host, ua, conn string
}

type recorded struct {
	mu   sync.Mutex
	reqs []request
}

func (rec *recorded) add(r *http.Request) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.reqs = append(rec.reqs, request{r.Method, r.RequestURI, r.Host, r.UserAgent(), r.Header.Get("Connection")})
}

func (rec *recorded) last(t *testing.T) request {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) == 0 {
		t.Fatal("the server saw no request")
	}
	return rec.reqs[len(rec.reqs)-1]
}

// jsonBodies are the bodies of /json?b=NAME.
var jsonBodies = map[string]string{
	"flat":    `{"load":0.25}`,
	"nested":  `{"stats":{"cpu":"80%"},"load":0.1}`,
	"one":     `{"stats":{"cpu":1}}`,
	"other":   `{"other":0.25}`,
	"big":     `{"load":7}`,
	"notjson": `not json`,
	"object":  `{"load":{"x":1}}`,
}

// testMux is the test backends' handler: /ok, /fail (500), /load?v=V
// (200 with Pool-Load: V), /sick-load (503 with Pool-Load: 90%), /body
// (a chunked body), /redirect (302), /close (hangs up without a reply).
func testMux(rec *recorded) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		switch r.URL.Path {
		case "/ok", "/":
			fmt.Fprintln(w, "ok")
		case "/fail":
			http.Error(w, "broken", http.StatusInternalServerError)
		case "/load":
			w.Header().Set("Pool-Load", r.URL.Query().Get("v"))
			fmt.Fprintln(w, "ok")
		case "/json": // ?b=NAME: one of jsonBodies, with a Pool-Load header of 0.5
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Pool-Load", "0.5")
			fmt.Fprint(w, jsonBodies[r.URL.Query().Get("b")])
		case "/sick-load":
			w.Header().Set("Pool-Load", "90%")
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/body":
			fmt.Fprint(w, "status: ")
			w.(http.Flusher).Flush() // chunked from here
			fmt.Fprint(w, "all good, db ok")
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/close":
			c, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				c.Close()
			}
		default:
			http.NotFound(w, r)
		}
	})
	return mux
}

func TestHTTPChecker(t *testing.T) {
	rec := &recorded{}
	ln := listen(t)
	serveHTTP(t, ln, testMux(rec), nil)
	addr := addrOf(ln.Addr())
	c := probe.NewHTTPChecker(false)

	tests := []struct {
		target  string
		ok      bool
		err     string
		load    float64
		hasLoad bool
	}{
		{target: "/ok", ok: true},
		{target: "", ok: true}, // "/"
		{target: "/fail", err: "HTTP status 500, want 2xx"},
		{target: "/fail#500", ok: true},
		{target: "/fail#200,5xx", ok: true},
		{target: "/ok#201", err: "HTTP status 200, want 201"},
		{target: "/nope", err: "HTTP status 404, want 2xx"},
		{target: "/redirect", err: "HTTP status 302, want 2xx"}, // not followed
		{target: "/redirect#3xx", ok: true},
		{target: "/body#body=db%20ok", ok: true},
		{target: "/body#body=all%20good%2C%20db,body=status", ok: true},
		{target: "/body#body=db%20down", err: `body lacks "db down"`},
		{target: "/load?v=0.35", ok: true, load: 0.35, hasLoad: true},
		{target: "/load?v=35%25", ok: true, load: 0.35, hasLoad: true},
		{target: "/load?v=100%25", ok: true, load: 1, hasLoad: true},
		{target: "/load?v=0", ok: true, load: 0, hasLoad: true},
		{target: "/load?v=lots", ok: true}, // malformed: ignored
		{target: "/load?v=1.5", ok: true},  // out of range: ignored
		{target: "/load?v=", ok: true},     // empty: ignored
		{target: "/sick-load", err: "HTTP status 503, want 2xx", load: 0.9, hasLoad: true},
		// load=FIELD: the body's JSON member; the header when there is none.
		{target: `/json?b=flat#load=load`, ok: true, load: 0.25, hasLoad: true},
		{target: `/json?b=nested#load=stats.cpu`, ok: true, load: 0.8, hasLoad: true},
		{target: `/json?b=one#load=stats.cpu,200`, ok: true, load: 1, hasLoad: true},
		{target: `/json?b=other#load=load`, ok: true, load: 0.5, hasLoad: true},   // no member: the header
		{target: `/json?b=big#load=load`, ok: true, load: 0.5, hasLoad: true},     // out of range: the header
		{target: `/json?b=notjson#load=load`, ok: true, load: 0.5, hasLoad: true}, // not JSON: the header
		{target: `/json?b=object#load=load`, ok: true, load: 0.5, hasLoad: true},  // not a number
		{target: `/json?b=flat`, ok: true, load: 0.5, hasLoad: true},              // without the term: the header
		{target: "/close", err: "HTTP: connection closed before the response"},
		{target: "/ok#bogus", err: `bad probe target: bad term "bogus"; want a status such as 200 or 2xx, body=TEXT, host=NAME, load=FIELD or fresh`},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			r := check(t, c, "http", tt.target, addr, 5*time.Second)
			if r.OK != tt.ok || r.Err != tt.err {
				t.Errorf("OK=%v Err=%q, want OK=%v Err=%q", r.OK, r.Err, tt.ok, tt.err)
			}
			if r.HasLoad != tt.hasLoad || math.Abs(r.Load-tt.load) > 1e-9 {
				t.Errorf("load %v (has %v), want %v (has %v)", r.Load, r.HasLoad, tt.load, tt.hasLoad)
			}
			if r.OK && r.RTT <= 0 {
				t.Errorf("RTT %v", r.RTT)
			}
		})
	}

	t.Run("request", func(t *testing.T) {
		check(t, c, "http", "/ok?x=1&y=%2F", addr, 5*time.Second)
		got := rec.last(t)
		want := request{"GET", "/ok?x=1&y=%2F", addr.String(), "poolnsd-probe", "keep-alive"}
		if got != want {
			t.Errorf("server saw %+v, want %+v", got, want)
		}
		check(t, c, "http", "/ok#host=www.Example.com", addr, 5*time.Second)
		if got := rec.last(t); got.host != "www.example.com" {
			t.Errorf("host= term: Host %q, want www.example.com", got.host)
		}
		check(t, c, "http", "/ok#fresh", addr, 5*time.Second)
		if got := rec.last(t); got.conn != "close" {
			t.Errorf("fresh: Connection %q, want close", got.conn)
		}
	})

	t.Run("accepts but never answers", func(t *testing.T) {
		start := time.Now()
		r := check(t, c, "http", "/ok", hangServer(t), 100*time.Millisecond)
		if r.OK || r.Err != "timeout after 100ms" || r.RTT < 100*time.Millisecond {
			t.Errorf("%+v, want a failure: timeout after 100ms, RTT at least the timeout", r)
		}
		if el := time.Since(start); el > waitLimit {
			t.Errorf("the check took %v", el)
		}
	})
	t.Run("refused", func(t *testing.T) {
		if r := check(t, c, "http", "/", closedPort(t), time.Second); r.Err != "connect: connection refused" {
			t.Errorf("%+v, want connect: connection refused", r)
		}
	})
	t.Run("not HTTP", func(t *testing.T) {
		ln := listen(t)
		serveConns(ln, func(c net.Conn) {
			c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n"))
			c.Close()
		})
		r := check(t, c, "http", "/", addrOf(ln.Addr()), time.Second)
		if r.OK || !strings.HasPrefix(r.Err, "HTTP: malformed HTTP response") {
			t.Errorf("%+v, want HTTP: malformed HTTP response …", r)
		}
	})
}

func TestHTTPSChecker(t *testing.T) {
	cfg, sniSent := sniConfig(t, "www.example.com")
	rec := &recorded{}
	ln := listen(t)
	serveHTTP(t, ln, testMux(rec), cfg)
	addr := addrOf(ln.Addr())
	c := probe.NewHTTPChecker(true)

	if r := check(t, c, "https", "/ok", addr, 5*time.Second); !r.OK {
		t.Fatalf("https with a self-signed certificate: %+v, want a pass (certificates are not verified)", r)
	}
	if r := check(t, c, "https", "/fail", addr, 5*time.Second); r.OK || r.Err != "HTTP status 500, want 2xx" {
		t.Errorf("https /fail: %+v", r)
	}
	if r := check(t, c, "https", "/load?v=35%25#host=www.example.com", addr, 5*time.Second); !r.OK || !r.HasLoad || math.Abs(r.Load-0.35) > 1e-9 {
		t.Errorf("https with load: %+v", r)
	}
	if got := rec.last(t).host; got != "www.example.com" {
		t.Errorf("Host %q, want www.example.com", got)
	}
	// /fail used the connection that /ok kept; it failed, so /load made a
	// new one, with the server name.
	if sni := sniSent(); len(sni) != 2 || sni[0] != "" || sni[1] != "www.example.com" {
		t.Errorf("server names sent %q, want none, then www.example.com", sni)
	}

	// https against a plain HTTP server fails in the handshake.
	plain := listen(t)
	serveHTTP(t, plain, testMux(rec), nil)
	if r := check(t, c, "https", "/ok", addrOf(plain.Addr()), 5*time.Second); r.OK || !strings.HasPrefix(r.Err, "TLS handshake: ") {
		t.Errorf("https against plain HTTP: %+v, want TLS handshake: …", r)
	}
	// A server that accepts and never answers fails at the timeout.
	if r := check(t, c, "https", "/ok", hangServer(t), 100*time.Millisecond); r.OK || r.Err != "timeout after 100ms" {
		t.Errorf("https against a frozen server: %+v, want timeout after 100ms", r)
	}
}

func TestTLSChecker(t *testing.T) {
	cfg, sniSent := sniConfig(t, "api.example.com")
	ln := listen(t)
	serveConns(tls.NewListener(ln, cfg), func(c net.Conn) {
		defer c.Close()
		c.(*tls.Conn).Handshake()
		c.Read(make([]byte, 1)) // until the client goes
	})
	addr := addrOf(ln.Addr())
	c := probe.TLSChecker{}
	if r := check(t, c, "tls", "", addr, 5*time.Second); !r.OK || r.RTT <= 0 {
		t.Errorf("tls, no SNI: %+v, want a pass", r)
	}
	if r := check(t, c, "tls", "api.example.com", addr, 5*time.Second); !r.OK {
		t.Errorf("tls with SNI: %+v, want a pass", r)
	}
	if sni := sniSent(); len(sni) != 2 || sni[0] != "" || sni[1] != "api.example.com" {
		t.Errorf("server names sent %q, want none then api.example.com", sni)
	}

	// A server that speaks something else fails the handshake.
	other := listen(t)
	serveConns(other, func(c net.Conn) {
		c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
		c.Close()
	})
	if r := check(t, c, "tls", "", addrOf(other.Addr()), 5*time.Second); r.OK || !strings.HasPrefix(r.Err, "TLS handshake: ") {
		t.Errorf("tls against HTTP: %+v, want TLS handshake: …", r)
	}
	if r := check(t, c, "tls", "", hangServer(t), 100*time.Millisecond); r.OK || r.Err != "timeout after 100ms" {
		t.Errorf("tls against a frozen server: %+v, want timeout after 100ms", r)
	}
	if r := check(t, c, "tls", "", closedPort(t), time.Second); r.Err != "connect: connection refused" {
		t.Errorf("tls against a closed port: %+v", r)
	}
}

// dnsServer serves on a UDP port of 127.0.0.1: ok.test. NOERROR with an A
// record (and NODATA for other types), nx.test. NXDOMAIN, refused.test.
// REFUSED, and silent.test. no answer at all. It records the types asked.
func dnsServer(t *testing.T) (string, func() []uint16) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var types []uint16
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		q := r.Question[0]
		mu.Lock()
		types = append(types, q.Qtype)
		mu.Unlock()
		m := new(dns.Msg)
		m.SetReply(r)
		switch strings.ToLower(q.Name) {
		case "ok.test.":
			if q.Qtype == dns.TypeA {
				rr, _ := dns.NewRR("ok.test. 60 IN A 192.0.2.1")
				m.Answer = append(m.Answer, rr)
			}
		case "nx.test.":
			m.Rcode = dns.RcodeNameError
		case "refused.test.":
			m.Rcode = dns.RcodeRefused
		case "silent.test.":
			return
		}
		w.WriteMsg(m)
	})
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(started) }}
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String(), func() []uint16 {
		mu.Lock()
		defer mu.Unlock()
		return append([]uint16(nil), types...)
	}
}

func TestDNSChecker(t *testing.T) {
	addrS, types := dnsServer(t)
	addr := mustAddrPort(t, addrS)
	c := &probe.DNSChecker{}
	tests := []struct {
		target string
		err    string
	}{
		{"ok.test", ""},
		{"OK.test.", ""},
		{"ok.test#type=AAAA", ""}, // NODATA is NOERROR
		{"nx.test", "DNS rcode NXDOMAIN, want NOERROR"},
		{"nx.test#NXDOMAIN", ""},
		{"ok.test#NXDOMAIN", "DNS rcode NOERROR, want NXDOMAIN"},
		{"refused.test#NOERROR,NXDOMAIN", "DNS rcode REFUSED, want NOERROR or NXDOMAIN"},
		{"refused.test#refused", ""},
	}
	for _, tt := range tests {
		r := check(t, c, "dns", tt.target, addr, 5*time.Second)
		if r.Err != tt.err {
			t.Errorf("%s: %+v, want Err %q", tt.target, r, tt.err)
		}
	}
	if got := types(); got[2] != dns.TypeAAAA || got[0] != dns.TypeA {
		t.Errorf("types asked %v, want A, A, AAAA, …", got)
	}
	if r := check(t, c, "dns", "silent.test", addr, 100*time.Millisecond); r.OK || r.Err != "timeout after 100ms" {
		t.Errorf("silent server: %+v, want timeout after 100ms", r)
	}
	// Nothing on the port: the ICMP port unreachable ends the probe.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := mustAddrPort(t, pc.LocalAddr().String())
	pc.Close()
	if r := check(t, c, "dns", "ok.test", dead, time.Second); r.OK || !strings.Contains(r.Err, "connection refused") {
		t.Errorf("closed UDP port: %+v, want connection refused", r)
	}
}

// connCounter counts the connections a listener accepts.
type connCounter struct {
	net.Listener
	n atomic.Int64
}

func (l *connCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// TestHTTPKeepAlive: probes of a target share one connection; a closed
// one is replaced within the probe; a dead server is refused at once; a
// frozen one times out and its connection is dropped; fresh and
// Connection: close make a connection per probe; Forget closes the kept
// connection.
func TestHTTPKeepAlive(t *testing.T) {
	ln := &connCounter{Listener: listen(t)}
	var freeze atomic.Bool
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if freeze.Load() {
			<-release
		}
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	addr := addrOf(ln.Addr())
	c := probe.NewHTTPChecker(false)
	probeOK := func(target string) {
		t.Helper()
		if r := check(t, c, "http", target, addr, 5*time.Second); !r.OK {
			t.Fatalf("%s: %+v", target, r)
		}
	}
	for range 5 {
		probeOK("/ok")
	}
	if n := ln.n.Load(); n != 1 || c.Idle() != 1 {
		t.Fatalf("5 probes used %d connections (%d kept), want 1", n, c.Idle())
	}
	// The server closes its idle connections: the next probe passes on a
	// new one.
	srv.SetKeepAlivesEnabled(false) // closes idle connections, answers Connection: close
	probeOK("/ok")
	if n := ln.n.Load(); n != 2 || c.Idle() != 0 {
		t.Fatalf("after the server dropped keep-alive: %d connections, %d kept; want 2 and none kept", n, c.Idle())
	}
	srv.SetKeepAlivesEnabled(true)
	probeOK("/ok")
	probeOK("/ok")
	if n := ln.n.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
	// Connection: close from the server, and the fresh term.
	probeOK("/close")
	probeOK("/ok#fresh")
	probeOK("/ok#fresh")
	if n := ln.n.Load(); n != 5 || c.Idle() != 0 {
		t.Errorf("%d connections, %d kept; want 5, none kept", n, c.Idle())
	}
	// Frozen: the kept connection's request times out and is dropped.
	probeOK("/ok")
	freeze.Store(true)
	if r := check(t, c, "http", "/ok", addr, 100*time.Millisecond); r.OK || r.Err != "timeout after 100ms" || c.Idle() != 0 {
		t.Errorf("frozen server: %+v, %d kept; want timeout after 100ms and nothing kept", r, c.Idle())
	}
	freeze.Store(false)
	probeOK("/ok")
	c.Forget("k")
	if c.Idle() != 0 {
		t.Errorf("Forget left %d connections", c.Idle())
	}
	// Dead: the server and its connections close; the next probe is refused.
	probeOK("/ok")
	srv.Close()
	if r := check(t, c, "http", "/ok", addr, time.Second); r.OK || r.Err != "connect: connection refused" {
		t.Errorf("dead server with a kept connection: %+v, want connect: connection refused", r)
	}
}

// TestHTTPResponses feeds the HTTP checker canned responses from a raw
// server: interim 1xx, HTTP/1.0, bodies delimited by length, chunks or the
// end of the connection, and malformed ones.
func TestHTTPResponses(t *testing.T) {
	tests := []struct {
		name, resp, target string
		ok                 bool
		err                string
		kept               bool
		load               float64
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "/", true, "", true, 0},
		{"chunked body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nall\r\n5\r\n good\r\n0\r\n\r\n", "/#body=all%20good", true, "", true, 0},
		{"chunked, body missing", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nall\r\n0\r\n\r\n", "/#body=good", false, `body lacks "good"`, false, 0},
		{"interim 100", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", "/", true, "", true, 0},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", "/", true, "", false, 0},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", "/", true, "", true, 0},
		{"close header", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", "/", true, "", false, 0},
		{"until close", "HTTP/1.1 200 OK\r\n\r\nbody to the end", "/#body=end", true, "", false, 0},
		{"load, lower case, LF only", "HTTP/1.1 200 OK\npool-load: 42%\ncontent-length: 0\n\n", "/", true, "", true, 0.42},
		{"503 with load", "HTTP/1.1 503 Busy\r\nPool-Load: 1\r\nContent-Length: 0\r\n\r\n", "/", false, "HTTP status 503, want 2xx", false, 1},
		{"not HTTP", "SSH-2.0-OpenSSH_9.2\r\n", "/", false, `HTTP: malformed HTTP response "SSH-2.0-OpenSSH_9.2"`, false, 0},
		{"bad status", "HTTP/1.1 2000 OK\r\n\r\n", "/", false, `HTTP: malformed HTTP response "HTTP/1.1 2000 OK"`, false, 0},
		{"bad header", "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "/", false, `HTTP: malformed HTTP header "no colon here"`, false, 0},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "/", false, `HTTP: bad Content-Length "-1"`, false, 0},
		{"cut in the header", "HTTP/1.1 200 OK\r\nContent-Le", "/", false, "HTTP: connection closed before the response", false, 0},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok", "/#body=ok", false, "HTTP body: connection closed before the response", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln := listen(t)
			serveConns(ln, func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					l, err := br.ReadString('\n')
					if err != nil || l == "\r\n" {
						break
					}
				}
				c.Write([]byte(tt.resp))
				if !tt.kept {
					return
				}
				br.ReadByte() // keep the connection until the client goes
			})
			c := probe.NewHTTPChecker(false)
			r := check(t, c, "http", tt.target, addrOf(ln.Addr()), 5*time.Second)
			if r.OK != tt.ok || r.Err != tt.err {
				t.Errorf("OK=%v Err=%q, want OK=%v Err=%q", r.OK, r.Err, tt.ok, tt.err)
			}
			if math.Abs(r.Load-tt.load) > 1e-9 {
				t.Errorf("load %v, want %v", r.Load, tt.load)
			}
			if kept := c.Idle() == 1; kept != tt.kept {
				t.Errorf("connection kept %v, want %v", kept, tt.kept)
			}
			c.Forget("k")
		})
	}
}

// TestSource: a target with a Source is probed from that address, over
// TCP (tcp, http) and UDP (dns); a target of the other family from the
// system's choice.
func TestSource(t *testing.T) {
	src := netip.MustParseAddr("127.0.0.7")
	ln := listen(t)
	from := make(chan netip.Addr, 16)
	serveConns(ln, func(c net.Conn) {
		from <- addrOf(c.RemoteAddr()).Addr()
		c.Close()
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			_, a, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			from <- addrOf(a).Addr()
		}
	}()
	spec := func(kind, target string) handlespace.ProbeSpec {
		return handlespace.ProbeSpec{Kind: kind, Target: target, Interval: time.Hour, Timeout: 200 * time.Millisecond}
	}
	targets := []probe.Target{
		{Key: "tcp", Addr: addrOf(ln.Addr()), Source: src, Spec: spec("tcp", "")},
		{Key: "dns", Addr: addrOf(pc.LocalAddr()), Source: src, Spec: spec("dns", "ok.test")},
	}
	// IPv6, where the machine has it.
	from6 := make(chan netip.Addr, 16)
	if v6, err := net.Listen("tcp", "[::1]:0"); err == nil {
		t.Cleanup(func() { v6.Close() })
		serveConns(v6, func(c net.Conn) {
			from6 <- addrOf(c.RemoteAddr()).Addr()
			c.Close()
		})
		targets = append(targets, probe.Target{Key: "v6", Addr: addrOf(v6.Addr()), Source: src, Spec: spec("tcp", "")})
	}
	s := probe.NewScheduler(probe.Config{}, func(probe.Result, probe.Tracker, bool) {})
	s.Set(targets)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.After(waitLimit)
	for range 2 {
		select {
		case a := <-from:
			if a != src {
				t.Errorf("a probe came from %v, want %v", a, src)
			}
		case <-deadline:
			t.Fatal("no probe arrived")
		}
	}
	if len(targets) < 3 {
		return
	}
	select {
	case a := <-from6:
		if a != netip.MustParseAddr("::1") {
			t.Errorf("the IPv6 probe came from %v", a)
		}
	case <-deadline:
		t.Fatal("no IPv6 probe arrived")
	}
}
