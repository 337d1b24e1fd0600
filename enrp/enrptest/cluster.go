package enrptest

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/bind"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// pendingProbe is a peer's confirmation request being "probed".
type pendingProbe struct {
	at  time.Time
	req enrp.ProbeRequest
}

// Member is one registrar of a Cluster.
type Member struct {
	ID    uint32
	Node  *enrp.Node
	HS    *handlespace.Handlespace
	Bind  *bind.Binding
	Peers []uint32 // static peers: connected to whenever possible
	// Events are the Node's events so far.
	Events []enrp.Event
	// OpErrors are the operations the handlespace refused.
	OpErrors []bind.OpError
	// Admins are the peers' administrative requests this member applied
	// as their element's home.
	Admins []enrp.AdminRequest
	// Reports are the failure reports peers passed on that this member
	// counted as their element's home; Refusals the refusals of its own
	// requests that came back.
	Reports  []enrp.ReportRequest
	Refusals []enrp.Refusal
	// HoldOps, while set, keeps the Node's handlespace operations back
	// instead of applying them, as the driver does while a handle table
	// comes in; local changes still reach the Node. ReleaseOps applies
	// them.
	HoldOps bool
	held    []enrp.Op

	// Sees, if set, is what this member's probe of an element sees, for
	// the peers' confirmation requests (nil: up); ProbeDelay is how long
	// its probe takes before the answer goes out.
	Sees       func(pool string, id uint32) handlespace.Health
	ProbeDelay time.Duration
	// Probed are the peers' confirmation requests this member carried
	// out; Verdicts the outcomes of its own confirmations (applied to
	// its handlespace as its monitor would); Handed the elements it was
	// handed (off or back); Left whether its hand-off is over.
	Probed   []enrp.ProbeRequest
	Verdicts []enrp.Verdict
	Handed   []enrp.Handed
	Left     bool
	probes   []pendingProbe
	// OnStart, if set, runs on the member's new handlespace when it
	// (re)starts, after its zones and registrations are loaded and before
	// its Node sees them (as a daemon restores stored state).
	OnStart func(hs *handlespace.Handlespace)

	counts map[string]int // failure reports counted, by pool and element
	zones  []handlespace.ZoneDef
	dial   map[uint32]bool // peers to keep a connection to: static and learned
	next   time.Time
	up     bool
	paused time.Time // until then it neither runs timers nor takes messages
	c      *Cluster
}

// Cluster is a set of registrars on one in-memory network and fake clock.
type Cluster struct {
	Clock *Clock
	Net   *Network
	Rand  *rand.Rand
	// Config is the template of every member's enrp.Config (ID, Clock and
	// Rand are filled in).
	Config enrp.Config
	// Members by ID.
	Members map[uint32]*Member
	// MaxBadReports is how many failure reports take an element out of
	// the answers (Reported) at its home, as the monitor's max_bad_reports
	// (0: 1).
	MaxBadReports int

	// Redial is how often a member tries again to connect to a peer
	// (0: DialRetry).
	Redial time.Duration

	conns    map[[2]uint32]bool      // connections, by pair(a, b)
	nextDial map[[2]uint32]time.Time // by {from, to}
	// Trace, if set, gets one line per message delivered or lost and per
	// event: "12.345 0000000a→0000000b PRESENCE …".
	Trace func(line string)

	start time.Time
}

// Epoch is when every Cluster's clock starts.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// NewCluster returns an empty cluster whose randomness comes from seed.
func NewCluster(seed uint64) *Cluster {
	clock := NewClock(Epoch)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return &Cluster{Clock: clock, Net: NewNetwork(clock, r), Rand: r, Members: map[uint32]*Member{}, start: Epoch,
		conns: map[[2]uint32]bool{}, nextDial: map[[2]uint32]time.Time{}}
}

func (c *Cluster) trace(format string, a ...any) {
	if c.Trace != nil {
		t := c.Clock.Now().Sub(c.start)
		c.Trace(fmt.Sprintf("%7.3f ", t.Seconds()) + fmt.Sprintf(format, a...))
	}
}

// Add starts registrar id with zones (which may be nil) and static peers,
// and greets the peers that are up (as a driver does when its connections
// come up). Registrations can then be made on the member's handlespace.
func (c *Cluster) Add(id uint32, zones []handlespace.ZoneDef, peers ...uint32) (*Member, error) {
	m := &Member{ID: id, Peers: peers, zones: zones, c: c}
	c.Members[id] = m
	return m, m.Start(nil)
}

