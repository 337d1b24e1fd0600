package netlab

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/internal/netlab/dnsq"
	"golang.org/x/sys/unix"
)

// Pool is a pool the checker asks for: its name (with the final dot) and
// its elements, one address each.
type Pool struct {
	Name  string
	Elems []netip.Addr
}

// Bounds are the times the checker allows.
type Bounds struct {
	// Detect: from an element's death to its absence from every answer of
	// the majority side, when its home is not disturbed meanwhile.
	Detect time.Duration
	// Takeover: from a registrar's fault (or any change of the live set:
	// a heal, a restart) to its elements being probed by another.
	// An element that dies within Takeover before such a change is
	// allowed Detect + Takeover, one that dies within Detect before it
	// 2 × Detect + Takeover.
	Takeover time.Duration
	// Rise: from an element's revival (or start) to its presence in every
	// answer.
	Rise time.Duration
	// Propagate: from a registration's or deregistration's
	// acknowledgement to every registrar's answers showing it (a
	// registration also needs its first probe).
	//
	// Rise and Propagate get Takeover more when the live set changes
	// within them (the element's home may be the registrar that went).
	Propagate time.Duration
	// Heal, if not 0: from a heal to every answer of the majority side
	// showing a deregistration acknowledged on one side of the network
	// fault while it stood (its DEL_PE to the other side lost; the
	// heal must carry it), and to every answer on the other side
	// showing a registration acknowledged on one side, or acknowledged
	// less than Propagate before the fault began (its first probe's
	// result may not have crossed: until then its absence there is no
	// gap). 0: Propagate, and such a registration is expected at once.
	Heal time.Duration
}

// ElementControl is what the checker needs of the elements' servers:
// their state, and a way to change it. *Backends is one.
type ElementControl interface {
	// State returns element a's state.
	State(a netip.Addr) ElementState
	// Set puts element a in state s and returns when it was done.
	Set(a netip.Addr, s ElementState) time.Time
}

var _ ElementControl = (*Backends)(nil)

// CheckerConfig describes what a Checker asks, does and expects.
type CheckerConfig struct {
	Cluster  *Cluster
	Backends ElementControl
	// Pools are the zone files' pools, each asked for at every registrar
	// every Interval.
	Pools []Pool
	// Dyn is the pool that registrations go to (Name "" for none) and the
	// addresses they may use, served by Backends on DynPort.
	Dyn     Pool
	DynPort uint16
	// Interval is the time between two rounds of questions to one
	// registrar (50 ms).
	Interval time.Duration
	Bounds   Bounds
	// RegisterEvery is the time between two registrations or
	// deregistrations, each at a registrar picked at random (0: none);
	// at most MaxDyn registrations stand at once, with a lease of Lease.
	RegisterEvery time.Duration
	MaxDyn        int
	Lease         time.Duration
	// Deregister is the share (0..1) of the workload's changes that are
	// deregistrations of standing registrations (0: it only registers,
	// until MaxDyn stand).
	Deregister float64
	// ElementFaultEvery is the time between two element faults (kill or
	// freeze of a zone-file element picked at random; 0: none); at most
	// MaxDead elements are down at once, each for DeadFor.
	ElementFaultEvery time.Duration
	MaxDead           int
	DeadFor           time.Duration
	// Seed seeds the checker's random choices (logged).
	Seed uint64
}

// The kinds of violation.
const (
	// VDeadListed: an answer of the majority side lists an element dead
	// for longer than the detection bound.
	VDeadListed = "dead-listed"
	// VEmpty: an answer is empty while an element of the pool is healthy
	// and reachable from the registrar.
	VEmpty = "empty"
	// VCutLeft: an element cut off from one registrar only is missing
	// from an answer.
	VCutLeft = "cut-left"
	// VLostRegistration: an acknowledged registration is missing at a
	// registrar at the end (or an acknowledged deregistration is not).
	VLostRegistration = "lost-registration"
	// VStaleDereg: an answer of the majority side lists an element
	// deregistered longer than Propagate ago.
	VStaleDereg = "stale-deregistration"
	// VUnknown: an answer lists an address that is no element.
	VUnknown = "unknown-address"
	// VTruncated: a reply was truncated (the checker's setup is wrong).
	VTruncated = "truncated"
)

// Violation is one answer (or one final check) that broke a rule.
type Violation struct {
	Kind   string
	At     time.Time
	Reg    string
	Pool   string
	Elem   netip.Addr
	Detail string
}

func (v Violation) String() string {
	s := fmt.Sprintf("%s %s at %s, pool %s", v.At.Format("15:04:05.000"), v.Kind, v.Reg, v.Pool)
	if v.Elem.IsValid() {
		s += ", element " + v.Elem.String()
	}
	if v.Detail != "" {
		s += ": " + v.Detail
	}
	return s
}

// regStatus of a registration.
type regStatus int

const (
	regNone    regStatus = iota // a zone-file element
	regPending                  // sent, not yet acknowledged
	regAcked                    // acknowledged
	regGone                     // deregistration acknowledged
	regUnknown                  // a request failed: either may hold
	regLeaving                  // deregistration sent (maybe applied), not yet acknowledged
)

// elemT is what the checker knows of an element.
type elemT struct {
	addr     netip.Addr
	pool     int
	label    string // registrations: their label
	via      Via    // registrations: how it was registered (the owner must deregister)
	regBy    int    // registrations: the registrar that acknowledged the last change
	state    ElementState
	since    time.Time // of state
	reg      regStatus
	regAt    time.Time // acknowledgement of the registration
	deregAt  time.Time // acknowledgement of the deregistration
	cut      map[int]bool
	reserved bool // not touched by element faults
	// local: registered during a network fault, so known only on side
	// (sideOf) of the registrar that acknowledged it until the heal.
	local bool
	side  int
	// apart: the registrars on another side than the acknowledging one
	// when it was registered during a network fault; they can know of
	// it only once the fault is healed (see Bounds.Heal).
	apart map[int]bool
	// deregLocal: deregistered during a network fault (see Bounds.Heal).
	deregLocal bool
}

// regT is what the checker knows of a registrar's place in the network.
type regT struct {
	minority bool // on the minority side of a partition
	isolated bool // its link is down: no question reaches it
}

// gap is one episode of a registrar's answers lacking a healthy element.
type gap struct {
	reg        int
	elem       netip.Addr
	start, end time.Time
}

// event is a fault or heal of the timeline.
type event struct {
	at   time.Time
	what string
}

