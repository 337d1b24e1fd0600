package enrp_test

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// Scenarios of health confirmation, planned hand-off and hand-back, on the
// fake clock and network (the default timing of the other scenarios:
// presence every second, a peer dead 4 s after it was last heard).

const (
	staticPool = "static.pool.test."
	probeWait  = 50 * time.Millisecond // the probe timeout the home waits
	// roundWait is how long the home waits with its vantage points'
	// round trips unknown (placement.Budgets): a quarter more.
	roundWait = probeWait * 5 / 4
)

// confirmCluster is cluster3 with confirmation by 2 vantage points.
func confirmCluster(t *testing.T, seed uint64, n int) (*enrptest.Cluster, *enrptest.Member, *enrptest.Member, *enrptest.Member) {
	c := newCluster(t, seed)
	c.Config.Confirm = 2
	c.Net.Delay = time.Millisecond
	zones := enrptest.Zones(t, n)
	a := add(t, c, idA, zones)
	b := add(t, c, idB, zones, idA)
	cm := add(t, c, idC, zones, idA, idB)
	if !c.RunUntil(func() bool { return a.Node.Synced() && b.Node.Synced() && cm.Node.Synced() && settled(c)() }, 3*interval) {
		t.Fatal("the cluster did not sync")
	}
	return c, a, b, cm
}

// staticOf returns a zone-file element homed at m.
func staticOf(t *testing.T, m *enrptest.Member) *handlespace.Element {
	t.Helper()
	for _, e := range m.Elements() {
		if e.Static && e.Home == m.ID {
			return e.Element
		}
	}
	t.Fatalf("%08x is home of no zone-file element", m.ID)
	return nil
}

func sees(h handlespace.Health) func(string, uint32) handlespace.Health {
	return func(string, uint32) handlespace.Health { return h }
}

// confirmed runs c until m has n verdicts, within limit, and returns the
// last and when it came.
func confirmed(t *testing.T, c *enrptest.Cluster, m *enrptest.Member, n int, limit time.Duration) (enrp.Verdict, time.Duration) {
	t.Helper()
	start := c.Elapsed()
	if !c.RunUntil(func() bool { return len(m.Verdicts) >= n }, limit) {
		t.Fatalf("%08x: no verdict within %v", m.ID, limit)
	}
	return m.Verdicts[n-1], c.Elapsed() - start
}

// TestConfirmHomeCutOff: the home's probes see its element down, its two
// vantage points see it up: the quorum keeps it up, and it is disputed.
// Every registrar keeps it in its answers; the home, which cannot reach
// it, puts it last; the API's view (Vantage) says who saw what.
func TestConfirmHomeCutOff(t *testing.T) {
	c, a, b, cm := confirmCluster(t, 21, 12)
	e := staticOf(t, a)
	b.Sees, cm.Sees = sees(handlespace.HealthUp), sees(handlespace.HealthUp)
	if !a.Confirm(staticPool, e.ID, handlespace.HealthDown, probeWait) {
		t.Fatal("A found nobody to ask")
	}
	v, took := confirmed(t, c, a, 1, time.Second)
	want := []handlespace.Vantage{{Registrar: idA, Health: handlespace.HealthDown}, {Registrar: idB, Health: handlespace.HealthUp}, {Registrar: idC, Health: handlespace.HealthUp}}
	if v.Health != handlespace.HealthUp || !slices.Equal(v.Vantage, want) || v.Asked != 2 || len(v.Votes) != 3 {
		t.Fatalf("verdict %+v, want up, disputed %v, 2 asked, 3 votes", v, want)
	}
	if took > 10*time.Millisecond {
		t.Errorf("the verdict took %v with both vantage points answering at once", took)
	}
	if len(b.Probed) != 1 || len(cm.Probed) != 1 || b.Probed[0].Proposed != handlespace.HealthDown || b.Probed[0].Budget != roundWait.Truncate(time.Millisecond) {
		t.Errorf("B probed %+v, C %+v: want one request each, proposing down with the home's wait (%v)", b.Probed, cm.Probed, roundWait)
	}
	requireSettled(t, c, interval)
	for _, m := range []*enrptest.Member{a, b, cm} {
		got := m.Find(staticPool, e.ID)
		if !got.Served() || !got.Disputed() || !slices.Equal(got.Vantage.All(), want) || got.Last != (m == a) {
			t.Errorf("%08x: %v served %v disputed %v vantage %v last %v; want served and disputed, last at A only",
				m.ID, got.Health, got.Served(), got.Disputed(), got.Vantage.All(), got.Last)
		}
		// In the answers: at A after the others, elsewhere anywhere.
		picks := m.HS.View().Pool(staticPool).V4.Select(nil, 0, nil)
		if len(picks) != 12 {
			t.Errorf("%08x answers %d of 12 elements", m.ID, len(picks))
		}
		if m == a && picks[11].Elem().ID != e.ID {
			t.Errorf("A answers the element it cannot reach at %d of 12, want last", slices.IndexFunc(picks, func(p handlespace.Pick) bool { return p.Elem().ID == e.ID }))
		}
	}
	// The home's next confirmation finds it down everywhere: no longer
	// disputed, out of the answers.
	b.Sees, cm.Sees = sees(handlespace.HealthDown), sees(handlespace.HealthDown)
	a.Confirm(staticPool, e.ID, handlespace.HealthDown, probeWait)
	if v, _ := confirmed(t, c, a, 2, time.Second); v.Health != handlespace.HealthDown || v.Vantage != nil {
		t.Fatalf("second verdict %+v, want down, agreed", v)
	}
	requireSettled(t, c, interval)
	for _, m := range []*enrptest.Member{a, b, cm} {
		if got := m.Find(staticPool, e.ID); got.Served() || got.Disputed() || got.Last {
			t.Errorf("%08x: %v served %v disputed %v last %v, want down and out", m.ID, got.Health, got.Served(), got.Disputed(), got.Last)
		}
	}
}

