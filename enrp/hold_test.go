package enrp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// stale reports whether m holds its view as stale.
func stale(m *enrptest.Member) bool {
	s, _ := m.Node.Stale()
	return s
}

// holdEnds returns the details of m's hold-end events since event from.
func holdEnds(m *enrptest.Member, from int) []string {
	var out []string
	for _, ev := range m.Events[from:] {
		if ev.Kind == enrp.EventHoldEnd {
			out = append(out, ev.Detail)
		}
	}
	return out
}

// TestHoldAfterStall: A is stopped for 10 s (its peers find it dead and
// stop sending it updates; B registers meanwhile). When it runs again
// its view is stale: it holds it (the DNS is not answered from it) until
// it has taken B's and C's own elements again, and then has B's
// registrations. B and C, which did not stall, never hold.
func TestHoldAfterStall(t *testing.T) {
	c, a, b, cm := cluster3(t, 41, 10)
	c.RunFor(2 * interval)
	requireSettled(t, c, interval)
	before := len(a.Events)
	stop := 10 * time.Second
	resume := c.Clock.Now().Add(stop)
	a.Pause(stop)
	c.Net.Partition([]uint32{idA}, []uint32{idB, idC})
	c.RunFor(lastHeard + noResponse + interval)
	register(t, c, b, 0, 5) // A misses these
	c.RunFor(resume.Sub(c.Clock.Now()) + time.Millisecond)
	c.Net.Heal()
	// A's first Tick after the stop finds the stall and holds.
	if !c.RunUntil(func() bool { return stale(a) }, interval+interval/2) {
		t.Fatalf("A does not hold its view after a 10 s stop; events %v", a.Events[before:])
	}
	held := c.Elapsed()
	if !c.RunUntil(func() bool { return !stale(a) }, 4*time.Second) {
		t.Fatalf("A still holds its view %v after the stop", c.Elapsed()-held)
	}
	ends := holdEnds(a, before)
	if len(ends) != 1 || !strings.HasPrefix(ends[0], "synced") {
		t.Fatalf("A's hold ended %q, want synced", ends)
	}
	if n := len(a.Elements()); n != 10+5 {
		t.Errorf("A released its hold with %d elements, want 15 (B's registrations of the stop)", n)
	}
	for _, m := range []*enrptest.Member{b, cm} {
		if len(m.EventsOf(enrp.EventHold)) > 0 {
			t.Errorf("%08x held its view: %v", m.ID, m.EventsOf(enrp.EventHold))
		}
	}
	t.Logf("A held its view %v after its first Tick; events %v", c.Elapsed()-held, a.Events[before:])
}

// TestHoldAfterMinority: A is cut off from B and C (a minority of one)
// while they register. When the partition heals A holds its view until it
// has synced with both; B and C (the majority) never hold. A short stall
// (not enough for the peers to find A dead) holds nothing.
func TestHoldAfterMinority(t *testing.T) {
	c, a, b, cm := cluster3(t, 42, 10)
	requireSettled(t, c, interval)
	a.Pause(2 * time.Second) // more than the stall slack, less than max_time_last_heard
	c.RunFor(lastHeard)
	if len(a.EventsOf(enrp.EventStalled)) == 0 || len(a.EventsOf(enrp.EventHold)) > 0 {
		t.Fatalf("A after a stall of 2 s: stalled %v, held %v", a.EventsOf(enrp.EventStalled), a.EventsOf(enrp.EventHold))
	}
	before := len(a.Events)
	c.Net.Partition([]uint32{idA}, []uint32{idB, idC})
	c.RunFor(lastHeard + noResponse + 2*interval)
	if !a.Node.Minority() || b.Node.Minority() {
		t.Fatalf("minority: A %v, B %v; want A only", a.Node.Minority(), b.Node.Minority())
	}
	if stale(a) {
		t.Fatal("A holds its view while cut off (it must serve its side)")
	}
	register(t, c, cm, 0, 4)
	c.RunFor(interval)
	c.Net.Heal()
	// The hold may begin and end within one delivery (the peers' pushes
	// come right behind their first PRESENCE): look for the event.
	holding := func() bool {
		for _, ev := range a.Events[before:] {
			if ev.Kind == enrp.EventHold {
				return true
			}
		}
		return false
	}
	if !c.RunUntil(holding, 3*interval) {
		t.Fatal("A does not hold its view when the partition heals")
	}
	held := c.Elapsed()
	if !c.RunUntil(func() bool { return !stale(a) }, 4*time.Second) {
		t.Fatalf("A still holds its view %v after the heal", c.Elapsed()-held)
	}
	if ends := holdEnds(a, before); len(ends) != 1 || !strings.HasPrefix(ends[0], "synced") {
		t.Fatalf("A's hold ended %q, want synced", ends)
	}
	if n := len(a.Elements()); n != 10+4 {
		t.Errorf("A released its hold with %d elements, want 14", n)
	}
	for _, m := range []*enrptest.Member{b, cm} {
		if len(m.EventsOf(enrp.EventHold)) > 0 {
			t.Errorf("%08x (the majority) held its view: %v", m.ID, m.EventsOf(enrp.EventHold))
		}
	}
	t.Logf("A held its view %v", c.Elapsed()-held)
}

