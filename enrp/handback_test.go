package enrp_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/enrp/placement"
	"github.com/poolnsd/poolnsd/handlespace"
)

// Hand-backs after a split heals (issue 11): five registrars, split
// A,B | C,D,E as in the lab, with confirmation by two vantage points.

const (
	idD uint32 = 0xd
	idE uint32 = 0xe
)

var (
	all5     = []uint32{idA, idB, idC, idD, idE}
	sideAB   = []uint32{idA, idB}
	sideCDE  = []uint32{idC, idD, idE}
	splitFor = lastHeard + noResponse + 2*interval // both sides have found the other dead
)

// cluster5 starts A to E with n zone-file elements and confirmation by 2
// vantage points, and waits until they agree.
func cluster5(t *testing.T, seed uint64, n int) (*enrptest.Cluster, map[uint32]*enrptest.Member) {
	t.Helper()
	c := newCluster(t, seed)
	c.Config.Confirm = 2
	c.Net.Delay = time.Millisecond
	zones := enrptest.Zones(t, n)
	ms := map[uint32]*enrptest.Member{}
	for i, id := range all5 {
		ms[id] = add(t, c, id, zones, all5[:i]...)
	}
	synced := func() bool {
		for _, m := range ms {
			if !m.Node.Synced() {
				return false
			}
		}
		return settled(c)()
	}
	if !c.RunUntil(synced, 5*interval) {
		t.Fatal("the cluster did not sync")
	}
	return c, ms
}

// splitElement returns a zone-file element of m homed at A whichever side
// of the split A is on, and at old on the other side, with or without B
// (so that old is the one to hand it back to A).
func splitElement(t *testing.T, m *enrptest.Member, old uint32) *handlespace.Element {
	t.Helper()
	for _, e := range m.Elements() {
		if e.Static && placement.Rendezvous(all5, staticPool, e.ID) == idA &&
			placement.Rendezvous(sideAB, staticPool, e.ID) == idA && placement.Rendezvous(sideCDE, staticPool, e.ID) == old &&
			placement.Rendezvous([]uint32{idB, idC, idD, idE}, staticPool, e.ID) == old {
			return e.Element
		}
	}
	t.Fatalf("no zone-file element homed at A on both sides and at %08x on the other", old)
	return nil
}

// healthAt returns what each member shows of element id.
func healthAt(ms map[uint32]*enrptest.Member, id uint32) map[uint32]handlespace.Health {
	out := map[uint32]handlespace.Health{}
	for mid, m := range ms {
		if e := m.Find(staticPool, id); e != nil {
			out[mid] = e.Health
		}
	}
	return out
}

// splitDown splits the cluster A,B | C,D,E and has A's side find element
// id down (A's probes propose it, B's confirm it) while C, D and E keep
// it up.
func splitDown(t *testing.T, c *enrptest.Cluster, ms map[uint32]*enrptest.Member, id uint32) {
	t.Helper()
	a, b := ms[idA], ms[idB]
	c.Net.Partition(sideAB, sideCDE)
	c.RunFor(splitFor)
	if !a.Node.Minority() {
		t.Fatal("A, 2 of 5 live, is not in a minority")
	}
	b.Sees = sees(handlespace.HealthDown)
	n := len(a.Verdicts)
	if !a.Confirm(staticPool, id, handlespace.HealthDown, probeWait) {
		t.Fatal("A found nobody to ask on its side")
	}
	if v, _ := confirmed(t, c, a, n+1, time.Second); v.Health != handlespace.HealthDown {
		t.Fatalf("A and B see it down: verdict %+v", v)
	}
	c.RunFor(10 * time.Millisecond)
	h := healthAt(ms, id)
	if h[idA] != handlespace.HealthDown || h[idB] != handlespace.HealthDown || h[idC] != handlespace.HealthUp {
		t.Fatalf("in the split: %v, want down at A and B, up at C, D and E", h)
	}
	b.Sees = nil
}

// TestHandbackAnnounced: A, home of an element on its side of a split
// and in the whole cluster, found it down with B; C, D and E kept it up.
// At the heal C (its home on the other side) hands its state back, and
// A takes it; A must announce it at once, so that B, which took A's
// down in the split, does not keep it until an audit. Then, split and
// healed again, the strength of the state A took must not have
// outlived that heal: C, D and E must never take the down from A's side
// (its stale view) over their own.
func TestHandbackAnnounced(t *testing.T) {
	for seed := uint64(700); seed < 706; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { handbackAnnounced(t, seed) })
	}
}