// Checker asks every registrar's DNS for every pool every Interval,
// registers and deregisters elements and kills and revives elements while
// a scenario injects faults, and judges each answer against what it knows
// (see the package doc).
type Checker struct {
	cfg   CheckerConfig
	pools []Pool // cfg.Pools, then cfg.Dyn if it has a name

	mu       sync.RWMutex
	elems    map[netip.Addr]*elemT
	members  [][]*elemT // by pool: zone elements, and every registration made
	regs     []regT
	changes  []time.Time // faults and heals: changes of the live set
	netFault int         // network faults in force
	// splitAt and healedAt: when the network faults in force began, and
	// when the last ones were healed.
	splitAt, healedAt time.Time
	events            []event
	actions           []event // the workloads' acknowledged changes
	viols             []Violation
	nviol             map[string]int
	stats             []regStats
	rng               *rand.Rand
	dynNext           int
	counts            workCounts
	paused            bool
	trail             []string // Converge's unequal rounds
	start             time.Time
	end               time.Time
	stop              chan struct{}
	wg                sync.WaitGroup
	stopOnce          sync.Once
}

// workCounts counts what the workloads did.
type workCounts struct {
	registered, deregistered, regFailed int
	killed, frozen, revived             int
}

// regStats are one registrar's counts, kept by its asking goroutine and
// read once it stopped.
type regStats struct {
	answers, unanswered, late, lacking, errors int
	open                                       map[netip.Addr]time.Time
	gaps                                       []gap
	// held counts the SERVFAIL answers (a registrar holding a view that
	// may be stale, EDE 14 Not Ready); holds are their episodes (elem
	// unset), heldSince the start of the one going on.
	held      int
	holds     []gap
	heldSince time.Time
}

// maxExamples bounds the violations kept per kind.
const maxExamples = 20

// NewChecker returns a checker; Start starts it.
func NewChecker(cfg CheckerConfig) *Checker {
	c := &Checker{
		cfg:   cfg,
		pools: slices.Clone(cfg.Pools),
		elems: map[netip.Addr]*elemT{},
		regs:  make([]regT, len(cfg.Cluster.Regs)),
		nviol: map[string]int{},
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		stop:  make(chan struct{}),
	}
	if cfg.Dyn.Name != "" {
		c.pools = append(c.pools, Pool{Name: cfg.Dyn.Name})
	}
	c.members = make([][]*elemT, len(c.pools))
	now := time.Now()
	for pi, p := range cfg.Pools {
		for _, a := range p.Elems {
			e := &elemT{addr: a, pool: pi, state: cfg.Backends.State(a), since: now}
			c.elems[a] = e
			c.members[pi] = append(c.members[pi], e)
		}
	}
	return c
}

// Start starts asking, registering and killing, after setting every
// element's known state as of now (the cluster is taken as settled).
func (c *Checker) Start() error {
	c.mu.Lock()
	c.start = time.Now()
	for _, e := range c.elems {
		e.since = c.start.Add(-c.cfg.Bounds.Rise)
	}
	c.mu.Unlock()
	hub := c.cfg.Cluster.Regs[0].Node.net.Hub()
	c.stats = make([]regStats, len(c.cfg.Cluster.Regs))
	for ri, r := range c.cfg.Cluster.Regs {
		var conn *net.UDPConn
		if err := hub.Do(func() error {
			raddr, err := net.ResolveUDPAddr("udp", r.Addr(DNSPort))
			if err != nil {
				return err
			}
			if conn, err = net.DialUDP("udp", nil, raddr); err != nil {
				return err
			}
			return timestamp(conn)
		}); err != nil {
			c.Stop()
			return err
		}
		c.stats[ri].open = map[netip.Addr]time.Time{}
		a := &asker{outstanding: map[uint16]question{}}
		c.wg.Add(2)
		go c.ask(ri, conn, a)
		go c.read(ri, conn, a)
	}
	if c.cfg.RegisterEvery > 0 && c.cfg.Dyn.Name != "" {
		c.wg.Add(1)
		go c.register()
	}
	if c.cfg.ElementFaultEvery > 0 {
		c.wg.Add(1)
		go c.elementFaults()
	}
	return nil
}

// Stop stops the checker and closes every gap still open.
func (c *Checker) Stop() {
	c.stopOnce.Do(func() {
		close(c.stop)
		c.wg.Wait()
		c.mu.Lock()
		c.end = time.Now()
		for ri := range c.stats {
			st := &c.stats[ri]
			for a, t0 := range st.open {
				st.gaps = append(st.gaps, gap{reg: ri, elem: a, start: t0, end: c.end})
			}
			st.open = nil
		}
		c.mu.Unlock()
	})
}

// Standing reports whether a is an element that must be served: a zone
// element, or a registration acknowledged and not deregistered.
func (c *Checker) Standing(a netip.Addr) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e := c.elems[a]
	return e != nil && (e.reg == regNone || e.reg == regAcked)
}

// Untouched reports whether element a has been alive, with no element
// fault, since at (a frozen or dead element records no probes, so it is
// no measure of who probes it).
func (c *Checker) Untouched(a netip.Addr, at time.Time) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e := c.elems[a]
	return e != nil && e.state == Alive && !e.since.After(at)
}

// Registration returns who acknowledged the registration of element a,
// and when (ok false if a is no acknowledged registration standing).
func (c *Checker) Registration(a netip.Addr) (by *Registrar, at time.Time, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e := c.elems[a]
	if e == nil || e.reg != regAcked {
		return nil, time.Time{}, false
	}
	return c.cfg.Cluster.Regs[e.regBy], e.regAt, true
}

// Reserve keeps element a out of the element faults (a scenario's own
// element).
func (c *Checker) Reserve(a netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.elems[a]; e != nil {
		e.reserved = true
	}
}

// Inject injects f and records it in the timeline as a change of the live
// set; the test fails if the fault cannot be made.
func (c *Checker) Inject(t testing.TB, f Fault) time.Time {
	t.Helper()
	at, err := f.Inject()
	if err != nil {
		t.Fatalf("fault %s: %v", f.Name, err)
	}
	t.Logf("fault %s at %s", f.Name, at.Format("15:04:05.000"))
	c.note(at, f.Name)
	return at
}

// Heal heals f and records it in the timeline.
func (c *Checker) Heal(t testing.TB, f Fault) time.Time {
	t.Helper()
	at, err := f.Heal()
	if err != nil {
		t.Fatalf("heal %s: %v", f.Name, err)
	}
	t.Logf("heal %s at %s", f.Name, at.Format("15:04:05.000"))
	c.note(at, "heal "+f.Name)
	return at
}

