package poolclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/poolclient"
	"github.com/poolnsd/poolnsd/regcommit"
)

var loopback = []netip.Addr{netip.MustParseAddr("127.0.0.1")}

func regConfig(registrars ...string) poolclient.RegisterConfig {
	return poolclient.RegisterConfig{
		Registrars: registrars,
		Key:        poolclient.TSIGKey{Name: testKey.Name, Secret: testKey.Secret},
		Timeout:    2 * time.Second,
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond,
		Logger:     quiet(),
	}
}

func TestRegisterRefreshClose(t *testing.T) {
	s := startServer(t, regcommit.Config{LeaseMin: time.Second})
	cfg := regConfig(s.addr)
	cfg.Lease = time.Second // refreshed every half second
	r, err := poolclient.Register(context.Background(), poolclient.Element{Zone: "pool.example", Pool: "web", Label: "pe1",
		Addrs: loopback, Port: 8080, Weight: 5, Priority: 1, Site: "fra", Policy: "prio"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.waitSubmits(t, 1)
	e := s.element("web", "pe1")
	if e == nil || e.Port != 8080 || e.Weight != 5 || e.Priority != 1 || e.Site.String() != "fra" || e.Lease != time.Second {
		t.Fatalf("registered %+v", e)
	}
	if r.Lease() != time.Second || r.Name() != "pe1.web.pool.example." || r.Registrar() != s.addr {
		t.Errorf("registration: lease %v name %s registrar %s", r.Lease(), r.Name(), r.Registrar())
	}
	if pv := s.hs.View().Zone("pool.example.").Pool("web"); pv.Spec.Policy != "prio" {
		t.Errorf("pool policy %s, want prio", pv.Spec.Policy)
	}
	// Two refreshes, each moving the lease's end.
	first := e.Expires.Time()
	s.waitSubmits(t, 2)
	if e2 := s.element("web", "pe1"); e2 == nil || !e2.Expires.Time().After(first) {
		t.Fatalf("after two refreshes: %+v", e2)
	}
	// A load report goes out at once.
	r.SetLoad(0.5)
	s.waitSubmits(t, 1)
	if e3 := s.element("web", "pe1"); e3.Load != handlespace.LoadFromFraction(0.5) {
		t.Errorf("load after SetLoad(0.5): %v", handlespace.LoadFraction(e3.Load))
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.element("web", "pe1") != nil {
		t.Error("still registered after Close")
	}
	if err := r.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestRegisterAcrossRegistrars: the first registrar is down; the second
// takes the registration.
func TestRegisterAcrossRegistrars(t *testing.T) {
	s := startServer(t, regcommit.Config{})
	dead := deadUDP(t)
	r, err := poolclient.Register(context.Background(), poolclient.Element{Zone: "pool.example.", Pool: "web", Label: "pe2",
		Addrs: loopback, Port: 81}, regConfig(dead, s.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	if r.Registrar() != s.addr || s.element("web", "pe2") == nil {
		t.Errorf("registered with %s, element %v", r.Registrar(), s.element("web", "pe2"))
	}
	// With every registrar down, Register retries until its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := poolclient.Register(ctx, poolclient.Element{Zone: "pool.example.", Pool: "web", Label: "pe3",
		Addrs: loopback, Port: 81}, regConfig(dead)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("with no registrar up: %v", err)
	}
}

// deadUDP returns a loopback UDP address where nothing listens.
func deadUDP(t *testing.T) string {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}

// TestRegisterRefused: a wrong secret is refused for good, at once.
func TestRegisterRefused(t *testing.T) {
	s := startServer(t, regcommit.Config{})
	cfg := regConfig(s.addr)
	cfg.Key.Secret = "d3Jvbmcgc2VjcmV0LCB3cm9uZyBzZWNyZXQsIHdyb25nIQ=="
	_, err := poolclient.Register(context.Background(), poolclient.Element{Zone: "pool.example.", Pool: "web", Label: "pe4",
		Addrs: loopback, Port: 81}, cfg)
	var re *poolclient.RcodeError
	if !errors.As(err, &re) || re.Rcode != dns.RcodeNotAuth || re.TSIGError != dns.RcodeBadSig {
		t.Fatalf("wrong secret: %v", err)
	}
	// A refusal with a reason: a zone file's name.
	_, err = poolclient.Register(context.Background(), poolclient.Element{Zone: "pool.example.", Pool: "ns1", Label: "x",
		Addrs: loopback, Port: 81}, regConfig(s.addr))
	if !errors.As(err, &re) || re.Rcode != dns.RcodeRefused || re.Reason == "" {
		t.Fatalf("registration under a static name: %v", err)
	}
}

func TestOrder(t *testing.T) {
	ts := []poolclient.Target{
		{Name: "c", Priority: 2, Weight: 1},
		{Name: "a1", Priority: 1, Weight: 1},
		{Name: "a3", Priority: 1, Weight: 3},
		{Name: "z", Priority: 1, Weight: 0},
	}
	r := rand.New(rand.NewPCG(1, 2))
	first := map[string]int{}
	const n = 20000
	for i := 0; i < n; i++ {
		o := poolclient.Order(ts, r.Uint64N)
		if len(o) != 4 || o[3].Name != "c" {
			t.Fatalf("order %v: priority 2 must come last", o)
		}
		first[o[0].Name]++
	}
	// Within priority 1 the first pick is ∝ weight: a3 3/4, a1 1/4, and
	// the weight-0 target only when the random number is 0: 1/5 of it here
	// (RFC 2782's running sum picks it for 0 of 0..4).
	want := map[string]float64{"a3": 3.0 / 5, "a1": 1.0 / 5, "z": 1.0 / 5}
	var chi float64
	for k, p := range want {
		e := p * n
		chi += math.Pow(float64(first[k])-e, 2) / e
	}
	if chi > 13.8 { // p = 0.001 for 2 degrees of freedom
		t.Errorf("first picks %v, want proportions %v (chi² %.1f)", first, want, chi)
	}
}

// dnsCounter is a DNS server that answers name with one SRV (TTL 5), its
// target's A, and NXDOMAIN for others, counting the queries.
type dnsCounter struct {
	addr    string
	queries atomic.Int64
}

func startDNSCounter(t *testing.T) *dnsCounter {
	d := &dnsCounter{}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		d.queries.Add(1)
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		switch {
		case q.Name == "svc.test." && q.Qtype == dns.TypeSRV:
			srv, _ := dns.NewRR("svc.test. 5 IN SRV 0 0 7000 t1.svc.test.")
			m.Answer = append(m.Answer, srv)
		case q.Name == "t1.svc.test." && q.Qtype == dns.TypeA:
			a, _ := dns.NewRR("t1.svc.test. 5 IN A 127.0.0.1")
			m.Answer = append(m.Answer, a)
		case q.Name == "plain.test." && q.Qtype == dns.TypeA:
			a, _ := dns.NewRR("plain.test. 30 IN A 127.0.0.2")
			m.Answer = append(m.Answer, a)
		case q.Name == "plain.test.":
			soa, _ := dns.NewRR("test. 30 IN SOA ns.test. h.test. 1 1 1 1 20")
			m.Ns = append(m.Ns, soa)
		default:
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	d.addr = pc.LocalAddr().String()
	return d
}

func TestResolverCache(t *testing.T) {
	d := startDNSCounter(t)
	var mu sync.Mutex
	now := time.Unix(1e9, 0)
	r := &poolclient.Resolver{Servers: []string{d.addr}, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }}
	advance := func(dt time.Duration) { mu.Lock(); now = now.Add(dt); mu.Unlock() }
	ctx := context.Background()
	ts, err := r.Lookup(ctx, "svc.test", 80)
	if err != nil || len(ts) != 1 || ts[0].Port != 7000 || ts[0].Addrs[0].String() != "127.0.0.1" {
		t.Fatalf("Lookup svc.test: %+v %v", ts, err)
	}
	n := d.queries.Load() // SRV, then the target's A and AAAA
	if _, err := r.Lookup(ctx, "svc.test", 80); err != nil || d.queries.Load() != n {
		t.Errorf("second lookup within the TTL asked %d more queries", d.queries.Load()-n)
	}
	advance(6 * time.Second)
	if _, err := r.Lookup(ctx, "svc.test", 80); err != nil || d.queries.Load() == n {
		t.Errorf("lookup after the TTL did not ask again")
	}
	// No SRV: the A record at the default port; the NODATA for SRV and
	// AAAA is cached for the SOA's negative TTL (20 s).
	ts, err = r.Lookup(ctx, "plain.test", 8443)
	if err != nil || len(ts) != 1 || ts[0].Port != 8443 || ts[0].Addrs[0].String() != "127.0.0.2" {
		t.Fatalf("Lookup plain.test: %+v %v", ts, err)
	}
	n = d.queries.Load()
	advance(10 * time.Second)
	r.Lookup(ctx, "plain.test", 8443)
	if d.queries.Load() != n {
		t.Errorf("negative answers not cached: %d more queries", d.queries.Load()-n)
	}
	if _, err := r.Lookup(ctx, "nope.test", 80); !errors.Is(err, poolclient.ErrNoTargets) {
		t.Errorf("Lookup of a missing name: %v", err)
	}
}

// TestDialFailover: against a registrar in the process, two registered
// backends; with the first choice down, DialContext connects to the next
// and reports the first.
func TestDialFailover(t *testing.T) {
	s := startServer(t, regcommit.Config{})
	b1, b2 := startBackend(t, "one"), startBackend(t, "two")
	for i, b := range []*backend{b1, b2} {
		r, err := poolclient.Register(context.Background(), poolclient.Element{Zone: "pool.example.", Pool: "app",
			Label: b.name, Addrs: loopback, Port: b.port(), Priority: uint32(i), Policy: "prio"}, regConfig(s.addr))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close(context.Background())
	}
	var reports []string
	var mu sync.Mutex
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var rep map[string]string
		json.Unmarshal(body, &rep)
		mu.Lock()
		reports = append(reports, r.Method+" "+r.URL.Path+" "+rep["address"]+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer api.Close()
	d := &poolclient.Dialer{Resolver: &poolclient.Resolver{Servers: []string{s.addr}},
		Reporter: &poolclient.Reporter{URL: api.URL, Token: "tok"}, Logger: quiet()}
	get := func() string {
		t.Helper()
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
		resp, err := c.Get("http://app.pool.example/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := get(); got != "one" {
		t.Fatalf("first choice answered %q, want one (priority 0)", got)
	}
	b1.stop()
	if got := get(); got != "two" {
		t.Fatalf("with one down: %q, want two", got)
	}
	d.Wait()
	want := "POST /v1/pools/app.pool.example/reports 127.0.0.1:" + itoa(b1.port()) + " Bearer tok"
	mu.Lock()
	if len(reports) != 1 || reports[0] != want {
		t.Errorf("reports %q, want [%q]", reports, want)
	}
	mu.Unlock()
	// Within the hold the failed address is tried last and not reported
	// again.
	if got := get(); got != "two" {
		t.Errorf("next dial: %q", got)
	}
	d.Wait()
	mu.Lock()
	if len(reports) != 1 {
		t.Errorf("reported again within the hold: %q", reports)
	}
	mu.Unlock()
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }
