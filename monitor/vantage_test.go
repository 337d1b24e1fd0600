package monitor_test

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/monitor"
	"github.com/poolnsd/poolnsd/probe"
	"github.com/poolnsd/poolnsd/probe/probetest"
)

// fakeConfirmer records the confirmations asked for; refuse makes it
// say that nobody can be asked.
type fakeConfirmer struct {
	mu     sync.Mutex
	asked  []monitor.Verdict // Pool, ID and Proposed
	waits  []time.Duration
	refuse bool
}

func (c *fakeConfirmer) Confirm(pool string, id uint32, proposed handlespace.Health, wait time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refuse {
		return false
	}
	c.asked = append(c.asked, monitor.Verdict{Pool: pool, ID: id, Proposed: proposed})
	c.waits = append(c.waits, wait)
	return true
}

func (c *fakeConfirmer) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.asked)
}

func (c *fakeConfirmer) last() (monitor.Verdict, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.asked[len(c.asked)-1], c.waits[len(c.waits)-1]
}

const otherA, otherB = 0x0b, 0x0c

// TestConfirmedHealth: with a Confirmer, the first passes serve at once;
// a failure that the probes here count down is not published until the
// verdict: kept up (disputed, last in this registrar's answers) when the
// others reach it, asked again an interval later, and down when they
// agree. Without anyone to ask, the probes' own verdict stands.
func TestConfirmedHealth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fcf := &fakeConfirmer{}
		f := newFixture(t, testZone, monitor.Config{Confirmer: fcf})
		f.advance(time.Millisecond)
		if got := f.answerSet(web); !slices.Equal(got, allWeb) || fcf.count() != 0 {
			t.Fatalf("start: %v, %d confirmations; want every element at once, none asked", got, fcf.count())
		}
		e2 := f.elem(web, "web2")
		k := monitor.Key(web, e2.ID)
		f.fc.Script(k, probetest.Fail("connect: connection refused"), probetest.Fail("connect: connection refused"),
			probetest.Fail("connect: connection refused"), probetest.Fail("connect: connection refused"))
		for fcf.count() == 0 {
			f.advance(10 * time.Millisecond)
		}
		v, wait := fcf.last()
		if v.ID != e2.ID || v.Proposed != handlespace.HealthDown || wait != 500*time.Millisecond {
			t.Fatalf("asked %+v with wait %v, want web2 down within the probe timeout", v, wait)
		}
		if h := f.elem(web, "web2").Health; h != handlespace.HealthUp {
			t.Fatalf("web2 %v before the verdict, want still up", h)
		}
		// Asked at the first failure (fall is 2): the others reach it. Their
		// verdict waits for the probes here to say down, then stands: up,
		// disputed, last here.
		calls := f.fc.Calls(k)
		f.m.Verdict(monitor.Verdict{Pool: web, ID: e2.ID, Proposed: handlespace.HealthDown, Health: handlespace.HealthUp, Asked: 2, Answered: 2,
			Vantage: []handlespace.Vantage{{Registrar: otherA, Health: handlespace.HealthUp}, {Registrar: otherB, Health: handlespace.HealthUp}, {Registrar: self, Health: handlespace.HealthDown}}})
		if e := f.elem(web, "web2"); e.Disputed() {
			t.Fatal("the early verdict was published before the probes here said down")
		}
		for f.fc.Calls(k) == calls {
			f.advance(time.Millisecond)
		}
		f.advance(time.Millisecond)
		if fcf.count() != 1 {
			t.Errorf("asked %d times for one fall, want once (early)", fcf.count())
		}
		if e := f.elem(web, "web2"); e.Health != handlespace.HealthUp || !e.Disputed() || !e.Last {
			t.Fatalf("after the verdict: %v disputed %v last %v, want up, disputed, last here", e.Health, e.Disputed(), e.Last)
		}
		if got := f.answer(web); len(got) != 3 || got[2] != "10.0.0.2" {
			t.Fatalf("answers %v, want all three with web2 last", got)
		}
		// Failing on: asked again, but not before an interval.
		n := fcf.count()
		f.advance(500 * time.Millisecond)
		if fcf.count() != n {
			t.Fatalf("asked again %d times within half an interval", fcf.count()-n)
		}
		f.advance(5 * time.Second)
		if fcf.count() == n {
			t.Fatal("not asked again while disputed")
		}
		f.m.Verdict(monitor.Verdict{Pool: web, ID: e2.ID, Proposed: handlespace.HealthDown, Health: handlespace.HealthDown, Asked: 2, Answered: 2})
		if e := f.elem(web, "web2"); e.Health != handlespace.HealthDown || e.Disputed() || e.Last {
			t.Fatalf("after the agreed verdict: %v disputed %v last %v", e.Health, e.Disputed(), e.Last)
		}
		if got, want := f.answerSet(web), []string{"10.0.0.1", "10.0.0.3"}; !slices.Equal(got, want) {
			t.Fatalf("answers %v, want %v", got, want)
		}
		// Nobody to ask: the probes here decide.
		fcf.mu.Lock()
		fcf.refuse = true
		fcf.mu.Unlock()
		f.fc.Script(k)
		f.advance(12 * time.Second)
		if h := f.elem(web, "web2").Health; h != handlespace.HealthUp {
			t.Fatalf("web2 %v after passes with nobody to ask, want up", h)
		}
	})
}

