package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/internal/nettest"
	"github.com/poolnsd/poolnsd/internal/proctest"
	"github.com/poolnsd/poolnsd/poolclient"
)

// TestOneUserReportsAnElementOut: one pool user alone (poolclient's
// Dialer, one address) takes an element without probes out of the
// answers with its reports, at the real poolnsd: the reports of one user
// count as RFC 5352 counts reports. The times are scaled down (the
// user's hold 250 ms, reports.window 2 s) from the defaults (10 s and
// 30 s), which keep the same relation: window > (max_bad - 1) × hold.
func TestOneUserReportsAnElementOut(t *testing.T) {
	t.Parallel()
	proctest.LookTool(t, "dig", "bind9-dnsutils")
	live := newService(t, "127.0.2.2")
	dead := fmt.Sprintf("127.0.2.1:%d", nettest.FreePort(t, "127.0.2.1")) // nobody listens
	zone := goodZone + "\n$POOL solo policy=prio ttl=1 answers=10\n" +
		"solo PE " + dead + " prio=0 name=dead\n" +
		"solo PE " + live.addr + " prio=1 name=live\n"
	dir := daemonDir(t, zone)
	p := startDaemon(t, dir, "--reports.allow=127.0.0.0/8", "--reports.window=2s")
	addr, _ := p.ready()
	api, _ := p.waitLog(0, "the HTTP API", msgIs("serving HTTP API"))
	if got := dig(t, addr, "+short", "solo.pool.example", "A"); !slices.Equal(got, []string{"127.0.2.1", "127.0.2.2"}) {
		t.Fatalf("dig before: %q", got)
	}

	d := &poolclient.Dialer{
		Resolver:   &poolclient.Resolver{Servers: []string{addr}},
		Reporter:   &poolclient.Reporter{URL: "http://" + api.Str("addr")}, // no token: reports.allow
		ReportHold: 250 * time.Millisecond,
		Logger:     slog.New(slog.DiscardHandler),
	}
	defer d.Wait()
	from := p.cursor()
	out := func() bool {
		for _, r := range p.Records(from, p.Cursor()) {
			if r.Str("msg") == "element out of the answers after failure reports" && r.Str("name") == "dead" {
				return true
			}
		}
		return false
	}
	// The user's requests, one every 50 ms: each tries the dead element
	// first (prio 0) unless it failed within the hold, then the live one.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(waitLimit)
	for !out() {
		if time.Now().After(deadline) {
			t.Fatalf("the dead element is still in the answers after %v of one user's reports", waitLimit)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := d.DialContext(ctx, "tcp", "solo.pool.example:80")
		cancel()
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		c.Close()
		<-tick.C
	}
	// Every report came from the one user.
	var users []string
	for _, r := range p.Records(from, p.Cursor()) {
		if r.Str("msg") == "http api: failure report" && !slices.Contains(users, r.Str("from")) {
			users = append(users, r.Str("from"))
		}
	}
	if !slices.Equal(users, []string{"127.0.0.1"}) {
		t.Errorf("reports from %v, want one user, 127.0.0.1", users)
	}
	if got := dig(t, addr, "+short", "solo.pool.example", "A"); !slices.Equal(got, []string{"127.0.2.2"}) {
		t.Errorf("dig after the reports: %q, want the live element alone", got)
	}
}
