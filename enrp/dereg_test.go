package enrp_test

import (
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/handlespace"
)

// Deregistrations at a registrar that is not the element's home, crossing
// what the home says of the element. The registrar acknowledges a
// deregistration once its handlespace has it, and its Node hears of it
// later (the driver takes peers' messages and local changes in any
// order): whatever the Node asks of the handlespace meanwhile must not
// undo it.

// absentEverywhere fails the test if any running member has element id
// of pool.
func absentEverywhere(t *testing.T, c *enrptest.Cluster, pool string, id uint32, what string) {
	t.Helper()
	for _, m := range c.Up() {
		if e := m.Find(pool, id); e != nil {
			t.Errorf("%08x: %s: element %d is back (home %08x, health %v)", m.ID, what, id, e.Home, e.Health)
		}
	}
}

// setHealth is a probe result at m, the element's home.
func setHealth(t *testing.T, m *enrptest.Member, pool string, id uint32, h handlespace.Health) {
	t.Helper()
	if err := m.Do(func(hs *handlespace.Handlespace) error { return hs.SetHealth(pool, id, h) }); err != nil {
		t.Fatal(err)
	}
}

// TestDeregistrationCrossesUpdate: the registrar at A deletes an element
// homed at B while B's update of it (a probe result) is on its way; the
// update reaches A's Node before the deletion does. A's Node must not
// put the element back: the deletion reaches it next, and every peer.
// (The defect netlab found: d0002, registered at r2, probed up by r2 at
// 28.325 and deregistered at r1 at 28.334, was served by all five 26 s
// later.)
func TestDeregistrationCrossesUpdate(t *testing.T) {
	c, a, b, _ := cluster3(t, 21, 0)
	c.RunFor(2 * interval) // every peer up at every registrar
	register(t, c, b, 0, 1)
	pool, id := poolOf(0), uint32(1000)
	requireSettled(t, c, interval)
	setHealth(t, b, pool, id, handlespace.HealthDown) // B's update is in flight to A
	if err := a.HS.Deregister(pool, id); err != nil { // acknowledged; A's Node has not seen it
		t.Fatal(err)
	}
	c.RunFor(5 * time.Millisecond) // B's update reaches A's Node, then A's Node sees the deletion
	requireSettled(t, c, 3*interval)
	absentEverywhere(t, c, pool, id, "deregistered at A while B's update crossed it")
	if a.Bind.Conflicts() == 0 {
		t.Error("B's update did not cross A's deregistration: the scenario tests nothing")
	}
}
