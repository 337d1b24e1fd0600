package enrp

import (
	"fmt"
	"slices"
	"time"

	"github.com/poolnsd/poolnsd/enrp/baseline"
	"github.com/poolnsd/poolnsd/enrp/placement"
	"github.com/poolnsd/poolnsd/enrp/stale"
	"github.com/poolnsd/poolnsd/enrp/table"
	"github.com/poolnsd/poolnsd/enrp/vantage"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// Clock is the state machine's only source of time.
type Clock interface {
	Now() time.Time
}

// Rand is the state machine's random source (presence jitter): Float64
// returns a number in [0, 1). *math/rand.Rand is one.
type Rand interface {
	Float64() float64
}

// Config configures a Node. Zero values have the defaults given.
type Config struct {
	// ID is this registrar's ID, non-zero.
	ID uint32
	// Self is how peers reach this registrar, sent in PRESENCE and
	// LIST_RESPONSE; nil sends none.
	Self *wire.ServerInfo
	// Clock and Rand are required.
	Clock Clock
	Rand  Rand

	// PresenceInterval is the mean time between two PRESENCE messages to
	// each peer (default 1 s). Each interval is drawn uniformly from
	// PresenceInterval × (1 ± Jitter).
	PresenceInterval time.Duration
	// Jitter is the relative jitter of the presence interval (default
	// 0.125; a negative value means none).
	Jitter float64
	// MaxTimeLastHeard is how long a peer may be silent before it is asked
	// for a PRESENCE with the reply-required flag (default 3 ×
	// PresenceInterval).
	MaxTimeLastHeard time.Duration
	// MaxTimeNoResponse is how long that question may go unanswered before
	// the peer is dead (default PresenceInterval). A peer is therefore
	// dead MaxTimeLastHeard + MaxTimeNoResponse after it was last heard.
	MaxTimeNoResponse time.Duration
	// PageSize is the most elements of one HANDLE_TABLE_RESPONSE (default
	// 128); a page also stops short of 60 000 bytes.
	PageSize int

	// Confirm is how many other live registrars a change of health of an
	// element homed here is confirmed by (see Confirm); 0: none.
	Confirm int
	// Quorum is how many vantage points (this registrar included) must
	// see a proposed change of health for it to take effect, clamped to
	// those that answered; 0: a strict majority of those that answered.
	Quorum int
	// ConfirmRate and ConfirmBurst limit the confirmation requests one
	// peer may make here: a token bucket of ConfirmBurst refilled at
	// ConfirmRate a second (defaults DefaultConfirmRate,
	// DefaultConfirmBurst). MaxProbes bounds the peers' requests being
	// carried out here at once (default DefaultMaxProbes).
	ConfirmRate  float64
	ConfirmBurst int
	MaxProbes    int
	// PeerRTT, if set, returns the round-trip time to a peer (0 unknown),
	// for the confirmations' budgets (placement.Budgets): a far vantage
	// point gets its round trip more. Called from the Node's methods.
	PeerRTT func(id uint32) time.Duration

	// ResyncWait bounds how long this registrar holds its view as stale
	// after a stall or a healed minority (see Stale) while it waits to
	// sync with its peers (default MaxTimeLastHeard + MaxTimeNoResponse;
	// negative: it never holds).
	ResyncWait time.Duration
}

// Defaults.
const (
	DefaultPresenceInterval = time.Second
	DefaultJitter           = 0.125
	DefaultPageSize         = 128
	// pageBytes bounds the encoded size of a table page, under the 65 535
	// that a message length can say.
	pageBytes = 60000
)

func (c *Config) defaults() error {
	if c.ID == 0 {
		return fmt.Errorf("enrp: registrar ID 0")
	}
	if c.Clock == nil || c.Rand == nil {
		return fmt.Errorf("enrp: a Clock and a Rand are required")
	}
	if c.PresenceInterval <= 0 {
		c.PresenceInterval = DefaultPresenceInterval
	}
	switch {
	case c.Jitter == 0:
		c.Jitter = DefaultJitter
	case c.Jitter < 0:
		c.Jitter = 0
	case c.Jitter >= 1:
		return fmt.Errorf("enrp: jitter %v, want below 1", c.Jitter)
	}
	if c.MaxTimeLastHeard <= 0 {
		c.MaxTimeLastHeard = 3 * c.PresenceInterval
	}
	if c.MaxTimeNoResponse <= 0 {
		c.MaxTimeNoResponse = c.PresenceInterval
	}
	if c.PageSize <= 0 {
		c.PageSize = DefaultPageSize
	}
	if c.ResyncWait == 0 {
		c.ResyncWait = c.MaxTimeLastHeard + c.MaxTimeNoResponse
	}
	if c.ConfirmRate <= 0 {
		c.ConfirmRate = DefaultConfirmRate
	}
	if c.ConfirmBurst <= 0 {
		c.ConfirmBurst = DefaultConfirmBurst
	}
	if c.MaxProbes <= 0 {
		c.MaxProbes = DefaultMaxProbes
	}
	return nil
}

// Envelope is a message to send to one peer.
type Envelope struct {
	To  uint32
	Msg *wire.Message
}

// OpKind is the kind of a handlespace operation.
type OpKind uint8

// Handlespace operations that the state machine asks for.
const (
	// OpPut puts Elem into Pool as given (health, home and all), creating
	// the pool with Policy if need be: an element owned by a peer.
	OpPut OpKind = iota + 1
	// OpDelete removes element ID of Pool.
	OpDelete
	// OpSetHome changes only the home of element ID of Pool to Home.
	OpSetHome
	// OpSetState copies the state that a zone-file element's home
	// measures (health, admin, reported, load, RTT) from Elem to element
	// ID of Pool.
	OpSetState
)

func (k OpKind) String() string {
	switch k {
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	case OpSetHome:
		return "set-home"
	case OpSetState:
		return "set-state"
	}
	return "op?"
}

// Op is one handlespace operation.
type Op struct {
	Kind   OpKind
	Pool   string
	ID     uint32
	Policy string               // OpPut
	Elem   *handlespace.Element // OpPut, OpSetState; never modified
	Home   uint32               // OpSetHome
	// Guard, if set, makes the operation conditional (see Guard): the
	// Node sets it on every operation on a registered element.
	Guard *Guard
}

// Guard makes an operation on a registered element conditional on the
// registration the Node believed the handlespace held (placement.Guard).
type Guard = placement.Guard

// guardOf returns the guard of an operation on the registration e (nil:
// none).
func guardOf(e *handlespace.Element) *Guard {
	if e == nil {
		return &Guard{}
	}
	return &Guard{Present: true, Home: e.Home, Expires: e.Expires.Time()}
}

// EventKind is the kind of an Event.
type EventKind uint8

// Events: what happened, for logs, metrics and tests.
const (
	EventPeerUp         EventKind = iota + 1 // first heard of, or heard again after it was dead
	EventPeerSuspect                         // silent for MaxTimeLastHeard: asked to reply
	EventPeerDead                            // the question went unanswered
	EventSyncDone                            // a handle table transfer ended (Count elements applied)
	EventSyncAbort                           // a handle table transfer timed out or was refused
	EventResync                              // a checksum or digest mismatch started a transfer of the peer's own elements
	EventSwept                               // a transfer's sweep removed Count elements not confirmed
	EventTakeoverStart                       // this registrar started to take over Target
	EventTakeoverAbort                       // it gave the takeover of Target up (Detail says why)
	EventTakeoverDone                        // it took over Target's Count elements
	EventTakenOver                           // Peer took over Target's Count elements
	EventOwnershipLost                       // Count elements this registrar owned are now Peer's
	EventRejected                            // an element from Peer could not be used (Detail)
	EventErrorReceived                       // Peer sent an ERROR (Detail)
	EventReclaimed                           // Peer took this registrar over while it was alive; it reclaimed its Count elements
	EventStaticHomes                         // the live set changed: this registrar is now home of Count zone-file elements (Detail: how many moved)
	EventAdminRequest                        // Peer asked this registrar, the element's home, for an administrative change (Detail); see Ready.Admin
	EventAdminRefused                        // Peer's administrative request was refused (Detail says why)
	EventReportRequest                       // Peer passed on a failure report of an element homed here (Detail); see Ready.Reports
	EventReportRefused                       // Peer's passed-on failure report was refused (Detail says why)
	EventConfirmed                           // a confirmation this registrar asked for was decided (Detail: the verdict); see Ready.Verdicts
	EventConfirmRefused                      // Peer's confirmation request was refused (Detail says why)
	EventHandoffStart                        // this registrar began to hand its Count elements off to its peers (it is leaving)
	EventHandoffDone                         // every peer took this registrar's hand-off (Count elements)
	EventHandoffIn                           // Peer handed this registrar Count elements; it is leaving (Detail)
	EventHandback                            // Peer gave back the state of Count elements now homed here, or this registrar gave it (Detail)
	EventStalled                             // this registrar did not run for a while (stopped, starved): its peers' timers start again (Detail: for how long)
	EventHold                                // this registrar's view may be stale (a long stall, a healed minority): it holds it until synced (Detail: why); see Stale
	EventHoldEnd                             // the hold is over: synced with the peers expected, or the bounded wait passed (Detail)
	EventPushed                              // this registrar pushed its Count own elements to Peer, meeting it again (Detail: and the deletions)
)

var eventNames = map[EventKind]string{
	EventPeerUp: "peer-up", EventPeerSuspect: "peer-suspect", EventPeerDead: "peer-dead",
	EventSyncDone: "sync-done", EventSyncAbort: "sync-abort", EventResync: "resync", EventSwept: "swept",
	EventTakeoverStart: "takeover-start", EventTakeoverAbort: "takeover-abort", EventTakeoverDone: "takeover-done",
	EventTakenOver: "taken-over", EventOwnershipLost: "ownership-lost", EventRejected: "rejected",
	EventErrorReceived: "error-received", EventReclaimed: "reclaimed", EventStaticHomes: "static-homes",
	EventAdminRequest: "admin-request", EventAdminRefused: "admin-refused",
	EventReportRequest: "report-request", EventReportRefused: "report-refused",
	EventConfirmed: "confirmed", EventConfirmRefused: "confirm-refused",
	EventHandoffStart: "handoff-start", EventHandoffDone: "handoff-done", EventHandoffIn: "handoff-in", EventHandback: "handback",
	EventStalled: "stalled", EventHold: "hold", EventHoldEnd: "hold-end",
	EventPushed: "pushed",
}

func (k EventKind) String() string {
	if s, ok := eventNames[k]; ok {
		return s
	}
	return "event?"
}

// Event is something that happened in the state machine.
type Event struct {
	Kind   EventKind
	Peer   uint32
	Target uint32
	Count  int
	Detail string
}

func (e Event) String() string {
	s := e.Kind.String()
	if e.Peer != 0 {
		s += fmt.Sprintf(" peer=%08x", e.Peer)
	}
	if e.Target != 0 {
		s += fmt.Sprintf(" target=%08x", e.Target)
	}
	if e.Count != 0 {
		s += fmt.Sprintf(" count=%d", e.Count)
	}
	if e.Detail != "" {
		s += " " + e.Detail
	}
	return s
}

// Ready is what a call into the Node produced: messages to send,
// handlespace operations to apply (in order), events, peers to connect to,
// and when to call Tick next.
type Ready struct {
	Msgs   []Envelope
	Ops    []Op
	Events []Event
	// Dial are peers learned from a LIST_RESPONSE that the driver should
	// connect to.
	Dial []wire.ServerInfo
	// Live is the new set of live registrars (this one included, sorted)
	// when it changed, else nil: what zone-file elements are homed over.
	Live []uint32
	// Admin are peers' administrative requests for elements homed here,
	// to apply as local changes (through whatever keeps administrative
	// states), which then travel to every peer as usual.
	Admin []AdminRequest
	// Reports are failure reports that peers passed on for elements homed
	// here, to count as if made here (the monitor's Report, with the
	// reporter's address).
	Reports []ReportRequest
	// Refusals are the refusals of this registrar's requests (RequestAdmin,
	// RequestReport) that came back from the peers asked, for whoever
	// waits on them.
	Refusals []Refusal
	// Probes are the peers' requests to probe an element once (health
	// confirmation), to carry out and answer with Answer.
	Probes []ProbeRequest
	// Verdicts are the outcomes of the confirmations this registrar asked
	// for (Confirm), to publish as local changes of the elements.
	Verdicts []Verdict
	// Handed are the elements whose home this registrar became by a
	// peer's hand-off or hand-back, with the state that the peer kept
	// beside the element (RTT, failure reports), for the monitor.
	Handed []Handed
	// Left is true when the hand-off begun by Leave is over: every peer
	// took its part, or died.
	Left bool
	// Next is when Tick must be called next.
	Next time.Time
}

// Change is a change of the local handlespace that the driver observed:
// element ID of Pool (whose policy is Policy) is now Elem, or gone (nil).
// Was, if known, is what it was before (nil: not there).
type Change struct {
	Pool   string
	Policy string
	ID     uint32
	Elem   *handlespace.Element
	Was    *handlespace.Element
}

// key and entry are the handle table's (package enrp/table): an
// element's name, and what the Node knows of it.
type (
	key   = table.Key
	entry = table.Entry
)

// Node is the peering state machine of one registrar (RFC 5353): presence
// and liveness of its peers, handle table transfers, handle updates,
// checksum audits and takeovers. It does no I/O and reads the time only
// from its Clock: Step, Tick, Local, Hello and Disconnected take inputs and
// return a Ready. A Node is not safe for concurrent use: one driver
// goroutine calls it.
type Node struct {
	cfg Config
	id  uint32
	tab *table.Table

	peers map[uint32]*peer
	live  []uint32 // sorted, self included

	nextPresence time.Time
	synced       bool   // a full handle table was received (or nobody to get one from)
	mentor       uint32 // peer of the full table transfer in progress

	takeovers map[uint32]*takeover // ours, by target
	foreign   map[uint32]foreign   // someone else's, by target

	// Confirmations (confirm.go).
	rounds  map[key]*round
	byNonce map[uint32]*round
	nonce   uint32
	gate    vantage.Gate // the peers' requests carried out here
	cstats  ConfirmStats

	// Hand-off and hand-back (handoff.go).
	leaving *leaving
	handSeq uint32
	// mergeSide is how many registrars were live before the live set
	// last grew, and mergeUntil when that growth's settling ends (see
	// strength).
	mergeSide  int
	mergeUntil time.Time
	// fresh: the zone-file elements homed here whose state is as strong
	// as the whole live set's for now (see freshen); backAt: when the
	// last hold began (this registrar came back from a cut or a stall).
	fresh  map[key]fresh
	backAt time.Time
	// base: what the lost homes of zone-file elements last said of
	// them, for their pushes when they are back (putBack).
	base baseline.Set

	// held: the view may be stale (hold.go); longStall: when the last
	// stall that held it began.
	held      *stale.Hold[key]
	longStall time.Time
	// heldAfter: until when, after a hold ended, hand-backs are still
	// taken as from a stronger peer (takeStrength).
	heldAfter time.Time
	// inMinority: this registrar was in a minority at the last Tick;
	// majorityAt: when to take over the peers still dead since it left
	// one (tickMinority).
	inMinority bool
	majorityAt time.Time

	out Ready
}

// peer is what the Node knows of one peer registrar.
type peer struct {
	id        uint32
	info      *wire.ServerInfo
	dead      bool
	deadAt    time.Time // when it was last found dead
	lastHeard time.Time
	asked     time.Time // when a reply-required PRESENCE was sent; zero: not suspect
	// gone: when its last connection was lost (zero: it has been heard
	// since). A peer whose process died closed its connections (the
	// kernel does): not heard again within goneGrace of that, it is
	// asked as if silent for MaxTimeLastHeard.
	gone time.Time

	seq     *tableSeq // our handle table request to it in progress
	holdoff time.Time // no new own-children transfer before
	cursor  *cursor   // its handle table request to us in progress
	// left: it handed its elements off and left the live set; its
	// messages are ignored until its connection drops. handingIn: its
	// hand-off pages are coming in (until the last one).
	// leftAt: when it left so, until it is heard on a new connection
	// (Peers lists it as left).
	left      bool
	leftAt    time.Time
	handingIn bool
	handedIn  int // elements taken from its hand-off so far
	// resync: take its own elements again (a table transfer) when it
	// is next heard: a transfer of them failed, or this registrar
	// stalled long enough for the peer to have stopped telling it.
	resync bool
	// owe: this registrar owes the peer a push of its own elements
	// (pushOwn): the connection to it was lost, or it was found dead, so
	// what was sent to it meanwhile may be lost. lost: when it was last
	// heard before that; the deletions made here since go with the
	// push. in: the peer's push coming in.
	// silent: it was lost by falling silent (found dead with its
	// connections open: stopped, or its link cut), not by its
	// connections closing (killed, restarted) or leaving.
	owe    bool
	lost   time.Time
	silent bool
	in     *pushIn
	// pushedDead: pushed while still dead here (the push goes in the
	// Hello of a connection dialled, before the peer's first word
	// brings it back): what changes of this registrar's own elements
	// after the push goes to it too (announce), or it would miss them
	// until an audit.
	pushedDead bool
	// expect: from the loss until the peer's push is in, the elements
	// it sent a HANDLE_UPDATE of: sent after its push was made (a push
	// is made at the first chance on a new connection), so newer than
	// what the push says of them, even if they come first (over another
	// connection).
	expect map[key]bool
	// expectSince: when it was first heard after the loss; its claims
	// are not audited for a transfer timeout after that, its push being
	// on its way (a registrar that restarted since does not push: its
	// claims are audited then).
	expectSince time.Time
	// ahead: the zone-file elements handed back to it ahead of its
	// return (handBackAhead), and when.
	ahead map[key]time.Time
}

// New returns a Node.
func New(cfg Config) (*Node, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, id: cfg.ID, peers: map[uint32]*peer{},
		takeovers: map[uint32]*takeover{}, foreign: map[uint32]foreign{},
		rounds: map[key]*round{}, byNonce: map[uint32]*round{}, fresh: map[key]fresh{},
		gate: vantage.Gate{Rate: cfg.ConfirmRate, Burst: cfg.ConfirmBurst, MaxInFlight: cfg.MaxProbes,
			RefusalRate: refusalRate, RefusalBurst: refusalBurst}}
	// Nonces and hand-off sequence numbers start apart per registrar
	// (not from Rand, whose draws pace the presence timers).
	n.tab = table.New(n.now)
	n.nonce = cfg.ID * 0x9e3779b1
	n.handSeq = n.nonce
	n.live = []uint32{n.id}
	n.nextPresence = n.now().Add(n.presenceDelay())
	n.out.Live = slices.Clone(n.live)
	return n, nil
}