// TestProbeFor: a probe for another registrar's confirmation uses the
// element's probe once, within four fifths of its budget; an
// element that is not here or has no probe is answered unknown.
func TestProbeFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, testZone, monitor.Config{})
		f.advance(time.Millisecond)
		type answer struct {
			h   handlespace.Health
			rtt time.Duration
		}
		ask := func(pool string, id uint32) answer {
			ch := make(chan answer, 1)
			f.m.ProbeFor(pool, id, 100*time.Millisecond, func(h handlespace.Health, rtt time.Duration) { ch <- answer{h, rtt} })
			synctest.Wait()
			select {
			case a := <-ch:
				return a
			default:
				t.Fatal("no answer")
				return answer{}
			}
		}
		e1 := f.elem(web, "web1")
		calls := f.fc.Calls("confirm/" + monitor.Key(web, e1.ID))
		if a := ask(web, e1.ID); a.h != handlespace.HealthUp {
			t.Errorf("web1: %+v, want up", a)
		}
		if n := f.fc.Calls("confirm/"+monitor.Key(web, e1.ID)) - calls; n != 1 {
			t.Errorf("%d probes for one confirmation", n)
		}
		f.fc.Script("confirm/"+monitor.Key(web, e1.ID), probetest.Fail("connect: connection refused"))
		if a := ask(web, e1.ID); a.h != handlespace.HealthDown {
			t.Errorf("web1 failing: %+v, want down", a)
		}
		// A timeout within four fifths of the budget, less than the
		// element's own timeout: no say.
		f.fc.Script("confirm/"+monitor.Key(web, e1.ID), probetest.Fail("timeout after 80ms"))
		if a := ask(web, e1.ID); a.h != handlespace.HealthUnknown {
			t.Errorf("web1 timing out within a shortened timeout: %+v, want unknown", a)
		}
		if a := ask(plain, f.elem(plain, "p1").ID); a.h != handlespace.HealthUnknown {
			t.Errorf("an element without probes: %+v, want unknown", a)
		}
		if a := ask(web, 0xdead); a.h != handlespace.HealthUnknown {
			t.Errorf("no such element: %+v, want unknown", a)
		}
		if st := f.m.Stats(); st.OneShots != 3 {
			t.Errorf("%d one-shot probes counted, want 3", st.OneShots)
		}
	})
}

// TestHandoffStateAndAdopt: the RTT and the failure reports kept beside an
// element go with it; adopting a health resets what the probes here
// counted.
func TestHandoffStateAndAdopt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, testZone, monitor.Config{MaxBadReports: 3})
		f.advance(time.Millisecond)
		e1 := f.elem(web, "web1")
		f.fc.Script(monitor.Key(web, e1.ID), probe.Result{OK: true, RTT: 3 * time.Millisecond})
		f.advance(time.Second)
		f.m.Report(web, e1.ID, client1)
		f.m.Report(web, e1.ID, client2)
		rtt, reports := f.m.HandoffState(web, e1.ID)
		if reports != 2 || rtt != 3*time.Millisecond {
			t.Fatalf("HandoffState = %v, %d; want an RTT and 2 reports", rtt, reports)
		}
		e3 := f.elem(web, "web3")
		f.m.Adopt(web, e3.ID, handlespace.HealthUp, 2)
		if out, err := f.m.Report(web, e3.ID, client1); err != nil || out.Reports != 3 || !out.Removed {
			t.Fatalf("a third report after 2 adopted: %+v %v, want it out of the answers", out, err)
		}
		// A stale down count here is forgotten for the health adopted.
		k := monitor.Key(web, f.elem(web, "web2").ID)
		f.fc.Script(k, probetest.Fail("x"), probetest.Fail("x"), probetest.Fail("x"))
		f.advance(3 * time.Second)
		if h := f.elem(web, "web2").Health; h != handlespace.HealthDown {
			t.Fatalf("web2 %v, want down", h)
		}
		f.fc.Script(k)
		f.m.Adopt(web, f.elem(web, "web2").ID, handlespace.HealthUp, 0)
		f.advance(time.Millisecond)
		if h := f.elem(web, "web2").Health; h != handlespace.HealthUp {
			t.Errorf("web2 %v after adopting up and one pass (rise 2), want up", h)
		}
	})
}

