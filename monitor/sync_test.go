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
// sampled here, each target with the element of the view, through random
// registrations, refreshes, removals, changes of home and probe, pools
// that come and go and zone reloads; in one run or in pieces (a turn every
// 16 steps), with the turns taken without the monitor's lock.
func TestSyncFollowsChanges(t *testing.T) {
	t.Run("at once", func(t *testing.T) { testSyncFollowsChanges(t, false) })
	t.Run("in pieces", func(t *testing.T) { testSyncFollowsChanges(t, true) })
}

func testSyncFollowsChanges(t *testing.T, pieces bool) {
	const self = 7
	hs := handlespace.New(handlespace.Options{RegistrarID: self})
	def := zonestest.Def(t, "$ORIGIN pool.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 5\n@ NS ns1\nns1 A 192.0.2.53\n")
	if err := hs.ApplyZones([]handlespace.ZoneDef{def}); err != nil {
		t.Fatal(err)
	}
	var m *Monitor
	turns := 0
	var turn func()
	if pieces {
		defer func(b time.Duration) { pieceBudget = b }(pieceBudget)
		pieceBudget = 0
		turn = func() {
			turns++
			if m == nil {
				return // New's sync
			}
			if !m.mu.TryLock() {
				t.Fatal("a turn taken with the monitor's lock held")
			}
			m.mu.Unlock()
		}
	}
	m = New(hs, Config{Self: self, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RTTInterval: time.Hour,
		Probe: probe.Config{Clock: probe.SystemClock()}, Turn: turn})
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
			switch rng.IntN(5) {
			case 0:
				hs.Do(handlespace.Op{Pool: pool, ID: id}) // may be missing: fine
			case 1: // a refresh: a new load
				hs.Update(pool, id, func(e *handlespace.Element) { e.Load = uint32(rng.IntN(100)) }) // may be missing: fine
			default:
				e := &handlespace.Element{ID: id, Label: handlespace.LabelOf(fmt.Sprintf("e%d", i)), Addrs: handlespace.AddrsOf(a), Port: 80, Weight: 1,
					Home: uint32(self + rng.IntN(2))}
				if rng.IntN(3) > 0 {
					e.Probe = handlespace.ProbeRefOf(tcp)
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
		m.mu.Lock()
		for _, z := range hs.View().Zones() {
			for _, h := range z.PoolHandles() {
				pv := z.Pool(h)
				for e := range pv.Range() {
					if _, ok := m.targetOf(pv, e, probe.Target{}, false); ok {
						probed[Key(pv.Name, e.ID)] = true
						if tg := m.targets[Key(pv.Name, e.ID)]; tg != nil && tg.elem != e {
							t.Fatalf("round %d: target %s has element %p, the view %p", round, Key(pv.Name, e.ID), tg.elem, e)
						}
					}
					if m.sampled(pv, e) {
						sampled[Key(pv.Name, e.ID)] = true
					}
				}
			}
		}
		targets, samples := slices.Sorted(maps.Keys(m.targets)), slices.Sorted(maps.Keys(m.samples))
		m.mu.Unlock()
		if st := m.Stats(); st.Targets != len(targets) {
			t.Fatalf("round %d: the prober has %d targets, the monitor %d", round, st.Targets, len(targets))
		}
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
	if pieces && turns < 20 {
		t.Errorf("%d turns in 300 syncs: not cut in pieces", turns)
	}
}