func (c *Checker) note(at time.Time, what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.changes = append(c.changes, at)
	c.events = append(c.events, event{at: at, what: what})
}

// SetMinority says which registrars are on the minority side of a
// partition from now on (none: no partition); SetIsolated that a
// registrar's link is down. Call them before injecting the fault and
// after healing it.
func (c *Checker) SetMinority(regs ...*Registrar) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.regs {
		c.regs[i].minority = false
	}
	for _, r := range regs {
		c.regs[c.index(r)].minority = true
	}
	c.recountNet()
}

// SetIsolated says whether r's link is down.
func (c *Checker) SetIsolated(r *Registrar, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.regs[c.index(r)].isolated = on
	c.recountNet()
}

// recountNet counts the network faults in force; c.mu is held.
func (c *Checker) recountNet() {
	was := c.netFault
	c.netFault = 0
	for _, r := range c.regs {
		if r.minority || r.isolated {
			c.netFault++
		}
	}
	switch {
	case was == 0 && c.netFault > 0:
		c.splitAt = time.Now()
		c.apartUnpropagated()
	case was > 0 && c.netFault == 0:
		c.healedAt = time.Now()
	}
}

// apartUnpropagated marks the registrations acknowledged less than
// Propagate before the network fault that begins now as apart for the
// registrars on another side than the acknowledging one: the first probe
// result, or the registration itself, may not have crossed before the
// cut (in the lab a registration 0.46 s before a split reached the
// minority with its health still unknown, its home's first probe 0.1 s
// after the split), so only the heal can carry it there, within
// Bounds.Heal, as one made during the fault. c.mu is held.
func (c *Checker) apartUnpropagated() {
	for _, e := range c.elems {
		if e.reg != regAcked || e.local || !c.splitAt.Before(e.regAt.Add(c.cfg.Bounds.Propagate)) {
			continue
		}
		side := c.sideOf(e.regBy)
		for o := range c.regs {
			if c.sideOf(o) != side {
				if e.apart == nil {
					e.apart = map[int]bool{}
				}
				e.apart[o] = true
			}
		}
	}
}

// sideOf names the side of the network faults in force that registrar
// ri is on: 0 the majority (or no fault), 1 the minority, 2+ri alone
// (its link is down). c.mu is held.
func (c *Checker) sideOf(ri int) int {
	switch {
	case c.regs[ri].isolated:
		return 2 + ri
	case c.regs[ri].minority:
		return 1
	}
	return 0
}

// knows tells whether registrar ri can know of registration e now, so
// that a deregistration there means something: a DNS UPDATE deleting an
// element the registrar never heard of is a successful no-op (RFC 2136),
// which no registrar can turn into a deregistration of the element
// registered elsewhere. A registration is known everywhere Propagate
// after it, unless a network fault came first; one made during a fault
// only on its side (Propagate after it), and everywhere once the fault
// has been healed for a takeover's time (the registrars meet again and
// sync). c.mu is held.
func (c *Checker) knows(ri int, e *elemT, now time.Time) bool {
	b := c.cfg.Bounds
	if c.netFault > 0 {
		if e.local {
			return e.side == c.sideOf(ri) && e.regAt.Add(b.Propagate).Before(now)
		}
		return e.regAt.Add(b.Propagate).Before(c.splitAt)
	}
	if e.local {
		return now.After(c.healedAt.Add(b.Propagate + b.Takeover))
	}
	return e.regAt.Add(b.Propagate).Before(now)
}

// SetCut says whether element a is cut off from registrar r (a blackhole
// in r's namespace).
func (c *Checker) SetCut(a netip.Addr, r *Registrar, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.elems[a]
	if e.cut == nil {
		e.cut = map[int]bool{}
	}
	if on {
		e.cut[c.index(r)] = true
	} else {
		delete(e.cut, c.index(r))
	}
}

func (c *Checker) index(r *Registrar) int {
	for i, o := range c.cfg.Cluster.Regs {
		if o == r {
			return i
		}
	}
	panic("netlab: registrar " + r.Name + " is not the checker's")
}

// question is one question asked and not yet answered.
type question struct {
	pool      int
	sent      time.Time
	countable bool // the registrar was running and reachable when it was sent
}

// asker is the state shared by one registrar's sending and reading
// goroutines.
type asker struct {
	mu          sync.Mutex
	outstanding map[uint16]question
	unanswered  int // questions with no reply within unansweredAfter
	late        int // replies the kernel got more than an interval after the question
}

// unansweredAfter is when a question with no reply counts as unanswered.
const unansweredAfter = time.Second

// ask is one registrar's sending goroutine: a round of questions, one per
// pool, every Interval. Its reader (read) takes the replies whenever they
// come, with the kernel's receive time, so that a checker that is itself
// slow (a loaded machine) does not count answers as missing.
func (c *Checker) ask(ri int, conn *net.UDPConn, a *asker) {
	defer c.wg.Done()
	r := c.cfg.Cluster.Regs[ri]
	defer conn.Close() // ends the reader
	queries := make([][]byte, len(c.pools))
	for i, p := range c.pools {
		q, err := dnsq.PackQuery(p.Name)
		if err != nil {
			panic(err)
		}
		queries[i] = q
	}
	tick := time.NewTicker(c.cfg.Interval)
	defer tick.Stop()
	var id uint16
	for {
		// Answers are judged as of their question's sending: the
		// earliest moment a registrar could have made them.
		sent := time.Now()
		c.mu.RLock()
		countable := r.State() == Running && !c.regs[ri].isolated
		c.mu.RUnlock()
		a.mu.Lock()
		for qid, q := range a.outstanding {
			if sent.Sub(q.sent) > unansweredAfter {
				if q.countable {
					a.unanswered++
				}
				delete(a.outstanding, qid)
			}
		}
		for i := range queries {
			id++
			a.outstanding[id] = question{pool: i, sent: sent, countable: countable}
		}
		first := id - uint16(len(queries)) + 1
		a.mu.Unlock()
		for i, q := range queries {
			dnsq.SetID(q, first+uint16(i))
			conn.Write(q)
		}
		select {
		case <-c.stop:
			a.mu.Lock()
			for _, q := range a.outstanding {
				if q.countable && time.Since(q.sent) > unansweredAfter {
					a.unanswered++
				}
			}
			c.stats[ri].unanswered, c.stats[ri].late = a.unanswered, a.late
			a.mu.Unlock()
			return
		case <-tick.C:
		}
	}
}