// TestConfirmAgreed: everyone sees the element down: down, not disputed,
// out of every registrar's answers; and back up the same way.
func TestConfirmAgreed(t *testing.T) {
	c, a, b, cm := confirmCluster(t, 22, 6)
	e := staticOf(t, a)
	for _, h := range []handlespace.Health{handlespace.HealthDown, handlespace.HealthUp} {
		b.Sees, cm.Sees = sees(h), sees(h)
		a.Confirm(staticPool, e.ID, h, probeWait)
		v, _ := confirmed(t, c, a, len(a.Verdicts)+1, time.Second)
		if v.Health != h || v.Vantage != nil {
			t.Fatalf("verdict %+v, want %v agreed", v, h)
		}
		requireSettled(t, c, interval)
		for _, m := range []*enrptest.Member{a, b, cm} {
			if got := m.Find(staticPool, e.ID); got.Health != h || got.Disputed() || got.Served() != (h == handlespace.HealthUp) {
				t.Errorf("%08x: %v disputed %v served %v, want %v", m.ID, got.Health, got.Disputed(), got.Served(), h)
			}
		}
	}
}

// TestConfirmWait: a vantage point whose probe takes longer than the home
// waits does not count: the verdict comes at the wait with the others'
// votes; with every vantage point slow, the home decides alone. The
// confirmation adds at most its wait (a quarter more than the probe
// timeout, the round trips unknown) to the detection.
func TestConfirmWait(t *testing.T) {
	c, a, b, cm := confirmCluster(t, 23, 6)
	e := staticOf(t, a)
	b.Sees, cm.Sees = sees(handlespace.HealthUp), sees(handlespace.HealthDown)
	b.ProbeDelay = 2 * probeWait
	a.Confirm(staticPool, e.ID, handlespace.HealthDown, probeWait)
	v, took := confirmed(t, c, a, 1, time.Second)
	if v.Health != handlespace.HealthDown || len(v.Votes) != 2 || v.Vantage != nil || took > roundWait {
		t.Fatalf("verdict %+v after %v: want down from A and C alone, agreed, within %v", v, took, roundWait)
	}
	// B's answer comes later and changes nothing.
	c.RunFor(3 * probeWait)
	if len(a.Verdicts) != 1 || a.Find(staticPool, e.ID).Health != handlespace.HealthDown {
		t.Fatalf("B's late answer changed the verdict: %+v", a.Verdicts)
	}
	cm.ProbeDelay = 2 * probeWait
	a.Confirm(staticPool, e.ID, handlespace.HealthUp, probeWait)
	v, took = confirmed(t, c, a, 2, time.Second)
	if v.Health != handlespace.HealthUp || len(v.Votes) != 1 || took != roundWait {
		t.Fatalf("verdict %+v after %v: want up from A alone at the wait", v, took)
	}
}

// TestConfirmTwoAndOne: with two registrars a disagreement is a tie, which
// keeps the current health (disputed); a registrar alone asks nobody.
func TestConfirmTwoAndOne(t *testing.T) {
	c := newCluster(t, 24)
	c.Config.Confirm = 2
	zones := enrptest.Zones(t, 6)
	a := add(t, c, idA, zones)
	e := staticOf(t, a)
	if a.Confirm(staticPool, e.ID, handlespace.HealthDown, probeWait) || len(a.Verdicts) != 0 {
		t.Fatal("a registrar alone asked for a confirmation")
	}
	if got := a.Find(staticPool, e.ID); got.Health != handlespace.HealthDown || got.Disputed() {
		t.Fatalf("alone: %v, disputed %v; want its own verdict, down", got.Health, got.Disputed())
	}
	a.Confirm(staticPool, e.ID, handlespace.HealthUp, probeWait) // alone again: up
	b := add(t, c, idB, zones, idA)
	requireSettled(t, c, 3*interval)
	e = staticOf(t, a)
	b.Sees = sees(handlespace.HealthUp)
	if !a.Confirm(staticPool, e.ID, handlespace.HealthDown, probeWait) {
		t.Fatal("A did not ask B")
	}
	v, _ := confirmed(t, c, a, 1, time.Second)
	if v.Health != handlespace.HealthUp || v.Vantage == nil {
		t.Fatalf("verdict %+v, want up (the tie keeps it) and disputed", v)
	}
}

