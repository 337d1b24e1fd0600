package enrp_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/enrp/placement"
	"github.com/poolnsd/poolnsd/handlespace"
)

// foundDead reports whether every one of ms has found peer id dead.
func foundDead(id uint32, ms ...*enrptest.Member) func() bool {
	return func() bool {
		for _, m := range ms {
			if !slices.ContainsFunc(m.EventsOf(enrp.EventPeerDead), func(ev enrp.Event) bool { return ev.Peer == id }) {
				return false
			}
		}
		return true
	}
}

// stopLikeSIGSTOP pauses a for stop as the namespace lab's SIGSTOP does:
// its peers' messages wait in its kernel until they find it dead and
// close their connections (the harness tells a of the close at once, the
// driver when it runs again: either way it owes them a push and expects
// theirs), and when it runs again its timer fires before it reads them.
// during runs once the peers have found it dead. It returns once a has
// run its first Tick after the stop; the peers dial it again, and push
// it their own elements in the first message of the new connection.
func stopLikeSIGSTOP(t *testing.T, c *enrptest.Cluster, a *enrptest.Member, stop time.Duration, during func(), peers ...*enrptest.Member) {
	t.Helper()
	resume := c.Clock.Now().Add(stop)
	a.Pause(stop)
	if !c.RunUntil(foundDead(a.ID, peers...), stop-interval) {
		t.Fatalf("the peers did not find %08x dead", a.ID)
	}
	var ids []uint32
	for _, m := range peers {
		ids = append(ids, m.ID)
	}
	c.Net.Partition([]uint32{a.ID}, ids)
	if during != nil {
		during()
	}
	c.RunFor(resume.Sub(c.Clock.Now()) - time.Millisecond)
	c.Clock.Set(resume)
	a.Tick()
	c.Net.Heal()
	if !stale(a) {
		t.Fatalf("%08x does not hold its view after a stop of %v; events %v", a.ID, stop, a.EventsOf(enrp.EventStalled))
	}
}

// TestHoldAfterStallOldPresence: A is stopped for 10 s; B and C found it
// dead after 4 s and B registered five elements after that. The
// PRESENCE messages B and C sent before they found it dead wait in A's
// kernel and are read after A's first Tick has found the stall and holds
// its view: their claims match what A believed of B and C before its
// stop, but they are old and do not end the hold. Only B's and C's
// pushes do, with B's registrations. (In the namespace lab r5 left its
// hold 136 ms after SIGCONT, before any push could come from 150 ms
// away, and answered without what its peers changed meanwhile.)
func TestHoldAfterStallOldPresence(t *testing.T) {
	c, a, b, cm := cluster3(t, 44, 10)
	c.RunFor(2 * interval)
	requireSettled(t, c, interval)
	before := len(a.Events)
	stopLikeSIGSTOP(t, c, a, 10*time.Second, func() { register(t, c, b, 0, 5) }, b, cm)
	// RunUntil stops at the first delivery after which A no longer
	// holds: what it has then is what it answers from.
	if !c.RunUntil(func() bool { return !stale(a) }, 4*time.Second) {
		t.Fatalf("A still holds its view 4 s after the stop")
	}
	ends := holdEnds(a, before)
	if len(ends) != 1 || !strings.HasPrefix(ends[0], "synced") {
		t.Fatalf("A's hold ended %q, want synced", ends)
	}
	if n := len(a.Elements()); n != 10+5 {
		t.Errorf("A ended its hold with %d elements, want 15 (B's registrations made while it was stopped); events %v", n, a.Events[before:])
	}
}

// TestHoldAfterStallHandback: A, 150 ms from B and C, is stopped for
// 10 s. B and C find it dead and take its zone-file elements; B, home of
// one of them now, finds it down. When A runs again, B and C push A
// their own elements with their connections, and hand back those homed
// at A again only once they hear A (a round trip later): until then A's
// own state of its elements is from before its stop, and it must not
// answer from it. Its hold lasts until the hand-backs are in; from then
// on A has the element down.
func TestHoldAfterStallHandback(t *testing.T) {
	c, a, b, cm := cluster3(t, 45, 60)
	c.Redial = redial
	c.RunFor(2 * interval)
	requireSettled(t, c, interval)
	for _, p := range [][2]uint32{{idA, idB}, {idB, idA}, {idA, idC}, {idC, idA}} {
		c.Net.LinkDelay[p] = oneWay
	}
	var target uint32
	for _, e := range a.Elements() {
		if e.Static && e.Home == idA && placement.Rendezvous([]uint32{idB, idC}, e.Pool, e.ID) == idB {
			target = e.ID
			break
		}
	}
	if target == 0 {
		t.Fatal("no zone-file element homed at A that B takes")
	}
	if e := a.Find(staticPool, target); e == nil || e.Health == handlespace.HealthDown {
		t.Fatalf("A's element %s before the stop: %+v", handlespace.IDString(target), e)
	}
	before := len(a.Events)
	stopLikeSIGSTOP(t, c, a, 10*time.Second, func() {
		c.RunFor(interval)
		if e := b.Find(staticPool, target); e == nil || e.Home != idB {
			t.Fatalf("B does not home A's element %s: %+v", handlespace.IDString(target), e)
		}
		b.Do(func(hs *handlespace.Handlespace) error {
			return hs.Update(staticPool, target, func(x *handlespace.Element) { x.Health = handlespace.HealthDown })
		})
	}, b, cm)
	resumed := c.Elapsed()
	// Every step from the stall on: while A answers (does not hold), it
	// must have the element down.
	var served []time.Duration
	c.RunUntil(func() bool {
		if !stale(a) {
			if e := a.Find(staticPool, target); e == nil || e.Health != handlespace.HealthDown {
				served = append(served, c.Elapsed()-resumed)
			}
		}
		return false
	}, 3*time.Second)
	if len(served) > 0 {
		t.Errorf("A answered with its pre-stop state of element %s (up; B found it down) at %v after it ran again; events %v",
			handlespace.IDString(target), served, a.Events[before:])
	}
	ends := holdEnds(a, before)
	if len(ends) != 1 || !strings.HasPrefix(ends[0], "synced") {
		t.Errorf("A's hold ended %q, want synced", ends)
	}
	if e := a.Find(staticPool, target); e == nil || e.Health != handlespace.HealthDown || e.Home != idA {
		t.Errorf("A's element %s 3 s after the stop: %+v, want down, homed at A", handlespace.IDString(target), e)
	}
}
