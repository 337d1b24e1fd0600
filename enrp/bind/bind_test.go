package bind_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/bind"
	"github.com/poolnsd/poolnsd/handlespace"
)

// zones is a zone, pool.test., without pools: registrations make theirs.
func zones(t *testing.T) []handlespace.ZoneDef {
	var rrs []dns.RR
	for _, s := range []string{
		"pool.test. 60 IN SOA ns.pool.test. h.pool.test. 1 60 60 60 5",
		"pool.test. 60 IN NS ns.pool.test.",
		"ns.pool.test. 60 IN A 192.0.2.53",
	} {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		rrs = append(rrs, rr)
	}
	return []handlespace.ZoneDef{{Origin: "pool.test.", File: "pool.test.zone", Records: rrs}}
}

// TestBindingSeesPutThenDeleted: an element that the Node put into the
// handlespace and that a local change removed before the Node's next look
// shows in no view diff (it was in neither view), yet the Node believes
// it there: Changes reports it gone.
func TestBindingSeesPutThenDeleted(t *testing.T) {
	hs := handlespace.New(handlespace.Options{RegistrarID: 0xa})
	if err := hs.ApplyZones(zones(t)); err != nil {
		t.Fatal(err)
	}
	b := bind.New(hs, 0xa)
	b.Changes()
	pool := "r0.pool.test."
	e := &handlespace.Element{ID: 1000, Label: handlespace.LabelOf("pe0"), Addrs: handlespace.AddrsOf(netip.MustParseAddr("10.1.0.0")), Port: 8080,
		Weight: 1, Home: 0xb, Expires: handlespace.ExpiryOf(time.Now().Add(time.Hour))}
	if errs := b.Apply([]enrp.Op{{Kind: enrp.OpPut, Pool: pool, ID: e.ID, Policy: "wrr", Elem: e}}); len(errs) > 0 {
		t.Fatal(errs)
	}
	if err := hs.Do(handlespace.Op{Pool: pool, ID: e.ID}); err != nil {
		t.Fatal(err)
	}
	cs := b.Changes()
	if !slices.ContainsFunc(cs, func(c enrp.Change) bool { return c.Pool == pool && c.ID == e.ID && c.Elem == nil }) {
		t.Errorf("changes %+v: the deletion of the element put is missing", cs)
	}
}