// TestConfirmMoved: a verdict that comes after its element moved to
// another home (here: handed off as its home leaves) is marked Moved and
// is not published by the old home; a change of a peer's element made
// here anyway (a probe result published as the element moved) is undone
// from the table, so that no registrar keeps a health its element's home
// does not say.
func TestConfirmMoved(t *testing.T) {
	c, a, b, cm := confirmCluster(t, 25, 12)
	e := staticOf(t, a)
	b.Sees, cm.Sees = sees(handlespace.HealthDown), sees(handlespace.HealthDown)
	b.ProbeDelay, cm.ProbeDelay = 2*probeWait, 2*probeWait
	if !a.Confirm(staticPool, e.ID, handlespace.HealthDown, probeWait) {
		t.Fatal("A found nobody to ask")
	}
	a.Leave(nil)
	v, _ := confirmed(t, c, a, 1, time.Second)
	if !v.Moved {
		t.Fatalf("verdict %+v after A handed the element off, want Moved", v)
	}
	if got := a.Find(staticPool, e.ID); got.Health != handlespace.HealthUp {
		t.Errorf("A published a verdict for an element no longer homed there: %v", got.Health)
	}
	a.Stop()
	requireSettled(t, c, interval)
	// B publishes down for an element homed at C: the table's up stands.
	var other *handlespace.Element
	for _, el := range b.Elements() {
		if el.Static && el.Home == idC {
			other = el.Element
			break
		}
	}
	if other == nil {
		t.Fatal("C is home of no zone-file element")
	}
	b.Do(func(hs *handlespace.Handlespace) error {
		return hs.Update(staticPool, other.ID, func(e *handlespace.Element) { e.Health = handlespace.HealthDown })
	})
	if got := b.Find(staticPool, other.ID); got.Health != handlespace.HealthUp {
		t.Errorf("B keeps %v for an element its home C says is up", got.Health)
	}
	// The same for a registration homed at C.
	register(t, c, cm, 500, 1)
	requireSettled(t, c, interval)
	reg := registered(b, idC)
	if len(reg) == 0 {
		t.Fatal("B sees no registration homed at C")
	}
	b.Do(func(hs *handlespace.Handlespace) error {
		return hs.Update(reg[0].Pool, reg[0].ID, func(e *handlespace.Element) { e.Health = handlespace.HealthDown })
	})
	if got := b.Find(reg[0].Pool, reg[0].ID); got.Health != reg[0].Health {
		t.Errorf("B keeps %v for a registration its home C says is %v", got.Health, reg[0].Health)
	}
	// C's registration deregistered at B, then put back into B's
	// handlespace by an operation B's driver held until after the
	// deregistration: it goes again, and stays gone everywhere.
	if err := b.Do(func(hs *handlespace.Handlespace) error {
		return hs.Do(handlespace.Op{Pool: reg[0].Pool, ID: reg[0].ID})
	}); err != nil {
		t.Fatal(err)
	}
	late := reg[0].Element.Clone()
	b.Do(func(hs *handlespace.Handlespace) error {
		return hs.ApplyEdits([]handlespace.Edit{{Pool: reg[0].Pool, ID: reg[0].ID, Put: late, Policy: "wrr"}})[0]
	})
	if got := b.Find(reg[0].Pool, reg[0].ID); got != nil {
		t.Errorf("B keeps a registration deregistered there and put back by a late operation: %+v", *got)
	}
	requireSettled(t, c, interval)
	for _, m := range []*enrptest.Member{b, cm} {
		if got := m.Find(reg[0].Pool, reg[0].ID); got != nil {
			t.Errorf("%08x still has the registration deregistered at B", m.ID)
		}
	}
}