// read is one registrar's reading goroutine: each reply is matched to its
// question and judged, until the connection is closed.
func (c *Checker) read(ri int, conn *net.UDPConn, a *asker) {
	defer c.wg.Done()
	buf := make([]byte, 65536)
	oob := make([]byte, 128)
	var addrs []netip.Addr
	for {
		n, oobn, _, _, err := conn.ReadMsgUDP(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // a refusal (ICMP) of a registrar that is gone
		}
		got := rxTime(oob[:oobn])
		rep, err := dnsq.ParseReply(buf[:n], addrs)
		addrs = rep.Addrs
		if err != nil {
			continue
		}
		a.mu.Lock()
		q, ok := a.outstanding[rep.ID]
		delete(a.outstanding, rep.ID)
		if ok && got.Sub(q.sent) > c.cfg.Interval {
			a.late++
		}
		a.mu.Unlock()
		if ok {
			c.judge(ri, q.pool, q.sent, rep)
		}
	}
}

// timestamp asks the kernel to stamp each datagram conn receives
// (SO_TIMESTAMPNS), for rxTime.
func timestamp(conn *net.UDPConn) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return err
	}
	return serr
}

// rxTime returns the kernel's receive time of a datagram from its control
// messages, or now if it has none.
func rxTime(oob []byte) time.Time {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err == nil {
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
				sec := int64(binary.NativeEndian.Uint64(m.Data))
				nsec := int64(binary.NativeEndian.Uint64(m.Data[8:]))
				return time.Unix(sec, nsec)
			}
		}
	}
	return time.Now()
}

// judge checks one answer of registrar ri for pool pi, got at t.
func (c *Checker) judge(ri, pi int, t time.Time, rep dnsq.Reply) {
	st := &c.stats[ri]
	st.answers++
	reg := c.cfg.Cluster.Regs[ri].Name
	pool := c.pools[pi].Name
	var viols []Violation
	if rep.TC {
		viols = append(viols, Violation{Kind: VTruncated, At: t, Reg: reg, Pool: pool})
	}
	if rep.Rcode == 2 {
		// SERVFAIL: the registrar holds its view (after a stop, a healed
		// minority) and lists nothing from it; a resolver asks another.
		// Not judged; the gaps going on stay open.
		st.held++
		if st.heldSince.IsZero() {
			st.heldSince = t
		}
		return
	}
	if !st.heldSince.IsZero() {
		st.holds = append(st.holds, gap{reg: ri, start: st.heldSince, end: t})
		st.heldSince = time.Time{}
	}
	if rep.Rcode != 0 && rep.Rcode != 3 { // NOERROR, NXDOMAIN
		st.errors++
	}
	c.mu.RLock()
	rt := c.regs[ri]
	majority := !rt.minority && !rt.isolated
	for _, a := range rep.Addrs {
		e := c.elems[a]
		switch {
		case e == nil:
			viols = append(viols, Violation{Kind: VUnknown, At: t, Reg: reg, Pool: pool, Elem: a})
		case e.pool != pi:
			viols = append(viols, Violation{Kind: VUnknown, At: t, Reg: reg, Pool: pool, Elem: a, Detail: "an element of " + c.pools[e.pool].Name})
		case majority && e.state != Alive && t.Sub(e.since) > c.deadBound(e.since):
			viols = append(viols, Violation{Kind: VDeadListed, At: t, Reg: reg, Pool: pool, Elem: a,
				Detail: fmt.Sprintf("%s for %v (bound %v)", e.state, t.Sub(e.since).Round(time.Millisecond), c.deadBound(e.since))})
		case majority && c.netFault == 0 && e.reg == regGone && t.Sub(c.deregSeen(e)) > c.deregBound(e):
			viols = append(viols, Violation{Kind: VStaleDereg, At: t, Reg: reg, Pool: pool, Elem: a,
				Detail: fmt.Sprintf("deregistered %v ago, %v after %s (bound %v)", t.Sub(e.deregAt).Round(time.Millisecond),
					t.Sub(c.deregSeen(e)).Round(time.Millisecond), map[bool]string{true: "the heal", false: "the acknowledgement or the last fault"}[e.deregLocal], c.deregBound(e))})
		}
	}
	lacking, healthy := false, false
	for _, e := range c.members[pi] {
		in := slices.Contains(rep.Addrs, e.addr)
		expected := c.expected(e, ri, t)
		healthy = healthy || expected
		if len(e.cut) == 1 && e.state == Alive && !in {
			viols = append(viols, Violation{Kind: VCutLeft, At: t, Reg: reg, Pool: pool, Elem: e.addr})
		}
		t0, open := st.open[e.addr]
		switch {
		case expected && !in:
			lacking = true
			if !open {
				st.open[e.addr] = t
			}
		case open:
			st.gaps = append(st.gaps, gap{reg: ri, elem: e.addr, start: t0, end: t})
			delete(st.open, e.addr)
		}
	}
	c.mu.RUnlock()
	if lacking {
		st.lacking++
	}
	if len(rep.Addrs) == 0 && healthy {
		viols = append(viols, Violation{Kind: VEmpty, At: t, Reg: reg, Pool: pool, Detail: fmt.Sprintf("rcode %d", rep.Rcode)})
	}
	if len(viols) > 0 {
		c.mu.Lock()
		for _, v := range viols {
			c.addViolation(v)
		}
		c.mu.Unlock()
	}
}

// addViolation counts v and keeps it if its kind has few examples; c.mu
// is held.
func (c *Checker) addViolation(v Violation) {
	c.nviol[v.Kind]++
	if c.nviol[v.Kind] <= maxExamples {
		c.viols = append(c.viols, v)
	}
}

// expected reports whether element e must be in registrar ri's answers at
// t: alive for Rise, registered for Propagate (and no partition since;
// registered on the other side of one, healed for Heal), and reachable
// from ri. c.mu is held.
func (c *Checker) expected(e *elemT, ri int, t time.Time) bool {
	b := c.cfg.Bounds
	if e.state != Alive || t.Sub(e.since) < c.settleBound(e.since, b.Rise) || e.cut[ri] || c.regs[ri].isolated {
		return false
	}
	switch e.reg {
	case regNone:
		return true
	case regAcked:
		if e.apart[ri] && b.Heal > 0 && t.Sub(c.healedAt) < b.Heal {
			// Registered on the other side of a network fault: the
			// heal must carry it here, within Heal (as a
			// deregistration made there).
			return false
		}
		return t.Sub(e.regAt) >= c.settleBound(e.regAt, b.Propagate) && c.netFault == 0
	}
	return false
}