// Registration is a registered element of a pool, as a store keeps it.
type Registration struct {
	Pool   string
	Policy string
	Elem   *handlespace.Element
}

// Stored returns the registrations the member owns, as its store would
// hold them.
func (m *Member) Stored() []Registration {
	var out []Registration
	for _, z := range m.HS.View().Zones() {
		for _, h := range z.PoolHandles() {
			pv := z.Pool(h)
			for e := range pv.Range() {
				if !e.Static && e.Home == m.ID {
					out = append(out, Registration{pv.Name, pv.Spec.Policy, e.Clone()})
				}
			}
		}
	}
	return out
}

// Start (re)starts a stopped member with a fresh Node and handlespace,
// loading its zones and the registrations given (as a restarted registrar
// loads them from its store).
func (m *Member) Start(registrations []Registration) error {
	c := m.c
	cfg := c.Config
	cfg.ID, cfg.Clock, cfg.Rand = m.ID, c.Clock, c.Rand
	cfg.Self = &wire.ServerInfo{ID: m.ID, Transport: wire.Transport{Proto: wire.ParamTCP, Port: wire.Port,
		Addrs: []netip.Addr{netip.AddrFrom4([4]byte{127, byte(m.ID >> 16), byte(m.ID >> 8), byte(m.ID)})}}}
	node, err := enrp.New(cfg)
	if err != nil {
		return err
	}
	m.Node = node
	m.HS = handlespace.New(handlespace.Options{RegistrarID: m.ID, Now: c.Clock.Now})
	m.Bind = bind.New(m.HS, m.ID)
	if err := m.HS.ApplyZones(m.zones); err != nil {
		return err
	}
	for _, r := range registrations {
		if err := m.HS.Do(handlespace.Op{Pool: r.Pool, Elem: r.Elem.Clone(), Policy: r.Policy}); err != nil {
			return err
		}
	}
	if m.OnStart != nil {
		m.OnStart(m.HS)
	}
	m.Left, m.probes = false, nil
	m.up = true
	m.dial = map[uint32]bool{}
	for _, p := range m.Peers {
		m.dial[p] = true
	}
	m.handle(m.Node.Tick()) // the first deadline and live set
	m.Sync()
	c.connect()
	return nil
}

// Connections. Like the real driver, each member keeps a connection to
// each of its static peers and of the peers it learned, dialling again
// every DialRetry while it cannot: a connection needs both ends up and
// the link between them not cut. A new connection starts with each side's
// Hello; a lost one is reported to both Nodes (Disconnected). Messages
// travel only over connections.

// DialRetry is how often a member tries again to connect to a peer.
const DialRetry = time.Second

func pair(a, b uint32) [2]uint32 {
	if a > b {
		a, b = b, a
	}
	return [2]uint32{a, b}
}

// connect makes the connections that can be made now.
func (c *Cluster) connect() {
	now := c.Clock.Now()
	for _, id := range slices.Sorted(maps.Keys(c.Members)) {
		m := c.Members[id]
		if !m.up {
			continue
		}
		for _, pid := range slices.Sorted(maps.Keys(m.dial)) {
			o := c.Members[pid]
			pr := pair(m.ID, pid)
			if o == nil || c.conns[pr] || now.Before(c.nextDial[[2]uint32{m.ID, pid}]) {
				continue
			}
			if !o.up || c.Net.cut[[2]uint32{m.ID, pid}] {
				retry := c.Redial
				if retry <= 0 {
					retry = DialRetry
				}
				c.nextDial[[2]uint32{m.ID, pid}] = now.Add(retry)
				continue
			}
			c.conns[pr] = true
			c.trace("%08x connected to %08x", m.ID, pid)
			// Each end knows whom it connected to (a driver knows the
			// peer it dialled): a push owed goes with the Hello.
			for _, msg := range m.Node.Hello(pid) {
				c.send(m.ID, pid, msg)
			}
			for _, msg := range o.Node.Hello(m.ID) {
				c.send(pid, m.ID, msg)
			}
		}
	}
}

// disconnect breaks the connections that cannot last: an end down, the
// link cut.
func (c *Cluster) disconnect() {
	for _, pr := range sortedPairs(c.conns) {
		a, b := c.Members[pr[0]], c.Members[pr[1]]
		if a.up && b.up && !c.Net.cut[pr] {
			continue
		}
		delete(c.conns, pr)
		c.trace("%08x and %08x disconnected", pr[0], pr[1])
		for _, m := range []*Member{a, b} {
			if m.up {
				other := pr[0] + pr[1] - m.ID
				m.handle(m.Node.Disconnected(other))
			}
		}
	}
}