// TestConfirmRefused: a confirmation request for an element B does not
// know, or from a registrar that is not the element's home, is refused
// with an ERROR that names it; a flood is refused beyond the asker's
// rate and the probes in flight, its ERRORs themselves rate-limited; none
// of it changes B's handlespace (its answers).
func TestConfirmRefused(t *testing.T) {
	c, a, b, cm := confirmCluster(t, 25, 12)
	before := b.Elements()
	e := staticOf(t, a)
	refusal := func(r enrp.Ready) *wire.Refused {
		t.Helper()
		if len(r.Probes) != 0 || len(r.Ops) != 0 || len(r.Msgs) != 1 || r.Msgs[0].Msg.Type != wire.TypeError || r.Msgs[0].Msg.Refused == nil {
			t.Fatalf("want one refusal and nothing else: %+v", r)
		}
		return r.Msgs[0].Msg.Refused
	}
	unknown := &handlespace.Element{ID: 0xdead, Label: handlespace.LabelOf("x"), Addrs: handlespace.AddrsOf(netip.MustParseAddr("10.9.9.9")), Port: 80, Home: idA, Static: true}
	if f := refusal(b.Node.Step(enrptest.ConfirmRequest(idA, idB, staticPool, unknown, 1))); f.Reason != wire.RefusedNoElement || f.Request != wire.ParamXConfirmReq || f.ID != 0xdead {
		t.Errorf("unknown element: %+v", f)
	}
	if f := refusal(b.Node.Step(enrptest.ConfirmRequest(idC, idB, staticPool, e, 2))); f.Reason != wire.RefusedNotHome {
		t.Errorf("from C, not the home: %+v", f)
	}
	// The asker takes the refusal as the vantage point's end.
	a.Confirm(staticPool, e.ID, handlespace.HealthDown, time.Second)
	r := a.Node.Step(&wire.Message{Type: wire.TypeError, Sender: idB, Receiver: idA,
		Causes:  []wire.Cause{{Code: wire.CauseInvalidValues}},
		Refused: &wire.Refused{Request: wire.ParamXConfirmReq, Reason: enrp.RefusedBusy, ID: e.ID, Handle: []byte(staticPool)}})
	if len(r.Refusals) != 0 {
		t.Errorf("a refused confirmation reached the refusals' watchers: %+v", r.Refusals)
	}
	c.RunFor(10 * time.Millisecond)
	if len(a.Verdicts) != 1 || len(a.Verdicts[0].Votes) != 2 || a.Verdicts[0].Moved {
		t.Fatalf("after B's refusal: verdicts %+v, want one with A's and C's votes", a.Verdicts)
	}
	// B refuses because it sees another home (the live sets differ, as
	// when A has just started): A publishes nothing, and asks again later.
	was := a.Find(staticPool, e.ID).Health
	a.Confirm(staticPool, e.ID, handlespace.HealthDown, time.Second)
	a.Node.Step(&wire.Message{Type: wire.TypeError, Sender: idB, Receiver: idA,
		Causes:  []wire.Cause{{Code: wire.CauseInvalidValues}},
		Refused: &wire.Refused{Request: wire.ParamXConfirmReq, Reason: wire.RefusedNotHome, ID: e.ID, Handle: []byte(staticPool)}})
	c.RunFor(10 * time.Millisecond)
	if len(a.Verdicts) != 2 || !a.Verdicts[1].Moved || a.Find(staticPool, e.ID).Health != was {
		t.Fatalf("after B's refusal as not the home: verdicts %+v, health %v; want the second Moved, health %v kept",
			a.Verdicts, a.Find(staticPool, e.ID).Health, was)
	}

	// A flood of 5000 at one instant, from the element's home.
	accepted, errors := 0, 0
	for i := 0; i < 5000; i++ {
		r := b.Node.Step(enrptest.ConfirmRequest(idA, idB, staticPool, e, uint32(1000+i)))
		accepted += len(r.Probes)
		for _, env := range r.Msgs {
			if env.Msg.Type == wire.TypeError {
				errors++
			}
		}
		if len(r.Ops) != 0 {
			t.Fatalf("request %d changed B's handlespace: %+v", i, r.Ops)
		}
	}
	st := b.Node.ConfirmStats()
	if accepted != enrp.DefaultMaxProbes || errors > 25 || st.Refused < 5000-enrp.DefaultMaxProbes {
		t.Errorf("flood of 5000: %d accepted (max %d in flight), %d ERRORs, %d refused", accepted, enrp.DefaultMaxProbes, errors, st.Refused)
	}
	// Over the asker's rate: a second later the probes in flight are
	// forgotten, but the bucket allows only its refill.
	c.RunFor(time.Second)
	accepted = 0
	for i := 0; i < 5000; i++ {
		accepted += len(b.Node.Step(enrptest.ConfirmRequest(idA, idB, staticPool, e, uint32(10000+i))).Probes)
	}
	if accepted > enrp.DefaultConfirmRate+enrp.DefaultConfirmBurst || accepted == 0 {
		t.Errorf("a second later: %d accepted", accepted)
	}
	t.Logf("flood: %d requests refused, %d probes made for A; ERRORs in the first flood: %d", b.Node.ConfirmStats().Refused, b.Node.ConfirmStats().Probes, errors)
	b.Probed = nil
	requireSettled(t, c, 2*interval)
	after := b.Elements()
	if len(after) != len(before) {
		t.Fatalf("B has %d elements after the flood, had %d", len(after), len(before))
	}
	for i := range after {
		if after[i].ID != before[i].ID || after[i].Health != before[i].Health || after[i].Served() != before[i].Served() {
			t.Errorf("B's %s changed: %+v, was %+v", handlespace.IDString(after[i].ID), *after[i].Element, *before[i].Element)
		}
	}
	_ = cm
}

// registered returns the registrations of m's handlespace homed at home.
func registered(m *enrptest.Member, home uint32) []enrptest.Element {
	var out []enrptest.Element
	for _, e := range m.Elements() {
		if !e.Static && e.Home == home {
			out = append(out, e)
		}
	}
	return out
}

