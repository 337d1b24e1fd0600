package monitor

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/probe"
	"github.com/poolnsd/poolnsd/zones/zonestest"
)

// TestSyncFollowsChanges: sync, which looks only at the pools changed
// since it last ran (a handlespace.Watch), keeps the prober's targets
// and the sampler's the elements of the view that are probed here and
// sampled here, through random registrations, removals, changes of home
// and probe, pools that come and go and zone reloads.
func TestSyncFollowsChanges(t *testing.T) {
	const self = 7
	hs := handlespace.New(handlespace.Options{RegistrarID: self})
	def := zonestest.Def(t, "$ORIGIN pool.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 5\n@ NS ns1\nns1 A 192.0.2.53\n")
	if err := hs.ApplyZones([]handlespace.ZoneDef{def}); err != nil {
		t.Fatal(err)
	}
	m := New(hs, Config{Self: self, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RTTInterval: time.Hour,
		Probe: probe.Config{Clock: probe.SystemClock()}})
	tcp := &handlespace.ProbeSpec{Kind: "tcp", Interval: time.Hour, Timeout: time.Second, Rise: 1, Fall: 1}
	rng := rand.New(rand.NewPCG(8, 1))
	for round := range 300 {
		for range rng.IntN(10) {
			pool := fmt.Sprintf("p%d.pool.test.", rng.IntN(12))
			policy := "rr"
			if pool < "p5" {
				policy = "nearest"
			}
			i := rng.IntN(6)
			a := netip.AddrFrom4([4]byte{10, 8, 0, byte(i)})
			id := handlespace.ElementID(a, 80)
			switch rng.IntN(4) {
			case 0:
				hs.Do(handlespace.Op{Pool: pool, ID: id}) // may be missing: fine
			default:
				e := &handlespace.Element{ID: id, Label: fmt.Sprintf("e%d", i), Addrs: []netip.Addr{a}, Port: 80, Weight: 1,
					Home: uint32(self + rng.IntN(2))}
				if rng.IntN(3) > 0 {
					e.Probe = tcp
				}
				hs.Apply([][]handlespace.Op{{{Pool: pool, Elem: e, Policy: policy}}}, nil) // a policy clash fails: fine
			}
		}
		if round%10 == 9 { // a pool empties out and goes
			pool := fmt.Sprintf("p%d.pool.test.", rng.IntN(12))
			for i := range 6 {
				hs.Do(handlespace.Op{Pool: pool, ID: handlespace.ElementID(netip.AddrFrom4([4]byte{10, 8, 0, byte(i)}), 80)})
			}
		}
		if round%70 == 69 {
			if err := hs.ApplyZones([]handlespace.ZoneDef{def}); err != nil {
				t.Fatal(err)
			}
		}
		m.sync()
		probed, sampled := map[string]bool{}, map[string]bool{}
		for _, z := range hs.View().Zones() {
			for _, h := range z.PoolHandles() {
				pv := z.Pool(h)
				for e := range pv.Range() {
					if _, ok := m.targetOf(pv, e, probe.Target{}, false); ok {
						probed[Key(pv.Name, e.ID)] = true
					}
					if m.sampled(pv, e) {
						sampled[Key(pv.Name, e.ID)] = true
					}
				}
			}
		}
		m.mu.Lock()
		targets, samples := slices.Sorted(maps.Keys(m.targets)), slices.Sorted(maps.Keys(m.samples))
		m.mu.Unlock()
		if want := slices.Sorted(maps.Keys(probed)); !slices.Equal(targets, want) {
			t.Fatalf("round %d: targets %v, want %v", round, targets, want)
		}
		if want := slices.Sorted(maps.Keys(sampled)); !slices.Equal(samples, want) {
			t.Fatalf("round %d: samples %v, want %v", round, samples, want)
		}
		if round == 299 && (len(targets) == 0 || len(samples) == 0) {
			t.Fatalf("%d targets and %d samples at the end: the test does not exercise both", len(targets), len(samples))
		}
	}
}
