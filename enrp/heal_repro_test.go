package enrp_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/handlespace"
)

// TestMinorityTakeoverHeal: C is cut off (a minority of one: it takes
// nothing over) while A and B take C's registrations over; health
// changes on all sides, and at the heal, with operations held back as
// the drivers do while a table comes in, the cluster must agree on a home
// for each registration, and lose none, over 150 ms links as in the lab
// (where claims crossing at the heal lost registrations).
func TestMinorityTakeoverHeal(t *testing.T) {
	for seed := uint64(500); seed < 520; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			c, a, b, cm := cluster3(t, seed, 6)
			for _, p := range [][2]uint32{{idA, idC}, {idC, idA}, {idB, idC}, {idC, idB}} {
				c.Net.LinkDelay[p] = 150 * time.Millisecond
			}
			c.RunFor(2 * interval)
			register(t, c, a, 0, 2)
			register(t, c, b, 2, 2)
			register(t, c, cm, 4, 2)
			consistent := func() bool { ok, _ := c.Consistent(); return ok }
			if !c.RunUntil(consistent, 2*interval) {
				t.Fatal("not consistent before the partition")
			}
			c.Net.Partition([]uint32{idC}, []uint32{idA, idB})
			c.RunFor(5 * time.Second)
			flip := func(m *enrptest.Member, h handlespace.Health) {
				m.Do(func(hs *handlespace.Handlespace) error {
					for i := 0; i < 6; i++ {
						if e := m.Find(poolOf(i), uint32(1000+i)); e != nil && e.Home == m.ID {
							hs.Update(poolOf(i), uint32(1000+i), func(x *handlespace.Element) { x.Health = h })
						}
					}
					return nil
				})
			}
			flip(cm, handlespace.HealthDown) // C alone finds its own down
			flip(a, handlespace.HealthDown)
			c.RunFor(5 * time.Second)
			c.Net.Heal()
			// As the drivers do while a table comes in: operations held
			// back a while, and the monitors publishing health meanwhile.
			for _, m := range []*enrptest.Member{a, b, cm} {
				m.HoldOps = true
			}
			for i := 0; i < 10; i++ {
				c.RunFor(50 * time.Millisecond)
				flip(cm, handlespace.Health(1+i%2))
				flip(a, handlespace.Health(1+i%2))
				flip(b, handlespace.Health(1+i%2))
				if i%5 == 4 {
					for _, m := range []*enrptest.Member{a, b, cm} {
						m.ReleaseOps()
					}
				}
			}
			for _, m := range []*enrptest.Member{a, b, cm} {
				m.HoldOps = false
				m.ReleaseOps()
			}
			if !c.RunUntil(consistent, 10*interval) {
				_, why := c.Consistent()
				t.Fatalf("not consistent after the heal: %s", why)
			}
			for _, m := range []*enrptest.Member{a, b, cm} {
				n := 0
				for _, e := range m.Elements() {
					if !e.Static {
						n++
					}
				}
				if n != 6 {
					t.Errorf("%08x has %d registrations, want 6", m.ID, n)
				}
			}
		})
	}
}
