package netlab

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/netlab/dnsq"
)

// fakeElements are elements whose state stays what the checker believes.
type fakeElements map[netip.Addr]ElementState

func (f fakeElements) State(a netip.Addr) ElementState { return f[a] }

func (f fakeElements) Set(a netip.Addr, s ElementState) time.Time { f[a] = s; return time.Now() }

// testChecker is a checker over two registrars (a, b) and one pool of
// three elements, judged by hand: no network.
func testChecker(t *testing.T) (*Checker, []netip.Addr, time.Time) {
	t.Helper()
	elems := []netip.Addr{netip.MustParseAddr("198.19.1.1"), netip.MustParseAddr("198.19.1.2"), netip.MustParseAddr("198.19.1.3")}
	cl := &Cluster{Regs: []*Registrar{{Name: "a"}, {Name: "b"}}}
	c := NewChecker(CheckerConfig{
		Cluster:  cl,
		Backends: fakeElements{},
		Pools:    []Pool{{Name: "p.pool.example.", Elems: elems}},
		Dyn:      Pool{Name: "dyn.pool.example."},
		Interval: 50 * time.Millisecond,
		Bounds:   Bounds{Detect: 3 * time.Second, Takeover: 4 * time.Second, Rise: 8 * time.Second, Propagate: 2 * time.Second},
	})
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c.start = t0
	for _, e := range c.elems {
		e.since = t0.Add(-time.Hour)
	}
	c.stats = make([]regStats, 2)
	for i := range c.stats {
		c.stats[i].open = map[netip.Addr]time.Time{}
	}
	return c, elems, t0
}

func kinds(c *Checker) map[string]int {
	out := map[string]int{}
	for k, n := range c.nviol {
		out[k] = n
	}
	return out
}

func TestCheckerDeadListed(t *testing.T) {
	c, el, t0 := testChecker(t)
	e := c.elems[el[0]]
	e.state, e.since = Dead, t0
	// Within the bound: allowed.
	c.judge(0, 0, t0.Add(2*time.Second), dnsq.Reply{Addrs: el})
	if n := c.nviol[VDeadListed]; n != 0 {
		t.Fatalf("an element dead for 2 s (bound 3 s) counted as dead-listed %d times", n)
	}
	// Past it: a violation, at a and at b.
	c.judge(0, 0, t0.Add(4*time.Second), dnsq.Reply{Addrs: el})
	c.judge(1, 0, t0.Add(4*time.Second), dnsq.Reply{Addrs: el})
	if n := c.nviol[VDeadListed]; n != 2 {
		t.Fatalf("an element dead for 4 s (bound 3 s) listed by two registrars: %d dead-listed, want 2", n)
	}
	// On the minority side: allowed.
	c.regs[1].minority = true
	c.judge(1, 0, t0.Add(5*time.Second), dnsq.Reply{Addrs: el})
	if n := c.nviol[VDeadListed]; n != 2 {
		t.Fatalf("the minority side's answer counted: %d dead-listed, want 2", n)
	}
	// Not listed: fine, and the dead element is no gap.
	c.judge(0, 0, t0.Add(5*time.Second), dnsq.Reply{Addrs: el[1:]})
	if n := c.nviol[VDeadListed]; n != 2 {
		t.Fatalf("an answer without the dead element counted: %d", n)
	}
	if len(c.stats[0].open) != 0 {
		t.Errorf("a dead element's absence opened a gap: %v", c.stats[0].open)
	}
}

func TestCheckerDeadBound(t *testing.T) {
	c, _, t0 := testChecker(t)
	b := c.cfg.Bounds
	if got := c.deadBound(t0); got != b.Detect {
		t.Errorf("no change near the death: bound %v, want %v", got, b.Detect)
	}
	c.changes = []time.Time{t0.Add(-time.Second)} // a registrar died just before
	if got := c.deadBound(t0); got != b.Detect+b.Takeover {
		t.Errorf("a change 1 s before the death: bound %v, want %v", got, b.Detect+b.Takeover)
	}
	c.changes = []time.Time{t0.Add(time.Second)} // while the home detected it
	if got := c.deadBound(t0); got != 2*b.Detect+b.Takeover {
		t.Errorf("a change 1 s after the death: bound %v, want %v", got, 2*b.Detect+b.Takeover)
	}
	c.changes = []time.Time{t0.Add(-time.Minute), t0.Add(time.Minute)}
	if got := c.deadBound(t0); got != b.Detect {
		t.Errorf("changes far from the death: bound %v, want %v", got, b.Detect)
	}
}