// TestHandoff: A leaves with 60 registrations and its share of the
// zone-file elements: B and C take them (each its rendezvous share) with
// their state and the monitor's, acknowledge within milliseconds, and
// nobody's handlespace lacks an element meanwhile; A's peers drop it from
// their live set at once, and no takeover follows when it stops.
func TestHandoff(t *testing.T) {
	c, a, b, cm := confirmCluster(t, 26, 30)
	register(t, c, a, 0, 60)
	register(t, c, b, 60, 5)
	requireSettled(t, c, interval)
	all := b.Elements()
	mine := homes(b)[idA]
	drained := poolOf(3)
	if err := a.Do(func(hs *handlespace.Handlespace) error {
		return hs.Update(drained, 1003, func(e *handlespace.Element) { e.Admin = handlespace.AdminDrain })
	}); err != nil {
		t.Fatal(err)
	}
	requireSettled(t, c, interval)
	start := c.Elapsed()
	a.Leave(func(pool string, id uint32) (time.Duration, int) {
		if id == 1003 {
			return 3 * time.Millisecond, 2
		}
		return 0, 0
	})
	gap := ""
	if !c.RunUntil(func() bool {
		for _, m := range []*enrptest.Member{b, cm} {
			if !allPresent(c, all) && gap == "" {
				gap = fmt.Sprintf("%08x lacks an element at %v", m.ID, c.Elapsed()-start)
			}
		}
		return a.Left
	}, time.Second) {
		t.Fatal("the hand-off did not end within a second")
	}
	took := c.Elapsed() - start
	if gap != "" {
		t.Error(gap)
	}
	if took > 10*time.Millisecond {
		t.Errorf("hand-off over %v after it began, want a few network delays", took)
	}
	for _, m := range []*enrptest.Member{b, cm} {
		if h := homes(m); h[idA] != 0 {
			t.Errorf("%08x: homes %v after the hand-off", m.ID, h)
		}
	}
	// A, about to stop, gives everything up in its peering table at its
	// next Tick, not between the last acknowledgement and Left (its
	// handlespace and store keep them as they were).
	if _, d := a.Node.ClaimOf(a.ID); d.Count != uint32(mine) {
		t.Errorf("A claims %d elements as its hand-off ends, want its %d until its next Tick", d.Count, mine)
	}
	c.RunFor(2 * interval)
	if _, d := a.Node.ClaimOf(a.ID); d.Count != 0 {
		t.Errorf("A still claims %d elements %v after its hand-off", d.Count, 2*interval)
	}
	if n := len(b.Handed) + len(cm.Handed); n != mine {
		t.Errorf("B and C were handed %d elements, A was home of %d", n, mine)
	}
	for _, h := range append(b.Handed, cm.Handed...) {
		if h.ID == 1003 && (h.RTT != 3*time.Millisecond || h.Reports != 2) {
			t.Errorf("element 1003 handed with RTT %v, %d reports; want the monitor's 3ms and 2", h.RTT, h.Reports)
		}
	}
	for _, m := range []*enrptest.Member{b, cm} {
		if e := m.Find(drained, 1003); e == nil || e.Admin != handlespace.AdminDrain || e.Home == idA {
			t.Errorf("%08x: the drained element %+v, want it drained at its new home", m.ID, e)
		}
		if ev := m.EventsOf(enrp.EventHandoffIn); len(ev) == 0 || ev[len(ev)-1].Detail != "leaving" {
			t.Errorf("%08x: hand-off events %v", m.ID, ev)
		}
		if !slices.Equal(m.Node.Live(), []uint32{idB, idC}) {
			t.Errorf("%08x: live %v right after the hand-off, want B and C", m.ID, m.Node.Live())
		}
	}
	if got := len(registered(b, idB)) + len(registered(b, idC)); got != 65 {
		t.Errorf("B sees %d registrations homed at B or C, want 65", got)
	}
	a.Stop()
	c.RunFor(lastHeard + noResponse + 2*interval)
	for _, m := range []*enrptest.Member{b, cm} {
		if ev := append(m.EventsOf(enrp.EventTakeoverStart), m.EventsOf(enrp.EventPeerSuspect)...); len(ev) > 0 {
			t.Errorf("%08x: %v after a hand-off", m.ID, ev)
		}
	}
	requireSettled(t, c, interval)
	if n := len(b.Elements()); n != len(all) {
		t.Errorf("B has %d elements, had %d", n, len(all))
	}
	t.Logf("A handed %d elements off in %v (network delay 1 ms)", mine, took)
}

// TestHandoffPeerLost: a peer cut off from the leaver when it leaves does
// not hold it past the time it takes to find that peer dead; the other
// peer takes its share at once.
func TestHandoffPeerLost(t *testing.T) {
	c, a, b, cm := confirmCluster(t, 27, 12)
	register(t, c, a, 0, 20)
	requireSettled(t, c, interval)
	c.Net.Partition([]uint32{idA, idB}, []uint32{idC})
	a.Leave(nil)
	if !c.RunUntil(func() bool { return len(b.EventsOf(enrp.EventHandoffIn)) > 0 }, 10*time.Millisecond) {
		t.Fatal("B did not take its part")
	}
	if a.Left {
		t.Fatal("A left without C's acknowledgement or death")
	}
	if !c.RunUntil(func() bool { return a.Left }, lastHeard+noResponse+interval) {
		t.Fatal("A waits for C after C's death")
	}
	_ = cm
}

// TestHealTakesCurrentHealth: A is cut off from B and C for 10 s and,
// alone, its probes find every zone-file element down (they cannot reach
// them); in a minority with nobody to confirm, it does not take them down
// on its own word but disputes them (last in its own answers); B and C,
// which can reach them, keep them up. At the heal A gets its share back
// with the current health (handed back), and no registrar's handlespace
// shows any of them down at any moment after the heal.
func TestHealTakesCurrentHealth(t *testing.T) {
	for seed := uint64(280); seed < 290; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { healTakesCurrentHealth(t, seed) })
	}
}

