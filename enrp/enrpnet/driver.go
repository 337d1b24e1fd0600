package enrpnet

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/bind"
	"github.com/poolnsd/poolnsd/enrp/placement"
	"github.com/poolnsd/poolnsd/enrp/table"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// DriverConfig configures a Driver. Zero values have the defaults given.
type DriverConfig struct {
	// Node configures the state machine. Its Clock defaults to the wall
	// clock and its Rand to a randomly seeded source; Self, if nil, is
	// made from Advertise.
	Node enrp.Config
	// Listen is the address (host:port) to take peers' connections on;
	// "" takes none (this registrar only dials).
	Listen string
	// Advertise is the address peers should dial to reach this registrar
	// (sent in PRESENCE and LIST_RESPONSE); "" is Listen's, when that is
	// a specific address.
	Advertise string
	// Peers are the static peers (host:port) to keep a connection to.
	Peers []string
	// TLS is the TLS configuration (see LoadTLS); nil means plain TCP.
	TLS *tls.Config
	// Handlespace is the local handlespace: required.
	Handlespace *handlespace.Handlespace
	// Logger gets peering's log lines (default slog.Default()).
	Logger *slog.Logger
	// DialTimeout bounds a connection attempt with its TLS handshake
	// (default 3 s).
	DialTimeout time.Duration
	// Redial is how long a dialler waits before it tries again, and how
	// often it starts another attempt while one is pending (default
	// 100 ms: a peer cut off is reached again at most this long after
	// the network heals; at most DialTimeout / Redial attempts are
	// pending at once). After a TLS handshake that failed other than by
	// timing out (a peer that refuses this registrar, or that it
	// refuses) it waits ten times as long.
	Redial time.Duration
	// MaxQueue is how many bytes may wait to be written to one peer
	// before its connection is dropped as too slow (default 64 MiB).
	MaxQueue int
	// ReadTimeout bounds how long a message may take to arrive once its
	// first byte has, how long a new connection may wait for the peer's
	// first message, and how long a batch of writes may take; past it the
	// connection is closed (default the Node's MaxTimeLastHeard +
	// MaxTimeNoResponse, after which a silent peer is dead anyway). A
	// connection that has carried a message may stay idle: the peer's
	// silence is presence's to judge.
	ReadTimeout time.Duration
	// OnOwnership, if set, is called from the driver's goroutine with the
	// registered elements that became this registrar's (Elem set: a
	// takeover) or stopped being its (Elem nil), so that the caller can
	// keep its store in step. It must not block.
	OnOwnership func([]Ownership)
	// OnEvent, if set, is called from the driver's goroutine with each
	// event of the state machine, just before it is logged (so that what
	// reads the log finds the event's metrics counted). It must not block.
	OnEvent func(enrp.Event)
	// OnAdmin, if set, is called from the driver's goroutine with each
	// peer's administrative request for an element homed here (see
	// Node.RequestAdmin); it applies it as a local change (which then
	// reaches the peers like any other). It may block briefly (a store
	// write). Without it such requests are logged and dropped. When it
	// fails, the asker is sent a refusal (Node.Refuse) saying why.
	OnAdmin func(enrp.AdminRequest) error
	// OnReport, if set, is called from the driver's goroutine with each
	// failure report that a peer passed on for an element homed here (see
	// Node.RequestReport); it counts it as if made here, by the reporter's
	// address (the monitor's Report). It must not block for long. Without
	// it such reports are logged and dropped; when it fails (the reporter
	// is over its rate), the asker is sent a refusal.
	OnReport func(enrp.ReportRequest) error
	// OnMessage, if set, is called from the driver's goroutine with the
	// type of each message sent to or received from a peer (for metrics).
	// It must not block.
	OnMessage func(sent bool, t wire.Type)
	// OnProbe, if set, is called from the driver's goroutine with each
	// peer's request to probe an element once (health confirmation, see
	// Node.Confirm); it starts the probe and returns at once, and calls
	// done (from any goroutine, once) with what the probe saw: up or
	// down, or unknown when it could not probe. Without it such requests
	// are answered unknown at once.
	OnProbe func(req enrp.ProbeRequest, done func(h handlespace.Health, rtt time.Duration))
	// OnVerdict, if set, is called from the driver's goroutine with the
	// outcome of each confirmation asked for with Confirm (Verdict.Asked
	// is 0 when nobody could be asked: the proposed health stands). It
	// publishes it (the element's health and Vantage) as a local change;
	// it may block briefly.
	OnVerdict func(enrp.Verdict)
	// OnHanded, if set, is called from the driver's goroutine, after the
	// handlespace shows them homed here, with the elements a peer handed
	// to this registrar (off or back), for the monitor to go on from the
	// old home's state. It must not block for long.
	OnHanded func([]enrp.Handed)
	// HandoffState gives, for Leave, what the monitor keeps beside each
	// element homed here (nil: nothing).
	HandoffState enrp.HandoffState
	// Durable, if set (with OnOwnership), makes a peer's hand-off durable
	// here before it is acknowledged: the registered elements of each
	// page go to OnOwnership as the page comes in (before the handlespace
	// has them), and when the last page is taken Durable is called, from
	// the driver's goroutine, with a done func to call (from any
	// goroutine, once) when everything given to OnOwnership so far is
	// stored. Only then does the acknowledgement go out, so that the
	// leaver, which stops on it, never leaves a registration that a crash
	// of this registrar right after would lose. It must not block.
	// Without it the acknowledgement goes out at once.
	Durable func(done func())
}

// Ownership is a change of who owns a registered element.
type Ownership struct {
	Pool string
	ID   uint32
	// Elem is the element, now owned by this registrar, or nil when it no
	// longer is (owned by another, or gone).
	Elem *handlespace.Element
	// Handed: the element of a hand-off coming in, given to be stored
	// before the handlespace has it (see DriverConfig.Durable); OnHanded
	// says when it has.
	Handed bool
}

type wallClock struct{}

var _ enrp.Clock = wallClock{}

func (wallClock) Now() time.Time { return time.Now() }

// Driver runs a Node over TCP (or TLS over TCP): it accepts and dials
// peers' connections, frames messages by their length field, feeds them,
// the handlespace's changes and the Node's timers to the Node, and carries
// out what the Node asks: messages to send, handlespace operations,
// connections to make. One goroutine owns the Node; each connection has a
// reader and a writer.
type Driver struct {
	cfg  DriverConfig
	log  *slog.Logger
	node *enrp.Node
	bind *bind.Binding
	self uint32
	ln   net.Listener

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	in       chan inbound
	connUp   chan *conn
	connDn   chan *conn
	admin    chan requestCall
	confirms chan confirmCall
	answers  chan answerCall
	leave    chan chan struct{}
	synced   chan struct{} // closed at the first sync
	left     chan struct{} // closed when the hand-off is over
	leftDone bool          // loop-owned: left is closed
	syncDone bool          // loop-owned: synced is closed

	// What Current reads: the Node holds its view as stale; the last
	// heartbeat (unix ns), and how old it may be.
	stale    atomic.Bool
	beat     atomic.Int64
	beatSlop time.Duration
	poke     chan struct{} // the heartbeat found a stall: the loop sets stale right

	// Owned by the loop goroutine.
	conns     map[*conn]bool
	byPeer    map[uint32][]*conn
	dialers   map[string]chan struct{} // by address: closed to stop the dialler
	opWarned  map[string]time.Time     // pools whose refused operations were logged, when
	selfAddrs map[string]bool
	// dialedID is the peer ID last heard on a connection dialled to an
	// address: a new connection there says Hello to it by name, and so
	// carries the push the Node owes it (Node.Hello) at once.
	dialedID     map[string]uint32
	pending      []enrp.Op // operations held back while a handle table comes in
	pendingSince time.Time
	pendingKeys  map[key]bool // the elements of pending
	// tablePage: the Ready being handled is a page of a handle table
	// this registrar asked for (its operations wait for the rest).
	tablePage bool
	handed    []enrp.Handed // for OnHanded once pending is applied
	// A hand-off coming in (DriverConfig.Durable): the registered
	// elements given to OnOwnership before the handlespace had them, and
	// the acknowledgements that wait for the store (sent when durable
	// brings them back).
	early   map[key]bool
	durable chan []enrp.Envelope
	acksOut int       // Durable calls not yet back
	ackWait time.Time // since when acknowledgements wait for the store

	mu       sync.Mutex
	status   []enrp.PeerState
	stats    Stats
	refusals map[string]time.Time // when a refused peer was last logged, by host

	wmu      sync.Mutex
	watchers map[key]map[chan *enrp.RefusedError]struct{} // WatchRefusals, by element

	rtt rttConns // the peers' connections, for PeerRTTs (rtt.go)
}