func TestCheckerEmpty(t *testing.T) {
	c, el, t0 := testChecker(t)
	c.judge(0, 0, t0, dnsq.Reply{Rcode: dns.RcodeSuccess})
	if n := c.nviol[VEmpty]; n != 1 {
		t.Fatalf("an empty answer with three healthy elements: %d empty, want 1", n)
	}
	// All dead: an empty answer is right.
	for _, a := range el {
		c.elems[a].state, c.elems[a].since = Dead, t0
	}
	c.judge(0, 0, t0.Add(time.Second), dnsq.Reply{})
	if n := c.nviol[VEmpty]; n != 1 {
		t.Fatalf("an empty answer with every element dead counted: %d empty, want 1", n)
	}
	// One alive again, but not for Rise yet: still right.
	c.elems[el[1]].state, c.elems[el[1]].since = Alive, t0.Add(time.Second)
	c.judge(0, 0, t0.Add(2*time.Second), dnsq.Reply{})
	if n := c.nviol[VEmpty]; n != 1 {
		t.Fatalf("an element revived 1 s ago (rise bound 8 s) made an empty answer wrong: %d", n)
	}
	// Alive for Rise, but cut off from a: right at a, wrong at b.
	c.SetCut(el[1], c.cfg.Cluster.Regs[0], true)
	c.judge(0, 0, t0.Add(10*time.Second), dnsq.Reply{})
	if n := c.nviol[VEmpty]; n != 1 {
		t.Fatalf("a's empty answer counted while its only healthy element is cut off from a: %d", n)
	}
	c.judge(1, 0, t0.Add(10*time.Second), dnsq.Reply{})
	if n := c.nviol[VEmpty]; n != 2 {
		t.Fatalf("b's empty answer with a healthy element it reaches: %d empty, want 2", n)
	}
	// a's link is down: nothing is reachable from a.
	c.SetCut(el[1], c.cfg.Cluster.Regs[0], false)
	c.SetIsolated(c.cfg.Cluster.Regs[0], true)
	c.judge(0, 0, t0.Add(11*time.Second), dnsq.Reply{})
	if n := c.nviol[VEmpty]; n != 2 {
		t.Fatalf("an isolated registrar's empty answer counted: %d", n)
	}
}

func TestCheckerCutLeft(t *testing.T) {
	c, el, t0 := testChecker(t)
	c.SetCut(el[2], c.cfg.Cluster.Regs[0], true)
	c.judge(1, 0, t0, dnsq.Reply{Addrs: el[:2]})
	if n := c.nviol[VCutLeft]; n != 1 {
		t.Fatalf("the element cut off from a only, missing at b: %d cut-left, want 1", n)
	}
	c.judge(0, 0, t0, dnsq.Reply{Addrs: el[:2]})
	if n := c.nviol[VCutLeft]; n != 2 {
		t.Fatalf("the element cut off from a only, missing at a: %d cut-left, want 2", n)
	}
	c.judge(0, 0, t0, dnsq.Reply{Addrs: el})
	if n := c.nviol[VCutLeft]; n != 2 {
		t.Fatalf("an answer with the cut element counted: %d", n)
	}
	// Cut off from both: it may leave.
	c.SetCut(el[2], c.cfg.Cluster.Regs[1], true)
	c.judge(0, 0, t0, dnsq.Reply{Addrs: el[:2]})
	if n := c.nviol[VCutLeft]; n != 2 {
		t.Fatalf("an element cut off from every registrar counted as cut-left: %d", n)
	}
}

func TestCheckerGaps(t *testing.T) {
	c, el, t0 := testChecker(t)
	c.judge(0, 0, t0, dnsq.Reply{Addrs: el})
	c.judge(0, 0, t0.Add(50*time.Millisecond), dnsq.Reply{Addrs: el[1:]})
	c.judge(0, 0, t0.Add(100*time.Millisecond), dnsq.Reply{Addrs: el[1:]})
	c.judge(0, 0, t0.Add(150*time.Millisecond), dnsq.Reply{Addrs: el})
	c.judge(1, 0, t0.Add(150*time.Millisecond), dnsq.Reply{Addrs: el[:2]})
	c.end = t0.Add(time.Second)
	c.stop = make(chan struct{})
	c.Stop()
	gs := c.Gaps(t0, t0.Add(time.Hour))
	if gs.N != 2 || gs.Elems != 2 || gs.Longest < 100*time.Millisecond {
		t.Fatalf("gaps %+v, want 2 (one of 100 ms at a, one left open at b) of 2 elements", gs)
	}
	if c.stats[0].lacking != 2 || c.stats[1].lacking != 1 {
		t.Errorf("lacking answers a %d b %d, want 2 and 1", c.stats[0].lacking, c.stats[1].lacking)
	}
	if len(c.nviol) != 0 {
		t.Errorf("gaps are not violations, got %v", kinds(c))
	}
}