func handbackAnnounced(t *testing.T, seed uint64) {
	c, ms := cluster5(t, seed, 60)
	a, b := ms[idA], ms[idB]
	x := splitElement(t, a, idC).ID
	for round := 1; round <= 2; round++ {
		splitDown(t, c, ms, x)
		c.Net.Heal()
		healed := c.Elapsed()
		var takenAt time.Duration = -1
		wrong := ""
		watch := func() bool {
			h := healthAt(ms, x)
			for _, id := range sideCDE {
				if h[id] != handlespace.HealthUp && wrong == "" {
					wrong = fmt.Sprintf("%08x shows %v %v after the heal", id, h[id], c.Elapsed()-healed)
				}
			}
			if takenAt < 0 && h[idA] == handlespace.HealthUp {
				takenAt = c.Elapsed()
			}
			if takenAt >= 0 && h[idB] != handlespace.HealthUp && c.Elapsed()-takenAt > 20*time.Millisecond && wrong == "" {
				wrong = fmt.Sprintf("B shows %v %v after A took the hand-back (%v after the heal)", h[idB], c.Elapsed()-takenAt, takenAt-healed)
			}
			return false
		}
		c.RunUntil(watch, 3*interval)
		if wrong != "" {
			t.Fatalf("heal %d: %s", round, wrong)
		}
		if takenAt < 0 {
			t.Fatalf("heal %d: A never showed the element up: %v", round, healthAt(ms, x))
		}
		ok, why := c.Consistent()
		if !ok {
			t.Fatalf("heal %d: not consistent 3 s after: %s", round, why)
		}
		t.Logf("heal %d: A took the element back up %v after the heal", round, takenAt-healed)
	}
	_ = b
}

// TestHandbackKeepsFresherQuorum: A comes back from the split and finds
// the element dead right after the heal, with B, D and E (a quorum of
// fresh probes); C, its old home, is far (400 ms each way) and hands its
// state back (up, from before it heard A) only after that verdict. The
// hand-back must not override the fresher measurement, and C, D and E
// must take A's verdict while they settle.
func TestHandbackKeepsFresherQuorum(t *testing.T) {
	for seed := uint64(720); seed < 726; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { handbackKeepsFresherQuorum(t, seed) })
	}
}

func handbackKeepsFresherQuorum(t *testing.T, seed uint64) {
	c, ms := cluster5(t, seed, 60)
	a := ms[idA]
	x := splitElement(t, a, idC).ID
	c.Net.LinkDelay[[2]uint32{idA, idC}] = 400 * time.Millisecond
	c.Net.LinkDelay[[2]uint32{idC, idA}] = 400 * time.Millisecond
	c.Net.Partition(sideAB, sideCDE)
	c.RunFor(splitFor)
	c.Net.Heal()
	healed := c.Elapsed()
	// The element dies at the heal: every vantage point now sees it down.
	for _, id := range []uint32{idB, idD, idE} {
		ms[id].Sees = sees(handlespace.HealthDown)
	}
	n := confirmAfterHeal(t, c, a, x, healed)
	v, _ := confirmed(t, c, a, n+1, time.Second)
	if v.Health != handlespace.HealthDown || v.Moved {
		t.Fatalf("verdict %+v, want down", v)
	}
	decided := c.Elapsed()
	handbacks := len(a.EventsOf(enrp.EventHandback))
	c.RunFor(3 * interval)
	if len(a.EventsOf(enrp.EventHandback)) == handbacks {
		t.Fatal("no hand-back reached A after its verdict")
	}
	if h := healthAt(ms, x); h[idA] != handlespace.HealthDown {
		t.Fatalf("A shows %v 3 s after its quorum found it down (%v after the heal): the hand-back of C's older state overrode it",
			h[idA], decided-healed)
	}
	for _, id := range all5 {
		if h := ms[id].Find(staticPool, x).Health; h != handlespace.HealthDown {
			t.Errorf("%08x shows %v 3 s after A's quorum found it down", id, h)
		}
	}
}

func contains(s []uint32, id uint32) bool {
	for _, x := range s {
		if x == id {
			return true
		}
	}
	return false
}

