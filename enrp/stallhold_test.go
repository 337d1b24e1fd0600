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

// farAElement starts A, B and C with 60 zone-file elements, A 150 ms
// from B and C, and returns a zone-file element homed at A that B homes
// while A is dead.
func farAElement(t *testing.T, seed uint64) (c *enrptest.Cluster, a, b, cm *enrptest.Member, target uint32) {
	t.Helper()
	c, a, b, cm = cluster3(t, seed, 60)
	c.Redial = redial
	c.RunFor(2 * interval)
	requireSettled(t, c, interval)
	for _, p := range [][2]uint32{{idA, idB}, {idB, idA}, {idA, idC}, {idC, idA}} {
		c.Net.LinkDelay[p] = oneWay
	}
	target = homedAtTakenBy(t, a, idB, idC)
	return c, a, b, cm, target
}

// homedAtTakenBy returns a zone-file element homed at a that b homes
// while a is dead (b and other live).
func homedAtTakenBy(t *testing.T, a *enrptest.Member, b, other uint32) uint32 {
	t.Helper()
	for _, e := range a.Elements() {
		if e.Static && e.Home == a.ID && placement.Rendezvous([]uint32{b, other}, e.Pool, e.ID) == b && e.Health != handlespace.HealthDown {
			return e.ID
		}
	}
	t.Fatalf("no zone-file element homed at %08x that %08x takes", a.ID, b)
	return 0
}

// upAfterHold runs c for 3 s and returns when (after start), once a had
// begun to hold its view (its events from on), it answered (did not
// hold) with element id of the static pool not down; and whether it
// held at all. (A hold may begin and end within one delivery.)
func upAfterHold(c *enrptest.Cluster, a *enrptest.Member, id uint32, start time.Duration, from int) (at []time.Duration, held bool) {
	c.RunUntil(func() bool {
		held = held || slices.ContainsFunc(a.Events[from:], func(ev enrp.Event) bool { return ev.Kind == enrp.EventHold })
		if e := a.Find(staticPool, id); held && !stale(a) && (e == nil || e.Health != handlespace.HealthDown) {
			at = append(at, c.Elapsed()-start)
		}
		return false
	}, 3*time.Second)
	return at, held
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
	c, a, b, cm, target := farAElement(t, 45)
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
	served, _ := upAfterHold(c, a, target, c.Elapsed(), before)
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

// TestHoldAfterMinorityHandback: A, 150 ms from B and C, is cut off from
// both (its link down) long enough for each side to find the other dead;
// B, home of one of A's zone-file elements meanwhile, finds it down. A,
// alone, probed it as it could (a failure alone does not take an element
// down in a minority: it kept it up). At the heal B and C push A their
// own elements with their connections and hand back A's a round trip
// later: A holds its view until the hand-backs are in, and never
// answers with the element up once it answers again.
func TestHoldAfterMinorityHandback(t *testing.T) {
	c, a, b, cm, target := farAElement(t, 46)
	before := len(a.Events)
	c.Net.Partition([]uint32{idA}, []uint32{idB, idC})
	if !c.RunUntil(foundDead(idA, b, cm), 2*(lastHeard+noResponse)) {
		t.Fatal("B and C did not find A dead")
	}
	c.RunFor(interval)
	b.Do(func(hs *handlespace.Handlespace) error {
		return hs.Update(staticPool, target, func(x *handlespace.Element) { x.Health = handlespace.HealthDown })
	})
	c.RunFor(2 * interval)
	if !a.Node.Minority() {
		t.Fatal("A is not in a minority")
	}
	c.Net.Heal()
	served, held := upAfterHold(c, a, target, c.Elapsed(), before)
	if !held {
		t.Fatalf("A did not hold its view after the heal; events %v", a.Events[before:])
	}
	if len(served) > 0 {
		t.Errorf("A answered with its own state of element %s (up; B found it down) at %v after the heal, once its hold began; events %v",
			handlespace.IDString(target), served, a.Events[before:])
	}
	if ends := holdEnds(a, before); len(ends) != 1 || !strings.HasPrefix(ends[0], "synced") {
		t.Errorf("A's hold ended %q, want synced", ends)
	}
}
