package enrp_test

import (
	"github.com/poolnsd/poolnsd/enrp/placement"
	"slices"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// TestHealPush: C, 150 ms from A and B each way, is cut off for 6 s
// (each side finds the other dead). Meanwhile A registers 60 elements
// and changes the health of its zone-file elements, and C deregisters
// one of A's registrations (its DEL_PE to A is lost). At the heal each
// pushes the other its own elements the moment it connects, every page
// at once, with the deletions made since: all agree, the deregistration
// included, within the next dial and two one-way delays (the pushes, then
// the hand-backs of the zone-file elements that move to C), with no
// table request at all. A request and a round trip a page (the table
// transfer this replaces) took a round trip more, and one per page of
// each registrar's 400 zone-file elements.
func TestHealPush(t *testing.T) {
	c, a, b, cm, agree := farCCluster(t, 71, 100)
	settledFar := func() bool { ok, _ := agree(); return ok }
	c.Net.Partition([]uint32{idC}, []uint32{idA, idB})
	c.RunFor(lastHeard + noResponse + interval)
	if ok := cm.Node.Minority(); !ok {
		t.Fatal("C is not in a minority after 5 s cut off")
	}
	register(t, c, a, 100, 60)
	a.Do(func(hs *handlespace.Handlespace) error {
		for _, e := range a.Elements() {
			if e.Static && e.Home == idA && e.ID%3 == 0 {
				hs.Update(e.Pool, e.ID, func(x *handlespace.Element) { x.Health = handlespace.HealthDown })
			}
		}
		return nil
	})
	gone := a.Find(poolOf(7), 1007)
	if gone == nil || gone.Home != idA {
		t.Fatalf("element 1007 at A: %+v, want A's registration", gone)
	}
	if err := cm.Do(func(hs *handlespace.Handlespace) error { return hs.Do(handlespace.Op{Pool: poolOf(7), ID: 1007}) }); err != nil {
		t.Fatal(err)
	}
	c.RunFor(interval)
	if a.Find(poolOf(7), 1007) == nil {
		t.Fatal("C's deregistration crossed the partition")
	}
	requests := c.Net.CountByType[wire.TypeHandleTableRequest]
	pushed := len(a.EventsOf(enrp.EventPushed)) + len(b.EventsOf(enrp.EventPushed)) + len(cm.EventsOf(enrp.EventPushed))
	c.Net.Heal()
	healed := c.Elapsed()
	limit := redial + 2*oneWay + 10*time.Millisecond
	if !c.RunUntil(settledFar, 2*time.Second) {
		_, why := agree()
		t.Fatalf("not settled 2 s after the heal: %s", why)
	}
	took := c.Elapsed() - healed
	t.Logf("all agree %v after the heal (bound %v)", took, limit)
	if took > limit {
		t.Errorf("all agree %v after the heal, want at most %v (the next dial and two one-way delays)", took, limit)
	}
	for _, m := range []*enrptest.Member{a, b, cm} {
		if m.Find(poolOf(7), 1007) != nil {
			t.Errorf("%08x still has element 1007, deregistered at C during the partition", m.ID)
		}
		if n := len(m.Elements()); n != 1200+160-1 {
			t.Errorf("%08x has %d elements, want %d", m.ID, n, 1200+160-1)
		}
	}
	if n := c.Net.CountByType[wire.TypeHandleTableRequest] - requests; n != 0 {
		t.Errorf("%d table requests after the heal, want none (the pushes carry it all)", n)
	}
	// One push each way between C and each of A and B.
	if n := len(a.EventsOf(enrp.EventPushed)) + len(b.EventsOf(enrp.EventPushed)) + len(cm.EventsOf(enrp.EventPushed)) - pushed; n != 4 {
		t.Errorf("%d pushes after the heal, want 4", n)
	}
	if s, _ := cm.Node.Stale(); s {
		t.Error("C still holds its view once all agree")
	}
}

// TestKilledPeerFoundDeadSooner: a registrar whose process dies closes
// its connections (the kernel does), so its peers ask after
// MaxTimeLastHeard − PresenceInterval from then, not from when they last
// heard it, and find it dead MaxTimeNoResponse later; a peer whose
// connection drops but that is heard again within that time is not.
func TestKilledPeerFoundDeadSooner(t *testing.T) {
	c, a, b, cm := cluster3(t, 72, 10)
	c.Redial = 100 * time.Millisecond
	c.RunFor(2 * interval)
	// A blip: C's connections drop and come back at the next dial.
	c.Net.Partition([]uint32{idC}, []uint32{idA, idB})
	c.RunFor(50 * time.Millisecond)
	c.Net.Heal()
	c.RunFor(lastHeard)
	for _, m := range []*enrptest.Member{a, b} {
		if evs := m.EventsOf(enrp.EventPeerDead); len(evs) > 0 {
			t.Fatalf("%08x found a peer dead after a blip: %v", m.ID, evs)
		}
	}
	stopped := c.Elapsed()
	a.Stop()
	dead := func() bool {
		return len(b.EventsOf(enrp.EventPeerDead)) > 0 && len(cm.EventsOf(enrp.EventPeerDead)) > 0
	}
	if !c.RunUntil(dead, lastHeard+noResponse+2*interval) {
		t.Fatal("A not found dead")
	}
	took := c.Elapsed() - stopped
	want := lastHeard - interval + noResponse
	t.Logf("A found dead %v after it stopped (want %v; from its last PRESENCE it would be up to %v)", took, want, lastHeard+noResponse+interval)
	if took > want+10*time.Millisecond {
		t.Errorf("A found dead %v after it stopped, want at most %v", took, want)
	}
}

// TestUpdateAfterPushToDeadPeer: A is stopped for 10 s (B and C find it
// dead), 150 ms from B each way. When it runs again B dials it and
// pushes its own elements in the connection's first message, but counts
// A alive only once A's first word arrives, a round trip later. A
// change of B's own element in between (held long here: A's words to B
// are dropped) must reach A too, not wait for an audit (the lab, after SIGCONT: a registration's first "up" missed at
// the resumed registrar for 1.6 s, until its audit pulled the table).
func TestUpdateAfterPushToDeadPeer(t *testing.T) {
	const oneWay = 150 * time.Millisecond
	c, a, b, _ := cluster3(t, 73, 10)
	c.Redial = 100 * time.Millisecond
	register(t, c, b, 0, 3)
	c.RunFor(2 * interval)
	requireSettled(t, c, interval)
	c.Net.LinkDelay[[2]uint32{idA, idB}] = oneWay
	c.Net.LinkDelay[[2]uint32{idB, idA}] = oneWay
	stop := 10 * time.Second
	resume := c.Clock.Now().Add(stop)
	a.Pause(stop)
	c.Net.Partition([]uint32{idA}, []uint32{idB, idC})
	c.RunFor(resume.Sub(c.Clock.Now()) + time.Millisecond)
	if !slices.ContainsFunc(b.EventsOf(enrp.EventPeerDead), func(ev enrp.Event) bool { return ev.Peer == idA }) {
		t.Fatal("B did not find A dead")
	}
	pushes := len(b.EventsOf(enrp.EventPushed))
	evs := len(b.Events)
	// A's first word to B comes late (held here): B's push to A goes
	// before it, as it does over a far link.
	c.Net.Filter = func(from, to uint32, m *wire.Message) enrptest.Verdict {
		if from == idA && to == idB {
			return enrptest.Drop
		}
		return enrptest.Deliver
	}
	c.Net.Heal()
	if !c.RunUntil(func() bool { return len(b.EventsOf(enrp.EventPushed)) > pushes }, time.Second) {
		t.Fatal("B did not push to A")
	}
	if slices.Contains(b.Node.AlivePeers(), idA) {
		t.Fatalf("B counts A alive already: the test wants the window before A's first word; B's events %v", b.Events[evs:])
	}
	e := b.Find(poolOf(1), 1001)
	if e == nil || e.Home != idB {
		t.Fatalf("B's registration 1001: %+v", e)
	}
	if err := b.Do(func(hs *handlespace.Handlespace) error {
		return hs.Update(poolOf(1), 1001, func(x *handlespace.Element) { x.Health = handlespace.HealthDown })
	}); err != nil {
		t.Fatal(err)
	}
	changed := c.Elapsed()
	resyncs := len(a.EventsOf(enrp.EventResync))
	if !c.RunUntil(func() bool {
		x := a.Find(poolOf(1), 1001)
		return x != nil && x.Health == handlespace.HealthDown
	}, 2*time.Second) {
		t.Fatal("A never had B's change")
	}
	took := c.Elapsed() - changed
	c.Net.Filter = nil
	t.Logf("A had B's change %v after it was made", took)
	if took > oneWay+50*time.Millisecond || len(a.EventsOf(enrp.EventResync)) > resyncs {
		t.Errorf("A had B's change %v after it was made (%d audits), want one one-way delay, no audit", took, len(a.EventsOf(enrp.EventResync))-resyncs)
	}
}

// TestHealPushChangedOnly: as TestHealPush, C 150 ms away cut off until
// each side finds the other dead; meanwhile A changes the health of a
// third of the zone-file elements it homes, and C, alone, changes five
// that it homes while cut off and that go back to A at the heal. A's
// push to C carries A's registrations and only the zone-file elements
// that changed at A since it lost C: in the lab a push of 200 of them
// (12-15 KB with TLS) was more than a new connection's first ten
// segments and came a round trip (300 ms) late. C's five, which A's push
// (a delta) does not carry, C puts back as A last said them before the
// cut: all agree within the next dial and one one-way delay. (Before,
// C handed them back to A, and A, keeping its stronger state, announced
// it: three one-way delays.)
func TestHealPushChangedOnly(t *testing.T) {
	c, a, b, cm, agree := farCCluster(t, 73, 20)
	settledFar := func() bool { ok, _ := agree(); return ok }
	c.RunFor(3 * interval) // the zone-file elements' states settled well before the cut
	all := []uint32{idA, idB, idC}
	// Cut as the lab's link or a SIGSTOP cuts: the connections stay up,
	// nothing crosses them, and each side finds the other dead by its
	// silence (a peer whose connections close first may have been
	// killed and restart: it gets a whole push).
	cut := true
	pushedStatics, pushedRegs := 0, 0
	c.Net.Filter = func(from, to uint32, m *wire.Message) enrptest.Verdict {
		if cut && (from == idC) != (to == idC) {
			return enrptest.Drop
		}
		if from == idA && to == idC && m.Type == wire.TypeHandleTableResp && m.Handoff != nil &&
			(m.Handoff.Kind == wire.SyncPage || m.Handoff.Kind == wire.SyncLast) {
			for _, en := range m.Entries {
				for _, pe := range en.Elements {
					if pe.X != nil && pe.X.Flags&wire.XStatic != 0 {
						pushedStatics++
					} else {
						pushedRegs++
					}
				}
			}
		}
		return enrptest.Deliver
	}
	c.RunFor(lastHeard + noResponse + interval)
	// Found dead: the drivers close the connections.
	c.Net.Partition([]uint32{idC}, []uint32{idA, idB})
	c.RunFor(interval)
	changedAtA := 0 // and homed at A once C is back (the others A hands back to C)
	a.Do(func(hs *handlespace.Handlespace) error {
		for _, e := range a.Elements() {
			if e.Static && e.Home == idA && e.ID%3 == 0 {
				hs.Update(e.Pool, e.ID, func(x *handlespace.Element) { x.Health = handlespace.HealthDown })
				if placement.Rendezvous(all, e.Pool, e.ID) == idA {
					changedAtA++
				}
			}
		}
		return nil
	})
	homedAtA := 0
	for _, e := range a.Elements() {
		if e.Static && placement.Rendezvous(all, e.Pool, e.ID) == idA {
			homedAtA++
		}
	}
	var changedAtC []uint32
	cm.Do(func(hs *handlespace.Handlespace) error {
		for _, e := range cm.Elements() {
			if e.Static && e.Home == idC && e.ID%3 != 0 && e.Health == handlespace.HealthUp &&
				placement.Rendezvous(all, e.Pool, e.ID) == idA && len(changedAtC) < 5 {
				hs.Update(e.Pool, e.ID, func(x *handlespace.Element) { x.Health = handlespace.HealthDown })
				changedAtC = append(changedAtC, e.ID)
			}
		}
		return nil
	})
	if len(changedAtC) < 5 {
		t.Fatalf("C changed %d elements, want 5", len(changedAtC))
	}
	c.RunFor(interval)
	requests := c.Net.CountByType[wire.TypeHandleTableRequest]
	cut = false
	c.Net.Heal()
	healed := c.Elapsed()
	limit := redial + oneWay + 10*time.Millisecond
	if !c.RunUntil(settledFar, 2*time.Second) {
		_, why := agree()
		t.Fatalf("not settled 2 s after the heal: %s", why)
	}
	took := c.Elapsed() - healed
	t.Logf("all agree %v after the heal (bound %v); A pushed C %d registrations and %d zone-file elements (%d changed at A)",
		took, limit, pushedRegs, pushedStatics, changedAtA)
	if took > limit {
		t.Errorf("all agree %v after the heal, want at most %v (the next dial and one one-way delay)", took, limit)
	}
	if pushedRegs != 20 {
		t.Errorf("A pushed %d registrations, want its 20", pushedRegs)
	}
	if pushedStatics != changedAtA {
		t.Errorf("A pushed %d zone-file elements, want the %d it changed while C was cut off (of %d it homes)", pushedStatics, changedAtA, homedAtA)
	}
	for _, id := range changedAtC {
		for _, m := range []*enrptest.Member{a, b, cm} {
			if e := m.Find(staticPool, id); e != nil && e.Health != handlespace.HealthUp {
				t.Errorf("%08x has element %s %v, want A's up", m.ID, handlespace.IDString(id), e.Health)
			}
		}
	}
	if n := c.Net.CountByType[wire.TypeHandleTableRequest] - requests; n != 0 {
		t.Errorf("%d table requests after the heal, want none", n)
	}
}

// TestHealPushDeltaAfterSplit: a split A,B | C,D,E as the lab cuts it
// (connections stay up, nothing crosses them; each side finds the other
// dead by its silence), E 150 ms from everyone. While apart A's side homes
// every zone-file element and measures its own RTTs of those homed at E
// in the whole cluster, E changes the health of some of its own, and C
// and E measure their own RTTs of those homed at A that they took. At the heal E's push to A is
// the delta (the elements E changed since it lost A), not all it homes
// (in the lab a push of 200 was more than a new connection's first ten
// segments and came a round trip, 300 ms, late), and A puts back what it
// had from E before the split for the others; the elements that go back
// to A come with the pushes, handed back ahead of A's first word: all
// agree within the next dial and one one-way delay of E, with no table
// pulled. (Pushing them all, or handing back once A is heard, took 0.3 s
// more.)
func TestHealPushDeltaAfterSplit(t *testing.T) {
	c, ms := cluster5(t, 74, 400)
	c.Redial = redial
	for _, id := range []uint32{idA, idB, idC, idD} {
		c.Net.LinkDelay[[2]uint32{id, idE}] = oneWay
		c.Net.LinkDelay[[2]uint32{idE, id}] = oneWay
	}
	requireSettled(t, c, 2*interval)
	c.RunFor(3 * interval) // the zone-file elements' states settled well before the cut
	side := func(id uint32) int { return map[bool]int{true: 0, false: 1}[slices.Contains(sideAB, id)] }
	cut := true
	pushed := map[uint32]int{} // zone-file elements pushed to A, by pusher
	deltas := 0
	c.Net.Filter = func(from, to uint32, m *wire.Message) enrptest.Verdict {
		if cut && side(from) != side(to) {
			return enrptest.Drop
		}
		if to == idA && m.Type == wire.TypeHandleTableResp && m.Handoff != nil &&
			(m.Handoff.Kind == wire.SyncPage || m.Handoff.Kind == wire.SyncLast) {
			if m.Handoff.Kind == wire.SyncLast && m.Handoff.Flags&wire.HandoffDelta != 0 {
				deltas++
			}
			for _, en := range m.Entries {
				for _, pe := range en.Elements {
					if pe.X != nil && pe.X.Flags&wire.XStatic != 0 {
						pushed[from]++
					}
				}
			}
		}
		return enrptest.Deliver
	}
	c.RunFor(lastHeard + noResponse + interval)
	c.Net.Partition(sideAB, sideCDE)
	c.RunFor(interval)
	// Each side measures the elements it took over: A those homed at E,
	// C those homed at A (each the home on its side); E changes a third
	// of its own.
	homeAll := func(e enrptest.Element) uint32 { return placement.Rendezvous(all5, e.Pool, e.ID) }
	measure := func(m *enrptest.Member, of uint32, f func(x *handlespace.Element)) int {
		n := 0
		m.Do(func(hs *handlespace.Handlespace) error {
			for _, e := range m.Elements() {
				if e.Static && e.Home == m.ID && homeAll(e) == of && (of != idE || e.ID%3 == 0) {
					hs.Update(e.Pool, e.ID, f)
					n++
				}
			}
			return nil
		})
		return n
	}
	tookAtA := measure(ms[idA], idE, func(x *handlespace.Element) { x.RTT = 77 * time.Millisecond })
	tookAtC := measure(ms[idC], idA, func(x *handlespace.Element) { x.RTT = 33 * time.Millisecond })
	tookAtC += measure(ms[idE], idA, func(x *handlespace.Element) { x.RTT = 55 * time.Millisecond })
	changedAtE := measure(ms[idE], idE, func(x *handlespace.Element) { x.Health = handlespace.HealthDown })
	if tookAtA == 0 || tookAtC == 0 || changedAtE == 0 {
		t.Fatalf("measured while apart: %d at A, %d at C, %d changed at E: want some of each", tookAtA, tookAtC, changedAtE)
	}
	homedAtE := 0
	for _, e := range ms[idE].Elements() {
		if e.Static && homeAll(e) == idE {
			homedAtE++
		}
	}
	c.RunFor(interval)
	requests := c.Net.CountByType[wire.TypeHandleTableRequest]
	cut = false
	c.Net.Heal()
	healed := c.Elapsed()
	limit := redial + oneWay + 10*time.Millisecond
	if !c.RunUntil(settled(c), 3*interval) {
		_, why := c.Consistent()
		_, why2 := sameElements(c)
		t.Fatalf("not settled after the heal: %s %s", why, why2)
	}
	took := c.Elapsed() - healed
	t.Logf("all agree %v after the heal (bound %v); E pushed A %d zone-file elements (%d changed at E, of %d it homes), C %d, D %d; %d delta pushes to A; A took %d of E's over, C and E %d of A's",
		took, limit, pushed[idE], changedAtE, homedAtE, pushed[idC], pushed[idD], deltas, tookAtA, tookAtC)
	if took > limit {
		t.Errorf("all agree %v after the heal, want at most %v (the next dial and E's one-way delay)", took, limit)
	}
	if pushed[idE] != changedAtE {
		t.Errorf("E pushed A %d zone-file elements, want the %d it changed while apart (of %d it homes)", pushed[idE], changedAtE, homedAtE)
	}
	if deltas != 3 {
		t.Errorf("%d of C's, D's and E's pushes to A were deltas, want 3", deltas)
	}
	if n := c.Net.CountByType[wire.TypeHandleTableRequest] - requests; n != 0 {
		t.Errorf("%d table requests after the heal, want none", n)
	}
}

// The far-C cluster of TestHealPush and TestHealPushChangedOnly: three
// synced registrars with 1 200 zone-file elements, C oneWay from A and
// B, redialling every redial, and registered elements 0..n-1 at A
// agreed everywhere. agree says whether all agree, allowing each hop's
// delay in a lease end counted on arrival.
func farCCluster(t *testing.T, seed uint64, n int) (c *enrptest.Cluster, a, b, cm *enrptest.Member, agree func() (bool, string)) {
	t.Helper()
	c, a, b, cm = cluster3(t, seed, 1200)
	c.Redial = redial
	if !c.RunUntil(func() bool { return a.Node.Synced() && b.Node.Synced() && cm.Node.Synced() }, 2*interval) {
		t.Fatal("not all synced")
	}
	for _, p := range [][2]uint32{{idA, idC}, {idC, idA}, {idB, idC}, {idC, idB}} {
		c.Net.LinkDelay[p] = oneWay
	}
	agree = func() (bool, string) {
		if ok, why := c.Consistent(); !ok {
			return false, why
		}
		return sameElementsSkew(c, 2*oneWay+leaseSkew)
	}
	register(t, c, a, 0, n)
	if !c.RunUntil(func() bool { ok, _ := agree(); return ok }, 2*interval) {
		_, why := agree()
		t.Fatalf("not settled before the partition: %s", why)
	}
	return c, a, b, cm, agree
}

// The far-C cluster's delays: C's one way to A and B, and the redial.
const (
	oneWay = 150 * time.Millisecond
	redial = 100 * time.Millisecond
)

// TestRestartNoPull: A is killed (the far C and B take its zone-file
// elements over, C measures its own RTTs of those it took) and restarts,
// syncing from B. C, which owes A a push, pushes it, with A's elements
// handed back ahead of it, in the first message of the connection: A
// waits for that push rather than pulling C's table for the difference
// of C's first PRESENCE (sent before it: C registered an element that
// B's table did not have yet), which in the namespace lab
// took a far peer's table transfer (0.8 s) with the driver holding its
// elements meanwhile: all agree a one-way delay after the restart, and
// A asks C for nothing.
func TestRestartNoPull(t *testing.T) {
	c, a, b, cm, agree := farCCluster(t, 75, 5)
	c.RunFor(3 * interval)
	store := a.Stored()
	stopAndTakeOver(t, c, a, b)
	c.RunFor(interval)
	all := []uint32{idA, idB, idC}
	took := 0
	cm.Do(func(hs *handlespace.Handlespace) error {
		for _, e := range cm.Elements() {
			if e.Static && e.Home == idC && placement.Rendezvous(all, e.Pool, e.ID) == idA {
				hs.Update(e.Pool, e.ID, func(x *handlespace.Element) { x.RTT = 66 * time.Millisecond })
				took++
			}
		}
		return nil
	})
	if took == 0 {
		t.Fatal("C took none of A's zone-file elements over")
	}
	c.RunFor(interval)
	asked := 0
	c.Net.Filter = func(from, to uint32, m *wire.Message) enrptest.Verdict {
		if from == idA && to == idC && m.Type == wire.TypeHandleTableRequest {
			asked++
		}
		return enrptest.Deliver
	}
	// A registration at C just before: on its way to B when A takes B's
	// table, so that C's first PRESENCE claims more than A believes.
	register(t, c, cm, 100, 1)
	c.RunFor(10 * time.Millisecond)
	if err := a.Start(store); err != nil {
		t.Fatal(err)
	}
	started := c.Elapsed()
	if !c.RunUntil(func() bool { ok, _ := agree(); return ok }, 2*time.Second) {
		_, why := agree()
		t.Fatalf("not settled 2 s after the restart: %s", why)
	}
	d := c.Elapsed() - started
	limit := oneWay + 50*time.Millisecond // and the near peers' few hops
	t.Logf("all agree %v after A's restart (bound %v); C took %d of A's zone-file elements over; A asked C for its table %d times",
		d, limit, took, asked)
	if d > limit {
		t.Errorf("all agree %v after A's restart, want at most %v (C's one-way delay)", d, limit)
	}
	c.RunFor(2 * interval)
	if asked > 0 {
		t.Errorf("A asked C for its table %d times, want none (C pushed it)", asked)
	}
}