// TestBindingFollowsChanges: through random registrations, refreshes,
// removals, health updates, pools that empty out and zone reloads over many
// pools, the Changes that a Binding returns, applied to a mirror of the
// handlespace, give the handlespace's view after every call; and each Was
// is the element the mirror held.
func TestBindingFollowsChanges(t *testing.T) {
	hs := handlespace.New(handlespace.Options{RegistrarID: 0xa})
	if err := hs.ApplyZones(zones(t)); err != nil {
		t.Fatal(err)
	}
	b := bind.New(hs, 0xa)
	t.Cleanup(b.Close)
	mirror := map[string]map[uint32]*handlespace.Element{}
	follow := func(round int) {
		t.Helper()
		for _, c := range b.Changes() {
			m := mirror[c.Pool]
			if m == nil {
				m = map[uint32]*handlespace.Element{}
				mirror[c.Pool] = m
			}
			if was := m[c.ID]; was != c.Was {
				t.Fatalf("round %d: %s %d: Was %p, the mirror had %p", round, c.Pool, c.ID, c.Was, was)
			}
			if c.Elem == nil {
				delete(m, c.ID)
			} else {
				m[c.ID] = c.Elem
			}
		}
		v := hs.View()
		n := 0
		for pool, m := range mirror {
			pv := v.Pool(pool)
			for id, e := range m {
				if pv == nil || pv.Element(id) != e {
					t.Fatalf("round %d: %s %d: the mirror has %p, the view not", round, pool, id, e)
				}
			}
			n += len(m)
		}
		total := 0
		for _, z := range v.Zones() {
			for _, h := range z.PoolHandles() {
				if pv := z.Pool(h); pv != nil {
					total += pv.Len()
				}
			}
		}
		if total != n {
			t.Fatalf("round %d: the view has %d elements, the mirror %d", round, total, n)
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	const pools, ids = 40, 4 // few IDs: pools empty out and go
	for round := range 400 {
		for range 1 + rnd.IntN(20) {
			pool := fmt.Sprintf("r%d.pool.test.", rnd.IntN(pools))
			id := uint32(1 + rnd.IntN(ids))
			var err error
			switch k := rnd.IntN(10); {
			case k < 5:
				e := &handlespace.Element{ID: id, Label: handlespace.LabelOf(fmt.Sprintf("pe%d", id)), Addrs: handlespace.AddrsOf(netip.MustParseAddr("10.1.0.1")),
					Port: 8080, Weight: 1, Load: uint32(rnd.IntN(100)), Expires: handlespace.ExpiryOf(time.Now().Add(time.Hour))}
				err = hs.Do(handlespace.Op{Pool: pool, Elem: e, Policy: "wrr"})
			case k < 8:
				err = hs.Do(handlespace.Op{Pool: pool, ID: id})
			default:
				err = hs.Update(pool, id, func(e *handlespace.Element) { e.Health = handlespace.Health(rnd.IntN(3)) })
			}
			if err != nil && !errors.Is(err, handlespace.ErrNoElement) && !errors.Is(err, handlespace.ErrNoPool) {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if round%50 == 49 {
			if err := hs.ApplyZones(zones(t)); err != nil {
				t.Fatal(err)
			}
		}
		if rnd.IntN(3) > 0 { // sometimes several rounds of changes between looks
			follow(round)
		}
	}
	follow(-1)
}

// TestChangesCostsTheChange: one registration among 10 000 pools costs
// Changes a few allocations, not a walk of every pool (which allocates
// each zone's handles and a map of every pool).
func TestChangesCostsTheChange(t *testing.T) {
	hs := handlespace.New(handlespace.Options{RegistrarID: 0xa})
	if err := hs.ApplyZones(zones(t)); err != nil {
		t.Fatal(err)
	}
	var ops []handlespace.Op
	for i := range 10000 {
		ops = append(ops, handlespace.Op{Pool: fmt.Sprintf("r%d.pool.test.", i), Policy: "rr", Elem: &handlespace.Element{ID: 1, Label: handlespace.LabelOf("pe1"),
			Addrs: handlespace.AddrsOf(netip.MustParseAddr("10.1.0.1")), Port: 8080, Weight: 1, Expires: handlespace.ExpiryOf(time.Now().Add(time.Hour))}})
	}
	if err := hs.Do(ops...); err != nil {
		t.Fatal(err)
	}
	b := bind.New(hs, 0xa)
	t.Cleanup(b.Close)
	if n := len(b.Changes()); n != 10000 {
		t.Fatalf("first Changes: %d changes, want 10000", n)
	}
	var total float64
	const runs = 50
	for i := range runs {
		e := &handlespace.Element{ID: 1, Label: handlespace.LabelOf("pe1"), Addrs: handlespace.AddrsOf(netip.MustParseAddr("10.1.0.1")), Port: 8080, Weight: 1,
			Load: uint32(i + 1), Expires: handlespace.ExpiryOf(time.Now().Add(time.Hour))}
		if err := hs.Do(handlespace.Op{Pool: fmt.Sprintf("r%d.pool.test.", i*97%10000), Elem: e}); err != nil {
			t.Fatal(err)
		}
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		cs := b.Changes()
		runtime.ReadMemStats(&m1)
		total += float64(m1.Mallocs - m0.Mallocs)
		if len(cs) != 1 {
			t.Fatalf("run %d: %d changes, want 1", i, len(cs))
		}
	}
	if a := total / runs; a > 20 {
		t.Errorf("Changes after one registration among 10 000 pools: %.1f allocations, want at most 20", a)
	}
}
