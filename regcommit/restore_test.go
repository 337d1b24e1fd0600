package regcommit

import (
	"bytes"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/hstest"
	"github.com/poolnsd/poolnsd/store"
)

// TestRestore: at a start, the stored registrations go into the
// handlespace; one whose lease ended while stopped leaves the store; one
// the handlespace refuses (its pool is not in the zones) and one with a
// name a registration may no longer have stay in the store unserved.
func TestRestore(t *testing.T) {
	clk := &clock{now: t0}
	hs := handlespace.New(handlespace.Options{RegistrarID: 9, Now: clk.Now})
	if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "z.test.", File: "z", Records: hstest.RRs(t, zoneText),
		Pools: []handlespace.PoolDef{{Handle: "web", Spec: handlespace.DefaultPoolSpec()}}}}); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	elem := func(id uint32, label string, expires time.Time) *handlespace.Element {
		return &handlespace.Element{ID: id, Label: handlespace.LabelOf(label), Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, 0, 0, byte(id)})),
			Port: 8080, Weight: 1, Expires: handlespace.ExpiryOf(expires), Lease: time.Hour, Owner: handlespace.OwnerOf("tsig:k.")}
	}
	if err := st.Commit([]store.Write{
		{Pool: "web.z.test.", Elem: elem(2, "pe1", t0.Add(time.Hour))},
		{Pool: "web.z.test.", Elem: elem(3, "pe2", t0.Add(time.Minute))},
		{Pool: "web.z.test.", Elem: elem(4, "gone", t0.Add(-time.Second))},  // expired while stopped
		{Pool: "web.z.test.", Elem: elem(5, "until-now", t0)},               // expires at the start
		{Pool: "web.z.test.", Elem: elem(6, "Bad.Name", t0.Add(time.Hour))}, // a label no registration may have
		{Pool: "other.y.test.", Elem: elem(7, "pe3", t0.Add(time.Hour))},    // its zone is not loaded
		{Pool: "web.z.test.", Elem: elem(8, "forever", time.Time{})},        // no lease end
	}); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	res, err := Restore(hs, st, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Restored{Loaded: 3, Expired: 2, Refused: 2}); res != want {
		t.Errorf("Restore = %+v, want %+v", res, want)
	}
	pv := hs.View().Pool("web.z.test.")
	if pv == nil {
		t.Fatal("no pool web.z.test.")
	}
	var served []string
	for _, e := range pv.Elements() {
		served = append(served, e.Label.String())
	}
	slices.Sort(served)
	if want := []string{"forever", "pe1", "pe2"}; !slices.Equal(served, want) {
		t.Errorf("served %v, want %v", served, want)
	}
	var kept []string
	if err := st.Elements(func(pool string, e *handlespace.Element) error {
		kept = append(kept, e.Label.String()+"."+pool)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(kept)
	if want := []string{"Bad.Name.web.z.test.", "forever.web.z.test.", "pe1.web.z.test.", "pe2.web.z.test.", "pe3.other.y.test."}; !slices.Equal(kept, want) {
		t.Errorf("the store keeps %v, want %v", kept, want)
	}
	for _, line := range []string{"registration expired while stopped", "stored registration not loaded", "registration not loaded"} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("no log line %q in:\n%s", line, logs.String())
		}
	}
}