// deregSeen is when e's deregistration could start to reach every
// registrar: its acknowledgement, or the last fault or heal after it (a
// deregistration made on one side of a partition, or while a registrar
// was stopped, reaches the others only once they meet again). Faults and
// heals up to now count, not only up to the question's sending: an
// answer judged after a heal may be to a question sent just before it.
// c.mu is held.
func (c *Checker) deregSeen(e *elemT) time.Time {
	from := e.deregAt
	for _, f := range c.changes {
		if f.After(from) {
			from = f
		}
	}
	return from
}

// deregBound is how long after deregSeen element e's deregistration may
// still be answered: Bounds.Heal for one acknowledged during a network
// fault (if set), else Propagate.
func (c *Checker) deregBound(e *elemT) time.Duration {
	if b := c.cfg.Bounds; e.deregLocal && b.Heal > 0 {
		return b.Heal
	}
	return c.cfg.Bounds.Propagate
}

// settleBound is bound, plus Takeover if the live set changed within
// bound after from (the home that was to probe or announce the element
// may be the one that went). c.mu is held.
func (c *Checker) settleBound(from time.Time, bound time.Duration) time.Duration {
	for _, f := range c.changes {
		if !f.Before(from) && !f.After(from.Add(bound)) {
			return bound + c.cfg.Bounds.Takeover
		}
	}
	return bound
}

// deadBound is how long after death at d an element may still be listed
// (see Bounds.Takeover). c.mu is held.
func (c *Checker) deadBound(d time.Time) time.Duration {
	b := c.cfg.Bounds
	bound := b.Detect
	for _, f := range c.changes {
		switch {
		case !f.Before(d.Add(-b.Takeover)) && !f.After(d):
			bound = max(bound, b.Detect+b.Takeover)
		case f.After(d) && !f.After(d.Add(b.Detect)):
			bound = max(bound, 2*b.Detect+b.Takeover)
		}
	}
	return bound
}

// running returns the registrars that take requests now: running, and
// not isolated.
func (c *Checker) running() []int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []int
	for i, r := range c.cfg.Cluster.Regs {
		if r.State() == Running && !c.regs[i].isolated {
			out = append(out, i)
		}
	}
	return out
}

// register is the registration workload.
func (c *Checker) register() {
	defer c.wg.Done()
	tick := time.NewTicker(c.cfg.RegisterEvery)
	defer tick.Stop()
	dyn := len(c.pools) - 1
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		live := c.running()
		if len(live) == 0 {
			continue
		}
		c.mu.Lock()
		if c.paused {
			c.mu.Unlock()
			continue
		}
		ri := live[c.rng.IntN(len(live))]
		var standing, known []*elemT
		for _, e := range c.members[dyn] {
			if e.reg == regAcked {
				standing = append(standing, e)
				if c.knows(ri, e, time.Now()) {
					known = append(known, e)
				}
			}
		}
		var e *elemT
		add := len(standing) == 0 || len(standing) < c.cfg.MaxDyn && c.rng.Float64() >= c.cfg.Deregister
		if !add && (c.cfg.Deregister == 0 || len(known) == 0) {
			c.mu.Unlock()
			continue // MaxDyn stand, and nothing is to be deregistered (there)
		}
		if add {
			if c.dynNext >= len(c.cfg.Dyn.Elems) {
				c.mu.Unlock()
				continue // every address used
			}
			a := c.cfg.Dyn.Elems[c.dynNext]
			e = &elemT{addr: a, pool: dyn, label: fmt.Sprintf("d%04d", c.dynNext), state: Alive,
				since: time.Now().Add(-c.cfg.Bounds.Rise), reg: regPending, reserved: true, via: Via(c.rng.IntN(2))}
			c.dynNext++
			c.elems[a] = e
			c.members[dyn] = append(c.members[dyn], e)
		} else {
			e = known[c.rng.IntN(len(known))]
			e.reg = regLeaving
		}
		c.mu.Unlock()
		r := c.cfg.Cluster.Regs[ri]
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		var err error
		if add {
			err = r.Register(ctx, e.via, c.cfg.Dyn.Name, e.label, e.addr, c.cfg.DynPort, c.cfg.Lease)
		} else {
			err = r.Deregister(ctx, e.via, c.cfg.Dyn.Name, e.label)
		}
		cancel()
		now := time.Now()
		what := map[bool]string{true: "registration", false: "deregistration"}[add]
		c.mu.Lock()
		switch {
		case err != nil:
			e.reg = regUnknown
			c.counts.regFailed++
			c.events = append(c.events, event{at: now, what: fmt.Sprintf("(%s of %s %s at %s by %s failed: %v)", what, e.label, e.addr, r.Name, e.via, err)})
		case add:
			e.reg, e.regAt, e.regBy = regAcked, now, ri
			e.local, e.side = c.netFault > 0, c.sideOf(ri)
			e.apart = nil
			if e.local {
				e.apart = map[int]bool{}
				for o := range c.regs {
					if c.sideOf(o) != e.side {
						e.apart[o] = true
					}
				}
			}
			e.deregLocal = false
			c.counts.registered++
		default:
			e.reg, e.deregAt, e.regBy = regGone, now, ri
			e.deregLocal = c.netFault > 0
			c.counts.deregistered++
		}
		if err == nil {
			c.actions = append(c.actions, event{at: now, what: fmt.Sprintf("%s of %s %s acknowledged by %s (%s)", what, e.label, e.addr, r.Name, e.via)})
		}
		c.mu.Unlock()
	}
}

