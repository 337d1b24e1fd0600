package cluster

import (
	"context"
	"net/netip"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/internal/netlab"
)

// faultFor is how long a fault stands before it is healed.
const faultFor = 10 * time.Second

// convergeBound: after a heal every registrar's digest must equal the
// others' within two presence intervals.
const convergeBound = 2 * presence

// others returns the lab's registrars but the ones named.
func (l *lab) others(names ...string) []*netlab.Registrar {
	var out []*netlab.Registrar
	for _, r := range l.cluster.Regs {
		if !slices.Contains(names, r.Name) {
			out = append(out, r)
		}
	}
	return out
}

// TestClusterKill is the short scenario that make test runs: five
// registrars in three sites, a thousand probed elements, the checker
// asking every registrar for every pool every 50 ms, registering and
// deregistering at random registrars (during the takeover as at any
// other time) and killing and reviving elements. r3 is killed (SIGKILL):
// every element it probed must be probed by another registrar within the
// takeover bound, and the survivors' answers must keep every rule. The
// checker stops; r3 is restarted, and every acknowledged registration
// and deregistration must hold everywhere. (What the answers do while r3
// comes back, and how soon all agree, is TestClusterRestart's.)
func TestClusterKill(t *testing.T) {
	l := newLab(t, labOpts{deregister: churn})
	killScenario(t, l, "kill -9 r3 (10 s), then restart; registrations and deregistrations")
}

func killScenario(t *testing.T, l *lab, name string) {
	l.run(t)
	l.steady(3 * time.Second)
	r3 := l.regs["r3"]
	killed := l.checker.Inject(t, r3.Kill())
	longest, median, n := l.takeover(t, r3, killed, 3*bounds.Takeover)
	t.Logf("kill -9 r3: its %d elements probed by another registrar after %v (median %v)", n, longest.Round(time.Millisecond), median.Round(time.Millisecond))
	if longest > bounds.Takeover {
		t.Errorf("takeover after kill -9 took %v, bound %v", longest, bounds.Takeover)
	}
	l.steady(faultFor - time.Since(killed))
	l.checker.Stop()
	t.Logf("the survivors' answers while r3 was dead: %s", l.checker.Gaps(killed, time.Now(), l.others("r3")...))
	// What r3 acknowledged in its last moments may not have reached the
	// others: the survivors must have everything else.
	checked := l.checker.VerifyRegistrations(10*time.Second, func(by *netlab.Registrar, at time.Time) bool {
		return by == r3 && killed.Sub(at) < bounds.Propagate
	})
	t.Logf("%d acknowledged registrations and deregistrations checked at the survivors", checked)
	back := l.checker.Inject(t, r3.Restart())
	conv := "-"
	if d, res, err := l.checker.Converge(back, 30*time.Second); err != nil {
		t.Errorf("after r3's restart: %v", err)
	} else {
		conv = dur(d) + " after restart (not asserted here)"
		t.Logf("r3 restarted: all five agree %v after it was ready (a round of digests took %v; asserted by TestClusterRestart)", d.Round(time.Millisecond), res.Round(time.Millisecond))
	}
	rp := l.report(t)
	l.result(t, name, dur(longest)+" (median "+dur(median)+")", conv, rp)
	rp.Assert(t)
}

// TestClusterFreeze: r5 (alone in its site, 150 ms from the others) is
// stopped (SIGSTOP) for 10 s: its elements must be taken over within the
// bound and the others' answers keep every rule; after SIGCONT all must
// agree within two presence intervals and every rule holds, at r5 too.
func TestClusterFreeze(t *testing.T) {
	long(t)
	l := newLab(t, labOpts{deregister: churn})
	l.run(t)
	l.steady(3 * time.Second)
	r5 := l.regs["r5"]
	f := r5.Freeze()
	stopped := l.checker.Inject(t, f)
	longest, median, n := l.takeover(t, r5, stopped, 3*bounds.Takeover)
	t.Logf("SIGSTOP r5: its %d elements probed by another registrar after %v (median %v)", n, longest.Round(time.Millisecond), median.Round(time.Millisecond))
	if longest > bounds.Takeover {
		t.Errorf("takeover after SIGSTOP took %v, bound %v", longest, bounds.Takeover)
	}
	l.steady(faultFor - time.Since(stopped))
	resumed := l.checker.Heal(t, f)
	conv := l.converge(t, "after SIGCONT", resumed, convergeBound)
	l.steady(4 * time.Second)
	rp := l.finish(t)
	t.Logf("while r5 was stopped, at the others: %s", l.checker.Gaps(stopped, resumed, l.others("r5")...))
	t.Logf("after SIGCONT: %s", l.checker.Gaps(resumed, time.Now()))
	l.logGaps(t, stopped, time.Now())
	l.result(t, "SIGSTOP r5 (10 s), SIGCONT", dur(longest)+" (median "+dur(median)+")", dur(conv), rp)
	rp.Assert(t)
}

