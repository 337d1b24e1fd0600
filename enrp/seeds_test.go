package enrp_test

import (
	"flag"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
)

// TestSeeds runs a mixed scenario (loss, reordering, a death, a partition
// and a heal, registrations all along) under many seeds: whatever the
// interleaving, the registrars converge with nothing lost.
func TestSeeds(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 5
	}
	for seed := uint64(100); seed < uint64(100+seeds); seed++ {
		c, a, b, cm := cluster3(t, seed, 15)
		c.Net.Jitter = 5 * time.Millisecond
		c.Net.Loss = 0.02
		register(t, c, a, 0, 20)
		register(t, c, b, 20, 20)
		c.RunFor(2 * time.Second)
		register(t, c, cm, 40, 20)
		c.Net.Partition([]uint32{idA}, []uint32{idB, idC})
		c.RunFor(time.Duration(2000+c.Rand.IntN(6000)) * time.Millisecond)
		register(t, c, a, 60, 5)
		register(t, c, b, 65, 5)
		c.Net.Heal()
		c.RunFor(time.Duration(c.Rand.IntN(3000)) * time.Millisecond)
		c.Net.Loss = 0
		if !c.RunUntil(settled(c), 8*time.Second) {
			_, why := c.Consistent()
			_, why2 := sameElements(c)
			t.Fatalf("seed %d: not settled: %s %s", seed, why, why2)
		}
		for _, m := range []*enrptest.Member{a, b, cm} {
			if n := len(m.Elements()); n != 85 {
				t.Fatalf("seed %d: %08x has %d elements, want 85", seed, m.ID, n)
			}
			for _, e := range m.Elements() {
				if e.Home != idA && e.Home != idB && e.Home != idC {
					t.Fatalf("seed %d: %08x: element %d homed at %08x", seed, m.ID, e.ID, e.Home)
				}
			}
			_ = enrp.EventPeerDead
		}
	}
}

// TestChurn stops, restarts (with the registrations a store would hold),
// partitions and heals registrars at random while registrations come and
// go at random registrars, under many seeds; at the end every running
// registrar has exactly the registrations that were made and not removed.
func TestChurn(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 5
	}
	first := uint64(500)
	if *churnSeed != 0 {
		first, seeds = *churnSeed, 1
	}
	for seed := first; seed < first+uint64(seeds); seed++ {
		c, a, b, cm := cluster3(t, seed, 10)
		if *churnSeed != 0 {
			c.Trace = func(s string) { t.Log(s) }
		}
		c.Net.Jitter = 3 * time.Millisecond
		ms := []*enrptest.Member{a, b, cm}
		stores := map[uint32][]enrptest.Registration{}
		want := map[uint32]bool{}
		next := 0
		for round := 0; round < 12; round++ {
			m := ms[c.Rand.IntN(3)]
			action := c.Rand.IntN(6)
			if *churnSeed != 0 {
				t.Logf("round %d: action %d on %08x", round, action, m.ID)
			}
			switch action {
			case 0: // stop, if two would still run
				if m.Up() && len(c.Up()) == 3 {
					stores[m.ID] = m.Stored()
					m.Stop()
				}
			case 1: // restart
				if !m.Up() {
					if err := m.Start(stores[m.ID]); err != nil {
						t.Fatal(err)
					}
				}
			case 2: // partition one from the others, or heal
				if c.Rand.IntN(2) == 0 {
					c.Net.Partition([]uint32{m.ID}, others(m.ID))
				} else {
					c.Net.Heal()
				}
			case 3, 4: // register a few
				if m.Up() {
					register(t, c, m, next, 3)
					for i := next; i < next+3; i++ {
						want[uint32(1000+i)] = true
					}
					next += 3
				}
			case 5: // deregister one, at its home, when everyone can hear of it
				// (one made at a registrar cut off from the others is lost
				// with it if it crashes before it can tell anyone: see
				// TestDeregisteredStaysDeleted for what does hold)
				if m.Up() && len(c.Up()) == 3 && c.Connected(idA, idB) && c.Connected(idB, idC) && c.Connected(idA, idC) {
					for _, e := range m.Elements() {
						if !e.Static && e.Home == m.ID {
							id, pool := e.ID, e.Pool
							if err := m.Do(func(hs *handlespace.Handlespace) error { return hs.Do(handlespace.Op{Pool: pool, ID: id}) }); err != nil {
								t.Fatal(err)
							}
							delete(want, id)
							break
						}
					}
				}
			}
			c.RunFor(time.Duration(c.Rand.IntN(6000)) * time.Millisecond)
		}
		c.Net.Heal()
		for _, m := range ms {
			if !m.Up() {
				if err := m.Start(stores[m.ID]); err != nil {
					t.Fatal(err)
				}
			}
		}
		if !c.RunUntil(settled(c), 10*time.Second) {
			_, why := c.Consistent()
			_, why2 := sameElements(c)
			for _, m := range ms {
				m.Node.Entries(func(pool, policy string, e *handlespace.Element, gen uint32) {
					t.Logf("%08x: %s %d home %08x gen %d %s %+v", m.ID, pool, e.ID, e.Home, gen, policy, *e)
				})
			}
			t.Fatalf("seed %d: not settled: %s %s", seed, why, why2)
		}
		for _, m := range ms {
			got := map[uint32]bool{}
			for _, e := range m.Elements() {
				if !e.Static {
					got[e.ID] = true
				}
			}
			for id := range want {
				if !got[id] {
					t.Errorf("seed %d: %08x lost registration %d", seed, m.ID, id)
				}
			}
			for id := range got {
				if !want[id] {
					t.Errorf("seed %d: %08x has %d, which was deregistered", seed, m.ID, id)
				}
			}
		}
	}
}

var churnSeed = flag.Uint64("churn.seed", 0, "run only this seed of TestChurn, with a trace")

func others(id uint32) []uint32 {
	var out []uint32
	for _, x := range []uint32{idA, idB, idC} {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}