// Config returns the configuration with its defaults filled in.
func (n *Node) Config() Config { return n.cfg }

func (n *Node) now() time.Time { return n.cfg.Clock.Now() }

func (n *Node) presenceDelay() time.Duration {
	j := n.cfg.Jitter * (2*n.cfg.Rand.Float64() - 1)
	return time.Duration(float64(n.cfg.PresenceInterval) * (1 + j))
}

// Derived timeouts.
//
// A handle table transfer waits seqTimeout for each response; the
// responder forgets a transfer that was not continued for as long
// (cursorTTL), and after giving one up the requester waits longer than
// that before it asks again, so that its new request is not taken for the
// next page of the old one.
func (n *Node) seqTimeout() time.Duration {
	return n.cfg.MaxTimeNoResponse + n.cfg.PresenceInterval/2
}
func (n *Node) cursorTTL() time.Duration { return n.seqTimeout() }

// goneGrace is how long a peer whose every connection was lost has to be
// heard again (the diallers try at once: a new connection takes a few
// round trips, TCP and TLS) before it is asked, as a peer silent for
// MaxTimeLastHeard is; MaxTimeNoResponse later it is dead. A process
// killed (kill -9, a crash) closes its connections at once, so its peers
// find it dead MaxTimeLastHeard − PresenceInterval + MaxTimeNoResponse
// after, rather than up to a presence interval more than
// MaxTimeLastHeard + MaxTimeNoResponse after. A stopped process (SIGSTOP)
// or a cut link closes nothing: that takes the usual time.
func (n *Node) goneGrace() time.Duration {
	return max(n.cfg.MaxTimeLastHeard-n.cfg.PresenceInterval, n.cfg.MaxTimeLastHeard/2)
}
func (n *Node) takeoverRetry() time.Duration {
	return n.cfg.MaxTimeNoResponse
}
func (n *Node) takeoverTimeout() time.Duration {
	return 2*n.cfg.MaxTimeNoResponse + n.cfg.PresenceInterval
}

