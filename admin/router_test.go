package admin_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/admin"
	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/monitor"
	"github.com/poolnsd/poolnsd/store"
	"github.com/poolnsd/poolnsd/zones/zonestest"
)

const pool = "web.pool.test."

// peer is the registrar that the tests' "away" elements are homed at.
const peer = 0x0b0b0b0b

const zone = `$ORIGIN pool.test.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 5
@ NS ns1
ns1 A 192.0.2.53
$POOL web answers=5
web PE 10.0.0.1:80 name=here1
web PE 10.0.0.2:80 name=here2
web PE 10.0.0.3:80 name=away1
`

// ids of the zone's elements (derived from address and port).
var (
	here1 = handlespace.ElementID(netip.MustParseAddr("10.0.0.1"), 80)
	here2 = handlespace.ElementID(netip.MustParseAddr("10.0.0.2"), 80)
	away1 = handlespace.ElementID(netip.MustParseAddr("10.0.0.3"), 80)
)

type fixture struct {
	hs     *handlespace.Handlespace
	st     *store.Store
	mon    *monitor.Monitor
	router *admin.Router
}

func loadZone(t *testing.T, hs *handlespace.Handlespace, text string) {
	t.Helper()
	zonestest.Apply(t, hs, text)
}

// newFixture makes a handlespace of zone (away1 homed at peer), a store
// in a temporary directory, a monitor (not running) and a Router over
// them, with the monitor given.
func newFixture(t *testing.T, wait time.Duration) *fixture {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	self := st.RegistrarID()
	hs := handlespace.New(handlespace.Options{RegistrarID: self})
	hs.SetStaticHome(func(_ string, id uint32) uint32 {
		if id == away1 {
			return peer
		}
		return self
	})
	loadZone(t, hs, zone)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mon := monitor.New(hs, monitor.Config{Self: self, Logger: log, ReportRate: 1, ReportBurst: 2, MaxBadReports: 2})
	r := admin.New(admin.Config{Handlespace: hs, Store: st, Self: self, Wait: wait})
	r.SetMonitor(mon)
	return &fixture{hs: hs, st: st, mon: mon, router: r}
}

func (f *fixture) adminOf(t *testing.T, id uint32) handlespace.Admin {
	t.Helper()
	e := f.hs.View().Pool(pool).Element(id)
	if e == nil {
		t.Fatalf("no element %s", handlespace.IDString(id))
	}
	return e.Admin
}

func (f *fixture) stored(t *testing.T) map[uint32]handlespace.Admin {
	t.Helper()
	out := map[uint32]handlespace.Admin{}
	if err := f.st.Admins(func(_ string, id uint32, a handlespace.Admin) { out[id] = a }); err != nil {
		t.Fatal(err)
	}
	return out
}

// fakePeering answers the Router's requests as the test says.
type fakePeering struct {
	mu      sync.Mutex
	err     error                   // RequestAdmin's and RequestReport's error
	home    uint32                  // what they return
	onAdmin func(handlespace.Admin) // called on a RequestAdmin without err
	refuse  *enrp.RefusedError      // sent to the watchers after RequestAdmin
	asked   []string                // what was asked, "admin POOL ID" or "report POOL ID FROM"
	watch   chan *enrp.RefusedError
}

var _ admin.Peering = (*fakePeering)(nil)

func (p *fakePeering) RequestAdmin(pool string, id uint32, a handlespace.Admin) (uint32, error) {
	p.mu.Lock()
	p.asked = append(p.asked, "admin "+pool+" "+handlespace.IDString(id)+" "+a.String())
	err, on, refuse, watch := p.err, p.onAdmin, p.refuse, p.watch
	p.mu.Unlock()
	if err == nil && on != nil {
		on(a)
	}
	if err == nil && refuse != nil {
		watch <- refuse
	}
	return p.home, err
}

func (p *fakePeering) RequestReport(pool string, id uint32, from netip.Addr) (uint32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, "report "+pool+" "+handlespace.IDString(id)+" "+from.String())
	return p.home, p.err
}