// TestHandedStrengthEnds: the state A took from a hand-back is as strong
// as the whole cluster's only for the heal it was handed back at. Split
// and healed again, A (home of the element throughout) publishes a
// stale word of its own right after the heal (its probes' count from the
// cut, no confirmation), before C's hand-back reaches it (C is far): D
// and E, settling, must not take it over their own.
func TestHandedStrengthEnds(t *testing.T) {
	for seed := uint64(740); seed < 746; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { handedStrengthEnds(t, seed) })
	}
}

func handedStrengthEnds(t *testing.T, seed uint64) {
	c, ms := cluster5(t, seed, 60)
	a := ms[idA]
	x := splitElement(t, a, idC).ID
	splitDown(t, c, ms, x)
	c.Net.Heal()
	if !c.RunUntil(func() bool { return a.Find(staticPool, x).Health == handlespace.HealthUp }, 2*interval) {
		t.Fatalf("A did not take the element back up: %v", healthAt(ms, x))
	}
	requireSettled(t, c, 3*interval)
	c.RunFor(3 * interval)
	c.Net.LinkDelay[[2]uint32{idA, idC}] = 400 * time.Millisecond
	c.Net.LinkDelay[[2]uint32{idC, idA}] = 400 * time.Millisecond
	c.Net.Partition(sideAB, sideCDE)
	c.RunFor(splitFor)
	c.Net.Heal()
	healed := c.Elapsed()
	heard := func() bool {
		live := a.Node.AlivePeers()
		return contains(live, idD) && contains(live, idE) && !contains(live, idC) &&
			contains(ms[idD].Node.AlivePeers(), idA) && contains(ms[idE].Node.AlivePeers(), idA)
	}
	if !c.RunUntil(heard, 2*interval) {
		t.Fatalf("A's live peers %v %v after the heal, want D and E, not yet C", a.Node.AlivePeers(), c.Elapsed()-healed)
	}
	a.Do(func(hs *handlespace.Handlespace) error {
		return hs.Update(staticPool, x, func(e *handlespace.Element) { e.Health = handlespace.HealthDown })
	})
	wrong := ""
	c.RunUntil(func() bool {
		for _, id := range sideCDE {
			if h := ms[id].Find(staticPool, x).Health; h != handlespace.HealthUp && wrong == "" {
				wrong = fmt.Sprintf("%08x took A's stale %v %v after the heal", id, h, c.Elapsed()-healed)
			}
		}
		return false
	}, 300*time.Millisecond)
	if wrong != "" {
		t.Fatal(wrong)
	}
}

// TestPushCarriesFreshState: A, back from the minority side of a split
// and still holding its view, finds an element it is home of down with
// B, D and E right after the heal (a quorum of fresh probes), before it
// hears C (far: 400 ms each way). Its verdict goes to the peers live
// then; C must have it from A's push when they meet, one one-way delay
// after, not from a digest audit a presence interval or more later.
func TestPushCarriesFreshState(t *testing.T) {
	for seed := uint64(760); seed < 766; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { pushCarriesFreshState(t, seed) })
	}
}

func pushCarriesFreshState(t *testing.T, seed uint64) {
	c, ms := cluster5(t, seed, 60)
	a, cm := ms[idA], ms[idC]
	x := splitElement(t, a, idC).ID
	c.Net.LinkDelay[[2]uint32{idA, idC}] = 400 * time.Millisecond
	c.Net.LinkDelay[[2]uint32{idC, idA}] = 400 * time.Millisecond
	c.Net.Partition(sideAB, sideCDE)
	c.RunFor(splitFor)
	// Healed but for the link between A and C, which comes back after
	// A's verdict: their connection is made after it.
	c.Net.Heal()
	c.Net.Cut([]uint32{idA}, []uint32{idC})
	healed := c.Elapsed()
	for _, id := range []uint32{idB, idD, idE} {
		ms[id].Sees = sees(handlespace.HealthDown)
	}
	n := confirmAfterHeal(t, c, a, x, healed)
	if v, _ := confirmed(t, c, a, n+1, time.Second); v.Health != handlespace.HealthDown || v.Moved {
		t.Fatalf("verdict %+v, want down", v)
	}
	if !stale(a) {
		t.Fatal("A's hold is over before it met C")
	}
	c.Net.Heal()
	resyncs := len(cm.EventsOf(enrp.EventResync))
	if !c.RunUntil(func() bool { return contains(a.Node.AlivePeers(), idC) }, 2*interval) {
		t.Fatalf("A did not hear C %v after the heal", c.Elapsed()-healed)
	}
	met := c.Elapsed()
	if !c.RunUntil(func() bool { return cm.Find(staticPool, x).Health == handlespace.HealthDown }, 2*interval) {
		t.Fatalf("C shows %v %v after A heard it", cm.Find(staticPool, x).Health, c.Elapsed()-met)
	}
	took := c.Elapsed() - met
	var audits []string
	for _, ev := range cm.EventsOf(enrp.EventResync)[resyncs:] {
		if ev.Peer == idA {
			audits = append(audits, ev.Detail)
		}
	}
	if took > 400*time.Millisecond+50*time.Millisecond || len(audits) > 0 {
		t.Errorf("C took A's verdict %v after A heard it (audits of A: %v); want a one-way delay (400 ms), no audit", took, audits)
	}
}

