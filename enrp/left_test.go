package enrp_test

import (
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
)

// TestHandoffLeftNotDead: a peer that handed its elements off and
// stopped is listed as left, never as dead or suspect, for LeftMemory;
// then it is forgotten. Started again within LeftMemory, it is up.
func TestHandoffLeftNotDead(t *testing.T) {
	c, a, b, cm := confirmCluster(t, 31, 12)
	register(t, c, a, 0, 20)
	requireSettled(t, c, interval)
	a.Leave(nil)
	if !c.RunUntil(func() bool { return a.Left }, time.Second) {
		t.Fatal("the hand-off did not end within a second")
	}
	left := c.Clock.Now()
	a.Stop()
	stateOfA := func(m *enrptest.Member) (enrp.PeerState, bool) {
		for _, p := range m.Node.Peers() {
			if p.ID == idA {
				return p, true
			}
		}
		return enrp.PeerState{}, false
	}
	// Long past the time a silent peer takes to be found dead.
	c.RunFor(lastHeard + noResponse + 4*interval)
	for _, m := range []*enrptest.Member{b, cm} {
		p, ok := stateOfA(m)
		if !ok || !p.Left || p.Dead || p.Suspect {
			t.Errorf("%08x lists A as %+v (listed %v), want left, not dead or suspect", m.ID, p, ok)
		}
		if ok && (p.LeftAt.Before(left.Add(-time.Second)) || p.LeftAt.After(left)) {
			t.Errorf("%08x: A left at %v, the hand-off ended at %v", m.ID, p.LeftAt, left)
		}
	}
	if err := a.Start(a.Stored()); err != nil {
		t.Fatal(err)
	}
	if !c.RunUntil(func() bool {
		p, _ := stateOfA(b)
		q, _ := stateOfA(cm)
		return !p.Left && !p.Dead && !q.Left && !q.Dead
	}, 5*interval) {
		t.Error("A, started again, is not up at B and C")
	}
	requireSettled(t, c, interval)
	a.Leave(nil)
	if !c.RunUntil(func() bool { return a.Left }, time.Second) {
		t.Fatal("the second hand-off did not end within a second")
	}
	left = c.Clock.Now()
	a.Stop()
	c.RunFor(enrp.LeftMemory)
	for _, m := range []*enrptest.Member{b, cm} {
		if p, ok := stateOfA(m); ok {
			t.Errorf("%08x still lists A (%+v) %v after it left, want it forgotten after %v", m.ID, p, c.Clock.Now().Sub(left), enrp.LeftMemory)
		}
	}
}
