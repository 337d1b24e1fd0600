package enrp_test

import (
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/handlespace"
)

// TestConfirmFarVantage: C is across sites from A (150 ms each way, as
// in the lab) and its probe of A's element takes 600 ms (two round trips
// from its site, within the element's 800 ms timeout); B is near. C is
// given the element's whole timeout and its round trip, and A waits for
// its answer (the quorum of three), at most twice the probe timeout.
func TestConfirmFarVantage(t *testing.T) {
	const wait = 800 * time.Millisecond
	c := newCluster(t, 31)
	c.Config.Confirm = 2
	c.Config.PeerRTT = func(id uint32) time.Duration {
		if id == idC {
			return 300 * time.Millisecond
		}
		return 2 * time.Millisecond
	}
	c.Net.Delay = time.Millisecond
	zones := enrptest.Zones(t, 12)
	a := add(t, c, idA, zones)
	b := add(t, c, idB, zones, idA)
	cm := add(t, c, idC, zones, idA, idB)
	requireSettled(t, c, 3*interval)
	c.Net.LinkDelay[[2]uint32{idA, idC}] = 149 * time.Millisecond
	c.Net.LinkDelay[[2]uint32{idC, idA}] = 149 * time.Millisecond
	e := staticOf(t, a)
	b.Sees, cm.Sees = sees(handlespace.HealthDown), sees(handlespace.HealthDown)
	b.ProbeDelay, cm.ProbeDelay = 2*time.Millisecond, 600*time.Millisecond
	if !a.Confirm(staticPool, e.ID, handlespace.HealthDown, wait) {
		t.Fatal("A found nobody to ask")
	}
	v, took := confirmed(t, c, a, 1, 3*wait)
	if len(cm.Probed) != 1 || cm.Probed[0].Budget*4/5 < wait {
		t.Errorf("C was asked %+v: want a budget whose four fifths (its probe's timeout) cover the element's %v", cm.Probed, wait)
	}
	if len(v.Votes) != 3 || v.Health != handlespace.HealthDown {
		t.Fatalf("verdict %+v after %v: want down by all three, C's vote counted", v, took)
	}
	if took > 2*wait {
		t.Errorf("the verdict took %v, more than twice the probe timeout", took)
	}
	t.Logf("verdict after %v; C's budget %v, B's %v", took, cm.Probed[0].Budget, b.Probed[0].Budget)
}