// registered adds to c a registration acknowledged at t0, alive for an
// hour, and returns it with the registrations' pool.
func registered(c *Checker, t0 time.Time) (*elemT, int) {
	dyn := len(c.pools) - 1
	d := &elemT{addr: netip.MustParseAddr("198.19.1.200"), pool: dyn, state: Alive, since: t0.Add(-time.Hour), reg: regAcked, regAt: t0}
	c.elems[d.addr] = d
	c.members[dyn] = append(c.members[dyn], d)
	return d, dyn
}

func TestCheckerRegistrations(t *testing.T) {
	c, el, t0 := testChecker(t)
	d, dyn := registered(c, t0)
	// Acknowledged 1 s ago (propagation bound 2 s): may be missing.
	c.judge(0, dyn, t0.Add(time.Second), dnsq.Reply{})
	if len(c.stats[0].open) != 0 || len(c.nviol) != 0 {
		t.Fatalf("a registration 1 s old missing: gaps %v, violations %v", c.stats[0].open, kinds(c))
	}
	// 3 s: must be there.
	c.judge(0, dyn, t0.Add(3*time.Second), dnsq.Reply{})
	if len(c.stats[0].open) != 1 || c.nviol[VEmpty] != 1 {
		t.Fatalf("a registration 3 s old missing: gaps %v, violations %v; want a gap and an empty answer", c.stats[0].open, kinds(c))
	}
	// Deregistered: listed within the bound, fine; past it, stale.
	d.reg, d.deregAt = regGone, t0.Add(4*time.Second)
	c.judge(0, dyn, t0.Add(5*time.Second), dnsq.Reply{Addrs: []netip.Addr{d.addr}})
	c.judge(0, dyn, t0.Add(7*time.Second), dnsq.Reply{Addrs: []netip.Addr{d.addr}})
	if n := c.nviol[VStaleDereg]; n != 1 {
		t.Fatalf("stale deregistrations %d, want 1", n)
	}
	// An address of no element, or one of another pool.
	c.judge(0, dyn, t0, dnsq.Reply{Addrs: []netip.Addr{netip.MustParseAddr("198.19.9.9"), el[0]}})
	if n := c.nviol[VUnknown]; n != 2 {
		t.Fatalf("unknown addresses %d, want 2", n)
	}
}

// TestCheckerDeregInFlight: while a registration's deregistration is
// sent and not yet acknowledged, the registrars may have applied it (the
// one asked does before it answers): an answer without it is no gap,
// nor an empty answer while it is the pool's only element. In the lab
// (main, 06:09:37 on 2026-12-07) r1 applied d0000's deregistration at
// .511 and its acknowledgement came at .518: r1's answer to a question
// sent at .511 was counted a 64 ms "false removal".
func TestCheckerDeregInFlight(t *testing.T) {
	c, _, t0 := testChecker(t)
	d, dyn := registered(c, t0)
	c.judge(0, dyn, t0.Add(3*time.Second), dnsq.Reply{Addrs: []netip.Addr{d.addr}})
	d.reg = regLeaving // the deregistration is sent
	c.judge(0, dyn, t0.Add(3*time.Second+50*time.Millisecond), dnsq.Reply{})
	c.judge(1, dyn, t0.Add(3*time.Second+60*time.Millisecond), dnsq.Reply{Addrs: []netip.Addr{d.addr}})
	d.reg, d.deregAt = regGone, t0.Add(3*time.Second+70*time.Millisecond)
	c.judge(0, dyn, t0.Add(3*time.Second+100*time.Millisecond), dnsq.Reply{})
	for i := range c.stats {
		if len(c.stats[i].open) != 0 || len(c.stats[i].gaps) != 0 || c.stats[i].lacking != 0 {
			t.Errorf("registrar %d: open %v, gaps %v, lacking %d; want none", i, c.stats[i].open, c.stats[i].gaps, c.stats[i].lacking)
		}
	}
	if len(c.nviol) != 0 {
		t.Errorf("violations %v, want none", kinds(c))
	}
	// Before the deregistration was sent, the same answer is a gap.
	d.reg = regAcked
	c.judge(0, dyn, t0.Add(4*time.Second), dnsq.Reply{})
	if len(c.stats[0].open) != 1 {
		t.Errorf("an acknowledged registration missing 4 s after: open %v, want a gap", c.stats[0].open)
	}
}

