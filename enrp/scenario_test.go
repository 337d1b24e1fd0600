package enrp_test

import (
	"flag"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

var traceFlag = flag.Bool("enrp.trace", false, "log every message and event of the scenarios")

const (
	idA uint32 = 0xa
	idB uint32 = 0xb
	idC uint32 = 0xc
)

// Timing of the scenarios: the defaults (presence every 1 s ± 12.5 %,
// dead 3 s + 1 s after last heard).
const (
	interval   = time.Second
	lastHeard  = 3 * time.Second
	noResponse = time.Second
)

// reg returns a registration: element i of a pool, with a 1-hour lease.
func reg(c *enrptest.Cluster, i int) *handlespace.Element {
	a := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
	return &handlespace.Element{ID: uint32(1000 + i), Label: handlespace.LabelOf(fmt.Sprintf("pe%d", i)), Addrs: handlespace.AddrsOf(a), Port: 8080,
		Weight: uint32(i%5 + 1), Expires: handlespace.ExpiryOf(c.Clock.Now().Add(time.Hour)), Health: handlespace.HealthUp}
}

func poolOf(i int) string { return fmt.Sprintf("r%d.pool.test.", i%7) }

// register registers elements first..first+n-1 at m.
func register(t *testing.T, c *enrptest.Cluster, m *enrptest.Member, first, n int) {
	t.Helper()
	err := m.Do(func(hs *handlespace.Handlespace) error {
		for i := first; i < first+n; i++ {
			if err := hs.Do(handlespace.Op{Pool: poolOf(i), Elem: reg(c, i), Policy: "wrr"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func newCluster(t *testing.T, seed uint64) *enrptest.Cluster {
	c := enrptest.NewCluster(seed)
	c.Config = enrp.Config{PresenceInterval: interval, MaxTimeLastHeard: lastHeard, MaxTimeNoResponse: noResponse}
	if *traceFlag {
		c.Trace = func(line string) { t.Log(line) }
	}
	return c
}

func add(t *testing.T, c *enrptest.Cluster, id uint32, zones []handlespace.ZoneDef, peers ...uint32) *enrptest.Member {
	t.Helper()
	m, err := c.Add(id, zones, peers...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sameElements reports whether every running member has the same elements
// with the same contents (lease ends within leaseSkew), and if not the
// first difference.
func sameElements(c *enrptest.Cluster) (bool, string) { return sameElementsSkew(c, leaseSkew) }

// sameElementsSkew is sameElements with lease ends within skew.
func sameElementsSkew(c *enrptest.Cluster, skew time.Duration) (bool, string) {
	up := c.Up()
	ref := up[0].Elements()
	for _, m := range up[1:] {
		got := m.Elements()
		if len(got) != len(ref) {
			return false, fmt.Sprintf("%08x has %d elements, %08x %d", m.ID, len(got), up[0].ID, len(ref))
		}
		for i := range got {
			a, b := got[i], ref[i]
			if a.Pool != b.Pool || a.ID != b.ID || a.Home != b.Home || a.Health != b.Health || a.Label.String() != b.Label.String() ||
				a.Weight != b.Weight || a.Addrs.At(0) != b.Addrs.At(0) || a.Expires.Time().IsZero() != b.Expires.Time().IsZero() ||
				a.Expires.Time().Sub(b.Expires.Time()).Abs() > skew {
				return false, fmt.Sprintf("%s %s: %08x has %+v, %08x has %+v", a.Pool, handlespace.IDString(a.ID), m.ID, *a.Element, up[0].ID, *b.Element)
			}
		}
	}
	return true, ""
}

// leaseSkew is how far lease ends may differ between registrars: each
// peer counts a lease from when the update reached it.
const leaseSkew = 100 * time.Millisecond

// settled: consistent ownership and the same elements everywhere.
func settled(c *enrptest.Cluster) func() bool {
	return func() bool {
		ok, _ := c.Consistent()
		ok2, _ := sameElements(c)
		return ok && ok2
	}
}

func requireSettled(t *testing.T, c *enrptest.Cluster, within time.Duration) {
	t.Helper()
	if !c.RunUntil(settled(c), within) {
		_, why := c.Consistent()
		_, why2 := sameElements(c)
		t.Fatalf("not settled after %v: %s %s", within, why, why2)
	}
}

func homes(m *enrptest.Member) map[uint32]int {
	out := map[uint32]int{}
	for _, e := range m.Elements() {
		out[e.Home]++
	}
	return out
}

// stopAndTakeOver stops A and runs c until B sees none of A's
// registrations homed at A, within a takeover's time.
func stopAndTakeOver(t *testing.T, c *enrptest.Cluster, a, b *enrptest.Member) {
	t.Helper()
	a.Stop()
	if !c.RunUntil(func() bool { return homes(b)[idA] == 0 }, lastHeard+noResponse+time.Second) {
		t.Fatal("no takeover")
	}
}

// TestJoinAndFullSync: a registrar joins a running one that holds 300
// registrations (three table pages) and zone-file elements, gets all of
// them by handle table transfer; a third registrar, told only of the
// first, learns the second from its LIST_RESPONSE.
func TestJoinAndFullSync(t *testing.T) {
	c := newCluster(t, 1)
	zones := enrptest.Zones(t, 20)
	a := add(t, c, idA, zones)
	register(t, c, a, 0, 300)
	c.RunFor(2 * interval)
	b := add(t, c, idB, zones, idA)
	requireSettled(t, c, 2*interval)
	if n := len(b.Elements()); n != 320 {
		t.Fatalf("B has %d elements, want 320", n)
	}
	if got := c.Net.CountByType[wire.TypeHandleTableResp]; got < 3 {
		t.Errorf("%d HANDLE_TABLE_RESPONSE for 300 elements, want at least 3 pages", got)
	}
	if ev := b.EventsOf(enrp.EventSyncDone); len(ev) == 0 || ev[0].Detail != "full" || ev[0].Peer != idA || ev[0].Count < 300 {
		t.Errorf("B's sync events: %v", ev)
	}
	cm := add(t, c, idC, zones, idA)
	requireSettled(t, c, 3*interval)
	if !c.RunUntil(func() bool { return len(cm.Node.Peers()) == 2 && len(b.Node.Peers()) == 2 }, 3*interval) {
		t.Fatalf("C's peers %v, B's %v: C did not learn B from A's LIST_RESPONSE", cm.Node.Peers(), b.Node.Peers())
	}
	// Zone-file elements are split over the three; registrations stay A's.
	h := homes(cm)
	if h[idA] < 300 || h[idB] == 0 || h[idC] == 0 || h[idA]+h[idB]+h[idC] != 320 {
		t.Errorf("homes %v: want A's 300 registrations and the 20 zone-file elements split over A, B, C", h)
	}
	for _, m := range c.Up() {
		if len(m.OpErrors) > 0 {
			t.Errorf("%08x: refused operations %v", m.ID, m.OpErrors)
		}
	}
}

// cluster3 starts A, B and C with zones (n zone-file elements) and waits
// until they agree.
func cluster3(t *testing.T, seed uint64, n int) (*enrptest.Cluster, *enrptest.Member, *enrptest.Member, *enrptest.Member) {
	c := newCluster(t, seed)
	zones := enrptest.Zones(t, n)
	a := add(t, c, idA, zones)
	b := add(t, c, idB, zones, idA)
	cm := add(t, c, idC, zones, idA, idB)
	requireSettled(t, c, 3*interval)
	return c, a, b, cm
}

// TestUpdatePropagation: a registration, a health change and a
// deregistration at one registrar reach the others by HANDLE_UPDATE
// alone, within the network's delay.
func TestUpdatePropagation(t *testing.T) {
	c, a, b, cm := cluster3(t, 2, 10)
	tables := c.Net.CountByType[wire.TypeHandleTableRequest]
	updates := c.Net.CountByType[wire.TypeHandleUpdate]
	register(t, c, b, 0, 5)
	c.RunFor(5 * time.Millisecond)
	for _, m := range []*enrptest.Member{a, cm} {
		for i := 0; i < 5; i++ {
			e := m.Find(poolOf(i), uint32(1000+i))
			if e == nil || e.Home != idB || e.Weight != uint32(i%5+1) {
				t.Fatalf("%08x: element %d = %+v after 5 ms, want B's registration", m.ID, i, e)
			}
		}
	}
	if got := c.Net.CountByType[wire.TypeHandleUpdate] - updates; got != 10 {
		t.Errorf("%d HANDLE_UPDATE for 5 registrations to 2 peers, want 10", got)
	}
	if err := b.Do(func(hs *handlespace.Handlespace) error {
		return hs.Update(poolOf(3), 1003, func(x *handlespace.Element) { x.Health = handlespace.HealthDown })
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Do(func(hs *handlespace.Handlespace) error { return hs.Do(handlespace.Op{Pool: poolOf(4), ID: 1004}) }); err != nil {
		t.Fatal(err)
	}
	c.RunFor(5 * time.Millisecond)
	for _, m := range []*enrptest.Member{a, cm} {
		if e := m.Find(poolOf(3), 1003); e == nil || e.Health != handlespace.HealthDown {
			t.Errorf("%08x: element 3 = %+v, want down", m.ID, e)
		}
		if e := m.Find(poolOf(4), 1004); e != nil {
			t.Errorf("%08x: deregistered element 4 still there", m.ID)
		}
	}
	// A deregistration at a registrar that is not the home.
	if err := cm.Do(func(hs *handlespace.Handlespace) error { return hs.Do(handlespace.Op{Pool: poolOf(2), ID: 1002}) }); err != nil {
		t.Fatal(err)
	}
	c.RunFor(5 * time.Millisecond)
	for _, m := range []*enrptest.Member{a, b, cm} {
		if e := m.Find(poolOf(2), 1002); e != nil {
			t.Errorf("%08x: element 2, deregistered at C, still there", m.ID)
		}
	}
	requireSettled(t, c, 2*interval)
	if e := b.Find(poolOf(2), 1002); e != nil {
		t.Error("element 2 came back")
	}
	if got := c.Net.CountByType[wire.TypeHandleTableRequest]; got != tables {
		t.Errorf("%d handle table requests after the sync, want none: updates should do", got-tables)
	}
}

// TestChecksumRepair: a lost HANDLE_UPDATE (an add, a health change, a
// delete) is found by the next PRESENCE's checksum or digest and repaired
// by a transfer of the owner's elements, within two presence intervals.
func TestChecksumRepair(t *testing.T) {
	c, a, b, cm := cluster3(t, 3, 10)
	register(t, c, a, 0, 3)
	requireSettled(t, c, interval)

	lose := func(action wire.UpdateAction) {
		lost := false
		c.Net.Filter = func(from, to uint32, m *wire.Message) enrptest.Verdict {
			if !lost && from == idA && to == idC && m.Type == wire.TypeHandleUpdate && m.Action == action {
				lost = true
				return enrptest.Drop
			}
			return enrptest.Deliver
		}
	}
	check := func(what string, ok func() bool) {
		t.Helper()
		c.RunFor(10 * time.Millisecond)
		if ok() {
			t.Fatalf("%s: C has it right at once; the update was not lost", what)
		}
		resyncs := len(cm.EventsOf(enrp.EventResync))
		if !c.RunUntil(func() bool { return ok() && settled(c)() }, 2*interval+interval/4) {
			t.Fatalf("%s: not repaired within 2 presence intervals", what)
		}
		if len(cm.EventsOf(enrp.EventResync)) == resyncs {
			t.Errorf("%s: repaired without a resync", what)
		}
		c.Net.Filter = nil
	}

	lose(wire.AddPE)
	register(t, c, a, 3, 1)
	check("lost add", func() bool { return cm.Find(poolOf(3), 1003) != nil })

	lose(wire.AddPE)
	if err := a.Do(func(hs *handlespace.Handlespace) error {
		return hs.Update(poolOf(1), 1001, func(x *handlespace.Element) { x.Health = handlespace.HealthDown })
	}); err != nil {
		t.Fatal(err)
	}
	check("lost health change", func() bool {
		e := cm.Find(poolOf(1), 1001)
		return e != nil && e.Health == handlespace.HealthDown
	})

	lose(wire.DelPE)
	if err := a.Do(func(hs *handlespace.Handlespace) error { return hs.Do(handlespace.Op{Pool: poolOf(2), ID: 1002}) }); err != nil {
		t.Fatal(err)
	}
	check("lost delete", func() bool { return cm.Find(poolOf(2), 1002) == nil })
	if len(cm.EventsOf(enrp.EventSwept)) == 0 {
		t.Error("the lost delete was not swept")
	}
	if e := b.Find(poolOf(2), 1002); e != nil {
		t.Error("B, which got the delete, still has the element")
	}
}

// allPresent reports whether each running member has every element of
// want (pool/ID keys).
func allPresent(c *enrptest.Cluster, want []enrptest.Element) bool {
	for _, m := range c.Up() {
		for _, e := range want {
			if m.Find(e.Pool, e.ID) == nil {
				return false
			}
		}
	}
	return true
}

// TestTakeoverOfDeadRegistrar: A dies; its registrations never leave B's
// and C's handlespaces, one of them takes them over within
// max_time_last_heard + max_time_no_response + 1 s, and afterwards every
// element has one home that both agree on (A's zone-file elements move by
// rendezvous).
func TestTakeoverOfDeadRegistrar(t *testing.T) {
	c, a, b, cm := cluster3(t, 4, 30)
	register(t, c, a, 0, 50)
	register(t, c, b, 50, 5)
	requireSettled(t, c, interval)
	all := b.Elements()
	if h := homes(b); h[idA] < 50 || h[idB] < 5 {
		t.Fatalf("homes before %v", h)
	}
	a.Stop()
	killed := c.Elapsed()
	gap := false
	rehomed := func() bool {
		if !allPresent(c, all) {
			gap = true
		}
		for _, m := range c.Up() {
			if homes(m)[idA] != 0 {
				return false
			}
		}
		return true
	}
	if !c.RunUntil(rehomed, lastHeard+noResponse+time.Second) {
		t.Fatalf("A's elements not re-homed within %v: B %v, C %v", lastHeard+noResponse+time.Second, homes(b), homes(cm))
	}
	took := c.Elapsed() - killed
	if gap {
		t.Error("some element was missing from B's or C's handlespace during the takeover")
	}
	requireSettled(t, c, 2*interval)
	if len(b.Elements()) != len(all) {
		t.Errorf("B has %d elements, had %d", len(b.Elements()), len(all))
	}
	done := append(b.EventsOf(enrp.EventTakeoverDone), cm.EventsOf(enrp.EventTakeoverDone)...)
	if len(done) != 1 || done[0].Target != idA || done[0].Count != 50 {
		t.Fatalf("takeovers done: %v, want one of A's 50 registrations", done)
	}
	winner := idB
	if len(cm.EventsOf(enrp.EventTakeoverDone)) == 1 {
		winner = idC
	}
	for _, e := range b.Elements() {
		if e.Static {
			continue
		}
		if want := map[bool]uint32{true: winner, false: idB}[e.ID < 1050]; e.Home != want {
			t.Errorf("%s %d: home %08x, want %08x", e.Pool, e.ID, e.Home, want)
		}
	}
	t.Logf("re-homed %v after the kill (last heard + no response = %v); winner %08x", took, lastHeard+noResponse, winner)
}

// TestTwoInitiators: B and C find A dead at the same moment (no jitter,
// equal delays) and both start a takeover; the lower ID wins and the other
// gives up.
func TestTwoInitiators(t *testing.T) {
	c := newCluster(t, 5)
	c.Config.Jitter = -1
	zones := enrptest.Zones(t, 0)
	a := add(t, c, idA, zones)
	b := add(t, c, idB, zones, idA)
	cm := add(t, c, idC, zones, idA, idB)
	requireSettled(t, c, 3*interval)
	register(t, c, a, 0, 10)
	requireSettled(t, c, interval)
	a.Stop()
	if !c.RunUntil(func() bool { return homes(b)[idA] == 0 && homes(cm)[idA] == 0 }, lastHeard+noResponse+time.Second) {
		t.Fatal("no takeover")
	}
	if len(b.EventsOf(enrp.EventTakeoverStart)) != 1 || len(cm.EventsOf(enrp.EventTakeoverStart)) != 1 {
		t.Fatalf("takeover starts B %v, C %v: want both to initiate", b.EventsOf(enrp.EventTakeoverStart), cm.EventsOf(enrp.EventTakeoverStart))
	}
	if len(b.EventsOf(enrp.EventTakeoverDone)) != 1 || len(cm.EventsOf(enrp.EventTakeoverDone)) != 0 {
		t.Errorf("done B %v, C %v: want B (lower ID) only", b.EventsOf(enrp.EventTakeoverDone), cm.EventsOf(enrp.EventTakeoverDone))
	}
	if ab := cm.EventsOf(enrp.EventTakeoverAbort); len(ab) != 1 || ab[0].Detail != "lower ID initiator" {
		t.Errorf("C's aborts %v", ab)
	}
	requireSettled(t, c, 2*interval)
	if h := homes(cm); h[idB] != 10 {
		t.Errorf("homes at C %v, want B home of all 10", h)
	}
}

// TestSlowTarget: A stalls for longer than max_time_last_heard but answers
// the reply-required PRESENCE within max_time_no_response: no takeover.
func TestSlowTarget(t *testing.T) {
	c, a, b, cm := cluster3(t, 6, 10)
	register(t, c, a, 0, 10)
	requireSettled(t, c, interval)
	a.Pause(lastHeard + noResponse/2)
	c.RunFor(3 * lastHeard)
	for _, m := range []*enrptest.Member{b, cm} {
		if len(m.EventsOf(enrp.EventPeerSuspect)) == 0 {
			t.Errorf("%08x never suspected A: the stall was too short to test anything", m.ID)
		}
		if ev := append(m.EventsOf(enrp.EventPeerDead), m.EventsOf(enrp.EventTakeoverStart)...); len(ev) > 0 {
			t.Errorf("%08x: %v for a registrar that was only slow", m.ID, ev)
		}
		if h := homes(m); h[idA] < 10 {
			t.Errorf("%08x: homes %v, want A's elements still A's", m.ID, h)
		}
	}
	requireSettled(t, c, 2*interval)
}

// TestPartitionAndHeal: {A} and {B, C} lose each other for 10 s; each side
// takes over the other's registrations; after the heal every checksum
// agrees within 2 presence intervals and no element is lost or doubled.
//
// A alone is in a minority: it takes nothing over (B and C, alive on
// their side, keep their registrations), and B and C, the majority, take
// A's.
func TestPartitionAndHeal(t *testing.T) {
	c, a, b, cm := cluster3(t, 7, 30)
	register(t, c, a, 0, 20)
	register(t, c, b, 20, 20)
	register(t, c, cm, 40, 20)
	requireSettled(t, c, interval)
	before := b.Elements()
	c.Net.Partition([]uint32{idA}, []uint32{idB, idC})
	c.RunFor(10 * time.Second)
	if h := homes(a); h[idB] != 20 || h[idC] != 20 {
		// In a minority, A takes nothing over: B and C are alive on
		// their side, probing their elements.
		t.Errorf("A alone, in a minority, took over: %v", h)
	}
	if h := homes(b); h[idA] != 0 {
		t.Errorf("B and C did not take over A: %v", h)
	}
	c.Net.Heal()
	healed := c.Elapsed()
	requireSettled(t, c, 2*interval)
	t.Logf("settled %v after the heal", c.Elapsed()-healed)
	for _, m := range c.Up() {
		got := m.Elements()
		if len(got) != len(before) {
			t.Fatalf("%08x has %d elements, had %d", m.ID, len(got), len(before))
		}
		for i := range got {
			if got[i].Pool != before[i].Pool || got[i].ID != before[i].ID {
				t.Fatalf("%08x: element %d is %s %d, was %s %d", m.ID, i, got[i].Pool, got[i].ID, before[i].Pool, before[i].ID)
			}
		}
	}
	// Stays settled.
	c.RunFor(5 * interval)
	if ok, why := c.Consistent(); !ok {
		t.Errorf("not consistent 5 intervals later: %s", why)
	}
}

// TestRestart: A dies, B or C takes over; A restarts with the
// registrations of its store, re-syncs and gives them up to the
// taker-over (a newer ownership generation), and all answer the same.
func TestRestart(t *testing.T) {
	c, a, b, cm := cluster3(t, 8, 10)
	register(t, c, a, 0, 10)
	requireSettled(t, c, interval)
	store := a.Stored()
	stopAndTakeOver(t, c, a, b)
	winner := homes(b)
	c.RunFor(interval)
	if err := a.Start(store); err != nil {
		t.Fatal(err)
	}
	requireSettled(t, c, 3*interval)
	if h := homes(a); h[idA] > 10 || h[idB]+h[idC] < 10 {
		t.Errorf("after the restart A's homes %v; the taker-over's were %v", h, winner)
	}
	for _, e := range a.Elements() {
		if !e.Static && e.Home == idA {
			t.Errorf("restarted A still owns %s %d", e.Pool, e.ID)
		}
	}
	if len(cm.Elements()) != len(a.Elements()) {
		t.Errorf("C %d elements, A %d", len(cm.Elements()), len(a.Elements()))
	}
}

// TestRefreshAnywhere: after a takeover, an element refreshing its lease
// at a registrar other than its new home is accepted there, and that
// registrar becomes its home everywhere.
func TestRefreshAnywhere(t *testing.T) {
	c, a, b, cm := cluster3(t, 9, 0)
	register(t, c, a, 0, 3)
	requireSettled(t, c, interval)
	stopAndTakeOver(t, c, a, b)
	requireSettled(t, c, interval)
	other := cm
	if len(cm.EventsOf(enrp.EventTakeoverDone)) == 1 {
		other = b
	}
	register(t, c, other, 1, 1) // element 1 refreshes at the registrar that did not take it
	requireSettled(t, c, interval)
	for _, m := range c.Up() {
		if e := m.Find(poolOf(1), 1001); e == nil || e.Home != other.ID {
			t.Errorf("%08x: refreshed element %+v, want home %08x", m.ID, e, other.ID)
		}
	}
}

// TestLossyNetwork: 5 % of messages lost, delays reordering them: the
// registrars still converge, and stay converged, with no false deaths.
func TestLossyNetwork(t *testing.T) {
	c, a, b, cm := cluster3(t, 10, 20)
	c.Net.Loss = 0.05
	c.Net.Jitter = 20 * time.Millisecond
	register(t, c, a, 0, 30)
	register(t, c, b, 30, 30)
	register(t, c, cm, 60, 30)
	c.RunFor(5 * time.Second)
	c.Net.Loss = 0
	requireSettled(t, c, 3*interval)
	for _, m := range c.Up() {
		if ev := m.EventsOf(enrp.EventPeerDead); len(ev) > 0 {
			t.Errorf("%08x: %v with 5 %% loss", m.ID, ev)
		}
	}
	if n := len(b.Elements()); n != 110 {
		t.Errorf("%d elements, want 110", n)
	}
}

func TestEventStrings(t *testing.T) {
	ev := enrp.Event{Kind: enrp.EventTakeoverDone, Target: idA, Count: 3}
	if s := ev.String(); !strings.Contains(s, "takeover-done") || !strings.Contains(s, "target=0000000a") {
		t.Errorf("%q", s)
	}
}

// TestDeregisteredStaysDeleted: A dies and B takes over; B deregisters one
// of A's elements; A restarts with a store that still holds it: it does
// not come back.
func TestDeregisteredStaysDeleted(t *testing.T) {
	c, a, b, cm := cluster3(t, 11, 0)
	register(t, c, a, 0, 4)
	requireSettled(t, c, interval)
	store := a.Stored()
	stopAndTakeOver(t, c, a, b)
	requireSettled(t, c, interval)
	if err := b.Do(func(hs *handlespace.Handlespace) error { return hs.Do(handlespace.Op{Pool: poolOf(2), ID: 1002}) }); err != nil {
		t.Fatal(err)
	}
	c.RunFor(interval)
	if err := a.Start(store); err != nil {
		t.Fatal(err)
	}
	requireSettled(t, c, 3*interval)
	for _, m := range []*enrptest.Member{a, b, cm} {
		if e := m.Find(poolOf(2), 1002); e != nil {
			t.Errorf("%08x: the deregistered element came back with A's old store: %+v", m.ID, e)
		}
		if n := len(m.Elements()); n != 3 {
			t.Errorf("%08x: %d elements, want 3", m.ID, n)
		}
	}
}

// TestJoinTakesMentorsState: a joining registrar takes the state of
// zone-file elements (here: all down) from its mentor's table at once,
// without waiting for each element's home to speak.
func TestJoinTakesMentorsState(t *testing.T) {
	c := newCluster(t, 12)
	zones := enrptest.Zones(t, 12)
	a := add(t, c, idA, zones)
	b := add(t, c, idB, zones, idA)
	requireSettled(t, c, 3*interval)
	for _, m := range []*enrptest.Member{a, b} {
		err := m.Do(func(hs *handlespace.Handlespace) error {
			for _, e := range m.Elements() {
				if e.Static && e.Home == m.ID {
					if err := hs.Update(e.Pool, e.ID, func(x *handlespace.Element) { x.Health = handlespace.HealthDown }); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	requireSettled(t, c, interval)
	cm := add(t, c, idC, zones, idA)
	if !c.RunUntil(func() bool { return len(cm.EventsOf(enrp.EventSyncDone)) > 0 }, interval) {
		t.Fatal("C did not sync")
	}
	for _, e := range cm.Elements() {
		if e.Static && e.Health != handlespace.HealthDown && e.Home != idC {
			t.Errorf("after its first sync C has %s %d %v, want down (from A's table)", e.Pool, e.ID, e.Health)
		}
	}
	requireSettled(t, c, 3*interval)
}