func healTakesCurrentHealth(t *testing.T, seed uint64) {
	c, a, b, cm := confirmCluster(t, seed, 30)
	c.Net.Partition([]uint32{idA}, []uint32{idB, idC})
	c.RunFor(lastHeard + noResponse + 2*interval)
	if h := homes(a); h[idA] != 30 {
		t.Fatalf("A alone is home of %v", h)
	}
	if !a.Node.Minority() {
		t.Fatal("A alone, 2 of 3 peers dead, is not in a minority")
	}
	for _, e := range a.Elements() {
		// Nobody to ask, in a minority: A's failed probes alone do not
		// take the element down, they dispute it (last at A).
		if !a.Confirm(staticPool, e.ID, handlespace.HealthDown, probeWait) {
			t.Fatalf("A alone in a minority decided %s alone", handlespace.IDString(e.ID))
		}
	}
	for _, e := range a.Elements() {
		if e.Health != handlespace.HealthUp || !e.Disputed() || !handlespace.LastAt(e.Element, idA) {
			t.Fatalf("A alone has %s %v (vantage %v), want up, disputed, last at A", handlespace.IDString(e.ID), e.Health, e.Vantage.All())
		}
	}
	c.RunFor(5 * time.Second)
	c.Net.Heal()
	healed := c.Elapsed()
	down := ""
	check := func() bool {
		for _, m := range []*enrptest.Member{b, cm} {
			for _, e := range m.Elements() {
				if e.Health != handlespace.HealthUp && down == "" {
					down = fmt.Sprintf("%08x shows %s %v %v after the heal", m.ID, handlespace.IDString(e.ID), e.Health, c.Elapsed()-healed)
				}
			}
		}
		ok, _ := c.Consistent()
		same, _ := sameElements(c)
		return ok && same
	}
	if !c.RunUntil(check, 3*interval) {
		_, why := c.Consistent()
		_, why2 := sameElements(c)
		t.Fatalf("not settled after the heal: %s %s", why, why2)
	}
	if down != "" {
		t.Error(down)
	}
	for _, e := range a.Elements() {
		if e.Health != handlespace.HealthUp {
			t.Errorf("A has %s %v after the heal, want the current health, up", handlespace.IDString(e.ID), e.Health)
		}
	}
	if n := len(a.EventsOf(enrp.EventHandback)); n == 0 {
		t.Error("A took nothing handed back")
	}
	for _, h := range a.Handed {
		if h.Health != handlespace.HealthUp {
			t.Errorf("handed back %+v", h)
		}
	}
	t.Logf("settled %v after the heal; A took the health of %d elements handed back", c.Elapsed()-healed, len(a.Handed))
}

// TestHealNoLoneDown: A is cut off from B and C for 10 s; its probes
// fail throughout and, once the partition heals, still say down for a
// while (their count is from the cut: the elements were probed with the
// link down, and a dead element's probes are spaced out). Right after
// the heal A is home of its share again, held, and asks B and C to
// confirm the downs; they cannot say (a far element: their probe,
// shorter than the element's own timeout, runs out). A's word alone must
// not take any element down while it is held or settling (B and C take
// what it publishes as the home's word), only dispute it. Once A has
// settled, its own vote decides again, as the quorum rule says.
func TestHealNoLoneDown(t *testing.T) {
	for seed := uint64(300); seed < 305; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { healNoLoneDown(t, seed) })
	}
}

func healNoLoneDown(t *testing.T, seed uint64) {
	c, a, b, cm := confirmCluster(t, seed, 30)
	c.Net.Partition([]uint32{idA}, []uint32{idB, idC})
	c.RunFor(lastHeard + noResponse + 2*interval)
	if !a.Node.Minority() {
		t.Fatal("A alone, 2 of 3 peers dead, is not in a minority")
	}
	c.RunFor(5 * time.Second)
	b.Sees, cm.Sees = sees(handlespace.HealthUnknown), sees(handlespace.HealthUnknown)
	c.Net.Heal()
	healed := c.Elapsed()
	backAt := func(m *enrptest.Member) bool { return slices.Contains(m.Node.AlivePeers(), idA) }
	held := len(a.EventsOf(enrp.EventHold))
	if !c.RunUntil(func() bool { return backAt(b) && backAt(cm) }, 2*interval) {
		t.Fatalf("A not heard back by B and C %v after the heal", c.Elapsed()-healed)
	}
	if len(a.EventsOf(enrp.EventHold)) == held {
		t.Fatal("A did not hold its view after the heal")
	}
	// Its hold may be over already (the peers' pushes came at once): A
	// settles for two presence intervals after it.
	var mine []uint32
	for _, e := range a.Elements() {
		if e.Home == idA {
			if h, _ := b.Node.HomeOf(staticPool, e.ID); h == idA {
				mine = append(mine, e.ID)
			}
		}
	}
	if len(mine) == 0 {
		t.Fatal("A is home of no zone-file element that B sees homed at A")
	}
	before := len(a.Verdicts)
	for _, id := range mine {
		a.Confirm(staticPool, id, handlespace.HealthDown, probeWait)
	}
	down := ""
	watch := func() {
		for _, m := range []*enrptest.Member{a, b, cm} {
			for _, e := range m.Elements() {
				if e.Health != handlespace.HealthUp && down == "" {
					down = fmt.Sprintf("%08x shows %s %v %v after the heal", m.ID, handlespace.IDString(e.ID), e.Health, c.Elapsed()-healed)
				}
			}
		}
	}
	if !c.RunUntil(func() bool { watch(); return len(a.Verdicts) >= before+len(mine) }, time.Second) {
		t.Fatalf("A has %d verdicts of %d", len(a.Verdicts)-before, len(mine))
	}
	for _, v := range a.Verdicts[before:] {
		if v.Moved || v.Asked != 2 || v.Health != handlespace.HealthUp || len(v.Vantage) != 1 || v.Vantage[0].Registrar != idA {
			t.Fatalf("A just healed, B and C unable to say: verdict %+v, want up, disputed by A alone", v)
		}
	}
	c.RunFor(3 * interval)
	watch()
	if down != "" {
		t.Fatal(down)
	}
	if stale(a) {
		t.Fatal("A still held 3 s after the heal")
	}
	// Settled: A's own vote decides when nobody else can say.
	a.Confirm(staticPool, mine[0], handlespace.HealthDown, probeWait)
	v, _ := confirmed(t, c, a, len(a.Verdicts)+1, time.Second)
	if v.Health != handlespace.HealthDown {
		t.Fatalf("A settled, B and C unable to say: verdict %+v, want down by A's own vote", v)
	}
}

