package monitor_test

import (
	"maps"
	"net/netip"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/monitor"
	"github.com/poolnsd/poolnsd/store"
	"github.com/poolnsd/poolnsd/zones/zonestest"
)

// TestRestoreStored: at a start, the stored healths of elements that are
// gone are dropped from the store; the probed elements get the stored
// health (probe.start last), the unprobed ones nothing.
func TestRestoreStored(t *testing.T) {
	hs := handlespace.New(handlespace.Options{RegistrarID: self, Probing: true})
	zonestest.Apply(t, hs, testZone)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id := func(addr string) uint32 { return handlespace.ElementID(netip.MustParseAddr(addr), 80) }
	web, plain := "web.pool.test.", "plain.pool.test."
	at := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	if err := st.PutHealth([]store.HealthWrite{
		{Pool: web, ID: id("10.0.0.1"), Health: handlespace.HealthUp},
		{Pool: web, ID: id("10.0.0.2"), Health: handlespace.HealthDown},
		{Pool: web, ID: id("10.0.0.9"), Health: handlespace.HealthUp}, // gone
		{Pool: plain, ID: id("10.0.2.1"), Health: handlespace.HealthDown},
	}, at); err != nil {
		t.Fatal(err)
	}
	r, err := monitor.RestoreStored(hs, st, monitor.StartLast)
	if err != nil {
		t.Fatal(err)
	}
	wantGiven := map[string]handlespace.Health{
		monitor.Key(web, id("10.0.0.1")): handlespace.HealthUp, monitor.Key(web, id("10.0.0.2")): handlespace.HealthDown}
	if !maps.Equal(r.Given, wantGiven) || r.Up != 1 || r.Down != 1 || r.Dropped != 1 || len(r.Stored) != 3 || !r.Written.Equal(at) {
		t.Errorf("restored %+v\nwant given %v, 1 up, 1 down, 1 dropped, 3 stored, written at %v", r, wantGiven, at)
	}
	if h := hs.View().Pool(web).Element(id("10.0.0.2")).Health; h != handlespace.HealthDown {
		t.Errorf("web2 is %v, want down", h)
	}
	n := 0
	if _, err := st.Healths(func(string, uint32, handlespace.Health) { n++ }); err != nil || n != 3 {
		t.Errorf("%d healths left in the store (%v), want 3", n, err)
	}
}