// TestHandbackAnnouncesRTT: both sides of a split keep an element up,
// each with the RTT its home measured. At the heal A, its home, takes
// C's state handed back (the stronger side's); it must announce it even
// though only the RTT differs from what it had (the digests cover it):
// B, which took A's word in the split, would otherwise keep the old RTT
// until a digest audit pulled A's table (lab split run, 03:14:46: r1
// pulled r2's for one such element, "changed ... (other)").
func TestHandbackAnnouncesRTT(t *testing.T) {
	for seed := uint64(780); seed < 786; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { handbackAnnouncesRTT(t, seed) })
	}
}

func handbackAnnouncesRTT(t *testing.T, seed uint64) {
	c, ms := cluster5(t, seed, 60)
	a, b, cm := ms[idA], ms[idB], ms[idC]
	x := splitElement(t, a, idC).ID
	c.Net.Partition(sideAB, sideCDE)
	c.RunFor(splitFor)
	setRTT := func(m *enrptest.Member, rtt time.Duration) {
		m.Do(func(hs *handlespace.Handlespace) error {
			return hs.Update(staticPool, x, func(e *handlespace.Element) { e.RTT = rtt })
		})
	}
	setRTT(a, 7*time.Millisecond)
	setRTT(cm, 3*time.Millisecond)
	c.RunFor(interval)
	if got := b.Find(staticPool, x).RTT; got != 7*time.Millisecond {
		t.Fatalf("B has RTT %v in the split, want A's 7ms", got)
	}
	resyncs := len(b.EventsOf(enrp.EventResync))
	c.Net.Heal()
	healed := c.Elapsed()
	if !c.RunUntil(func() bool { return a.Find(staticPool, x).RTT == 3*time.Millisecond }, 2*interval) {
		t.Fatalf("A did not take C's state back: RTT %v", a.Find(staticPool, x).RTT)
	}
	took := c.Elapsed()
	if !c.RunUntil(func() bool { return b.Find(staticPool, x).RTT == 3*time.Millisecond }, 2*interval) {
		t.Fatalf("B still has RTT %v %v after A took C's (%v after the heal)", b.Find(staticPool, x).RTT, c.Elapsed()-took, took-healed)
	}
	var audits []string
	for _, ev := range b.EventsOf(enrp.EventResync)[resyncs:] {
		if ev.Peer == idA {
			audits = append(audits, ev.Detail)
		}
	}
	if d := c.Elapsed() - took; d > 20*time.Millisecond || len(audits) > 0 {
		t.Errorf("B took A's RTT %v after A took it (audits of A: %v), want at once, no audit", d, audits)
	}
}

// confirmAfterHeal waits until A hears B, D and E again but not yet C,
// then has A ask its vantage points to confirm x down; it returns how
// many verdicts A had before.
func confirmAfterHeal(t *testing.T, c *enrptest.Cluster, a *enrptest.Member, x uint32, healed time.Duration) int {
	t.Helper()
	heard := func() bool {
		live := a.Node.AlivePeers()
		return contains(live, idB) && contains(live, idD) && contains(live, idE) && !contains(live, idC)
	}
	if !c.RunUntil(heard, 2*interval) {
		t.Fatalf("A's live peers %v %v after the heal, want B, D and E, not yet C", a.Node.AlivePeers(), c.Elapsed()-healed)
	}
	n := len(a.Verdicts)
	if !a.Confirm(staticPool, x, handlespace.HealthDown, probeWait) {
		t.Fatal("A found nobody to ask")
	}
	return n
}
