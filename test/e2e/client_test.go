package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/poolclient"
	"github.com/poolnsd/poolnsd/regcommit"
)

// TestClientLibrary runs the Go client library against the real poolnsd:
// two backends register with poolclient.Register, a pool user resolves
// the pool and dials it through http.Transport; when the first choice is
// killed, DialContext connects to the next and poolnsd gets a failure
// report for the first.
func TestClientLibrary(t *testing.T) {
	t.Parallel()
	dir := daemonDir(t, goodZone, regConfig("allow_loopback: true")...) // the backends are on loopback
	p := startDaemon(t, dir, "--http.token="+regToken)
	addr, _ := p.ready()
	api, _ := p.waitLog(0, "the HTTP API", msgIs("serving HTTP API"))
	apiURL := "http://" + api.Str("addr")

	type be struct {
		name string
		ln   net.Listener
		srv  *http.Server
	}
	start := func(name string) *be {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		b := &be{name: name, ln: ln, srv: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, name)
		})}}
		go b.srv.Serve(ln)
		t.Cleanup(func() { b.srv.Close() })
		return b
	}
	first, second := start("first"), start("second")
	var regs []*poolclient.Registration
	for i, b := range []*be{first, second} {
		from := p.cursor()
		r, err := poolclient.Register(context.Background(), poolclient.Element{
			Zone: "pool.example.", Pool: "app", Label: b.name,
			Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, Port: uint16(b.ln.Addr().(*net.TCPAddr).Port),
			Priority: uint32(i), Policy: "prio",
		}, poolclient.RegisterConfig{Registrars: []string{addr}, Key: poolclient.TSIGKey{Name: "pe-key.", Secret: regSecret}})
		if err != nil {
			t.Fatal(err)
		}
		regs = append(regs, r)
		p.waitLog(from, "the registration of "+b.name, registeredLine(b.name, true))
	}

	res := &poolclient.Resolver{Servers: []string{addr}}
	ts, err := res.Lookup(context.Background(), "app.pool.example", 80)
	if err != nil || len(ts) != 2 {
		t.Fatalf("Lookup: %+v %v", ts, err)
	}
	if o := poolclient.Order(ts, nil); o[0].Name != "first.app.pool.example." || o[0].Priority != 0 {
		t.Fatalf("first choice %+v", o[0])
	}

	d := &poolclient.Dialer{Resolver: res, Reporter: &poolclient.Reporter{URL: apiURL, Token: regToken}}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	get := func() string {
		t.Helper()
		resp, err := client.Get("http://app.pool.example/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := get(); got != "first" {
		t.Fatalf("GET: %q, want the first choice", got)
	}
	from := p.cursor()
	first.srv.Close() // the first-choice backend dies
	if got := get(); got != "second" {
		t.Fatalf("GET with the first choice down: %q, want second", got)
	}
	d.Wait()
	firstID, _ := regcommit.LabelID("first")
	p.waitLog(from, "the failure report", func(r logRec) bool {
		return r.Str("msg") == "http api: failure report" && r.Str("pool") == "app.pool.example." &&
			r.Str("element") == handlespace.IDString(firstID)
	})

	// Close deregisters: the pool answers the second alone.
	if err := regs[0].Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts, err = (&poolclient.Resolver{Servers: []string{addr}}).Lookup(context.Background(), "app.pool.example", 80)
	if err != nil || len(ts) != 1 || ts[0].Name != "second.app.pool.example." {
		t.Errorf("after Close: %+v %v", ts, err)
	}
	regs[1].Close(context.Background())
}