func (n *Node) event(ev Event) { n.out.Events = append(n.out.Events, ev) }
func (n *Node) op(o Op)        { n.out.Ops = append(n.out.Ops, o) }

// send queues m for peer to, filling in the sender and receiver IDs.
func (n *Node) send(to uint32, m *wire.Message) {
	m.Sender, m.Receiver = n.id, to
	n.out.Msgs = append(n.out.Msgs, Envelope{To: to, Msg: m})
}

// alivePeers returns the IDs of the peers not dead, sorted.
func (n *Node) alivePeers() []uint32 {
	var out []uint32
	for id, p := range n.peers {
		if !p.dead {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// allPeers returns the IDs of every known peer, sorted.
func (n *Node) allPeers() []uint32 {
	out := make([]uint32, 0, len(n.peers))
	for id := range n.peers {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// flush returns what was produced and the next deadline.
func (n *Node) flush() Ready {
	r := n.out
	n.out = Ready{}
	r.Next = n.nextDeadline()
	return r
}

func (n *Node) nextDeadline() time.Time {
	next := n.nextPresence
	at := func(t time.Time) {
		if !t.IsZero() && t.Before(next) {
			next = t
		}
	}
	for _, p := range n.peers {
		if !p.dead {
			if p.asked.IsZero() {
				at(p.lastHeard.Add(n.cfg.MaxTimeLastHeard))
				if !p.gone.IsZero() {
					at(p.gone.Add(n.goneGrace()))
				}
			} else {
				at(p.asked.Add(n.cfg.MaxTimeNoResponse))
			}
		}
		if p.seq != nil {
			at(p.seq.last.Add(n.seqTimeout()))
		}
		if p.cursor != nil {
			at(p.cursor.last.Add(n.cursorTTL()))
		}
	}
	for _, tk := range n.takeovers {
		at(tk.sent.Add(n.takeoverRetry()))
	}
	for _, f := range n.foreign {
		at(f.since.Add(n.takeoverTimeout()))
	}
	for _, r := range n.byNonce {
		at(r.Deadline)
	}
	at(n.gate.Next())
	if n.held != nil {
		at(n.held.Until())
	}
	at(n.majorityAt)
	return next
}

// Hello returns what to send first on a new connection to a peer: a
// PRESENCE and a LIST_REQUEST, addressed to the peer's ID if the driver
// knows it (else 0). To a known peer that this registrar owes its own
// elements (the connection before was lost, or the peer was found
// dead), the push follows at once (pushOwn), on this connection, before
// a word has come back.
func (n *Node) Hello(to uint32) []*wire.Message {
	pr := n.presence(false)
	pr.Sender, pr.Receiver = n.id, to
	lr := &wire.Message{Type: wire.TypeListRequest, Sender: n.id, Receiver: to}
	out := []*wire.Message{pr, lr}
	if p := n.peers[to]; p != nil && to != 0 {
		before := len(n.out.Msgs)
		n.pushOwn(p)
		for _, env := range n.out.Msgs[before:] {
			out = append(out, env.Msg)
		}
		n.out.Msgs = n.out.Msgs[:before]
	}
	return out
}

// Disconnected tells the Node that the connection to peer id is gone: its
// handle table transfers in either direction are abandoned, and its own
// elements are taken again once it is heard on a new connection (what it
// sent meanwhile is lost, and audits miss lease ends, which only the
// updates carry).
func (n *Node) Disconnected(id uint32) Ready {
	if p := n.peers[id]; p != nil {
		if !p.dead && !p.left && p.gone.IsZero() {
			p.gone = n.now()
		}
		p.left, p.handingIn, p.handedIn = false, false, 0 // what comes on a new connection is a new life
		p.cursor = nil
		n.lostPeer(p)
		if p.seq != nil {
			n.abortSeq(p, "connection lost")
			// Not to be asked again: the peer pushes its own elements
			// on the next connection, as this registrar does.
			p.resync, p.holdoff = false, time.Time{}
		}
		n.abortPush(p, "connection lost")
	}
	return n.flush()
}

func (n *Node) presence(replyRequired bool) *wire.Message {
	sum, dig := n.tab.Claim(n.id)
	m := &wire.Message{Type: wire.TypePresence, Checksum: sum, Digest: &dig, Server: n.cfg.Self}
	if replyRequired {
		m.Flags = wire.FlagReplyRequired
	}
	return m
}

// ClaimOf returns the ownership checksum and digest of the elements this
// registrar believes home is home for; of its own (home: its ID), what
// its PRESENCE messages carry.
func (n *Node) ClaimOf(home uint32) (uint16, wire.Digest) { return n.tab.Claim(home) }

// PeerState describes one peer for status pages.
type PeerState struct {
	ID      uint32
	Info    *wire.ServerInfo
	Dead    bool
	Suspect bool
	// Left: it handed its elements off and left (a planned stop, see
	// Leave), at LeftAt; not Dead. Listed for LeftMemory after that.
	Left      bool
	LeftAt    time.Time
	LastHeard time.Time
}

// Peers returns the known peers, sorted by ID; a peer that left by
// hand-off only until LeftMemory has passed.
func (n *Node) Peers() []PeerState {
	var out []PeerState
	now := n.now()
	for _, id := range n.allPeers() {
		p := n.peers[id]
		if !p.leftAt.IsZero() && (p.left || p.dead) {
			if now.Sub(p.leftAt) >= LeftMemory {
				continue
			}
			out = append(out, PeerState{ID: id, Info: p.info, Left: true, LeftAt: p.leftAt, LastHeard: p.lastHeard})
			continue
		}
		out = append(out, PeerState{ID: id, Info: p.info, Dead: p.dead, Suspect: !p.asked.IsZero(), LastHeard: p.lastHeard})
	}
	return out
}

// Transferring reports whether a handle table transfer, or a hand-off,
// from a peer is in progress.
func (n *Node) Transferring() bool {
	for _, p := range n.peers {
		if p.seq != nil || p.handingIn {
			return true
		}
	}
	return false
}

// Synced reports whether the first handle table transfer is done.
func (n *Node) Synced() bool { return n.synced }

// Step takes one message from a peer.
func (n *Node) Step(m *wire.Message) Ready {
	if m.Sender == 0 || m.Sender == n.id {
		return n.flush()
	}
	p := n.heard(m.Sender)
	if p.left {
		return n.flush()
	}
	if m.Receiver != 0 && m.Receiver != n.id {
		// Meant for another registrar (the peer knows this address by
		// another ID): it shows the peer alive, nothing more.
		return n.flush()
	}
	switch m.Type {
	case wire.TypePresence:
		if m.Server != nil && m.Server.ID == m.Sender {
			s := *m.Server
			p.info = &s
		}
		if m.Has(wire.FlagReplyRequired) {
			n.send(p.id, n.presence(false))
		}
		if m.Handoff != nil && m.Handoff.Kind == wire.HandoffAck {
			n.onHandoffAck(p, m.Handoff)
		}
		if n.leaving == nil {
			// (A registrar that hands off has no use for its peers'
			// tables: it is about to stop; the acknowledgements' claims
			// differ from its own until it gives its elements up.)
			n.audit(p, m)
		}
	case wire.TypeHandleTableRequest:
		n.onTableRequest(p, m)
	case wire.TypeHandleTableResp:
		if m.Handoff != nil && (m.Handoff.Kind == wire.SyncPage || m.Handoff.Kind == wire.SyncLast) {
			n.onPush(p, m)
			break
		}
		if m.Handoff != nil {
			n.onHandoff(p, m)
			break
		}
		n.onTableResponse(p, m)
	case wire.TypeHandleUpdate:
		n.onUpdate(p, m)
	case wire.TypeListRequest:
		n.onListRequest(p)
	case wire.TypeListResponse:
		n.onListResponse(m)
	case wire.TypeInitTakeover:
		n.onInitTakeover(p, m.Target)
	case wire.TypeInitTakeoverAck:
		n.onInitTakeoverAck(p, m.Target)
	case wire.TypeTakeoverServer:
		n.onTakeoverServer(p, m.Target)
	case wire.TypeError:
		n.event(Event{Kind: EventErrorReceived, Peer: p.id, Detail: wire.DescribeCauses(m.Causes)})
		n.onRefused(p, m)
	}
	return n.flush()
}

// heard notes that peer id is alive.
func (n *Node) heard(id uint32) *peer {
	now := n.now()
	p := n.peers[id]
	switch {
	case p == nil:
		p = &peer{id: id, lastHeard: now}
		if n.synced {
			// Met after a restart here: it may owe a push, which its
			// claims wait for (a transfer timeout at most) before an
			// audit pulls its table.
			p.holdoff = now.Add(n.seqTimeout())
		}
		n.peers[id] = p
		n.event(Event{Kind: EventPeerUp, Peer: id})
		n.recomputeLive()
	case p.left:
		p.lastHeard = now
		return p
	case p.dead:
		p.dead, p.lastHeard, p.asked, p.leftAt = false, now, time.Time{}, time.Time{}
		n.event(Event{Kind: EventPeerUp, Peer: id, Detail: "back"})
		delete(n.foreign, id)
		n.recomputeLive()
		// It may have lost what it had and we may have taken over its
		// elements: each pushes its own to the other (it found this
		// registrar dead too, or lost its connection, which was closed
		// here; should it not, its next PRESENCE's claim tells).
		n.pushOwn(p)
	default:
		p.lastHeard, p.asked = now, time.Time{}
		n.pushOwn(p)
		if p.resync && n.synced && p.seq == nil && p.in == nil && !now.Before(p.holdoff) {
			p.resync = false
			n.requestTable(p, true, "resync")
		}
	}
	p.gone = time.Time{}
	if p.expect != nil && p.expectSince.IsZero() {
		p.expectSince = now
	}
	if tk := n.takeovers[id]; tk != nil {
		delete(n.takeovers, id)
		n.event(Event{Kind: EventTakeoverAbort, Target: id, Detail: "target answered"})
	}
	if !n.synced && n.mentor == 0 && p.seq == nil && !now.Before(p.holdoff) {
		n.mentor = id
		n.requestTable(p, false, "join")
	}
	return p
}

// Tick runs the timers: presence, liveness, takeovers and transfers.
func (n *Node) Tick() Ready {
	now := n.now()
	n.giveUp()
	if stall := now.Sub(n.nextPresence); stall > n.stallSlack() {
		n.stalled(stall, now)
	}
	if !now.Before(n.nextPresence) {
		for _, id := range n.allPeers() {
			n.send(id, n.presence(false))
		}
		n.nextPresence = now.Add(n.presenceDelay())
		n.tab.SweepTombs(now)
		n.sweepFresh(now)
	}
	for _, id := range n.allPeers() {
		p := n.peers[id]
		if !p.dead {
			switch {
			case p.asked.IsZero() && (now.Sub(p.lastHeard) >= n.cfg.MaxTimeLastHeard ||
				!p.gone.IsZero() && now.Sub(p.gone) >= n.goneGrace()):
				p.asked = now
				n.send(id, n.presence(true))
				n.event(Event{Kind: EventPeerSuspect, Peer: id})
			case !p.asked.IsZero() && now.Sub(p.asked) >= n.cfg.MaxTimeNoResponse:
				n.peerDead(p)
			}
		}
		if p.seq != nil && now.Sub(p.seq.last) >= n.seqTimeout() {
			n.abortSeq(p, "no answer")
		}
		if p.cursor != nil && now.Sub(p.cursor.last) >= n.cursorTTL() {
			p.cursor = nil
		}
	}
	n.tickMinority(now)
	n.tickTakeovers(now)
	n.tickRounds(now)
	n.endHold(now)
	if !n.synced && n.mentor == 0 {
		for _, id := range n.alivePeers() {
			if p := n.peers[id]; p.seq == nil && !now.Before(p.holdoff) {
				n.mentor = id
				n.requestTable(p, false, "join")
				break
			}
		}
	}
	return n.flush()
}

// stallSlack is how much later than due Tick may run before the Node
// takes it that it was stalled itself.
func (n *Node) stallSlack() time.Duration {
	return min(n.cfg.PresenceInterval, n.cfg.MaxTimeNoResponse) / 2
}

// stalled is Tick's finding that it runs stall later than it should have
// (it runs at least once a presence interval): this registrar was stopped
// (SIGSTOP, a suspended machine) or starved. Its peers were not silent
// for that time, it did not listen: judged by the stopped clock, every
// peer would be found suspect or dead at once, and by the time it asked
// them and heard back (its connections may have to be made again) it
// would have taken their elements over. So the time it did not run does
// not count: every timer that ran then is moved on by stall (not past
// now), and each peer has what was left of its time to be heard, at
// least MaxTimeLastHeard + MaxTimeNoResponse less a presence interval.
// (Starting the timers again instead would never let a registrar that is
// late at every Tick find a dead peer dead.) A peer that died meanwhile
// is found dead stall later.
func (n *Node) stalled(stall time.Duration, now time.Time) {
	on := func(t *time.Time) {
		if !t.IsZero() {
			*t = t.Add(stall)
			if t.After(now) {
				*t = now
			}
		}
	}
	for _, id := range n.allPeers() {
		p := n.peers[id]
		on(&p.lastHeard)
		on(&p.asked)
		on(&p.gone)
		if p.seq != nil {
			on(&p.seq.last)
		}
		if p.cursor != nil {
			on(&p.cursor.last)
		}
	}
	for _, tk := range n.takeovers {
		on(&tk.sent)
	}
	for target, f := range n.foreign {
		on(&f.since)
		n.foreign[target] = f
	}
	n.stallRounds(now)
	n.event(Event{Kind: EventStalled, Detail: stall.Round(time.Millisecond).String()})
	n.holdAfterStall(stall)
}

func (n *Node) peerDead(p *peer) {
	p.dead, p.asked, p.deadAt, p.pushedDead = true, time.Time{}, n.now(), false
	p.cursor, p.handingIn, p.handedIn = nil, false, 0
	n.lostPeer(p)
	if p.seq != nil {
		n.abortSeq(p, "peer dead")
	}
	p.resync, p.holdoff = false, time.Time{} // it pushes its own elements when it is back
	n.abortPush(p, "peer dead")
	n.event(Event{Kind: EventPeerDead, Peer: p.id})
	n.forgetInRounds(p.id)
	n.recomputeLive()
	if n.tab.OwnsRegistered(p.id) && !n.minority(n.now()) {
		n.startTakeover(p.id)
	}
}

// forgetInRounds stops waiting for a dead peer's answers.
func (n *Node) forgetInRounds(id uint32) {
	for _, nonce := range sortedKeys(n.byNonce) {
		if _, done := n.byNonce[nonce].Forget(id, false); done {
			n.decide(n.byNonce[nonce])
		}
	}
	if n.leaving != nil {
		n.leftPeer(id)
	}
}

// recomputeLive recomputes the live set and, when it changed, the homes of
// the zone-file elements.
//
// When it grew, the zone-file elements that move to a newcomer are handed
// back to it by their old home (handBack) and kept a while against a
// weaker state from it (Entry.Settle). A registrar whose hand-off is over
// leaves itself out.
func (n *Node) recomputeLive() {
	now := n.now()
	wasMinority := n.minority(now)
	live := n.alivePeers()
	if n.leaving == nil || !n.leaving.done {
		live = append(live, n.id)
	}
	slices.Sort(live)
	if slices.Equal(live, n.live) {
		return
	}
	old := n.live
	n.live = live
	n.out.Live = slices.Clone(live)
	newcomer := map[uint32]bool{}
	var newcomers []uint32
	for _, id := range live {
		if !slices.Contains(old, id) {
			newcomer[id] = true
			newcomers = append(newcomers, id)
		}
	}
	for _, id := range newcomers {
		n.base.Back(id)
	}
	n.holdAfterMinority(wasMinority, newcomers)
	if len(newcomer) > 0 {
		if !now.Before(n.mergeUntil) {
			n.mergeSide = len(old)
		}
		n.mergeUntil = now.Add(n.settleWindow())
	}
	give := n.strength() > 0 && n.leaving == nil
	back := map[uint32][]key{}
	moved, mine := 0, 0
	statics := n.tab.Keys(func(en *entry) bool { return en.Static() })
	for _, k := range statics {
		en := n.tab.Get(k)
		h := n.id
		if len(live) > 0 {
			h = placement.Rendezvous(live, k.Pool, k.ID)
		}
		if h == n.id {
			mine++
		}
		if h == en.Home() {
			continue
		}
		if q := n.peers[en.Home()]; q != nil && !q.left && !slices.Contains(live, q.id) {
			n.base.Lost(baseline.Key{Pool: k.Pool, ID: k.ID}, q.id, en.Elem, en.Heard)
		}
		moved++
		ne := table.NewEntry(k.Pool, en.Policy, table.WithHome(en.Elem, h), en.Gen)
		ne.Heard = h == n.id
		ne.Settle = en.Settle
		if newcomer[h] {
			ne.Settle = now.Add(n.settleWindow())
			if en.Home() == n.id && give && !n.peers[h].handedAhead(k, en.Changed) {
				back[h] = append(back[h], k)
			}
		}
		n.tab.Put(ne)
		n.op(Op{Kind: OpSetHome, Pool: k.Pool, ID: k.ID, Home: h})
	}
	if len(statics) > 0 {
		n.event(Event{Kind: EventStaticHomes, Count: mine, Detail: fmt.Sprintf("%d moved, live %d", moved, len(live))})
	}
	n.handBack(back, len(old))
	for _, id := range newcomers {
		if q := n.peers[id]; q != nil {
			q.ahead = nil
		}
	}
}

// handedAhead reports whether k was handed back to p ahead of its return
// (handBackAhead) and has not changed since.
func (p *peer) handedAhead(k key, changed time.Time) bool {
	if p == nil {
		return false
	}
	t, ok := p.ahead[k]
	return ok && !changed.After(t)
}

// staticHome is the home of a zone-file element.
func (n *Node) staticHome(pool string, id uint32) uint32 {
	return placement.Rendezvous(n.live, pool, id)
}

func (n *Node) onListRequest(p *peer) {
	m := &wire.Message{Type: wire.TypeListResponse}
	if n.cfg.Self != nil {
		m.Servers = append(m.Servers, *n.cfg.Self)
	}
	for _, id := range n.alivePeers() {
		if q := n.peers[id]; q.info != nil && id != p.id {
			m.Servers = append(m.Servers, *q.info)
		}
	}
	n.send(p.id, m)
}

func (n *Node) onListResponse(m *wire.Message) {
	if m.Has(wire.FlagReject) {
		return
	}
	for _, s := range m.Servers {
		if s.ID == n.id || s.ID == 0 {
			continue
		}
		if _, known := n.peers[s.ID]; known {
			continue
		}
		n.out.Dial = append(n.out.Dial, s)
	}
}