// TestClusterLinkDown: r1's link goes down for 10 s (a minority
// partition of one: it reaches nothing and nothing reaches it). The
// others take its elements over and keep every rule; after the link comes
// back all must agree within two presence intervals, and no answer
// anywhere may lose a healthy element or be empty (r1 must not bring back
// the "down" health it formed alone).
func TestClusterLinkDown(t *testing.T) {
	long(t)
	l := newLab(t, labOpts{deregister: churn})
	l.run(t)
	l.steady(3 * time.Second)
	r1 := l.regs["r1"]
	f := r1.Node.LinkDown()
	l.checker.SetIsolated(r1, true)
	down := l.checker.Inject(t, f)
	longest, median, n := l.takeover(t, r1, down, 3*bounds.Takeover)
	t.Logf("r1's link down: its %d elements probed by another registrar after %v (median %v)", n, longest.Round(time.Millisecond), median.Round(time.Millisecond))
	if longest > bounds.Takeover {
		t.Errorf("takeover after r1's link went down took %v, bound %v", longest, bounds.Takeover)
	}
	l.steady(faultFor - time.Since(down))
	up := l.checker.Heal(t, f)
	l.checker.SetIsolated(r1, false)
	t.Logf("r1's link ran again %v after the heal (the kernel's link worker)", r1.Node.LinkRan().Sub(up).Round(time.Millisecond))
	conv := l.converge(t, "after r1's link came back", up, convergeBound)
	l.steady(4 * time.Second)
	rp := l.finish(t)
	t.Logf("while r1 was cut off, at the others: %s", l.checker.Gaps(down, up, l.others("r1")...))
	t.Logf("after the heal: %s", l.checker.Gaps(up, time.Now()))
	l.logGaps(t, down, time.Now())
	l.result(t, "r1's link down (10 s), up", dur(longest)+" (median "+dur(median)+")", dur(conv), rp)
	rp.Assert(t)
}

// TestClusterSplit: a 2|3 split of the five (r1, r2 | r3, r4, r5) for
// 10 s, backends reachable from both sides: the majority side takes the
// minority's elements over and keeps every rule; after the heal all must
// agree within two presence intervals and every rule holds everywhere.
func TestClusterSplit(t *testing.T) {
	long(t)
	l := newLab(t, labOpts{deregister: churn})
	l.run(t)
	l.steady(3 * time.Second)
	minority := []*netlab.Registrar{l.regs["r1"], l.regs["r2"]}
	majority := l.others("r1", "r2")
	var a, b []*netlab.Node
	for _, r := range minority {
		a = append(a, r.Node)
	}
	for _, r := range majority {
		b = append(b, r.Node)
	}
	f := l.net.Split(a, b)
	l.checker.SetMinority(minority...)
	split := l.checker.Inject(t, f)
	var longest time.Duration
	for _, r := range minority {
		lg, median, n := l.takeover(t, r, split, 3*bounds.Takeover)
		t.Logf("split: %s's %d elements probed by another registrar after %v (median %v)", r.Name, n, lg.Round(time.Millisecond), median.Round(time.Millisecond))
		longest = max(longest, lg)
	}
	if longest > bounds.Takeover {
		t.Errorf("takeover of the minority's elements took %v, bound %v", longest, bounds.Takeover)
	}
	l.steady(faultFor - time.Since(split))
	healed := l.checker.Heal(t, f)
	l.checker.SetMinority()
	conv := l.converge(t, "after the split healed", healed, convergeBound)
	l.steady(4 * time.Second)
	rp := l.finish(t)
	t.Logf("during the split, at the majority: %s", l.checker.Gaps(split, healed, majority...))
	t.Logf("after the heal: %s", l.checker.Gaps(healed, time.Now()))
	l.logGaps(t, split, time.Now())
	l.result(t, "split r1,r2 | r3,r4,r5 (10 s), heal", dur(longest)+" (minority's elements)", dur(conv), rp)
	rp.Assert(t)
}

// TestClusterBlackhole: an element homed at r2 becomes unreachable from
// r2 only (a blackhole route in r2's namespace) for 10 s. The others
// still reach it, so it must never leave any registrar's answers.
func TestClusterBlackhole(t *testing.T) {
	long(t)
	l := newLab(t, labOpts{deregister: churn})
	r2 := l.regs["r2"]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	homes, err := r2.Homes(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	var mine []netip.Addr
	for a, h := range homes {
		if h == r2.ID && l.checker.Standing(a) {
			mine = append(mine, a)
		}
	}
	if len(mine) == 0 {
		t.Fatalf("r2 (%s) is home of no zone element", r2.ID)
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].Less(mine[j]) })
	e := mine[0]
	l.checker.Reserve(e)
	l.run(t)
	l.steady(3 * time.Second)
	f := r2.Node.Blackhole(netip.PrefixFrom(e, 32))
	l.checker.SetCut(e, r2, true)
	cut := l.checker.Inject(t, f)
	l.steady(faultFor)
	healed := l.checker.Heal(t, f)
	l.checker.SetCut(e, r2, false)
	l.steady(4 * time.Second)
	rp := l.finish(t)
	t.Logf("%s (home r2) cut off from r2: %s", e, l.checker.Gaps(cut, healed))
	l.result(t, "blackhole r2 -> one of its elements (10 s)", "-", "-", rp)
	rp.Assert(t)
}

