package enrp_test

import (
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
)

// TestStalledRegistrar: A is stopped (SIGSTOP) for 10 s. B and C find it
// dead and take its registrations over; nothing they send reaches it
// (their drivers drop their connections to a dead peer, and in the lab
// none of it was read after SIGCONT). When A runs again its timers have
// all run out, but it was A that did not listen, not its peers that were
// silent: it must give them the usual time to be heard again over new
// connections (here a little more than max_time_no_response: diallers
// wait between tries, a TLS handshake over a long link takes round
// trips) before judging them, and neither find them dead nor take
// anything over. What B and C took over ends the same everywhere.
func TestStalledRegistrar(t *testing.T) {
	c, a, b, cm := cluster3(t, 40, 10)
	c.RunFor(2 * interval)
	register(t, c, a, 0, 5)
	requireSettled(t, c, interval)
	stop := 10 * time.Second
	before := len(a.Events)
	resume := c.Clock.Now().Add(stop)
	a.Pause(stop)
	c.Net.Partition([]uint32{idA}, []uint32{idB, idC})
	if !c.RunUntil(func() bool { return homes(b)[idA] == 0 && homes(cm)[idA] == 0 }, stop) {
		t.Fatal("B and C did not take A's registrations over")
	}
	c.RunFor(resume.Sub(c.Clock.Now()) + noResponse + noResponse/5) // past a question asked at the resumption
	c.Net.Heal()
	requireSettled(t, c, lastHeard+noResponse+4*time.Second)
	after := a.Events[before:]
	stalled := false
	for _, ev := range after {
		switch ev.Kind {
		case enrp.EventStalled:
			stalled = true
		case enrp.EventPeerDead, enrp.EventTakeoverStart, enrp.EventTakeoverDone:
			t.Errorf("A after its stop: %v", ev)
		}
	}
	if !stalled {
		t.Errorf("A did not notice its stop; its events: %v", after)
	}
	for _, m := range []*enrptest.Member{a, b, cm} {
		if n := len(m.Elements()); n != 5+10 {
			t.Errorf("%08x: %d elements, want 15", m.ID, n)
		}
	}
}