// Stats counts what a Driver did.
type Stats struct {
	MsgsIn, MsgsOut   int64
	BytesIn, BytesOut int64
	Malformed         int64 // messages that closed their connection
	Refused           int64 // connections refused at the TLS handshake
	Stalled           int64 // connections closed for a message not sent in time (ReadTimeout)
	// Conflicts counts peers' operations not applied because the
	// element changed here meanwhile (bind.Binding.Conflicts).
	Conflicts int64
	// Owned is how many elements this registrar owns (as its PRESENCE
	// claims).
	Owned int
	// Confirm counts the health confirmations (Node.ConfirmStats).
	Confirm enrp.ConfirmStats
}

// confirmCall is a Confirm call, answerCall a probe's answer, both
// carried out on the loop goroutine.
type confirmCall struct {
	pool     string
	id       uint32
	proposed handlespace.Health
	wait     time.Duration
}

type answerCall struct {
	req enrp.ProbeRequest
	h   handlespace.Health
	rtt time.Duration
}

// requestCall is a RequestAdmin or RequestReport call, carried out on the
// loop goroutine.
type requestCall struct {
	pool   string
	id     uint32
	a      handlespace.Admin
	report bool
	from   netip.Addr // the reporter
	reply  chan requestReply
}

type requestReply struct {
	home uint32
	err  error
}

type inbound struct {
	c   *conn
	m   *wire.Message
	err error
	n   int
}

// conn is one connection to a peer.
type conn struct {
	nc     net.Conn
	remote string
	dialed string // the address dialled; "" for an accepted connection
	peer   uint32 // the peer's ID once its first message came (loop-owned)
	// named: peer was taken from the address dialled (dialedID) before
	// the peer said a word, and is not confirmed yet (loop-owned).
	named bool
	// took: for a dialled connection, from the start of the attempt that
	// won to its handshake's end (for the debug log).
	took time.Duration

	mu      sync.Mutex
	queue   [][]byte
	queued  int
	closing bool // close once the queue is written
	wake    chan struct{}

	closeOnce sync.Once
	closed    chan struct{}
}

func newConn(nc net.Conn, dialed string) *conn {
	return &conn{nc: nc, remote: nc.RemoteAddr().String(), dialed: dialed,
		wake: make(chan struct{}, 1), closed: make(chan struct{})}
}

func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.nc.Close()
		close(c.closed)
	})
}

// enqueue queues b to be written; false if the queue is over max (the
// connection is then closed).
func (c *conn) enqueue(b []byte, max int) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return true
	}
	c.queue = append(c.queue, b)
	c.queued += len(b)
	over := c.queued > max
	c.mu.Unlock()
	if over {
		c.close()
		return false
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// closeAfterFlush closes the connection once what is queued is written.
func (c *conn) closeAfterFlush() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// How long and how many handlespace operations may wait for the end of a
// handle table transfer.
const (
	maxOpsDelay   = 250 * time.Millisecond
	maxPendingOps = 1 << 20
)

// StartDriver starts peering.
func StartDriver(cfg DriverConfig) (*Driver, error) {
	if cfg.Handlespace == nil {
		return nil, errors.New("enrp: no handlespace")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 3 * time.Second
	}
	if cfg.Redial <= 0 {
		cfg.Redial = 100 * time.Millisecond
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = 64 << 20
	}
	if cfg.Node.Clock == nil {
		cfg.Node.Clock = wallClock{}
	}
	if cfg.Node.Rand == nil {
		cfg.Node.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	d := &Driver{cfg: cfg, log: cfg.Logger, self: cfg.Node.ID,
		in: make(chan inbound, 256), connUp: make(chan *conn), connDn: make(chan *conn, 16), admin: make(chan requestCall),
		confirms: make(chan confirmCall, 4096), answers: make(chan answerCall, 4096), leave: make(chan chan struct{}),
		synced: make(chan struct{}), left: make(chan struct{}), poke: make(chan struct{}, 1), durable: make(chan []enrp.Envelope, 16),
		early: map[key]bool{},
		conns: map[*conn]bool{}, byPeer: map[uint32][]*conn{}, dialers: map[string]chan struct{}{},
		opWarned: map[string]time.Time{}, selfAddrs: map[string]bool{}, refusals: map[string]time.Time{},
		dialedID: map[string]uint32{}}
	if cfg.Listen != "" {
		lc := net.ListenConfig{Control: listenControl}
		ln, err := lc.Listen(context.Background(), "tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("enrp: listen on %s: %w", cfg.Listen, err)
		}
		d.ln = ln
	}
	if cfg.Node.Self == nil {
		adv := cfg.Advertise
		if adv == "" && d.ln != nil {
			if ap, err := netip.ParseAddrPort(d.ln.Addr().String()); err == nil && !ap.Addr().IsUnspecified() {
				adv = ap.String()
			}
		}
		if adv == "" {
			cfg.Logger.Warn("ENRP: enrp.listen is not one IP address and enrp.advertise is empty: peers cannot tell each other how to reach this registrar (each must list it in enrp.peers)",
				"listen", cfg.Listen)
		}
		if adv != "" {
			si, err := serverInfoFor(cfg.Node.ID, adv)
			if err != nil {
				if d.ln != nil {
					d.ln.Close()
				}
				return nil, err
			}
			cfg.Node.Self = si
			d.selfAddrs[adv] = true
		}
	}
	node, err := enrp.New(cfg.Node)
	if err != nil {
		if d.ln != nil {
			d.ln.Close()
		}
		return nil, err
	}
	d.node = node
	if d.cfg.ReadTimeout <= 0 {
		nc := node.Config()
		d.cfg.ReadTimeout = nc.MaxTimeLastHeard + nc.MaxTimeNoResponse
	}
	d.bind = bind.New(cfg.Handlespace, cfg.Node.ID)
	d.ctx, d.cancel = context.WithCancel(context.Background())
	changes := cfg.Handlespace.Subscribe()
	first := d.node.Local(d.bind.Changes())
	d.beatSlop = d.node.StallSlack()
	d.beat.Store(time.Now().UnixNano())
	d.wg.Add(1)
	go d.heartbeat()
	d.wg.Add(1)
	go d.loop(changes, first)
	if d.ln != nil {
		d.wg.Add(1)
		go d.accept()
	}
	return d, nil
}

// serverInfoFor makes the Server Information of a registrar reachable at
// addr (host:port, the host an IP address).
func serverInfoFor(id uint32, addr string) (*wire.ServerInfo, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("enrp: advertised address %q: want IP:port (%v)", addr, err)
	}
	return &wire.ServerInfo{ID: id, Transport: wire.Transport{Proto: wire.ParamTCP, Port: ap.Port(), Use: wire.UseDataOnly,
		Addrs: []netip.Addr{ap.Addr().Unmap()}}}, nil
}

// Addr returns the address the driver listens on, nil if none.
func (d *Driver) Addr() net.Addr {
	if d.ln == nil {
		return nil
	}
	return d.ln.Addr()
}

// Peers returns the peers as the Node last saw them.
func (d *Driver) Peers() []enrp.PeerState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.status)
}