// TestRestartTakesCurrentHealth: A stops; B and C take its zone-file
// elements and keep them up. A restarts with a stale store that has them
// all down: it takes its share back with the current health, from whoever
// probed them meanwhile, and B and C never show A's stale verdict.
func TestRestartTakesCurrentHealth(t *testing.T) {
	for seed := uint64(290); seed < 300; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { restartTakesCurrentHealth(t, seed) })
	}
}

func restartTakesCurrentHealth(t *testing.T, seed uint64) {
	c, a, b, cm := confirmCluster(t, seed, 30)
	a.Stop()
	c.RunFor(lastHeard + noResponse + 2*interval)
	a.OnStart = func(hs *handlespace.Handlespace) {
		for _, e := range hs.View().Pool(staticPool).Elements() {
			hs.Update(staticPool, e.ID, func(x *handlespace.Element) { x.Health = handlespace.HealthDown })
		}
	}
	if err := a.Start(nil); err != nil {
		t.Fatal(err)
	}
	started := c.Elapsed()
	down := ""
	synced := time.Duration(-1)
	check := func() bool {
		for _, m := range []*enrptest.Member{b, cm} {
			for _, e := range m.Elements() {
				if e.Health != handlespace.HealthUp && down == "" {
					down = fmt.Sprintf("%08x shows %s %v %v after A's restart", m.ID, handlespace.IDString(e.ID), e.Health, c.Elapsed()-started)
				}
			}
		}
		if synced < 0 && a.Node.Synced() {
			synced = c.Elapsed() - started
			for _, e := range a.Elements() {
				if e.Health != handlespace.HealthUp && down == "" {
					down = fmt.Sprintf("A shows %s %v once synced", handlespace.IDString(e.ID), e.Health)
				}
			}
		}
		ok, _ := c.Consistent()
		same, _ := sameElements(c)
		return ok && same && synced >= 0
	}
	if !c.RunUntil(check, 3*interval) {
		_, why := c.Consistent()
		_, why2 := sameElements(c)
		t.Fatalf("not settled after the restart: %s %s", why, why2)
	}
	if down != "" {
		t.Error(down)
	}
	if h := homes(a); h[idA] == 0 {
		t.Errorf("A took nothing back: %v", h)
	}
	t.Logf("A synced %v after its restart and took the health of %d elements from its peers", synced, len(a.Handed))
}

// TestHealStaleVoteNoDispute: A, cut off alone, comes back with its
// probes' count from the cut: right after the heal (held or settling) it
// proposes its elements down while B and C, whose probes are fresh, see
// them up. The others decide: the elements stay up and are not disputed
// (a dispute by A's stale vote went out to every peer, and was taken
// back an interval later when A's probes caught up: state changes inside
// the heal's convergence, lab link-down 03:07:11). Once A has settled,
// its vote counts again: the same disagreement is a dispute.
func TestHealStaleVoteNoDispute(t *testing.T) {
	for seed := uint64(310); seed < 315; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { healStaleVoteNoDispute(t, seed) })
	}
}