// elementFaults is the element fault workload.
func (c *Checker) elementFaults() {
	defer c.wg.Done()
	tick := time.NewTicker(c.cfg.ElementFaultEvery)
	defer tick.Stop()
	var zone []*elemT
	c.mu.RLock()
	for pi := range c.cfg.Pools {
		zone = append(zone, c.members[pi]...)
	}
	c.mu.RUnlock()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		now := time.Now()
		c.mu.Lock()
		if c.paused {
			c.mu.Unlock()
			continue
		}
		dead := 0
		for _, e := range zone {
			if e.state == Alive {
				continue
			}
			if now.Sub(e.since) >= c.cfg.DeadFor {
				e.since, e.state = c.cfg.Backends.Set(e.addr, Alive), Alive
				c.counts.revived++
				continue
			}
			dead++
		}
		if dead < c.cfg.MaxDead {
			e := zone[c.rng.IntN(len(zone))]
			if !e.reserved && e.state == Alive && now.Sub(e.since) > c.cfg.Bounds.Rise {
				s := Dead
				c.counts.killed++
				if c.rng.IntN(2) == 0 {
					s = Frozen
					c.counts.killed--
					c.counts.frozen++
				}
				// The truth changes before the backend does: an answer
				// judged in between still counts the element alive.
				e.state = s
				e.since = c.cfg.Backends.Set(e.addr, s)
			}
		}
		c.mu.Unlock()
	}
}

// Pause stops the workloads' changes (registrations and element faults)
// until Resume, so that the registrars can agree; the questions go on.
// The element faults are held as they are: a dead element stays dead
// and nothing is revived (reviving them all at a heal put their rise,
// which the checker itself caused, inside the convergence measure).
func (c *Checker) Pause() { c.setPaused(true) }

// Resume undoes Pause.
func (c *Checker) Resume() { c.setPaused(false) }

func (c *Checker) setPaused(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = on
}

// moving returns the elements whose health the checker itself set moving
// shortly before at: killed or frozen within Bounds.Detect, revived within
// Bounds.Rise, registered within Bounds.Propagate (their first probe).
// Their health may differ between registrars at at for a reason of the
// workload's, not of a fault's heal: the element's home decides it and
// announces it (the answers' rules judge that, with those bounds).
// Before Start none is.
func (c *Checker) moving(at time.Time) map[netip.Addr]bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := map[netip.Addr]bool{}
	if c.start.IsZero() {
		return out
	}
	b := c.cfg.Bounds
	for a, e := range c.elems {
		switch {
		case e.since.After(c.start) && e.state != Alive && at.Sub(e.since) < b.Detect,
			e.since.After(c.start) && e.state == Alive && at.Sub(e.since) < b.Rise,
			e.reg == regAcked && at.Sub(e.regAt) < b.Propagate:
			out[a] = true
		}
	}
	return out
}

// maskHealth returns d with the health of the elements in moving left
// out of its hash (and the lines that differ only so), and how many
// lines it masked.
func maskHealth(d Digest, moving map[netip.Addr]bool) (Digest, int) {
	if len(moving) == 0 {
		return d, 0
	}
	n := 0
	lines := make([]string, len(d.Lines))
	for i, l := range d.Lines {
		lines[i] = l
		f := strings.Fields(l)
		if len(f) < 4 {
			continue
		}
		addrs := f[2]
		if j := strings.LastIndexByte(addrs, ':'); j >= 0 {
			addrs = addrs[:j]
		}
		for _, s := range strings.Split(addrs, ",") {
			if a, err := netip.ParseAddr(s); err == nil && moving[a] {
				f[3] = "~"
				lines[i] = strings.Join(f, " ")
				n++
				break
			}
		}
	}
	return linesDigest(lines), n
}

// linesDigest is the Digest of sorted element lines (as Registrar.Digest
// makes it).
func linesDigest(lines []string) Digest {
	h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return Digest{Hash: hex.EncodeToString(h[:8]), Elements: len(lines), Lines: lines}
}

// Converge fetches every running registrar's digest (all at once) until
// all are equal, for up to limit. It returns the time from since to the
// end of the round that found them equal (an upper bound) and the length
// of that round (the resolution); the workloads should be paused. The
// health of the elements whose fault or registration the checker made
// within its bound before the round (moving) is left out of the
// comparison; a round equal only so is noted in ConvergeTrail. Its
// error names what differs.
func (c *Checker) Converge(since time.Time, limit time.Duration) (took, resolution time.Duration, err error) {
	deadline := since.Add(limit)
	c.mu.Lock()
	c.trail = nil
	c.mu.Unlock()
	for {
		round := time.Now()
		regs := c.running()
		ds := make([]Digest, len(regs))
		errs := make([]error, len(regs))
		var wg sync.WaitGroup
		for i, ri := range regs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				ds[i], errs[i] = c.cfg.Cluster.Regs[ri].Digest(ctx)
			}()
		}
		wg.Wait()
		end := time.Now()
		// The health of the elements that the workload set moving (see
		// moving) is left out: each stands for a change the checker
		// made, not for the heal measured.
		moving := c.moving(round)
		equal, raw := len(regs) > 0, len(regs) > 0
		var names []string
		var msgs []string
		masked := make([]Digest, len(ds))
		for i, ri := range regs {
			names = append(names, c.cfg.Cluster.Regs[ri].Name)
			if errs[i] != nil {
				msgs = append(msgs, errs[i].Error())
				equal, raw = false, false
			}
			masked[i], _ = maskHealth(ds[i], moving)
			equal = equal && masked[i].Hash == masked[0].Hash
			raw = raw && ds[i].Hash == ds[0].Hash
		}
		if equal {
			if !raw {
				diff := digestDiff(names, ds, msgs)
				c.mu.Lock()
				c.trail = append(c.trail, fmt.Sprintf("%v after: equal but for the health of elements the workload set moving (%d of them): %s",
					end.Sub(since).Round(time.Millisecond), len(moving), diff))
				c.mu.Unlock()
			}
			return end.Sub(since), end.Sub(round), nil
		}
		diff := digestDiff(names, masked, msgs)
		c.mu.Lock()
		if len(c.trail) < 20 {
			c.trail = append(c.trail, fmt.Sprintf("%v after: %s", end.Sub(since).Round(time.Millisecond), diff))
		}
		c.mu.Unlock()
		if end.After(deadline) {
			return 0, end.Sub(round), fmt.Errorf("%w %v after: %s", ErrNotConverged, end.Sub(since).Round(time.Millisecond), diff)
		}
	}
}

// ConvergeTrail returns what differed in each round of the last Converge
// that found the digests unequal (the first 20), to say what held up
// convergence.
func (c *Checker) ConvergeTrail() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.trail)
}