// Stats returns the driver's counters.
func (d *Driver) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Close stops peering: the listener, the diallers and every connection.
func (d *Driver) Close() error {
	d.cancel()
	if d.ln != nil {
		d.ln.Close()
	}
	d.wg.Wait()
	return nil
}

func (d *Driver) accept() {
	defer d.wg.Done()
	for {
		nc, err := d.ln.Accept()
		if err != nil {
			if d.ctx.Err() == nil {
				d.log.Error("ENRP accept failed; no more incoming peer connections", "err", err.Error())
			}
			return
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			c, err := d.handshake(d.ctx, nc, "", "", nil)
			if err != nil {
				return
			}
			d.run(c)
		}()
	}
}

// handshake runs the TLS handshake of a new connection (as the server
// when dialed is "", else as the client that dialled host), within
// DialTimeout and while ctx lasts. An error that is the network's (see
// netFailure) is no refusal; nor is the failure of a dialler's attempt
// that lost its race (ctx cancelled, see connect).
func (d *Driver) handshake(ctx context.Context, nc net.Conn, dialed, host string, reached func()) (*conn, error) {
	if d.cfg.TLS == nil {
		return newConn(nc, dialed), nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.DialTimeout)
	defer cancel()
	var tc *tls.Conn
	if dialed == "" {
		tc = tls.Server(nc, d.cfg.TLS)
	} else {
		cfg := d.cfg.TLS.Clone()
		cfg.ServerName = host
		if reached != nil {
			// The server's whole flight is in: the path works.
			verify := cfg.VerifyConnection
			cfg.VerifyConnection = func(cs tls.ConnectionState) error {
				reached()
				if verify != nil {
					return verify(cs)
				}
				return nil
			}
		}
		tc = tls.Client(nc, cfg)
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		// A connection closed before it said anything (io.EOF), or in
		// the middle of its handshake (io.ErrUnexpectedEOF), is no
		// refusal: a peer's dialler closes the attempts that lost the
		// race to connect (see connect).
		if ctx.Err() == nil && !netFailure(err) && !(dialed == "" && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF))) {
			d.mu.Lock()
			d.stats.Refused++
			d.mu.Unlock()
			who := nc.RemoteAddr().String()
			if dialed != "" {
				who = dialed
			}
			if d.refusalLogged(who) {
				d.log.Warn("ENRP peer refused: TLS handshake failed (further refusals of this peer are not logged for a minute)",
					"peer", who, "incoming", dialed == "", "err", err.Error())
			}
			return nil, fmt.Errorf("%w: %v", errRefused, err)
		}
		return nil, err
	}
	return newConn(tc, dialed), nil
}

// errRefused: a TLS handshake failed other than by the network (a peer
// that refuses this registrar, or that it refuses).
var errRefused = errors.New("enrp: refused at the TLS handshake")

// netFailure reports whether err is the network's: a timeout, or the
// peer's host or port not reachable or the connection reset. With TCP
// Fast Open a dial returns before the SYN is answered, so these come
// from the handshake's first read or write rather than from the dial.
func netFailure(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EHOSTUNREACH, syscall.ENETUNREACH,
		syscall.EHOSTDOWN, syscall.ENETDOWN, syscall.EPIPE, syscall.ETIMEDOUT} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// refusalLogged reports whether a refusal of who is to be logged: the