func sortedPairs(m map[[2]uint32]bool) [][2]uint32 {
	out := make([][2]uint32, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.SortFunc(out, func(x, y [2]uint32) int {
		if x[0] != y[0] {
			return int(int64(x[0]) - int64(y[0]))
		}
		return int(int64(x[1]) - int64(y[1]))
	})
	return out
}

// Connected reports whether members a and b have a connection.
func (c *Cluster) Connected(a, b uint32) bool { return c.conns[pair(a, b)] }

// Stop crashes the member: it stops taking messages and timers, what is
// in flight to it is lost, and its connections break.
func (m *Member) Stop() {
	m.up = false
	m.probes = nil
	m.c.trace("%08x stopped", m.ID)
	m.c.disconnect()
}

// Pause stalls the member for d (a long garbage collection, a starved
// process): it runs no timers and takes no messages until then, and takes
// the messages that arrived meanwhile, in order, when it resumes.
func (m *Member) Pause(d time.Duration) {
	m.paused = m.c.Clock.Now().Add(d)
	m.c.trace("%08x paused for %v", m.ID, d)
}

// Up reports whether the member runs.
func (m *Member) Up() bool { return m.up }

// Do runs f on the member's handlespace (a registration, a probe result)
// and lets the Node see what changed.
func (m *Member) Do(f func(hs *handlespace.Handlespace) error) error {
	if err := f(m.HS); err != nil {
		return err
	}
	m.Sync()
	return nil
}

// Sync feeds the handlespace's changes to the Node until there are none.
func (m *Member) Sync() {
	for i := 0; i < 100; i++ {
		cs := m.Bind.Changes()
		if len(cs) == 0 {
			return
		}
		m.handle(m.Node.Local(cs))
	}
	panic("enrptest: changes do not settle")
}

// Tick runs the member's timers now, out of turn: as a driver does whose
// timer fires before it reads what came meanwhile (after a stall the
// runtime may run either first; the cluster delivers first).
func (m *Member) Tick() { m.handle(m.Node.Tick()) }

// handle carries out a Ready: send, apply, record.
func (m *Member) handle(r enrp.Ready) {
	for _, ev := range r.Events {
		m.Events = append(m.Events, ev)
		m.c.trace("%08x %v", m.ID, ev)
	}
	for _, env := range r.Msgs {
		m.c.send(m.ID, env.To, env.Msg)
	}
	for _, s := range r.Dial {
		if !m.dial[s.ID] {
			m.c.trace("%08x learned %08x", m.ID, s.ID)
			m.dial[s.ID] = true
			defer m.c.connect()
		}
	}
	m.Bind.SetLive(r.Live)
	ops := r.Ops
	if m.HoldOps {
		m.held, ops = append(m.held, ops...), nil
	}
	if errs := m.Bind.Apply(ops); len(errs) > 0 {
		m.OpErrors = append(m.OpErrors, errs...)
	}
	m.next = r.Next
	for _, a := range r.Admin {
		// As the daemon does (through its monitor): a local change of
		// the element, which the Node then announces.
		if err := m.HS.Update(a.Pool, a.ID, func(e *handlespace.Element) { e.Admin = a.Admin }); err == nil {
			m.Admins = append(m.Admins, a)
		}
	}
	for _, rr := range r.Reports {
		// As the daemon's monitor does: count the report, and after
		// MaxBadReports take the element out of the answers.
		if m.counts == nil {
			m.counts = map[string]int{}
		}
		k := rr.Pool + " " + handlespace.IDString(rr.ID)
		m.counts[k]++
		m.Reports = append(m.Reports, rr)
		if m.counts[k] >= max(m.c.MaxBadReports, 1) {
			m.HS.Update(rr.Pool, rr.ID, func(e *handlespace.Element) { e.Reported = true })
		}
	}
	m.Refusals = append(m.Refusals, r.Refusals...)
	for _, pr := range r.Probes {
		m.Probed = append(m.Probed, pr)
		m.probes = append(m.probes, pendingProbe{at: m.c.Clock.Now().Add(m.ProbeDelay), req: pr})
	}
	for _, v := range r.Verdicts {
		// As the daemon's monitor does: publish the verdict as a local
		// change, which the Node then announces.
		m.Verdicts = append(m.Verdicts, v)
		if v.Moved {
			continue
		}
		m.HS.Update(v.Pool, v.ID, func(e *handlespace.Element) {
			e.Health, e.Vantage = v.Health, handlespace.VantagesOf(v.Vantage)
			e.Last = handlespace.LastAt(e, m.ID)
		})
	}
	m.Handed = append(m.Handed, r.Handed...)
	m.Left = m.Left || r.Left
	if len(r.Ops) > 0 || len(r.Admin) > 0 || len(r.Reports) > 0 || len(r.Verdicts) > 0 {
		m.Sync()
	}
}

// Confirm has the member ask its peers to confirm the health proposed
// for element id of pool, homed here, waiting up to wait; false when
// there is no one to ask (then the member applies proposed itself, as
// its monitor would).
func (m *Member) Confirm(pool string, id uint32, proposed handlespace.Health, wait time.Duration) bool {
	ok, r := m.Node.Confirm(pool, id, proposed, wait)
	m.handle(r)
	if !ok {
		m.Do(func(hs *handlespace.Handlespace) error {
			return hs.Update(pool, id, func(e *handlespace.Element) {
				e.Health, e.Vantage, e.Last = proposed, handlespace.VantagesOf(nil), false
			})
		})
	}
	return ok
}

// Leave begins the member's planned hand-off (enrp.Node.Leave), with
// state for what a monitor keeps beside each element (nil: nothing).
func (m *Member) Leave(state enrp.HandoffState) {
	m.handle(m.Node.Leave(state))
}

// answerProbes answers the peers' confirmation requests whose probe is
// done by now.
func (m *Member) answerProbes(now time.Time) {
	rest := m.probes[:0]
	var due []enrp.ProbeRequest
	for _, p := range m.probes {
		if p.at.After(now) {
			rest = append(rest, p)
		} else {
			due = append(due, p.req)
		}
	}
	m.probes = rest
	for _, req := range due {
		h := handlespace.HealthUp
		if m.Sees != nil {
			h = m.Sees(req.Pool, req.ID)
		}
		m.handle(m.Node.Answer(req, h, time.Millisecond))
	}
}

// ReleaseOps stops holding the Node's operations back (HoldOps) and
// applies those held, in order.
func (m *Member) ReleaseOps() {
	ops := m.held
	m.HoldOps, m.held = false, nil
	if errs := m.Bind.Apply(ops); len(errs) > 0 {
		m.OpErrors = append(m.OpErrors, errs...)
	}
	m.Sync()
}

// RequestReport passes a failure report of element id of pool from the
// client at from on to the element's home (enrp.Node.RequestReport), and
// returns the home. An element homed here is counted here.
func (m *Member) RequestReport(pool string, id uint32, from netip.Addr) (uint32, error) {
	home, r, err := m.Node.RequestReport(pool, id, from)
	if errors.Is(err, enrp.ErrHomeHere) {
		r.Reports = append(r.Reports, enrp.ReportRequest{Pool: pool, ID: id, Reporter: from, From: m.ID})
		err = nil
	}
	m.handle(r)
	return home, err
}

// RequestAdmin sets the administrative state of element id of pool as an
// operator's change at this member does: locally if the element is homed
// here, else by asking its home (enrp.Node.RequestAdmin). It returns the
// element's home.
func (m *Member) RequestAdmin(pool string, id uint32, a handlespace.Admin) (uint32, error) {
	home, r, err := m.Node.RequestAdmin(pool, id, a)
	m.handle(r)
	if errors.Is(err, enrp.ErrHomeHere) {
		return home, m.Do(func(hs *handlespace.Handlespace) error {
			return hs.Update(pool, id, func(e *handlespace.Element) { e.Admin = a })
		})
	}
	return home, err
}

func (c *Cluster) send(from, to uint32, msg *wire.Message) {
	if !c.conns[pair(from, to)] {
		c.trace("%08x→%08x not connected: %v dropped", from, to, msg)
		return
	}
	if err := c.Net.Send(from, to, msg); err != nil {
		panic(err)
	}
}

// step delivers what is due and runs the timers that are due at the
// clock's time.
func (c *Cluster) step() {
	now := c.Clock.Now()
	c.disconnect()
	c.connect()
	for {
		d, ok := c.Net.pop(now)
		if !ok {
			break
		}
		to := c.Members[d.to]
		if to == nil || !to.up {
			c.trace("%08x→%08x lost (down)", d.from, d.to)
			continue
		}
		if to.paused.After(now) {
			c.Net.requeue(d, to.paused)
			continue
		}
		msg, err := wire.Decode(d.b)
		if err != nil {
			panic(fmt.Sprintf("enrptest: %08x→%08x: %v", d.from, d.to, err))
		}
		c.trace("%08x→%08x %v", d.from, d.to, msg)
		to.handle(to.Node.Step(msg))
	}
	for _, id := range slices.Sorted(maps.Keys(c.Members)) {
		m := c.Members[id]
		if m.up && !m.paused.After(now) {
			m.answerProbes(now)
		}
		if m.up && !m.paused.After(now) && !m.next.After(now) {
			m.handle(m.Node.Tick())
		}
	}
}

// nextEvent returns the time of the next delivery or timer.
func (c *Cluster) nextEvent() time.Time {
	next := c.Net.next()
	// The next dial of a pair not connected (so that a heal is found
	// at the next dial, as a driver's dialler finds it).
	for k, at := range c.nextDial {
		if !c.conns[pair(k[0], k[1])] && at.After(c.Clock.Now()) && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	for _, m := range c.Members {
		at := m.next
		for _, p := range m.probes {
			if p.at.Before(at) {
				at = p.at
			}
		}
		if m.paused.After(at) {
			at = m.paused
		}
		if m.up && !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next
}

// RunFor runs the cluster for d of fake time.
func (c *Cluster) RunFor(d time.Duration) {
	c.RunUntil(func() bool { return false }, d)
}

// RunUntil runs the cluster until cond holds (checked after each step) or
// limit of fake time has passed, and reports whether cond held. It
// returns at once if cond holds already.
func (c *Cluster) RunUntil(cond func() bool, limit time.Duration) bool {
	end := c.Clock.Now().Add(limit)
	for steps := 0; steps < 10_000_000; steps++ {
		if cond() {
			return true
		}
		next := c.nextEvent()
		if next.IsZero() || next.After(end) {
			c.Clock.Set(end)
			c.step()
			return cond()
		}
		c.Clock.Set(next)
		c.step()
	}
	panic("enrptest: RunUntil did not end")
}

// Elapsed returns the fake time since the cluster started.
func (c *Cluster) Elapsed() time.Duration { return c.Clock.Now().Sub(c.start) }

// Up returns the members that run, by ID.
func (c *Cluster) Up() []*Member {
	var out []*Member
	for _, id := range slices.Sorted(maps.Keys(c.Members)) {
		if m := c.Members[id]; m.up {
			out = append(out, m)
		}
	}
	return out
}

// Consistent reports whether every running member's belief of every
// running member's ownership (checksum and digest) equals that member's
// own claim, and if not, the first difference.
func (c *Cluster) Consistent() (bool, string) {
	up := c.Up()
	for _, owner := range up {
		sum, dig := owner.Node.ClaimOf(owner.ID)
		for _, m := range up {
			if m == owner {
				continue
			}
			s, d := m.Node.ClaimOf(owner.ID)
			if s != sum || d != dig {
				return false, fmt.Sprintf("%08x believes %08x owns %d elements (checksum %04x), it claims %d (%04x)",
					m.ID, owner.ID, d.Count, s, dig.Count, sum)
			}
		}
	}
	return true, ""
}

// Element is one element as a member's handlespace has it.
type Element struct {
	Pool string
	*handlespace.Element
}

// Elements returns every element of the member's handlespace, sorted by
// pool and ID.
func (m *Member) Elements() []Element {
	var out []Element
	v := m.HS.View()
	for _, z := range v.Zones() {
		for _, h := range z.PoolHandles() {
			pv := z.Pool(h)
			for e := range pv.Range() {
				out = append(out, Element{pv.Name, e})
			}
		}
	}
	slices.SortFunc(out, func(a, b Element) int {
		if c := strings.Compare(a.Pool, b.Pool); c != 0 {
			return c
		}
		return int(int64(a.ID) - int64(b.ID))
	})
	return out
}

// Find returns the member's element id of pool, or nil.
func (m *Member) Find(pool string, id uint32) *handlespace.Element {
	pv := m.HS.View().Pool(pool)
	if pv == nil {
		return nil
	}
	return pv.Element(id)
}

// EventsOf returns the member's events of kind.
func (m *Member) EventsOf(kind enrp.EventKind) []enrp.Event {
	var out []enrp.Event
	for _, ev := range m.Events {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}