// digestDiff says how digests differ: counts, and a few lines that some
// registrars have and others not.
func digestDiff(names []string, ds []Digest, errs []string) string {
	var b strings.Builder
	for i, d := range ds {
		fmt.Fprintf(&b, "%s %s (%d elements); ", names[i], d.Hash, d.Elements)
	}
	for _, e := range errs {
		b.WriteString(e + "; ")
	}
	if len(ds) < 2 {
		return b.String()
	}
	// Each against the digest most of them have (the first on a tie).
	ref, best := 0, 0
	for i := range ds {
		n := 0
		for j := range ds {
			if ds[j].Hash == ds[i].Hash {
				n++
			}
		}
		if n > best {
			ref, best = i, n
		}
	}
	ds[0], ds[ref] = ds[ref], ds[0]
	names = slices.Clone(names)
	names[0], names[ref] = names[ref], names[0]
	for i := 1; i < len(ds); i++ {
		if ds[i].Hash == ds[0].Hash {
			continue
		}
		in0 := map[string]bool{}
		for _, l := range ds[0].Lines {
			in0[l] = true
		}
		n := 0
		for _, l := range ds[i].Lines {
			if !in0[l] && n < 3 {
				fmt.Fprintf(&b, "\n  only %s: %s", names[i], l)
				n++
			}
		}
		ini := map[string]bool{}
		for _, l := range ds[i].Lines {
			ini[l] = true
		}
		n = 0
		for _, l := range ds[0].Lines {
			if !ini[l] && n < 3 {
				fmt.Fprintf(&b, "\n  only %s (not %s): %s", names[0], names[i], l)
				n++
			}
		}
	}
	return b.String()
}

// VerifyRegistrations checks, at every running registrar, that each
// acknowledged registration standing is listed and each acknowledged
// deregistration is not, retrying for up to limit; what still differs
// then is a VLostRegistration. skip, if not nil, leaves out the changes
// it accepts (by the registrar that acknowledged them, and when): those
// that a registrar acknowledged just before it was killed, which the
// others may not have had yet. It returns how many it checked.
func (c *Checker) VerifyRegistrations(limit time.Duration, skip func(by *Registrar, at time.Time) bool) int {
	if c.cfg.Dyn.Name == "" {
		return 0
	}
	deadline := time.Now().Add(limit)
	for {
		var viols []Violation
		checked := 0
		for _, ri := range c.running() {
			r := c.cfg.Cluster.Regs[ri]
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			have, err := r.PoolAddrs(ctx, c.cfg.Dyn.Name)
			cancel()
			if err != nil {
				viols = append(viols, Violation{Kind: VLostRegistration, At: time.Now(), Reg: r.Name, Pool: c.cfg.Dyn.Name, Detail: err.Error()})
				continue
			}
			c.mu.RLock()
			for _, e := range c.members[len(c.pools)-1] {
				at := e.regAt
				if e.reg == regGone {
					at = e.deregAt
				}
				if skip != nil && (e.reg == regAcked || e.reg == regGone) && skip(c.cfg.Cluster.Regs[e.regBy], at) {
					continue
				}
				switch {
				case e.reg == regAcked && !have[e.addr]:
					viols = append(viols, Violation{Kind: VLostRegistration, At: time.Now(), Reg: r.Name, Pool: c.cfg.Dyn.Name, Elem: e.addr,
						Detail: fmt.Sprintf("%s registered at %s %s, missing", e.label, c.cfg.Cluster.Regs[e.regBy].Name, e.regAt.Format("15:04:05.000"))})
				case e.reg == regGone && have[e.addr]:
					viols = append(viols, Violation{Kind: VLostRegistration, At: time.Now(), Reg: r.Name, Pool: c.cfg.Dyn.Name, Elem: e.addr,
						Detail: fmt.Sprintf("%s deregistered %s, still there", e.label, e.deregAt.Format("15:04:05.000"))})
				}
				if e.reg == regAcked || e.reg == regGone {
					checked++
				}
			}
			c.mu.RUnlock()
		}
		if len(viols) == 0 || time.Now().After(deadline) {
			c.mu.Lock()
			for _, v := range viols {
				c.addViolation(v)
			}
			c.mu.Unlock()
			return checked
		}
	}
}

// Report is what a checker saw.
type Report struct {
	Duration   time.Duration
	Answers    int
	Unanswered int // questions to running, reachable registrars with no reply within a second
	Late       int // replies the kernel got more than an interval after their question
	Errors     int // replies with an rcode other than NOERROR, NXDOMAIN and SERVFAIL
	// Held counts the SERVFAIL replies (a registrar holding a view that
	// may be stale); Holds their episodes (one registrar's SERVFAILs until
	// its next other answer), LongestHold the longest and LongestHoldOf
	// where.
	Held          int
	Holds         int
	LongestHold   time.Duration
	LongestHoldOf string
	// Lacking counts the answers that lacked an element that was healthy
	// and reachable from their registrar.
	Lacking int
	// Gaps are the episodes of one registrar's answers lacking one such
	// element; LongestGap the longest; FalseRemovals the distinct
	// elements that had one.
	Gaps          int
	LongestGap    time.Duration
	LongestGapOf  string
	FalseRemovals int
	Violations    map[string]int
	Examples      []Violation
	Registered    int
	Deregistered  int
	RegFailed     int
	Killed        int
	Frozen        int
	Revived       int
	Timeline      []string
}