// TestCheckerDeregAcrossHeal: a deregistration acknowledged on one side
// of a partition is judged from the heal, with Bounds.Heal when set.
func TestCheckerDeregAcrossHeal(t *testing.T) {
	for _, tc := range []struct {
		heal time.Duration
		at   time.Duration // after the heal
		want int
	}{
		{0, 1500 * time.Millisecond, 0},           // Propagate (2 s)
		{0, 2500 * time.Millisecond, 1},           // past Propagate
		{time.Second, 900 * time.Millisecond, 0},  // within Heal
		{time.Second, 1500 * time.Millisecond, 1}, // past Heal
	} {
		c, _, t0 := testChecker(t)
		c.cfg.Bounds.Heal = tc.heal
		dyn := len(c.pools) - 1
		d := &elemT{addr: netip.MustParseAddr("198.19.1.200"), pool: dyn, state: Alive, since: t0.Add(-time.Hour),
			reg: regGone, regAt: t0.Add(-time.Minute), deregAt: t0, deregLocal: true}
		c.elems[d.addr] = d
		c.members[dyn] = append(c.members[dyn], d)
		healed := t0.Add(5 * time.Second)
		c.changes = []time.Time{t0.Add(-time.Second), healed} // the split, the heal
		c.judge(0, dyn, healed.Add(tc.at), dnsq.Reply{Addrs: []netip.Addr{d.addr}})
		if n := c.nviol[VStaleDereg]; n != tc.want {
			t.Errorf("Heal %v, answered %v after the heal: stale deregistrations %d, want %d", tc.heal, tc.at, n, tc.want)
		}
	}
}

// TestCheckerRegistrationBeforeSplit: a registration acknowledged less
// than Propagate before a partition may not have reached the other side
// with its first probe's result (the lab: its home probed it 0.1 s after
// the split began, and the minority had it with its health unknown until
// the heal carried it); it is judged there as one made during the
// partition, from the heal with Bounds.Heal. One older than Propagate at
// the split is expected at once after the heal.
func TestCheckerRegistrationBeforeSplit(t *testing.T) {
	c, _, _ := testChecker(t)
	c.cfg.Bounds.Heal = time.Second
	dyn := len(c.pools) - 1
	now := time.Now()
	late := &elemT{addr: netip.MustParseAddr("198.19.1.200"), pool: dyn, state: Alive, since: now.Add(-time.Hour),
		reg: regAcked, regAt: now.Add(-1500 * time.Millisecond), regBy: 0}
	early := &elemT{addr: netip.MustParseAddr("198.19.1.201"), pool: dyn, state: Alive, since: now.Add(-time.Hour),
		reg: regAcked, regAt: now.Add(-3 * time.Second), regBy: 0}
	for _, d := range []*elemT{late, early} {
		c.elems[d.addr] = d
		c.members[dyn] = append(c.members[dyn], d)
	}
	b := c.cfg.Cluster.Regs[1]
	c.SetMinority(b)
	c.SetMinority()
	healed := c.healedAt
	// 0.9 s after the heal (2.4 s after the late one's acknowledgement,
	// past Propagate): the early one is missed at b, the late one not yet.
	c.judge(1, dyn, healed.Add(900*time.Millisecond), dnsq.Reply{Addrs: []netip.Addr{}})
	if _, open := c.stats[1].open[early.addr]; !open {
		t.Errorf("a registration propagated before the split, missing at the minority after the heal: no gap")
	}
	if _, open := c.stats[1].open[late.addr]; open {
		t.Errorf("a registration 1.5 s old at the split (Propagate 2 s), missing at the minority 0.9 s after the heal (Heal 1 s): a gap")
	}
	// Past Heal: missed.
	c.judge(1, dyn, healed.Add(1500*time.Millisecond), dnsq.Reply{})
	if _, open := c.stats[1].open[late.addr]; !open {
		t.Errorf("the late registration missing at the minority 1.5 s after the heal (Heal 1 s): no gap")
	}
	// On its own side it was never apart.
	if late.apart[0] || !late.apart[1] {
		t.Errorf("apart %v, want b only", late.apart)
	}
}