func (p *fakePeering) WatchRefusals(string, uint32) (<-chan *enrp.RefusedError, func()) {
	ch := make(chan *enrp.RefusedError, 1)
	p.mu.Lock()
	p.watch = ch
	p.mu.Unlock()
	return ch, func() {}
}

// TestSetLocal: without peering a change is stored before it is applied;
// an unknown element is the monitor's error and nothing is stored; before
// the monitor is given, nothing is changed.
func TestSetLocal(t *testing.T) {
	f := newFixture(t, 0)
	if err := f.router.Set(pool, here1, handlespace.AdminDrain); err != nil {
		t.Fatal(err)
	}
	if got := f.adminOf(t, here1); got != handlespace.AdminDrain {
		t.Errorf("here1 is %v, want drain", got)
	}
	if got := f.stored(t); got[here1] != handlespace.AdminDrain || len(got) != 1 {
		t.Errorf("stored %v, want here1 drain alone", got)
	}
	if err := f.router.Set(pool, 0x12345678, handlespace.AdminDrain); !errors.Is(err, handlespace.ErrNoElement) {
		t.Errorf("unknown element: %v, want ErrNoElement", err)
	}
	if got := f.stored(t); len(got) != 1 {
		t.Errorf("stored %v after a change of an unknown element", got)
	}

	r := admin.New(admin.Config{Handlespace: f.hs, Store: f.st, Self: f.hs.RegistrarID()})
	if err := r.Set(pool, here2, handlespace.AdminDrain); err == nil || !strings.Contains(err.Error(), "monitor is not started") {
		t.Errorf("before SetMonitor: %v", err)
	}
	if _, _, err := r.Report(pool, here2, netip.MustParseAddr("192.0.2.1")); err == nil {
		t.Error("a report before SetMonitor succeeded")
	}
}

// TestSetAtHome: a change of an element homed at a peer is sent there,
// and what comes back is the API's answer, with its HTTP status.
func TestSetAtHome(t *testing.T) {
	refused := func(reason uint8) *enrp.RefusedError {
		return &enrp.RefusedError{Refusal: enrp.Refusal{Home: peer, Pool: pool, ID: away1,
			Request: wire.ParamXAdminReq, Reason: reason, Why: "test"}}
	}
	for _, c := range []struct {
		name    string
		p       *fakePeering
		confirm bool  // the home's update comes back
		status  int   // of the *httpapi.HomeError; 0: no error
		local   bool  // made here instead
		errIs   error // else the error is this
	}{
		{name: "confirmed", p: &fakePeering{home: peer}, confirm: true},
		{name: "unavailable", p: &fakePeering{err: &enrp.HomeUnavailableError{Home: peer, Why: "dead"}}, status: http.StatusServiceUnavailable},
		{name: "unknown to peering", p: &fakePeering{home: peer, err: enrp.ErrNoSuchElement}, status: http.StatusServiceUnavailable},
		{name: "peering stopped", p: &fakePeering{home: peer, err: errors.New("enrp: peering stopped")}, status: http.StatusServiceUnavailable},
		{name: "homed here after all", p: &fakePeering{err: enrp.ErrHomeHere}, local: true},
		{name: "refused, stale view", p: &fakePeering{home: peer, refuse: refused(wire.RefusedNotHome)}, status: http.StatusConflict},
		{name: "refused, failed", p: &fakePeering{home: peer, refuse: refused(wire.RefusedFailed)}, status: http.StatusServiceUnavailable},
		{name: "not confirmed in time", p: &fakePeering{home: peer}, status: http.StatusGatewayTimeout},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, 50*time.Millisecond)
			p := c.p
			if c.confirm {
				p.onAdmin = func(a handlespace.Admin) {
					// The home's HANDLE_UPDATE, after the request returned.
					go f.hs.Update(pool, away1, func(e *handlespace.Element) { e.Admin = a })
				}
			}
			f.router.SetPeering(p)
			err := f.router.Set(pool, away1, handlespace.AdminDrain)
			var he *httpapi.HomeError
			switch {
			case c.status != 0:
				if !errors.As(err, &he) || he.Status != c.status {
					t.Fatalf("error %v (%T), want a HomeError with status %d", err, err, c.status)
				}
				if he.Home != peer && c.p.err != enrp.ErrNoSuchElement {
					t.Errorf("HomeError names home %s, want %s", handlespace.IDString(he.Home), handlespace.IDString(peer))
				}
				if f.adminOf(t, away1) != handlespace.AdminAuto {
					t.Error("the element changed here")
				}
			case err != nil:
				t.Fatalf("error %v, want none", err)
			default:
				if got := f.adminOf(t, away1); got != handlespace.AdminDrain {
					t.Errorf("away1 is %v, want drain", got)
				}
			}
			_, stored := f.stored(t)[away1]
			if stored != c.local {
				t.Errorf("stored here: %v, want %v", stored, c.local)
			}
			if len(p.asked) != 1 || !strings.HasPrefix(p.asked[0], "admin ") {
				t.Errorf("asked the peer %q, want one admin request", p.asked)
			}
		})
	}

	// An element homed here is changed here, without asking the peer.
	f := newFixture(t, 0)
	p := &fakePeering{}
	f.router.SetPeering(p)
	if err := f.router.Set(pool, here1, handlespace.AdminForceDown); err != nil {
		t.Fatal(err)
	}
	if len(p.asked) != 0 || f.stored(t)[here1] != handlespace.AdminForceDown {
		t.Errorf("asked %q, stored %v; want nothing asked, here1 stored force-down", p.asked, f.stored(t))
	}
}

