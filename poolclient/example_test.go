package poolclient_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/poolclient"
	"github.com/poolnsd/poolnsd/regcommit"
)

// exampleServer starts a registrar in this process, on loopback, for the
// examples (with the test helpers), and returns its stop function.
func exampleServer() (*server, func()) {
	var cleanups []func()
	t := &cleanupT{cleanups: &cleanups}
	s := startServer(t, regcommit.Config{})
	return s, func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
}

// cleanupT is the least of a testing.TB that startServer needs.
type cleanupT struct {
	testing.TB
	cleanups *[]func()
}

func (c *cleanupT) Helper()          {}
func (c *cleanupT) Cleanup(f func()) { *c.cleanups = append(*c.cleanups, f) }
func (c *cleanupT) TempDir() string {
	d, err := os.MkdirTemp("", "poolclient-example-")
	if err != nil {
		panic(err)
	}
	c.Cleanup(func() { os.RemoveAll(d) })
	return d
}
func (c *cleanupT) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (c *cleanupT) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

// A pool element registers itself and stays registered until Close; a
// pool user resolves the pool.
func ExampleRegister() {
	s, stop := exampleServer() // a poolnsd registrar at s.addr
	defer stop()

	reg, err := poolclient.Register(context.Background(), poolclient.Element{
		Zone:  "pool.example.",
		Pool:  "web",
		Label: "web1",
		Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.10")},
		Port:  8080,
	}, poolclient.RegisterConfig{
		Registrars: []string{s.addr},
		Key:        poolclient.TSIGKey{Name: "pe-key.", Secret: testKey.Secret},
		Lease:      30 * time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("registered", reg.Name(), "for", reg.Lease())

	r := &poolclient.Resolver{Servers: []string{s.addr}}
	targets, err := r.Lookup(context.Background(), "web.pool.example", 80)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range targets {
		fmt.Println(t.Name, t.Port, t.Addrs)
	}
	reg.SetLoad(0.4) // sent at once, and with every refresh after
	if err := reg.Close(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// registered web1.web.pool.example. for 30s
	// web1.web.pool.example. 8080 [192.0.2.10]
}

// A pool user's HTTP client: each new connection goes to the pool's first
// choice, or to the next element when it does not answer.
func ExampleDialer() {
	s, stop := exampleServer()
	defer stop()
	t := &cleanupT{cleanups: new([]func())}
	defer func() {
		for _, f := range *t.cleanups {
			f()
		}
	}()
	a, b := startBackend(t, "backend a"), startBackend(t, "backend b")
	for i, be := range []*backend{a, b} {
		reg, err := poolclient.Register(context.Background(), poolclient.Element{
			Zone: "pool.example.", Pool: "app", Label: fmt.Sprintf("be%d", i),
			Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, Port: be.port(),
			Priority: uint32(i), Policy: "prio",
		}, poolclient.RegisterConfig{Registrars: []string{s.addr}, Key: poolclient.TSIGKey{Name: "pe-key.", Secret: testKey.Secret}})
		if err != nil {
			fmt.Println(err)
			return
		}
		defer reg.Close(context.Background())
	}

	d := &poolclient.Dialer{
		Resolver: &poolclient.Resolver{Servers: []string{s.addr}},
		// Reporter: &poolclient.Reporter{URL: "http://127.0.0.1:8053", Token: "…"},
		Logger: quiet(),
	}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	get := func() {
		resp, err := client.Get("http://app.pool.example/")
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	get()
	a.stop() // the first choice goes down
	get()
	// Output:
	// backend a
	// backend b
}

// Order sorts SRV targets as RFC 2782 says: lowest priority first, a
// weighted random order within a priority.
func ExampleOrder() {
	targets := []poolclient.Target{
		{Name: "backup.web.pool.example.", Priority: 1, Weight: 1},
		{Name: "big.web.pool.example.", Priority: 0, Weight: 90},
		{Name: "small.web.pool.example.", Priority: 0, Weight: 10},
	}
	// A fixed "random" number for the example: 50 of 0..100 picks big.
	fixed := func(n uint64) uint64 { return n / 2 }
	for _, t := range poolclient.Order(targets, fixed) {
		fmt.Println(t.Priority, t.Weight, t.Name)
	}
	// Output:
	// 0 90 big.web.pool.example.
	// 0 10 small.web.pool.example.
	// 1 1 backup.web.pool.example.
}