func TestParseReply(t *testing.T) {
	q, err := dnsq.PackQuery("p00.pool.example")
	if err != nil {
		t.Fatal(err)
	}
	dnsq.SetID(q, 0xbeef)
	var m dns.Msg
	if err := m.Unpack(q); err != nil || m.Id != 0xbeef || m.Question[0].Name != "p00.pool.example." || m.IsEdns0() == nil || m.RecursionDesired {
		t.Fatalf("the packed query reads back as %v (%v)", &m, err)
	}
	r := new(dns.Msg)
	r.SetReply(&m)
	r.Compress = true
	for _, a := range []string{"198.19.1.1", "198.19.2.7"} {
		r.Answer = append(r.Answer, &dns.A{Hdr: dns.RR_Header{Name: "p00.pool.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1}, A: net.ParseIP(a)})
	}
	r.Answer = append(r.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: "p00.pool.example.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{"x"}})
	r.SetEdns0(1232, false)
	b, err := r.Pack()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := dnsq.ParseReply(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.ID != 0xbeef || rep.Rcode != 0 || rep.TC || len(rep.Addrs) != 2 || rep.Addrs[1] != netip.MustParseAddr("198.19.2.7") {
		t.Fatalf("parsed %+v", rep)
	}
	r.Answer = nil
	r.Rcode = dns.RcodeNameError
	r.Truncated = true
	b, _ = r.Pack()
	if rep, err = dnsq.ParseReply(b, nil); err != nil || rep.Rcode != dns.RcodeNameError || !rep.TC || len(rep.Addrs) != 0 {
		t.Fatalf("parsed %+v %v, want NXDOMAIN with TC and no address", rep, err)
	}
	for i := 0; i < len(b); i++ {
		dnsq.ParseReply(b[:i], nil) // no panic on a short message
	}
	if _, err := dnsq.ParseReply(q, nil); err == nil {
		t.Errorf("a query parsed as a reply")
	}
}

// TestCheckerMoving: the convergence measure leaves out the health of
// the elements the workload set moving within its bounds, and of no
// other, and compares everything else of them.
func TestCheckerMoving(t *testing.T) {
	c, elems, t0 := testChecker(t)
	killed, revived, steady := c.elems[elems[0]], c.elems[elems[1]], elems[2]
	killed.state, killed.since = Dead, t0.Add(time.Second)
	revived.state, revived.since = Alive, t0.Add(2*time.Second)
	line := func(a netip.Addr, health, home string) string {
		return "p.pool.example. 00000001 " + a.String() + ":80 " + health + " auto home=" + home + " reported=false"
	}
	digest := func(lines ...string) Digest { return linesDigest(lines) }
	at := t0.Add(3 * time.Second) // killed 2 s ago (Detect 3 s), revived 1 s ago (Rise 8 s)
	mv := c.moving(at)
	if !mv[elems[0]] || !mv[elems[1]] || mv[steady] || len(mv) != 2 {
		t.Fatalf("moving at +3 s: %v, want the killed and the revived element", mv)
	}
	a := digest(line(elems[0], "up", "r1"), line(elems[1], "down", "r1"), line(steady, "up", "r2"))
	b := digest(line(elems[0], "down", "r1"), line(elems[1], "up", "r1"), line(steady, "up", "r2"))
	ma, n := maskHealth(a, mv)
	mb, _ := maskHealth(b, mv)
	if n != 2 || ma.Hash != mb.Hash || a.Hash == b.Hash {
		t.Fatalf("health of moving elements: masked %d lines, equal %v (raw equal %v); want 2, equal, raw unequal", n, ma.Hash == mb.Hash, a.Hash == b.Hash)
	}
	// Another field of a moving element, or the health of a steady one,
	// still counts.
	for _, other := range []Digest{
		digest(line(elems[0], "down", "r3"), line(elems[1], "up", "r1"), line(steady, "up", "r2")),
		digest(line(elems[0], "down", "r1"), line(elems[1], "up", "r1"), line(steady, "down", "r2")),
	} {
		if mo, _ := maskHealth(other, mv); mo.Hash == ma.Hash {
			t.Errorf("%v masked equal to %v", other.Lines, a.Lines)
		}
	}
	// Past their bounds nothing is left out.
	if mv := c.moving(t0.Add(11 * time.Second)); len(mv) != 0 {
		t.Errorf("moving at +11 s: %v, want none", mv)
	}
}