// TestReport: a report of an element homed here is counted here; one of
// an element homed at a peer is passed on after this registrar's rate
// limit, and names the home; a home that cannot be asked is a 503.
func TestReport(t *testing.T) {
	from := netip.MustParseAddr("192.0.2.7")
	f := newFixture(t, 0)
	p := &fakePeering{home: peer}
	f.router.SetPeering(p)

	out, home, err := f.router.Report(pool, here1, from)
	if err != nil || home != 0 || out.Reports != 1 {
		t.Fatalf("report of here1: %+v, home %x, %v; want counted here once", out, home, err)
	}
	out, home, err = f.router.Report(pool, away1, from)
	if err != nil || home != peer || out.Reports != 0 {
		t.Fatalf("report of away1: %+v, home %x, %v; want passed on to %x", out, home, err, peer)
	}
	if len(p.asked) != 1 || p.asked[0] != "report "+pool+" "+handlespace.IDString(away1)+" 192.0.2.7" {
		t.Errorf("asked %q", p.asked)
	}
	// The burst (2) is spent: the third is refused here, not passed on.
	if _, _, err := f.router.Report(pool, away1, from); !errors.Is(err, monitor.ErrRateLimited) {
		t.Errorf("third report: %v, want ErrRateLimited", err)
	}
	if len(p.asked) != 1 {
		t.Errorf("a rate-limited report was passed on: %q", p.asked)
	}

	other := netip.MustParseAddr("192.0.2.8")
	p.err = &enrp.HomeUnavailableError{Home: peer, Why: "dead"}
	_, _, err = f.router.Report(pool, away1, other)
	var he *httpapi.HomeError
	if !errors.As(err, &he) || he.Status != http.StatusServiceUnavailable || !strings.Contains(he.Msg, "the report was not passed on") {
		t.Errorf("home unavailable: %v, want a 503 saying the report was not passed on", err)
	}
	// (Passed on, a report takes a token here first: a third address.)
	p.err = enrp.ErrHomeHere
	third := netip.MustParseAddr("192.0.2.11")
	out, home, err = f.router.Report(pool, away1, third)
	if err != nil || home != 0 || out.Reports != 1 {
		t.Errorf("homed here after all: %+v, home %x, %v; want counted here", out, home, err)
	}
	// It took one token of the burst of 2, not two: the client's second
	// report is counted too.
	out, _, err = f.router.Report(pool, away1, third)
	if err != nil || out.Reports != 2 {
		t.Errorf("second report after a homed-here one: %+v, %v; want counted (one token each)", out, err)
	}
}