// first, and then one a minute (an untrusted peer redials often).
func (d *Driver) refusalLogged(who string) bool {
	if host, _, err := net.SplitHostPort(who); err == nil {
		who = host
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if t, ok := d.refusals[who]; ok && time.Since(t) < time.Minute {
		return false
	}
	if len(d.refusals) > 4096 {
		clear(d.refusals)
	}
	d.refusals[who] = time.Now()
	return true
}

// run hands a connection to the loop and serves it until it closes.
func (d *Driver) run(c *conn) {
	select {
	case d.connUp <- c:
	case <-d.ctx.Done():
		c.close()
		return
	}
	d.wg.Add(1)
	go d.write(c)
	d.read(c)
	c.close()
	select {
	case d.connDn <- c:
	case <-d.ctx.Done():
	}
}

// read reads messages, framed by their length field, until an error. A
// message begun must arrive within ReadTimeout, and so must the first
// one; a peer that stalls is cut off.
func (d *Driver) read(c *conn) {
	r := bufio.NewReaderSize(c.nc, 64<<10)
	hdr := make([]byte, wire.HeaderLen)
	first, armed := true, false
	// arm sets the read deadline ReadTimeout from now, unless the next
	// need bytes are buffered already (nothing to wait for) or it is set
	// for this message.
	arm := func(need int) {
		if !armed && r.Buffered() < need {
			c.nc.SetReadDeadline(time.Now().Add(d.cfg.ReadTimeout))
			armed = true
		}
	}
	for {
		// Between messages: no deadline once the peer has spoken.
		if r.Buffered() == 0 {
			switch {
			case first:
				arm(1)
			case armed:
				c.nc.SetReadDeadline(time.Time{})
				armed = false
			}
			if _, err := r.Peek(1); err != nil {
				d.readFailed(c, err, first, 0)
				return
			}
		}
		arm(wire.HeaderLen)
		if _, err := io.ReadFull(r, hdr); err != nil {
			d.readFailed(c, err, first, wire.HeaderLen)
			return
		}
		n, ok := wire.MessageLen(hdr)
		var ib inbound
		if !ok {
			ib = inbound{c: c, err: wire.Malformed(2, "message length %d, below 4", n), n: wire.HeaderLen}
		} else {
			b := make([]byte, n)
			copy(b, hdr)
			arm(n - wire.HeaderLen)
			if _, err := io.ReadFull(r, b[wire.HeaderLen:]); err != nil {
				d.readFailed(c, err, first, n)
				return
			}
			m, err := wire.Decode(b)
			ib = inbound{c: c, m: m, err: err, n: n}
		}
		first = false
		if armed && r.Buffered() > 0 {
			// The next message has begun: its own ReadTimeout.
			c.nc.SetReadDeadline(time.Now().Add(d.cfg.ReadTimeout))
		}
		select {
		case d.in <- ib:
		case <-d.ctx.Done():
			return
		case <-c.closed:
			return
		}
		if errors.Is(ib.err, wire.ErrMalformed) {
			// Out of step with the peer: read no more, and let the
			// writer send the ERROR and close.
			select {
			case <-c.closed:
			case <-d.ctx.Done():
			}
			return
		}
	}
}

// readFailed logs why reading from c stopped, if it was a peer's stall:
// no first message, or a message of want bytes (0: not begun) that did
// not arrive, within ReadTimeout.
func (d *Driver) readFailed(c *conn, err error, first bool, want int) {
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || d.ctx.Err() != nil {
		return
	}
	d.mu.Lock()
	d.stats.Stalled++
	d.mu.Unlock()
	if first && want == 0 {
		d.log.Warn("ENRP connection sent no message in time; closing it", "peer", c.remote, "timeout", d.cfg.ReadTimeout.String())
		return
	}
	d.log.Warn("ENRP peer stalled in the middle of a message; closing the connection", "peer", c.remote,
		"bytes", want, "timeout", d.cfg.ReadTimeout.String())
}

// write writes what is queued, in batches, until the connection closes.
func (d *Driver) write(c *conn) {
	defer d.wg.Done()
	w := bufio.NewWriterSize(c.nc, 64<<10)
	for {
		select {
		case <-c.wake:
		case <-c.closed:
			return
		case <-d.ctx.Done():
			c.close()
			return
		}
		for {
			c.mu.Lock()
			q := c.queue
			c.queue, c.queued = nil, 0
			closing := c.closing
			c.mu.Unlock()
			if len(q) == 0 {
				if closing {
					c.close()
					return
				}
				break
			}
			// A peer that stops reading cannot hold the writer.
			c.nc.SetWriteDeadline(time.Now().Add(d.cfg.ReadTimeout))
			for _, b := range q {
				if _, err := w.Write(b); err != nil {
					c.close()
					return
				}
			}
			if err := w.Flush(); err != nil {
				c.close()
				return
			}
		}
	}
}

// dial keeps a connection to addr until stop is closed.
func (d *Driver) dial(addr string, stop chan struct{}) {
	defer d.wg.Done()
	host, _, _ := net.SplitHostPort(addr)
	failing := false
	for {
		c, err := d.connect(addr, host, stop)
		if errors.Is(err, errDialStopped) {
			return
		}
		wait := d.cfg.Redial
		switch {
		case err == nil:
			d.run(c)
		case errors.Is(err, errRefused):
			// Refused (not merely slow or unreachable: a stopped
			// peer's handshake times out, and it should be tried again
			// at once).
			wait = 10 * d.cfg.Redial
		case !failing && d.ctx.Err() == nil:
			d.log.Info("ENRP peer not reachable; trying again", "peer", addr, "err", err.Error())
		}
		failing = err != nil
		select {
		case <-time.After(wait):
		case <-stop:
			return
		case <-d.ctx.Done():
			return
		}
	}
}

// errDialStopped: the dialler was stopped while it connected.
var errDialStopped = errors.New("enrp: dialler stopped")

// connect opens a connection to addr, the TLS handshake done. An attempt
// whose SYN was lost (sent during a partition), or whose handshake was
// (with TCP Fast Open the ClientHello rides in the SYN, and the dial
// itself returns at once), waits for the kernel to send it again, a
// second or more later, and would hold up the reconnection after the
// heal: so while none has got through, another attempt starts every
// Redial (at most DialTimeout / Redial at once). The first whose
// handshake hears the server (its whole flight in) goes on and the
// others are cancelled at once, before they cost either side more
// cryptography; any that completed all the same is closed before it
// carries a message.
func (d *Driver) connect(addr, host string, stop chan struct{}) (*conn, error) {
	ctx, cancel := context.WithCancel(d.ctx)
	defer cancel()
	type result struct {
		i   int
		c   *conn
		err error
	}
	most := max(1, int(d.cfg.DialTimeout/d.cfg.Redial))
	out := make(chan result, most)
	reachedBy := make(chan int, 1)
	cancels := map[int]context.CancelFunc{} // of the attempts pending
	pending, through, next := 0, -1, 0
	attempt := func() {
		pending++
		i := next
		next++
		actx, acancel := context.WithCancel(ctx)
		cancels[i] = acancel
		reached := func() {
			select {
			case reachedBy <- i:
			default: // another got through first
			}
		}
		go func() {
			start := time.Now()
			nd := net.Dialer{Timeout: d.cfg.DialTimeout}
			if d.cfg.TLS != nil {
				// Plain TCP has no handshake to tell a connection
				// made from a SYN still on its way: no Fast Open.
				nd.Control = dialControl
			}
			nc, err := nd.DialContext(actx, "tcp", addr)
			if err != nil {
				out <- result{i, nil, err}
				return
			}
			c, err := d.handshake(actx, nc, addr, host, reached)
			if c != nil {
				c.took = time.Since(start)
			}
			out <- result{i, c, err}
		}()
	}
	// drain closes what the attempts still pending bring (ctx is
	// cancelled: they end at once).
	drain := func(n int) {
		go func() {
			for range n {
				if r := <-out; r.c != nil {
					r.c.nc.Close()
				}
			}
		}()
	}
	attempt()
	tick := time.NewTicker(d.cfg.Redial)
	defer tick.Stop()
	var refused error
	for {
		select {
		case i := <-reachedBy:
			if through < 0 {
				through = i
				for j, c := range cancels {
					if j != i {
						c()
					}
				}
			}
		case r := <-out:
			pending--
			if c := cancels[r.i]; c != nil && r.err != nil {
				c()
			}
			delete(cancels, r.i)
			if r.err == nil {
				drain(pending)
				return r.c, nil
			}
			if errors.Is(r.err, errRefused) {
				refused = r.err
			}
			if pending == 0 {
				if refused != nil {
					return nil, refused
				}
				return nil, r.err
			}
		case <-tick.C:
			if pending < most && refused == nil && through < 0 {
				attempt()
			}
		case <-stop:
			drain(pending)
			return nil, errDialStopped
		case <-d.ctx.Done():
			drain(pending)
			return nil, d.ctx.Err()
		}
	}
}

func (d *Driver) startDialer(addr string) {
	if _, ok := d.dialers[addr]; ok || d.selfAddrs[addr] {
		return
	}
	stop := make(chan struct{})
	d.dialers[addr] = stop
	d.wg.Add(1)
	go d.dial(addr, stop)
}

func (d *Driver) loop(changes <-chan struct{}, first enrp.Ready) {
	defer d.wg.Done()
	defer d.bind.Close()
	defer func() {
		for c := range d.conns {
			c.close()
		}
	}()
	defer d.stale.Store(false) // no more peering: the view is what there is
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for _, p := range d.cfg.Peers {
		d.startDialer(p)
	}
	next := d.handle(first)
	for {
		stale, _ := d.node.Stale()
		d.stale.Store(stale)
		timer.Reset(max(time.Until(next), 0))
		select {
		case <-d.ctx.Done():
			return
		case <-d.poke:
			next = d.handle(d.node.Tick()) // finds the stall, if the timer has not yet
		case c := <-d.connUp:
			d.conns[c] = true
			if id := d.dialedID[c.dialed]; id != 0 && c.dialed != "" {
				// The peer dialled is known by name: what the Node sends
				// it from now on goes on this connection, behind the
				// push its Hello carries, and none of it is dropped for
				// want of a connection (the peer's first word would
				// come a round trip later).
				c.peer, c.named = id, true
				d.byPeer[id] = append(d.byPeer[id], c)
				d.rtt.add(id, c.nc)
			}
			for _, m := range d.node.Hello(c.peer) {
				d.sendOn(c, m)
			}
			if c.dialed != "" {
				d.log.Debug("ENRP connection up", "peer", c.remote, "dialed", true, "took", c.took.String(), "fastopen", fastOpened(c.nc))
			} else {
				d.log.Debug("ENRP connection up", "peer", c.remote, "dialed", false, "fastopen", fastOpened(c.nc))
			}
			continue // the timer stays as it is
		case c := <-d.connDn:
			next = d.dropConn(c)
		case ib := <-d.in:
			next = d.onInbound(ib)
		case <-changes:
			next = d.handle(d.node.Local(d.bind.Changes()))
		case rc := <-d.admin:
			next = d.request(rc)
		case cc := <-d.confirms:
			next = d.confirm(cc)
		case ac := <-d.answers:
			next = d.handle(d.node.Answer(ac.req, ac.h, ac.rtt))
		case acks := <-d.durable:
			for _, env := range acks {
				d.sendEnv(env)
			}
			d.log.Debug("ENRP hand-off stored; acknowledged", "peers", len(acks), "waited", time.Since(d.ackWait).String())
			if d.acksOut--; d.acksOut == 0 {
				d.ackWait = time.Time{}
			}
			next = d.handle(enrp.Ready{Next: d.node.NextDeadline()}) // the hand-off's operations, held for the acknowledgement
		case done := <-d.leave:
			d.log.Info("ENRP handing this registrar's elements off to its peers", "peers", len(d.node.AlivePeers()))
			next = d.handle(d.node.Leave(d.cfg.HandoffState))
			close(done)
		case <-timer.C:
			next = d.handle(d.node.Tick())
		}
	}
}

// heartbeat notes the time four times per stall slack, until Close,
// which leaves it far in the future.
func (d *Driver) heartbeat() {
	defer d.wg.Done()
	t := time.NewTicker(max(d.beatSlop/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-t.C:
			now := time.Now().UnixNano()
			if now-d.beat.Load() > int64(d.beatSlop) {
				// Stopped, or starved: stale until the loop has run (its
				// Node then finds the stall, and holds if need be).
				d.stale.Store(true)
				select {
				case d.poke <- struct{}{}:
				default:
				}
			}
			d.beat.Store(now)
		case <-d.ctx.Done():
			d.beat.Store(math.MaxInt64 / 2)
			return
		}
	}
}

// Current reports whether this registrar's view is current enough to
// answer DNS from: the Node does not hold it as stale (after a long
// stall, or a healed minority, until it has synced with its peers or
// Config.ResyncWait has passed; see Node.Stale), and the process was not
// stopped just now (its heartbeat is not older than the Node's stall
// slack: a process resumed from SIGSTOP answers nothing from before its
// stop, and by the time the heartbeat runs again the Node's Tick has
// found the stall). After Close it is true. Safe for concurrent use; it
// reads the clock.
func (d *Driver) Current() bool {
	return !d.stale.Load() && time.Now().UnixNano()-d.beat.Load() <= int64(d.beatSlop)
}

// Confirm asks the vantage points of element id of pool, homed here, to
// probe it once, because this registrar's probes propose the health
// proposed, and waits up to wait for their answers (Node.Confirm); the
// verdict comes to DriverConfig.OnVerdict (with Asked 0 when nobody could
// be asked). It does not block: it returns false, and nothing comes, when
// too many confirmations wait to be carried out or the driver is closed
// (the caller decides alone).
func (d *Driver) Confirm(pool string, id uint32, proposed handlespace.Health, wait time.Duration) bool {
	if d.ctx.Err() != nil {
		return false
	}
	select {
	case d.confirms <- confirmCall{pool: pool, id: id, proposed: proposed, wait: wait}:
		return true
	default:
		return false
	}
}

func (d *Driver) confirm(cc confirmCall) time.Time {
	ok, r := d.node.Confirm(cc.pool, cc.id, cc.proposed, cc.wait)
	if !ok {
		r.Verdicts = append(r.Verdicts, enrp.Verdict{Pool: cc.pool, ID: cc.id, Current: cc.proposed, Proposed: cc.proposed, Health: cc.proposed,
			Votes: []placement.Vote{{Registrar: d.self, Health: cc.proposed}}})
	}
	return d.handle(r)
}

// WaitSynced waits until the first handle table transfer from a peer is
// done (Node.Synced) or ctx ends, and reports whether it is done.
func (d *Driver) WaitSynced(ctx context.Context) bool {
	select {
	case <-d.synced:
		return true
	case <-ctx.Done():
		return false
	}
}

// Leave hands every element homed here off to the live peers (Node.Leave)
// and waits until every peer acknowledged (or died) or ctx ends; it
// reports whether the hand-off is over. Peering goes on until Close.
func (d *Driver) Leave(ctx context.Context) bool {
	done := make(chan struct{})
	select {
	case d.leave <- done:
	case <-ctx.Done():
		return false
	case <-d.ctx.Done():
		return false
	}
	select {
	case <-done:
	case <-d.ctx.Done():
		return false
	}
	select {
	case <-d.left:
		return true
	case <-ctx.Done():
		return false
	case <-d.ctx.Done():
		return false
	}
}

// RequestAdmin asks the home of element id of pool to set its
// administrative state to a (Node.RequestAdmin) and returns the home. The
// change shows in this registrar's handlespace when the home's update comes
// back; nothing changes here before. A refusal by the home comes to the
// watchers of the element (WatchRefusals: watch before asking). Errors:
// ErrNoSuchElement, ErrHomeHere (change it locally),
// *HomeUnavailableError (the home is dead, unknown or not connected:
// nothing was sent), or the driver is closed.
func (d *Driver) RequestAdmin(pool string, id uint32, a handlespace.Admin) (uint32, error) {
	return d.call(requestCall{pool: pool, id: id, a: a})
}

// RequestReport passes a pool user's failure report of element id of
// pool, made here by the client at from, on to the element's home
// (Node.RequestReport) and returns the home. It fails as RequestAdmin
// does; a refusal by the home (rare: the home moved, or the reporter is
// over the home's rate) is logged and comes to the element's watchers.
func (d *Driver) RequestReport(pool string, id uint32, from netip.Addr) (uint32, error) {
	return d.call(requestCall{pool: pool, id: id, report: true, from: from})
}

func (d *Driver) call(rc requestCall) (uint32, error) {
	rc.reply = make(chan requestReply, 1)
	select {
	case d.admin <- rc:
	case <-d.ctx.Done():
		return 0, errors.New("enrp: peering stopped")
	}
	r := <-rc.reply
	return r.home, r.err
}

// WatchRefusals returns a channel that gets the refusals (at most one
// waits in it) of this registrar's requests for element id of pool that
// come back from the home, until stop is called.
func (d *Driver) WatchRefusals(pool string, id uint32) (refused <-chan *enrp.RefusedError, stop func()) {
	ch := make(chan *enrp.RefusedError, 1)
	k := key{Pool: pool, ID: id}
	d.wmu.Lock()
	if d.watchers == nil {
		d.watchers = map[key]map[chan *enrp.RefusedError]struct{}{}
	}
	if d.watchers[k] == nil {
		d.watchers[k] = map[chan *enrp.RefusedError]struct{}{}
	}
	d.watchers[k][ch] = struct{}{}
	d.wmu.Unlock()
	return ch, func() {
		d.wmu.Lock()
		delete(d.watchers[k], ch)
		if len(d.watchers[k]) == 0 {
			delete(d.watchers, k)
		}
		d.wmu.Unlock()
	}
}

// refused hands a home's refusal to the element's watchers.
func (d *Driver) refused(f enrp.Refusal) {
	d.log.Info("ENRP request refused by the element's home", "home", handlespace.IDString(f.Home), "pool", f.Pool,
		"element", handlespace.IDString(f.ID), "request", requestName(f.Request), "why", f.Why)
	d.wmu.Lock()
	defer d.wmu.Unlock()
	for ch := range d.watchers[key{Pool: f.Pool, ID: f.ID}] {
		select {
		case ch <- &enrp.RefusedError{Refusal: f}:
		default:
		}
	}
}

func requestName(request uint16) string {
	switch request {
	case wire.ParamXAdminReq:
		return "admin"
	case wire.ParamXReportReq:
		return "report"
	}
	return fmt.Sprintf("0x%04x", request)
}

func (d *Driver) request(rc requestCall) time.Time {
	// Not connected to the home: the Node would queue a message that the
	// driver drops, and the request would be lost in silence.
	if home, ok := d.node.HomeOf(rc.pool, rc.id); ok && home != d.self && len(d.byPeer[home]) == 0 {
		why := "not connected"
		if known, dead := d.node.PeerKnown(home); !known {
			why = "not a known peer"
		} else if dead {
			why = "dead"
		}
		rc.reply <- requestReply{home, &enrp.HomeUnavailableError{Home: home, Why: why}}
		return d.node.NextDeadline()
	}
	var home uint32
	var r enrp.Ready
	var err error
	if rc.report {
		home, r, err = d.node.RequestReport(rc.pool, rc.id, rc.from)
	} else {
		home, r, err = d.node.RequestAdmin(rc.pool, rc.id, rc.a)
	}
	rc.reply <- requestReply{home, err}
	switch {
	case err != nil:
	case rc.report:
		d.log.Debug("ENRP failure report passed on to the element's home", "pool", rc.pool, "element", handlespace.IDString(rc.id),
			"from", rc.from.String(), "home", handlespace.IDString(home))
	default:
		d.log.Info("ENRP admin request sent to the element's home", "pool", rc.pool, "element", handlespace.IDString(rc.id),
			"state", rc.a.String(), "home", handlespace.IDString(home))
	}
	return d.handle(r)
}

func (d *Driver) dropConn(c *conn) time.Time {
	if !d.conns[c] {
		return d.node.NextDeadline()
	}
	delete(d.conns, c)
	d.rtt.drop(c.peer, c.nc)
	d.log.Debug("ENRP connection down", "peer", c.remote)
	if c.peer == 0 {
		return d.node.NextDeadline()
	}
	cs := slices.DeleteFunc(d.byPeer[c.peer], func(x *conn) bool { return x == c })
	if len(cs) > 0 {
		d.byPeer[c.peer] = cs
		return d.node.NextDeadline()
	}
	delete(d.byPeer, c.peer)
	return d.handle(d.node.Disconnected(c.peer))
}

func (d *Driver) onInbound(ib inbound) time.Time {
	c := ib.c
	if !d.conns[c] {
		return d.node.NextDeadline()
	}
	d.mu.Lock()
	d.stats.MsgsIn++
	d.stats.BytesIn += int64(ib.n)
	d.mu.Unlock()
	if d.cfg.OnMessage != nil && ib.m != nil {
		d.cfg.OnMessage(false, ib.m.Type)
	}
	if ib.err != nil {
		if errors.Is(ib.err, wire.ErrMalformed) {
			// Counted before the ERROR goes: the peer may have it (and a
			// test look at the count) before this goroutine runs again.
			d.mu.Lock()
			d.stats.Malformed++
			d.mu.Unlock()
		}
		if em := wire.ErrorFor(ib.err, d.self, c.peer); em != nil {
			d.sendOn(c, em)
		}
		if errors.Is(ib.err, wire.ErrMalformed) {
			d.log.Warn("malformed ENRP message; closing the connection", "peer", c.remote, "id", handlespace.IDString(c.peer), "err", ib.err.Error())
			c.closeAfterFlush()
		} else {
			d.log.Info("ENRP message not processed", "peer", c.remote, "id", handlespace.IDString(c.peer), "err", ib.err.Error())
		}
		return d.node.NextDeadline()
	}
	m := ib.m
	switch {
	case m.Sender == d.self:
		d.log.Warn("an ENRP peer has this registrar's own ID: the peer address is this registrar itself (not dialled again), or the peer's data directory is a copy of this one's",
			"peer", c.remote, "id", handlespace.IDString(d.self))
		if c.dialed != "" {
			d.selfAddrs[c.dialed] = true
			if stop, ok := d.dialers[c.dialed]; ok {
				close(stop)
				delete(d.dialers, c.dialed)
			}
		}
		c.close()
		return d.node.NextDeadline()
	case c.named && m.Sender != c.peer:
		// Another registrar now answers at the address dialled: drop
		// the connection (and its Hello, addressed to the one before);
		// the next one says Hello to whoever answers.
		d.log.Warn("ENRP peer at a dialled address has a new ID; connecting again", "peer", c.remote, "was", handlespace.IDString(c.peer), "now", handlespace.IDString(m.Sender))
		delete(d.dialedID, c.dialed)
		c.close()
		return d.node.NextDeadline()
	case c.named:
		c.named = false
	case c.peer == 0:
		c.peer = m.Sender
		d.byPeer[m.Sender] = append(d.byPeer[m.Sender], c)
		if c.dialed != "" {
			d.dialedID[c.dialed] = m.Sender
		}
		d.rtt.add(m.Sender, c.nc)
	case m.Sender != c.peer:
		d.sendOn(c, wire.ErrorFor(wire.Malformed(4, "sender %08x on a connection of %08x", m.Sender, c.peer), d.self, c.peer))
		d.log.Warn("ENRP peer changed its ID on a connection; closing it", "peer", c.remote, "was", handlespace.IDString(c.peer), "now", handlespace.IDString(m.Sender))
		c.closeAfterFlush()
		return d.node.NextDeadline()
	}
	if em := wire.ReportUnrecognized(m, d.self); em != nil {
		d.sendOn(c, em)
	}
	d.tablePage = m.Type == wire.TypeHandleTableResp && m.Handoff == nil
	next := d.handle(d.node.Step(m))
	d.tablePage = false
	return next
}

// sendOn encodes m and queues it on c.
func (d *Driver) sendOn(c *conn, m *wire.Message) {
	b, err := m.Encode()
	if err != nil {
		d.log.Error("cannot encode an ENRP message", "msg", m.String(), "err", err.Error())
		return
	}
	// Counted before it is queued: the peer may have it (and act on it)
	// before this goroutine runs again.
	d.mu.Lock()
	d.stats.MsgsOut++
	d.stats.BytesOut += int64(len(b))
	d.mu.Unlock()
	if d.cfg.OnMessage != nil {
		d.cfg.OnMessage(true, m.Type)
	}
	if !c.enqueue(b, d.cfg.MaxQueue) {
		d.log.Warn("ENRP peer too slow: more than the queue limit waiting; dropping its connection", "peer", c.remote, "id", handlespace.IDString(c.peer))
	}
}

// handle carries out a Ready and returns when to tick next: the messages
// go out, the operations are applied, then the events are logged (so that
// a logged takeover is one the handlespace already shows).
func (d *Driver) handle(r enrp.Ready) time.Time {
	durable := d.cfg.Durable != nil && d.cfg.OnOwnership != nil
	var acks []enrp.Envelope // hand-off acknowledgements that wait for the store
	for _, env := range r.Msgs {
		if durable && env.Msg.Type == wire.TypePresence && env.Msg.Handoff != nil && env.Msg.Handoff.Kind == wire.HandoffAck {
			acks = append(acks, env)
			continue
		}
		d.sendEnv(env)
	}
	if durable && (len(acks) > 0 || d.node.HandingIn()) {
		d.storeEarly(r.Ops)
	}
	if len(acks) > 0 {
		if d.acksOut == 0 {
			d.ackWait = time.Now()
		}
		d.acksOut++
		d.cfg.Durable(func() {
			select {
			case d.durable <- acks:
			case <-d.ctx.Done():
			}
		})
	}
	for _, s := range r.Dial {
		if len(s.Transport.Addrs) > 0 && s.Transport.Proto == wire.ParamTCP {
			d.startDialer(netip.AddrPortFrom(s.Transport.Addrs[0], s.Transport.Port).String())
		}
	}
	d.bind.SetLive(r.Live)
	// While a handle table comes in, its pages' operations wait and
	// apply together (a quarter of a second at most): each application
	// rebuilds the views of the pools it touches, and a pool of 100 000
	// elements rebuilt for each page of 128 would take far longer than the
	// transfer. The other operations meanwhile (a peer's update or push,
	// a hand-back) apply at once, as they would without the transfer,
	// but for those of an element whose earlier operation waits: they
	// wait behind it. (Held too, they waited up to a quarter of a second
	// for any transfer, even one of a few elements: in the lab a far
	// peer's table pulled after a heal held every other peer's push.)
	// A hand-off coming in, or its acknowledgement waiting for the
	// store, holds them all (below).
	ackWaits := !d.ackWait.IsZero() && time.Since(d.ackWait) <= maxOpsDelay
	if len(r.Ops) > 0 {
		if now := d.holdBack(r.Ops, d.tablePage || ackWaits || d.node.HandingIn()); len(now) > 0 {
			d.apply(now)
		}
	}
	// A hand-off coming in is not held to maxOpsDelay: its operations
	// apply once it is taken (and acknowledged), so that the leaver, which
	// waits for that, is not kept waiting by handlespace updates.
	//
	// Nor do they apply while its acknowledgement waits for the store
	// (Durable): the leaver waits for that, and applying them first
	// would delay it (a quarter of a second for 50 000 elements); they
	// apply once it is sent, or maxOpsDelay after it began to wait.
	// A hold that ends with this Ready (the pushes are in) ends with
	// their operations in the handlespace: the loop lets DNS answer
	// from it as soon as this returns, and an audit's transfer under
	// way would otherwise hold them back for up to maxOpsDelay (the lab:
	// registrations of the other side missing from answers for 0.25 s
	// after the hold).
	released := false
	if d.stale.Load() {
		released, _ = d.node.Stale()
		released = !released
	}
	if len(d.pending) > 0 && (released || !ackWaits && (!d.node.Transferring() || (time.Since(d.pendingSince) > maxOpsDelay && !d.node.HandingIn()) || len(d.pending) > maxPendingOps)) {
		ops := d.pending
		d.pending, d.pendingKeys = nil, nil
		d.apply(ops)
	}
	if d.cfg.OnHanded != nil {
		// After the operations: the monitor finds the elements homed
		// here. Those whose operations wait (a transfer, a hand-off
		// coming in) wait with them.
		d.handed = append(d.handed, r.Handed...)
		var hs, wait []enrp.Handed
		for _, h := range d.handed {
			if d.pendingKeys[key{Pool: h.Pool, ID: h.ID}] {
				wait = append(wait, h)
			} else {
				hs = append(hs, h)
			}
		}
		d.handed = wait
		if len(hs) > 0 {
			d.cfg.OnHanded(hs)
		}
	}
	for _, pr := range r.Probes {
		if d.cfg.OnProbe == nil {
			select { // the loop reads it next (dropped if the queue is full: the home stops waiting at its wait's end)
			case d.answers <- answerCall{pr, handlespace.HealthUnknown, 0}:
			default:
			}
			continue
		}
		d.cfg.OnProbe(pr, func(h handlespace.Health, rtt time.Duration) {
			select {
			case d.answers <- answerCall{pr, h, rtt}:
			case <-d.ctx.Done():
			}
		})
	}
	for _, v := range r.Verdicts {
		if d.cfg.OnVerdict != nil {
			d.cfg.OnVerdict(v)
		}
	}
	if r.Left && !d.leftDone {
		d.leftDone = true
		close(d.left)
	}
	if !d.syncDone && d.node.Synced() {
		// Whoever waits for the sync (DNS) finds the handlespace synced:
		// the table's operations are applied, even if another transfer
		// still holds them back.
		if len(d.pending) > 0 {
			ops := d.pending
			d.pending, d.pendingKeys = nil, nil
			d.apply(ops)
		}
		d.syncDone = true
		close(d.synced)
	}
	var failed []func() enrp.Ready // refusals of requests that could not be carried out
	for _, rr := range r.Reports {
		carryOut(d, reportRequest, d.cfg.OnReport, rr, rr.From, rr.Pool, rr.ID, nil, []any{"from", rr.Reporter.String()}, &failed)
	}
	for _, f := range r.Refusals {
		d.refused(f)
	}
	for _, a := range r.Admin {
		carryOut(d, adminRequest, d.cfg.OnAdmin, a, a.From, a.Pool, a.ID, []any{"state", a.Admin.String()}, nil, &failed)
	}
	// The status first: whoever hears of an event (OnEvent, the log line)
	// and then asks (Peers, Stats: the metrics, the status page) finds it
	// there. After the events, a takeover done in the step that found the
	// peer dead was logged while Peers still said "suspect".
	_, dig := d.node.ClaimOf(d.self)
	d.mu.Lock()
	d.status = d.node.Peers()
	d.stats.Owned = int(dig.Count)
	d.stats.Confirm = d.node.ConfirmStats()
	d.mu.Unlock()
	for _, ev := range r.Events {
		if d.cfg.OnEvent != nil { // first: whoever reads the log line then finds the event counted
			d.cfg.OnEvent(ev)
		}
		d.logEvent(ev)
		if ev.Kind == enrp.EventPeerDead {
			for _, c := range d.byPeer[ev.Peer] {
				c.close()
			}
		}
	}
	for _, f := range failed {
		r.Next = d.handle(f())
	}
	if len(d.pending) > 0 && !d.node.HandingIn() {
		// Operations held back for a transfer apply at maxOpsDelay at the
		// latest, even if nothing else happens by then.
		at := d.pendingSince.Add(maxOpsDelay)
		if !d.ackWait.IsZero() {
			at = d.ackWait.Add(maxOpsDelay + time.Millisecond)
		}
		if at.Before(r.Next) {
			r.Next = at
		}
	}
	return r.Next
}

// holdBack queues ops behind the operations held back (all of them if
// hold) and returns those to apply now: the others, but for those of an
// element with an operation held back, which wait behind it.
func (d *Driver) holdBack(ops []enrp.Op, hold bool) (now []enrp.Op) {
	for _, o := range ops {
		k := key{Pool: o.Pool, ID: o.ID}
		if !hold && !d.pendingKeys[k] {
			now = append(now, o)
			continue
		}
		if len(d.pending) == 0 {
			d.pendingSince = time.Now()
			d.pendingKeys = map[key]bool{}
		}
		d.pending = append(d.pending, o)
		d.pendingKeys[k] = true
	}
	return now
}

// sendEnv sends env on the newest connection to its peer, if any.
func (d *Driver) sendEnv(env enrp.Envelope) {
	cs := d.byPeer[env.To]
	if len(cs) == 0 {
		return // not connected: the Node's audits repair what is lost
	}
	// The oldest connection: every message to a peer goes on one, in
	// order (a push in a Hello, then the updates after it), until that
	// one drops.
	d.sendOn(cs[0], env.Msg)
}

// storeEarly gives OnOwnership the registered elements that ops (of a
// hand-off coming in) make this registrar's home, before the handlespace
// has them (the operations wait until the hand-off is taken), so that
// they are stored by the time it is acknowledged (DriverConfig.Durable).
// apply then reports only those that did not become this registrar's
// after all (a guard that did not hold: deregistered meanwhile).
func (d *Driver) storeEarly(ops []enrp.Op) {
	var out []Ownership
	for _, o := range ops {
		if o.Kind != enrp.OpPut || o.Elem == nil || o.Elem.Static || o.Elem.Home != d.self {
			continue
		}
		d.early[key{Pool: o.Pool, ID: o.ID}] = true
		out = append(out, Ownership{Pool: o.Pool, ID: o.ID, Elem: o.Elem, Handed: true})
	}
	if len(out) > 0 {
		d.cfg.OnOwnership(out)
	}
}

// peerRequest is a kind of peer's request that this registrar took as
// the element's home (Ready.Reports, Ready.Admin), and how handle logs it.
type peerRequest struct {
	param                  uint16 // ParamXReportReq, ParamXAdminReq
	none, failed, done     string // no hook here; the hook failed; done
	failedLevel, doneLevel slog.Level
}

var (
	reportRequest = peerRequest{wire.ParamXReportReq,
		"ENRP failure report from a peer not counted: no monitor",
		"ENRP failure report from a peer not counted",
		"ENRP failure report from a peer counted",
		slog.LevelWarn, slog.LevelDebug}
	adminRequest = peerRequest{wire.ParamXAdminReq,
		"ENRP admin request from a peer not applied: no administrative backend",
		"ENRP admin request from a peer failed",
		"ENRP admin request from a peer applied",
		slog.LevelError, slog.LevelInfo}
)

// carryOut carries out peer from's request req of kind k, for element id
// of pool, with hook (nil: none here, the request is only logged), and logs
// how it went with attrs (and more once the hook is called). A request the
// hook fails is refused, naming the hook's error, once the current Ready
// is handled (failed).
func carryOut[R any](d *Driver, k peerRequest, hook func(R) error, req R, from uint32, pool string, id uint32, attrs, more []any, failed *[]func() enrp.Ready) {
	attrs = append([]any{"peer", handlespace.IDString(from), "pool", pool, "element", handlespace.IDString(id)}, attrs...)
	if hook == nil {
		d.log.Warn(k.none, attrs...)
		return
	}
	attrs = append(attrs, more...)
	if err := hook(req); err != nil {
		d.log.Log(context.Background(), k.failedLevel, k.failed, append(attrs, "err", err.Error())...)
		*failed = append(*failed, func() enrp.Ready { return d.node.Refuse(from, k.param, pool, id, err.Error()) })
		return
	}
	d.log.Log(context.Background(), k.doneLevel, k.done, attrs...)
}

// apply applies the Node's operations to the handlespace and reports the
// changes of ownership of registered elements.
func (d *Driver) apply(ops []enrp.Op) {
	mine := func(pool string, id uint32) *handlespace.Element {
		e := lookup(d.cfg.Handlespace.View(), pool, id)
		if e == nil || e.Static || e.Home != d.self {
			return nil
		}
		return e
	}
	var before map[key]bool
	if d.cfg.OnOwnership != nil {
		before = map[key]bool{}
		for _, o := range ops {
			before[key{Pool: o.Pool, ID: o.ID}] = mine(o.Pool, o.ID) != nil
		}
	}
	for _, oe := range d.bind.Apply(ops) {
		if t := d.opWarned[oe.Op.Pool]; time.Since(t) > time.Minute {
			d.opWarned[oe.Op.Pool] = time.Now()
			d.log.Warn("a peer's element not applied here (further ones in this pool are not logged for a minute)",
				"pool", oe.Op.Pool, "element", handlespace.IDString(oe.Op.ID), "op", oe.Op.Kind.String(), "err", oe.Err.Error())
		}
	}
	d.mu.Lock()
	d.stats.Conflicts = int64(d.bind.Conflicts())
	d.mu.Unlock()
	if d.cfg.OnOwnership == nil {
		return
	}
	var out []Ownership
	for _, k := range table.KeysInOrder(before) {
		now := mine(k.Pool, k.ID)
		if d.early[k] {
			// Stored as it came (storeEarly): only a change since counts.
			delete(d.early, k)
			if now != nil {
				continue
			}
			out = append(out, Ownership{Pool: k.Pool, ID: k.ID})
			continue
		}
		if (now != nil) != before[k] {
			out = append(out, Ownership{Pool: k.Pool, ID: k.ID, Elem: now})
		}
	}
	if len(out) > 0 {
		d.cfg.OnOwnership(out)
	}
}

// lookup finds element id of pool (a lower-case FQDN) in v.
func lookup(v *handlespace.View, pool string, id uint32) *handlespace.Element {
	pv := v.Pool(pool)
	if pv == nil {
		return nil
	}
	return pv.Element(id)
}

func (d *Driver) logEvent(ev enrp.Event) {
	attrs := []any{"event", ev.Kind.String()}
	if ev.Peer != 0 {
		attrs = append(attrs, "peer", handlespace.IDString(ev.Peer))
	}
	if ev.Target != 0 {
		attrs = append(attrs, "target", handlespace.IDString(ev.Target))
	}
	if ev.Count != 0 || ev.Kind == enrp.EventStaticHomes {
		attrs = append(attrs, "count", ev.Count)
	}
	if ev.Detail != "" {
		attrs = append(attrs, "detail", ev.Detail)
	}
	switch ev.Kind {
	case enrp.EventPeerUp, enrp.EventPeerDead, enrp.EventTakeoverStart, enrp.EventTakeoverDone, enrp.EventTakeoverAbort, enrp.EventTakenOver,
		enrp.EventOwnershipLost, enrp.EventReclaimed, enrp.EventSwept, enrp.EventStaticHomes,
		enrp.EventHandoffStart, enrp.EventHandoffDone, enrp.EventHandoffIn, enrp.EventHandback, enrp.EventHoldEnd:
		d.log.Info("ENRP "+ev.Kind.String(), attrs...)
	case enrp.EventRejected, enrp.EventErrorReceived, enrp.EventAdminRefused, enrp.EventReportRefused, enrp.EventConfirmRefused, enrp.EventStalled, enrp.EventHold:
		d.log.Warn("ENRP "+ev.Kind.String(), attrs...)
	default:
		d.log.Debug("ENRP "+ev.Kind.String(), attrs...)
	}
}