// Report returns what the checker saw. Call it after Stop.
func (c *Checker) Report() Report {
	c.mu.RLock()
	defer c.mu.RUnlock()
	rp := Report{Duration: c.end.Sub(c.start), Violations: map[string]int{}, Examples: slices.Clone(c.viols),
		Registered: c.counts.registered, Deregistered: c.counts.deregistered, RegFailed: c.counts.regFailed,
		Killed: c.counts.killed, Frozen: c.counts.frozen, Revived: c.counts.revived}
	for k, n := range c.nviol {
		rp.Violations[k] = n
	}
	removed := map[netip.Addr]bool{}
	for ri, st := range c.stats {
		rp.Answers += st.answers
		rp.Unanswered += st.unanswered
		rp.Late += st.late
		rp.Errors += st.errors
		rp.Held += st.held
		rp.Holds += len(st.holds)
		for _, h := range st.holds {
			if d := h.end.Sub(h.start); d > rp.LongestHold {
				rp.LongestHold = d
				rp.LongestHoldOf = fmt.Sprintf("%s from %s", c.cfg.Cluster.Regs[ri].Name, h.start.Format("15:04:05.000"))
			}
		}
		rp.Lacking += st.lacking
		rp.Gaps += len(st.gaps)
		for _, g := range st.gaps {
			removed[g.elem] = true
			if d := g.end.Sub(g.start); d > rp.LongestGap {
				rp.LongestGap = d
				rp.LongestGapOf = fmt.Sprintf("%s at %s from %s", g.elem, c.cfg.Cluster.Regs[ri].Name, g.start.Format("15:04:05.000"))
			}
		}
	}
	rp.FalseRemovals = len(removed)
	evs := slices.Clone(c.events)
	sort.Slice(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	for _, e := range evs {
		rp.Timeline = append(rp.Timeline, fmt.Sprintf("%s %s", e.at.Format("15:04:05.000"), e.what))
	}
	return rp
}

// GapStats sum up gap episodes: how many, the longest (and which), the
// distinct elements (false removals), and how many answers they took.
type GapStats struct {
	N          int
	Longest    time.Duration
	LongestOf  string
	Elems      int
	Registered int // of the elements, the registrations
}

func (g GapStats) String() string {
	if g.N == 0 {
		return "no gap"
	}
	return fmt.Sprintf("%d gaps of %d elements (%d registrations), longest %v (%s)", g.N, g.Elems, g.Registered, g.Longest.Round(time.Millisecond), g.LongestOf)
}

// Gaps sums up the gap episodes that started in [from, to) at the given
// registrars (every one if none is given). Call it after Stop.
func (c *Checker) Gaps(from, to time.Time, regs ...*Registrar) GapStats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	want := map[int]bool{}
	for _, r := range regs {
		want[c.index(r)] = true
	}
	var gs GapStats
	seen := map[netip.Addr]bool{}
	for ri, st := range c.stats {
		if len(want) > 0 && !want[ri] {
			continue
		}
		for _, g := range st.gaps {
			if g.start.Before(from) || !g.start.Before(to) {
				continue
			}
			gs.N++
			if d := g.end.Sub(g.start); d > gs.Longest {
				gs.Longest = d
				gs.LongestOf = fmt.Sprintf("%s at %s from %s", g.elem, c.cfg.Cluster.Regs[ri].Name, g.start.Format("15:04:05.000"))
			}
			if !seen[g.elem] {
				seen[g.elem] = true
				if e := c.elems[g.elem]; e != nil && e.reg != regNone {
					gs.Registered++
				}
			}
		}
	}
	gs.Elems = len(seen)
	return gs
}

// GapList lists the gap episodes that started in [from, to), one line
// each, in order of their start: the element (its registration's label,
// or "zone"), the registrar, the start and the length; at most max lines
// (and how many more). Call it after Stop.
func (c *Checker) GapList(from, to time.Time, max int) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var gs []gap
	for _, st := range c.stats {
		for _, g := range st.gaps {
			if !g.start.Before(from) && g.start.Before(to) {
				gs = append(gs, g)
			}
		}
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].start.Before(gs[j].start) })
	var out []string
	for i, g := range gs {
		if i == max {
			out = append(out, fmt.Sprintf("and %d more", len(gs)-max))
			break
		}
		what := "zone"
		if e := c.elems[g.elem]; e != nil && e.reg != regNone {
			what = "registration " + e.label
		}
		out = append(out, fmt.Sprintf("%s (%s) at %s from %s for %v", g.elem, what, c.cfg.Cluster.Regs[g.reg].Name,
			g.start.Format("15:04:05.000"), g.end.Sub(g.start).Round(time.Millisecond)))
	}
	return out
}

// PerRegistrar returns, for each registrar, its answers, its unanswered
// questions and its gaps over the whole run. Call it after Stop.
func (c *Checker) PerRegistrar() []string {
	var out []string
	for ri, r := range c.cfg.Cluster.Regs {
		st := c.stats[ri]
		gs := c.Gaps(c.start, c.end.Add(time.Second), r)
		held := ""
		if st.held > 0 {
			var longest time.Duration
			for _, h := range st.holds {
				longest = max(longest, h.end.Sub(h.start))
			}
			held = fmt.Sprintf(", %d SERVFAIL (held; longest episode %v)", st.held, longest.Round(time.Millisecond))
		}
		out = append(out, fmt.Sprintf("%s: %d answers (%d late), %d unanswered%s, %d lacking; %s", r.Name, st.answers, st.late, st.unanswered, held, st.lacking, gs))
	}
	return out
}

// Actions returns the workloads' acknowledged registrations and
// deregistrations, one line each.
func (c *Checker) Actions() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []string
	for _, a := range c.actions {
		out = append(out, a.at.Format("15:04:05.000")+" "+a.what)
	}
	return out
}

// Assert fails t for every violation of the given kinds (all kinds if
// none is given), quoting the examples.
func (rp Report) Assert(t testing.TB, kinds ...string) {
	t.Helper()
	if len(kinds) == 0 {
		kinds = []string{VDeadListed, VEmpty, VCutLeft, VLostRegistration, VStaleDereg, VUnknown, VTruncated}
	}
	for _, k := range kinds {
		n := rp.Violations[k]
		if n == 0 {
			continue
		}
		var ex []string
		for _, v := range rp.Examples {
			if v.Kind == k {
				ex = append(ex, "  "+v.String())
			}
		}
		t.Errorf("%d violations %q; the first ones:\n%s", n, k, strings.Join(ex, "\n"))
	}
}

// Summary is the report in a few lines.
func (rp Report) Summary() string {
	var kinds []string
	for k, n := range rp.Violations {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	if len(kinds) == 0 {
		kinds = []string{"none"}
	}
	held := "none"
	if rp.Held > 0 {
		held = fmt.Sprintf("%d in %d episodes (longest %v: %s)", rp.Held, rp.Holds, rp.LongestHold.Round(time.Millisecond), rp.LongestHoldOf)
	}
	return fmt.Sprintf("%v: %d answers (%d late), %d unanswered, %d errors, SERVFAIL (held) %s; %d lacking a healthy element in %d gaps (longest %v: %s), %d false removals; "+
		"%d registered, %d deregistered, %d failed; elements killed %d, frozen %d, revived %d; violations: %s\ntimeline:\n  %s",
		rp.Duration.Round(time.Millisecond), rp.Answers, rp.Late, rp.Unanswered, rp.Errors, held, rp.Lacking, rp.Gaps, rp.LongestGap.Round(time.Millisecond), rp.LongestGapOf,
		rp.FalseRemovals, rp.Registered, rp.Deregistered, rp.RegFailed, rp.Killed, rp.Frozen, rp.Revived,
		strings.Join(kinds, ", "), strings.Join(rp.Timeline, "\n  "))
}