func healStaleVoteNoDispute(t *testing.T, seed uint64) {
	c, a, b, cm := confirmCluster(t, seed, 30)
	c.Net.Partition([]uint32{idA}, []uint32{idB, idC})
	c.RunFor(lastHeard + noResponse + 2*interval)
	if !a.Node.Minority() {
		t.Fatal("A alone, 2 of 3 peers dead, is not in a minority")
	}
	c.Net.Heal()
	healed := c.Elapsed()
	backAt := func(m *enrptest.Member) bool { return slices.Contains(m.Node.AlivePeers(), idA) }
	aBack := func() bool {
		return slices.Contains(a.Node.AlivePeers(), idB) && slices.Contains(a.Node.AlivePeers(), idC)
	}
	if !c.RunUntil(func() bool { return backAt(b) && backAt(cm) && aBack() }, 2*interval) {
		t.Fatalf("A and its peers not back %v after the heal", c.Elapsed()-healed)
	}
	var mine []uint32
	for _, e := range a.Elements() {
		if h, _ := b.Node.HomeOf(staticPool, e.ID); e.Home == idA && h == idA {
			mine = append(mine, e.ID)
		}
	}
	if len(mine) == 0 {
		t.Fatal("A is home of no zone-file element that B sees homed at A")
	}
	b.Sees, cm.Sees = sees(handlespace.HealthUp), sees(handlespace.HealthUp)
	before := len(a.Verdicts)
	for _, id := range mine {
		a.Confirm(staticPool, id, handlespace.HealthDown, probeWait)
	}
	disputed := ""
	watch := func() {
		for _, m := range []*enrptest.Member{a, b, cm} {
			for _, e := range m.Elements() {
				if (e.Disputed() || e.Health != handlespace.HealthUp) && disputed == "" {
					disputed = fmt.Sprintf("%08x shows %s %v disputed %v, %v after the heal", m.ID, handlespace.IDString(e.ID), e.Health, e.Vantage.All(), c.Elapsed()-healed)
				}
			}
		}
	}
	if !c.RunUntil(func() bool { watch(); return len(a.Verdicts) >= before+len(mine) }, time.Second) {
		t.Fatalf("A has %d verdicts of %d", len(a.Verdicts)-before, len(mine))
	}
	for _, v := range a.Verdicts[before:] {
		if v.Moved || v.Health != handlespace.HealthUp || v.Vantage != nil {
			t.Fatalf("A just healed, B and C see it up: verdict %+v, want up, not disputed", v)
		}
	}
	c.RunFor(3 * interval)
	watch()
	if disputed != "" {
		t.Fatal(disputed)
	}
	if stale(a) {
		t.Fatal("A still held 3 s after the heal")
	}
	// Settled: A's own vote counts, and the disagreement is a dispute.
	a.Confirm(staticPool, mine[0], handlespace.HealthDown, probeWait)
	v, _ := confirmed(t, c, a, len(a.Verdicts)+1, time.Second)
	if v.Health != handlespace.HealthUp || len(v.Vantage) != 3 {
		t.Fatalf("A settled, B and C see it up: verdict %+v, want up, disputed by A", v)
	}
}

// TestHandoffKeepsContent: the monitor's smoothed RTT that a hand-off
// carries (for the new home's monitor) differs from the RTT the leaver
// last published (set at its last change of health). Every peer but the
// new home keeps the published one; the new home must too, so that
// their claims agree at once: no digest audit, no table pulled (lab
// SIGTERM run, 03:34:00: each peer pulled its peers' tables after r4's
// hand-off, 49-64 elements "changed (other)" each).
func TestHandoffKeepsContent(t *testing.T) {
	for seed := uint64(330); seed < 334; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { handoffKeepsContent(t, seed) })
	}
}

func handoffKeepsContent(t *testing.T, seed uint64) {
	c, a, b, cm := confirmCluster(t, seed, 30)
	register(t, c, a, 0, 20)
	requireSettled(t, c, interval)
	if err := a.Do(func(hs *handlespace.Handlespace) error {
		for _, e := range a.Elements() {
			if e.Home == idA {
				if err := hs.Update(e.Pool, e.ID, func(x *handlespace.Element) { x.RTT = 5 * time.Millisecond }); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	requireSettled(t, c, interval)
	resyncs := len(b.EventsOf(enrp.EventResync)) + len(cm.EventsOf(enrp.EventResync))
	a.Leave(func(string, uint32) (time.Duration, int) { return 9 * time.Millisecond, 0 })
	if !c.RunUntil(func() bool { return a.Left }, time.Second) {
		t.Fatal("the hand-off did not end within a second")
	}
	c.RunFor(10 * time.Millisecond)
	for _, pair := range [][2]*enrptest.Member{{b, cm}, {cm, b}} {
		sum, dig := pair[0].Node.ClaimOf(pair[0].ID)
		bsum, bdig := pair[1].Node.ClaimOf(pair[0].ID)
		if sum != bsum || dig != bdig {
			t.Errorf("%08x claims %04x %+v, %08x believes %04x %+v right after the hand-off", pair[0].ID, sum, dig, pair[1].ID, bsum, bdig)
		}
	}
	c.RunFor(3 * interval)
	var audits []string
	for _, m := range []*enrptest.Member{b, cm} {
		for _, ev := range m.EventsOf(enrp.EventResync) {
			audits = append(audits, fmt.Sprintf("%08x: %s", m.ID, ev))
		}
	}
	if len(audits) > resyncs {
		t.Errorf("audits after the hand-off: %v", audits[resyncs:])
	}
	for _, h := range append(b.Handed, cm.Handed...) {
		if h.RTT != 9*time.Millisecond {
			t.Fatalf("%s %s handed with RTT %v, want the monitor's 9ms", h.Pool, handlespace.IDString(h.ID), h.RTT)
		}
	}
}