// TestReportLocal: a report a peer passed on is counted here; over the
// reporter's rate it is an error that names the reporter.
func TestReportLocal(t *testing.T) {
	f := newFixture(t, 0)
	req := enrp.ReportRequest{Pool: pool, ID: here1, Reporter: netip.MustParseAddr("192.0.2.9"), From: peer}
	for range 2 {
		if err := f.router.ReportLocal(req); err != nil {
			t.Fatal(err)
		}
	}
	if e := f.hs.View().Pool(pool).Element(here1); !e.Reported {
		t.Error("here1 not out of the answers after max_bad reports")
	}
	if err := f.router.ReportLocal(req); err == nil || !strings.Contains(err.Error(), "too many failure reports from 192.0.2.9") {
		t.Errorf("over the rate: %v", err)
	}
}

// TestRestorePruneKeepHomed: the stored states go back on the elements
// that exist, the others are dropped; a reload that removes an element
// drops its state; KeepHomed stores the states of the elements homed here
// and auto for the others.
func TestRestorePruneKeepHomed(t *testing.T) {
	f := newFixture(t, 0)
	for id, a := range map[uint32]handlespace.Admin{here1: handlespace.AdminDrain, here2: handlespace.AdminForceDown, 0x01020304: handlespace.AdminDrain} {
		if err := f.st.PutAdmin(pool, id, a); err != nil {
			t.Fatal(err)
		}
	}
	restored, dropped, err := f.router.Restore()
	if err != nil {
		t.Fatal(err)
	}
	if len(restored) != 2 || dropped != 1 {
		t.Errorf("restored %+v, dropped %d; want 2 and 1", restored, dropped)
	}
	for _, r := range restored {
		if (r.ID == here1) != (r.Label == "here1") || r.Pool != pool {
			t.Errorf("restored %+v", r)
		}
	}
	if f.adminOf(t, here1) != handlespace.AdminDrain || f.adminOf(t, here2) != handlespace.AdminForceDown {
		t.Errorf("after Restore: here1 %v, here2 %v", f.adminOf(t, here1), f.adminOf(t, here2))
	}

	loadZone(t, f.hs, strings.Replace(zone, "web PE 10.0.0.2:80 name=here2\n", "", 1))
	if n, err := f.router.Prune(); err != nil || n != 1 {
		t.Errorf("Prune after here2 left the zone: %d, %v; want 1", n, err)
	}
	if got := f.stored(t); len(got) != 1 || got[here1] != handlespace.AdminDrain {
		t.Errorf("stored after Prune: %v", got)
	}

	// away1 drained by its home (a peer's update); here1 moves to the peer.
	if err := f.hs.Update(pool, away1, func(e *handlespace.Element) { e.Admin = handlespace.AdminDrain }); err != nil {
		t.Fatal(err)
	}
	if err := f.router.KeepHomed(); err != nil {
		t.Fatal(err)
	}
	if got := f.stored(t); got[here1] != handlespace.AdminDrain || got[away1] != handlespace.AdminAuto {
		t.Errorf("after KeepHomed: %v; want here1 drain, away1 auto", got)
	}
}

// TestBackend: the API's backend names the wait of a rate-limited report
// from reports.rate, and reports the forwarding home.
func TestBackend(t *testing.T) {
	f := newFixture(t, 0)
	b := admin.NewBackend(f.hs, f.mon, 4, f.router)
	from := netip.MustParseAddr("192.0.2.10")
	for range 2 {
		if _, err := b.Report(pool, here1, from); err != nil {
			t.Fatal(err)
		}
	}
	_, err := b.Report(pool, here1, from)
	var rl *httpapi.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Second/4 {
		t.Errorf("over the rate: %v, want a RateLimitError of 250ms", err)
	}
	if _, ok := b.ProbeStatus(pool, here1); ok {
		t.Error("ProbeStatus of an element never probed: ok")
	}
	if err := b.SetAdmin(pool, here2, handlespace.AdminDrain); err != nil || f.adminOf(t, here2) != handlespace.AdminDrain {
		t.Errorf("SetAdmin: %v, here2 %v", err, f.adminOf(t, here2))
	}
	if b.View() != f.hs.View() {
		t.Error("View is not the handlespace's")
	}
}