// TestEarlyConfirmation: the others are asked at an up element's first
// failure; when they agree it is down, it goes down the moment the probes
// here say so, without asking again; when the next probe passes instead,
// their verdict is dropped and nothing changes.
func TestEarlyConfirmation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fcf := &fakeConfirmer{}
		var mu sync.Mutex
		var downs []string
		f := newFixture(t, testZone, monitor.Config{Confirmer: fcf, OnHealthChange: func(pool string, id uint32, from, to handlespace.Health) {
			mu.Lock()
			defer mu.Unlock()
			if to == handlespace.HealthDown {
				downs = append(downs, from.String()+">"+to.String())
			}
		}})
		f.advance(time.Millisecond)
		e1 := f.elem(web, "web1")
		k := monitor.Key(web, e1.ID)
		// One failure, then passes: asked, the verdict dropped.
		f.fc.Script(k, probetest.Fail("timeout after 500ms"), probetest.Pass())
		for fcf.count() == 0 {
			f.advance(10 * time.Millisecond)
		}
		f.m.Verdict(monitor.Verdict{Pool: web, ID: e1.ID, Proposed: handlespace.HealthDown, Health: handlespace.HealthDown, Asked: 2, Answered: 2})
		f.advance(3 * time.Second)
		if e := f.elem(web, "web1"); e.Health != handlespace.HealthUp {
			t.Fatalf("web1 %v after one failure and passes, want up", e.Health)
		}
		// Two failures: asked at the first, down at the second at once.
		n := fcf.count()
		f.fc.Script(k, probetest.Fail("connect: connection refused"), probetest.Fail("connect: connection refused"),
			probetest.Fail("connect: connection refused"))
		for fcf.count() == n {
			f.advance(10 * time.Millisecond)
		}
		calls := f.fc.Calls(k)
		f.m.Verdict(monitor.Verdict{Pool: web, ID: e1.ID, Proposed: handlespace.HealthDown, Health: handlespace.HealthDown, Asked: 2, Answered: 2})
		if h := f.elem(web, "web1").Health; h != handlespace.HealthUp {
			t.Fatalf("web1 %v after one failure, want up until the probes here say down", h)
		}
		for f.fc.Calls(k) == calls {
			f.advance(time.Millisecond)
		}
		f.advance(time.Millisecond)
		if h := f.elem(web, "web1").Health; h != handlespace.HealthDown || fcf.count() != n+1 {
			t.Fatalf("web1 %v after the second failure, %d confirmations asked; want down at once, asked once", h, fcf.count()-n)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(downs) != 1 || downs[0] != "up>down" {
			t.Errorf("changes to down counted: %v, want one, up>down", downs)
		}
	})
}

// TestAdoptBeforeTarget: an element handed here is adopted before the
// monitor has made it a target (the driver hands it over right after the
// handlespace change, which reaches the monitor's sync a moment later);
// once it is a target it is probed at once, not somewhere in the spread
// of the first probes of the targets added with it (up to an interval
// for thousands: the old home probed it until it stopped, so a late
// first probe here would leave it unprobed for up to two intervals).
func TestAdoptBeforeTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, testZone, monitor.Config{})
		f.advance(time.Millisecond)
		const pool, n, other = "big.pool.test.", 20000, 0x0e0e0e0e
		spec := &handlespace.ProbeSpec{Kind: "tcp", Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 2}
		mk := func(i int, home uint32) *handlespace.Element {
			return &handlespace.Element{ID: uint32(1 + i), Label: handlespace.LabelOf(fmt.Sprintf("b%d", i)), Port: 80, Home: home, Probe: handlespace.ProbeRefOf(spec),
				Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, 5, byte(i >> 8), byte(i)})), Expires: handlespace.ExpiryOf(f.clock.Now().Add(time.Hour))}
		}
		ops := make([]handlespace.Op, n)
		for i := range ops {
			ops[i] = handlespace.Op{Pool: pool, Elem: mk(i, other)}
		}
		if err := f.hs.Do(ops...); err != nil {
			t.Fatal(err)
		}
		f.advance(time.Millisecond)
		last := uint32(n) // the last in any order the spread could take
		k := monitor.Key(pool, last)
		if c := f.fc.Calls(k); c != 0 {
			t.Fatalf("%s probed %d times while homed elsewhere", k, c)
		}
		f.m.Adopt(pool, last, handlespace.HealthUp, 0)
		for i := range ops {
			ops[i] = handlespace.Op{Pool: pool, Elem: mk(i, self)}
		}
		if err := f.hs.Do(ops...); err != nil {
			t.Fatal(err)
		}
		f.advance(2 * time.Millisecond)
		if c := f.fc.Calls(k); c != 1 {
			t.Errorf("the adopted element probed %d times within 2 ms of becoming a target, want 1", c)
		}
		probed := 0
		for i := range n {
			if f.fc.Calls(monitor.Key(pool, uint32(1+i))) > 0 {
				probed++
			}
		}
		if probed > n/10 {
			t.Errorf("%d of %d new targets probed within 2 ms: the spread is not what this test assumes", probed, n)
		}
	})
}