// TestHoldBounded: A comes back from a minority to B only (C stays cut
// off from it): it holds its view for ResyncWait at most.
func TestHoldBounded(t *testing.T) {
	c, a, _, _ := cluster3(t, 43, 10)
	if !c.RunUntil(a.Node.Synced, 3*interval) {
		t.Fatal("A never synced")
	}
	before := len(a.Events)
	c.Net.Partition([]uint32{idA}, []uint32{idB, idC})
	c.RunFor(lastHeard + noResponse + 2*interval)
	c.Net.Heal()
	c.Net.Partition([]uint32{idA, idB}, []uint32{idC})
	if !c.RunUntil(func() bool { return stale(a) }, 3*interval) {
		t.Fatalf("A does not hold its view when B comes back: %v", a.Events[before:])
	}
	held := c.Elapsed()
	wait := a.Node.Config().ResyncWait
	if !c.RunUntil(func() bool { return !stale(a) }, wait+interval) {
		t.Fatalf("A still holds its view %v after B came back (bound %v)", c.Elapsed()-held, wait)
	}
	if d := c.Elapsed() - held; d < wait-interval/2 {
		t.Errorf("A's hold ended after %v, before C (still cut off) synced and the bound %v", d, wait)
	}
	if ends := holdEnds(a, before); len(ends) != 1 || !strings.HasPrefix(ends[0], "bounded wait") {
		t.Fatalf("A's hold ended %q, want by the bounded wait", ends)
	}
}

// TestAloneAfterMinorityMemory: a registrar in a minority takes nothing
// over; once its peers have been dead for longer than a minute it no
// longer counts them: alone, it takes their registrations over and
// decides its elements' health on its own probes again.
func TestAloneAfterMinorityMemory(t *testing.T) {
	c, a, b, _ := confirmCluster(t, 44, 6)
	register(t, c, b, 0, 4)
	requireSettled(t, c, interval)
	c.Net.Partition([]uint32{idA}, []uint32{idB, idC})
	c.RunFor(lastHeard + noResponse + 2*interval)
	if !a.Node.Minority() {
		t.Fatal("A cut off is not in a minority")
	}
	if h := homes(a); h[idB] != 4 {
		t.Fatalf("A in a minority took B's registrations over: %v", h)
	}
	c.RunFor(time.Minute)
	if a.Node.Minority() {
		t.Fatal("A is still in a minority a minute after its peers died")
	}
	c.RunFor(lastHeard + noResponse + interval) // they may be on their way back: A waits that long
	if h := homes(a); h[idB] != 0 || h[idA] != 6+4 {
		t.Fatalf("A, alone for a minute, did not take B's registrations over: %v", h)
	}
	for _, e := range a.Elements() {
		if e.Pool != staticPool {
			continue
		}
		if a.Confirm(staticPool, e.ID, handlespace.HealthDown, probeWait) {
			t.Fatalf("A, alone for a minute, asked about %s", handlespace.IDString(e.ID))
		}
	}
	for _, e := range a.Elements() {
		if e.Pool != staticPool {
			continue
		}
		if e.Health != handlespace.HealthDown || e.Disputed() {
			t.Fatalf("A alone for a minute has %s %v (vantage %v), want down on its own probes", handlespace.IDString(e.ID), e.Health, e.Vantage.All())
		}
	}
}

// TestCutOffNoLoneDown: in the first seconds of a partition, before A
// finds its peers dead, its confirmations go unanswered. With every peer
// overdue, A is probably the one cut off: its failed probe alone does not
// take the element down (up, disputed, last at A). With its peers heard
// but not answering the confirmation (a lost request), its own vote
// decides, as the quorum rule says.
func TestCutOffNoLoneDown(t *testing.T) {
	c, a, _, _ := confirmCluster(t, 45, 12)
	var mine []uint32
	for _, e := range a.Elements() {
		if e.Home == idA {
			mine = append(mine, e.ID)
		}
	}
	if len(mine) < 2 {
		t.Fatalf("A is home of %d elements, want 2 or more", len(mine))
	}
	// Peers heard, confirmation requests lost.
	c.Net.Filter = func(from, to uint32, m *wire.Message) enrptest.Verdict {
		if from == idA && m.Type == wire.TypeHandleUpdate {
			return enrptest.Drop
		}
		return enrptest.Deliver
	}
	a.Confirm(staticPool, mine[0], handlespace.HealthDown, probeWait)
	c.RunFor(2 * probeWait)
	if e := a.Find(staticPool, mine[0]); e.Health != handlespace.HealthDown {
		t.Fatalf("peers heard, no answer: A has %s %v, want down by its own vote", handlespace.IDString(mine[0]), e.Health)
	}
	c.Net.Filter = nil
	// Cut off, peers not found dead yet but overdue.
	c.Net.Partition([]uint32{idA}, []uint32{idB, idC})
	c.RunFor(interval + interval/2)
	if a.Node.Minority() {
		t.Fatal("A is in a minority already: the test wants it before its peers are found dead")
	}
	a.Confirm(staticPool, mine[1], handlespace.HealthDown, probeWait)
	c.RunFor(2 * probeWait)
	e := a.Find(staticPool, mine[1])
	if e.Health != handlespace.HealthUp || !handlespace.LastAt(e, idA) {
		t.Fatalf("A cut off has %s %v (vantage %v), want up, disputed, last at A", handlespace.IDString(mine[1]), e.Health, e.Vantage.All())
	}
}