// TestClusterTerm: SIGTERM to r4 hands its elements over: it exits
// within enrp.handoff_timeout (2 s), no element it probed goes unprobed
// for more than an interval (and the delay to it), and no registrar's
// answers lose a healthy element. r4 is then started again and takes its
// zone-file elements back the same way.
func TestClusterTerm(t *testing.T) {
	long(t)
	l := newLab(t, labOpts{deregister: churn})
	l.run(t)
	l.steady(3 * time.Second)
	r4 := l.regs["r4"]
	before := time.Now()
	elems, err := l.backends.ProbedBy(r4.Node.Addr, before.Add(-2*time.Second), before)
	if err != nil {
		t.Fatal(err)
	}
	termed := l.checker.Inject(t, r4.Term())
	code, exited, err := r4.WaitExit(10 * time.Second)
	if err != nil {
		t.Fatalf("r4 did not exit within 10 s of SIGTERM")
	}
	t.Logf("r4 exited %d, %v after SIGTERM", code, exited.Sub(termed).Round(time.Millisecond))
	if exited.Sub(termed) > 2*time.Second+500*time.Millisecond {
		t.Errorf("r4 took %v to exit after SIGTERM, want at most the hand-off timeout (2 s)", exited.Sub(termed))
	}
	l.steady(faultFor - time.Since(termed))
	var alive []netip.Addr
	for _, a := range elems {
		if l.checker.Standing(a) && l.checker.Untouched(a, termed.Add(-probeInterval)) {
			alive = append(alive, a)
		}
	}
	gaps, err := l.backends.MaxProbeGap(alive, termed, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var worst time.Duration
	var worstOf netip.Addr
	for i, g := range gaps {
		if g > worst {
			worst, worstOf = g, alive[i]
		}
	}
	t.Logf("the %d elements r4 probed (%d of them alive, without element faults, throughout): longest without a probe after SIGTERM %v (%s)", len(elems), len(alive), worst.Round(time.Millisecond), worstOf)
	if limit := probeInterval + 2*maxDelay; worst > limit {
		t.Errorf("%s went %v without a probe after r4's SIGTERM, want at most %v (an interval and the delay)", worstOf, worst.Round(time.Millisecond), limit)
	}
	back := l.checker.Inject(t, r4.Restart())
	conv := l.converge(t, "after r4's restart", back, convergeBound)
	l.steady(4 * time.Second)
	rp := l.finish(t)
	gt, gb := l.checker.Gaps(termed, back), l.checker.Gaps(back, time.Now())
	t.Logf("after SIGTERM: %s; after the restart: %s", gt, gb)
	if gt.N > 0 {
		t.Errorf("answers lost healthy elements after r4's SIGTERM: %s", gt)
	}
	if gb.N > 0 {
		t.Errorf("answers lost healthy elements after r4's restart: %s", gb)
	}
	l.result(t, "SIGTERM r4, restart", "exit "+dur(exited.Sub(termed))+", unprobed at most "+dur(worst), dur(conv), rp)
	rp.Assert(t)
}

// TestClusterRestart: r2 is killed and, once its elements are taken over,
// started again while the checker asks: it must not answer before it has
// synced (no empty answer, no healthy element missing), it must bring its
// elements' health back rather than start them unknown, and all must
// agree within two presence intervals of its being ready.
func TestClusterRestart(t *testing.T) {
	long(t)
	l := newLab(t, labOpts{deregister: churn})
	l.run(t)
	l.steady(3 * time.Second)
	r2 := l.regs["r2"]
	killed := l.checker.Inject(t, r2.Kill())
	longest, _, _ := l.takeover(t, r2, killed, 3*bounds.Takeover)
	l.steady(max(0, bounds.Takeover-time.Since(killed)))
	back := l.checker.Inject(t, r2.Restart())
	conv := l.converge(t, "after r2's restart", back, convergeBound)
	l.steady(6 * time.Second)
	rp := l.finish(t)
	gs := l.checker.Gaps(back.Add(-time.Second), time.Now())
	t.Logf("after the restart: %s", gs)
	if gs.N > 0 {
		t.Errorf("answers lost healthy elements after r2's restart: %s", gs)
	}
	l.result(t, "kill -9 r2, restart after takeover", dur(longest), dur(conv), rp)
	rp.Assert(t)
}
