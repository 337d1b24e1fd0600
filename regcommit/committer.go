package regcommit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	_ "github.com/poolnsd/poolnsd/handlespace/policy" // the policies register themselves
	"github.com/poolnsd/poolnsd/store"
)

// Store is where registrations are made durable. *store.Store is one.
type Store interface {
	// Commit writes ops in one transaction and returns once they are on
	// disk; on error it wrote nothing.
	Commit(ops []store.Write) error
}

var _ Store = (*store.Store)(nil)

// Config configures a Committer. Zero values have defaults.
type Config struct {
	// LeaseDefault is the lease of a registration that asks for none
	// (default 60 s); LeaseMin and LeaseMax bound every lease (defaults
	// 5 s and 24 h).
	LeaseDefault, LeaseMin, LeaseMax time.Duration
	// MaxPerOwner is the most elements one owner (a TSIG key) may have
	// registered, admins excepted; MaxPerPool the most registered elements
	// a pool may hold. 0: no limit.
	MaxPerOwner, MaxPerPool int
	// Rate and Burst are the per-source token bucket of Allow: Burst
	// requests at once, Rate per second on average (defaults 20 and 100).
	Rate  float64
	Burst int
	// MaxBatch is the most Requests one group commit takes (default 1024).
	MaxBatch int
	// AllowLoopback lets elements have loopback addresses (127.0.0.0/8,
	// ::1): off, they are refused, since they point clients and this
	// registrar's probes at their own host. Unspecified, multicast and
	// broadcast addresses are always refused (handlespace.CheckAddr).
	AllowLoopback bool
	// PaceHold bounds how long the committer's turns wait for a UDP loop
	// to grant them (see Pacer; default 20 ms).
	PaceHold time.Duration
	// Now is the clock (default time.Now). Testing.
	Now func() time.Time
	// Logger gets one line per registration, removal and expiry (debug),
	// per refused request (info) and per store failure (error); default
	// slog.Default().
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.LeaseDefault <= 0 {
		c.LeaseDefault = 60 * time.Second
	}
	if c.LeaseMin <= 0 {
		c.LeaseMin = 5 * time.Second
	}
	if c.LeaseMax <= 0 {
		c.LeaseMax = 24 * time.Hour
	}
	if c.Rate <= 0 {
		c.Rate = 20
	}
	if c.Burst <= 0 {
		c.Burst = 100
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 1024
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Clamp returns the lease granted for a request of asked (0: the default).
func (c Config) Clamp(asked time.Duration) time.Duration {
	if asked <= 0 {
		asked = c.LeaseDefault
	}
	return min(max(asked, c.LeaseMin), c.LeaseMax)
}

// Who is the party a Request acts for.
type Who struct {
	// Owner names it in the elements it registers: "tsig:KEYNAME" or
	// "http".
	Owner string
	// Admin may change and remove any registered element, and has no
	// per-owner quota.
	Admin bool
}

// Change is one registration or removal of a Request.
type Change struct {
	// Pool is the pool's name, a lower-case FQDN (web.pool.example.).
	Pool string
	// Label is the element's label, the first label of its own name.
	Label string
	// Elem, when set, is registered under Label: Addrs, Port, Transport
	// and the policy parameters as the registrant gave them. The committer
	// fills in the ID, Owner, Lease, Expires and Home. nil: the element
	// with Label is removed (nothing if there is none).
	Elem *handlespace.Element
	// Give: Elem is the committer's to keep (the caller made it for this
	// Change, with no Probe or Vantage of its own, and does not touch it
	// again): it is registered itself, its fields set, not a copy of it.
	Give bool
	// Policy is the policy the registration asks for, "" any.
	Policy string
	// Lease is the lease asked for, 0 the default.
	Lease time.Duration
}

// Request is one atomic set of Changes.
type Request struct {
	Who Who
	// Keys are the conflict keys of what Build reads and writes: Key(pool,
	// label) for one element's name, Key(pool, "") for a whole pool (its
	// name, or any name Build reads beyond single elements). A Request
	// whose keys meet those of an earlier Request of the same batch goes to
	// the next batch.
	Keys []string
	// Build returns the Changes from the current view. It runs on the
	// committer, serialised with every other Request; an error fails the
	// Request and is what Submit returns.
	Build func(v *handlespace.View) ([]Change, error)
	// Deadline, if set, withdraws the Request as a ctx that ends then
	// would (context.DeadlineExceeded), without a context and a timer
	// of its own for each Request: the HTTP API's registrations bound
	// their wait so, a thousand a second.
	Deadline time.Time
}

// Key is a conflict key (see Request.Keys).
func Key(pool, label string) string { return pool + "\x00" + label }

// Done is what happened to one Change.
type Done struct {
	Pool, Label string
	ID          uint32
	// Elem is the registered element as published; nil for a removal.
	Elem *handlespace.Element
	// Created: the registration made a new element (else it updated or
	// refreshed one). Removed: a removal found the element and removed it.
	Created, Removed bool
}

// Result is what a successful Request did.
type Result struct {
	// Lease is the lease granted to the Request's registrations (0 if it
	// had none).
	Lease time.Duration
	Done  []Done
}

// Code classifies the errors of Submit.
type Code int

const (
	// Refused: not allowed — an element of a zone file or of another
	// owner, a quota, a policy other than the pool's.
	Refused Code = iota + 1
	// Invalid: the registration is malformed (no address, no port, a bad
	// label).
	Invalid
	// NotFound: the pool's zone is not served.
	NotFound
	// Unavailable: the store failed or the committer is closed; nothing
	// changed, the request may be retried.
	Unavailable
)

func (c Code) String() string {
	switch c {
	case Refused:
		return "refused"
	case Invalid:
		return "invalid"
	case NotFound:
		return "not found"
	case Unavailable:
		return "unavailable"
	}
	return "unknown"
}

// Error is an error of Submit other than Build's own. It prints with the
// prefix "registrar: " (in DESIGN's sense: this registrar, the poolnsd
// process, refused), which clients and the HTTP API's replies already
// know.
type Error struct {
	Code Code
	Msg  string
	Err  error // the cause, if any
}

func (e *Error) Error() string { return "registrar: " + e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the Code of an error of Submit, 0 for Build's errors.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func refused(format string, a ...any) error {
	return &Error{Code: Refused, Msg: fmt.Sprintf(format, a...)}
}

// ErrClosed: the committer is closed.
var ErrClosed = &Error{Code: Unavailable, Msg: "closed"}

// Committer serialises registrations, makes them durable with group
// commit and applies them to the handlespace.
type Committer struct {
	hs    *handlespace.Handlespace
	store Store
	cfg   Config
	log   *slog.Logger

	queue   chan *pending
	waiting atomic.Int64 // Requests in queue (counted after they are in it)
	sweep   chan sweepReq
	resync  chan chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once

	limiter *limiter
	pacer   *Pacer

	// mu is the batch lock: whoever holds it runs the batches (a
	// Submit's goroutine, see lead) or a sweep or a resync (run's), and
	// owns the state below. It is handed from one Submit to the next
	// (handOff), not always unlocked by the goroutine that locked it.
	mu       sync.Mutex
	carry    []*pending // Requests deferred to the next batch
	perOwner map[string]int
	perPool  map[string]int
	leases   wheel
	stats    Stats

	statsMu sync.Mutex
	shared  Stats

	// queued, when set, is called after Submit queued a request. Testing.
	queued func()
}

// Stats are counters of the committer.
type Stats struct {
	Requests  uint64 // Requests answered
	Batches   uint64 // group commits
	Commits   uint64 // store commits (fsyncs)
	MaxBatch  int    // largest batch
	Deferred  uint64 // Requests moved to a later batch by a conflict
	Expired   uint64 // elements removed by Sweep
	Refused   uint64 // Requests refused (Refused or Invalid)
	Failed    uint64 // Requests failed by the store
	Elements  int    // registered elements now
	LastBatch int    // size of the last batch
}

type pending struct {
	ctx  context.Context
	req  *Request
	done chan outcome // room for one
	// answered: the batch lock's holder has answered it (the answer may
	// still wait for the Pacer's grant).
	answered bool
	// out is the answer that deliver sends on done: answer's turn, made
	// once per pending (a closure of each answer's was garbage of every
	// registration).
	out     outcome
	deliver func()
}

// pendings holds the pendings of answered Requests for reuse: one and
// its channel per Request were 0.2 KB of garbage of every registration.
var pendings = sync.Pool{New: func() any {
	p := &pending{done: make(chan outcome, 1)}
	p.deliver = func() { p.done <- p.out }
	return p
}}

// release hands p back to pendings. Only Submit calls it, once it took
// p's answer (or never queued p): nothing refers to p any more.
func (p *pending) release() {
	*p = pending{done: p.done, deliver: p.deliver}
	pendings.Put(p)
}

type outcome struct {
	res Result
	err error
	// lead: not an answer; the batch lock was handed to the Submit that
	// waits for it, which runs the next batches (handOff).
	lead bool
}

type sweepReq struct {
	now  time.Time
	done chan int
}

// New returns a running Committer. The handlespace should already hold the
// registrations of the store (see Load); New counts them for the quotas and
// the lease sweep.
func New(hs *handlespace.Handlespace, store Store, cfg Config) *Committer {
	cfg.defaults()
	r := &Committer{
		hs: hs, store: store, cfg: cfg, log: cfg.Logger,
		queue:   make(chan *pending, 4*cfg.MaxBatch),
		sweep:   make(chan sweepReq),
		resync:  make(chan chan struct{}),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
		limiter: newLimiter(cfg.Rate, cfg.Burst),
		pacer:   newPacer(cfg.PaceHold),
		leases:  newWheel(),
	}
	r.recount()
	go r.run()
	return r
}

// Allow takes a token from the bucket of source from and reports whether
// there was one. A front end calls it once per request, before Submit.
func (r *Committer) Allow(from netip.Addr) bool { return r.limiter.allow(from, r.cfg.Now()) }

// Submit queues req and waits until it is durable and published, or failed
// and changed nothing. A ctx that ends (or req.Deadline that passes) while
// req waits in the queue withdraws it (ctx.Err(),
// context.DeadlineExceeded); once its batch has begun, Submit waits for
// the outcome.
//
// The batches run on the goroutines of the Submits themselves (lead): one
// that finds no batch running runs its own, with whatever queued with it,
// and one that queued meanwhile is handed the next. No other goroutine is
// woken to commit, and the one that runs a batch answers itself without a
// hand-over: two goroutine wake-ups fewer per batch (each a thread's
// wake-up when the process has an idle P), bench/RESULTS.md "reg13".
func (r *Committer) Submit(ctx context.Context, req *Request) (Result, error) {
	p := pendings.Get().(*pending)
	p.ctx, p.req = ctx, req
	select {
	case r.queue <- p: // room in the queue: no channel of ctx's made, no timer
	default:
		if err := r.enqueue(ctx, p); err != nil {
			p.release() // never queued
			return Result{}, err
		}
	}
	r.waiting.Add(1)
	if r.queued != nil {
		r.queued()
	}
	if r.mu.TryLock() {
		r.lead(p)
	}
	for {
		select {
		case o := <-p.done:
			if o.lead {
				r.lead(p)
				continue
			}
			p.release()
			return o.res, o.err
		case <-r.stopped:
			// The committer answers everything it took before it stops
			// (and hands no batch on once it stopped).
			select {
			case o := <-p.done:
				p.release()
				return o.res, o.err
			default:
				return Result{}, ErrClosed // p may be in the queue: not reused
			}
		}
	}
}

// lead runs batches, holding the batch lock, until own is answered (or
// Close began: run then answers what is left), then hands the lock on.
// A panic in a batch ends the process, as it did when one committer
// goroutine ran them: the front ends recover their handlers' panics, which
// would leave the lock held and every later registration waiting.
func (r *Committer) lead(own *pending) {
	defer func() {
		if v := recover(); v != nil {
			stack := debug.Stack()
			go func() { panic(fmt.Sprintf("regcommit: a batch panicked: %v\n\n%s", v, stack)) }()
			select {}
		}
	}()
	for !own.answered && !r.closing() && r.batch() {
	}
	r.handOff()
}

// closing reports whether Close began.
func (r *Committer) closing() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// batch runs one batch: the deferred Requests first, then the queued
// ones, MaxBatch at most, and reports whether there was any. The batch
// lock is held.
func (r *Committer) batch() bool {
	// The batch's work waits for a loop's grant (see Pacer): a query that
	// came meanwhile is answered first. Requests that queue meanwhile join
	// the batch.
	r.pacer.turn(r.stop)
	batch := r.carry
	r.carry = nil
fill:
	for len(batch) < r.cfg.MaxBatch {
		select {
		case p := <-r.queue:
			r.waiting.Add(-1)
			batch = append(batch, p)
		default:
			break fill
		}
	}
	if len(batch) == 0 {
		return false
	}
	r.carry = r.process(batch)
	r.publishStats()
	return true
}

// handOff gives up the batch lock: to the oldest Request still waiting
// (deferred, or queued), whose Submit then runs the next batches, or, with
// none, unlocks it. A Request that queued while the lock was held, and
// found it taken, is so never left without a batch: once unlocked, the
// lock is taken back if one waits (waiting is counted before its Submit
// tries the lock).
func (r *Committer) handOff() {
	for {
		if r.closing() {
			r.mu.Unlock()
			return
		}
		var next *pending
		if len(r.carry) > 0 {
			next = r.carry[0]
		} else {
			select {
			case next = <-r.queue:
				r.waiting.Add(-1)
				r.carry = append(r.carry, next)
			default:
			}
		}
		if next != nil {
			next.done <- outcome{lead: true} // unanswered: room for it
			return
		}
		r.mu.Unlock()
		if r.waiting.Load() <= 0 || !r.mu.TryLock() {
			return
		}
	}
}

// enqueue waits for room in the queue for p, until ctx ends or p's
// deadline passes.
func (r *Committer) enqueue(ctx context.Context, p *pending) error {
	var expired <-chan time.Time
	if d := p.req.Deadline; !d.IsZero() {
		t := time.NewTimer(time.Until(d))
		defer t.Stop()
		expired = t.C
	}
	select {
	case r.queue <- p:
		return nil
	case <-r.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	case <-expired:
		return context.DeadlineExceeded
	}
}

// withdrawn returns why p is no longer wanted (its ctx ended, its deadline
// passed), nil if it is.
func (p *pending) withdrawn() error {
	if err := p.ctx.Err(); err != nil {
		return err
	}
	if d := p.req.Deadline; !d.IsZero() && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// Sweep removes the elements whose lease ended at or before now, from the
// handlespace and the store, and returns how many.
func (r *Committer) Sweep(now time.Time) int {
	s := sweepReq{now: now, done: make(chan int, 1)}
	select {
	case r.sweep <- s:
		return <-s.done
	case <-r.stopped:
		return 0
	}
}

// Resync counts the registered elements again from the handlespace, for
// the quotas and the lease sweep: after a zone reload, which may drop
// registered elements of pools that a zone file took over.
func (r *Committer) Resync() {
	done := make(chan struct{})
	select {
	case r.resync <- done:
		<-done
	case <-r.stopped:
	}
}

// Pacer returns the Pacer of the committer's turns, for the DNS front's
// UDP loops to attach to.
func (r *Committer) Pacer() *Pacer { return r.pacer }

// Stats returns the committer's counters.
func (r *Committer) Stats() Stats {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	return r.shared
}

// Close stops the committer after it has answered the Requests it took.
// Requests queued later get ErrClosed.
func (r *Committer) Close() {
	r.once.Do(func() { close(r.stop) })
	<-r.stopped
}

// run does the sweeps and resyncs, and stops the committer at Close.
// The batches run on the Submits' goroutines (lead).
func (r *Committer) run() {
	defer close(r.stopped)
	for {
		select {
		case s := <-r.sweep:
			r.mu.Lock()
			n := r.doSweep(s.now)
			r.handOff()
			s.done <- n
		case done := <-r.resync:
			r.mu.Lock()
			r.recount()
			r.handOff()
			close(done)
		case <-r.stop:
			// The lock is kept: no batch runs after this.
			r.mu.Lock()
			for len(r.carry) > 0 { // the deferred Requests were taken
				batch := r.carry
				r.carry = r.process(batch)
			}
			r.publishStats()
			r.drainClosed()
			// Every answer is in its Submit's channel before stopped
			// closes (Submit then takes it rather than ErrClosed).
			r.pacer.flush()
			return
		}
	}
}

// drainClosed answers what is still queued at Close.
func (r *Committer) drainClosed() {
	for {
		select {
		case p := <-r.queue:
			r.waiting.Add(-1)
			p.answered = true
			p.done <- outcome{err: ErrClosed}
		default:
			return
		}
	}
}

func (r *Committer) publishStats() {
	r.statsMu.Lock()
	r.shared = r.stats
	r.statsMu.Unlock()
}

// planned is one Request of a batch after its Build.
type planned struct {
	p      *pending
	ops    []handlespace.Op
	done   []Done
	lease  time.Duration
	owners map[string]int // count changes, applied when the batch commits
	pools  map[string]int
}

// count adds d to the plan's count of owner's and of pool's elements.
func (pl *planned) count(owner, pool string, d int) {
	if pl.owners == nil {
		pl.owners, pl.pools = map[string]int{}, map[string]int{}
	}
	pl.owners[owner] += d
	pl.pools[pool] += d
}

// process runs one batch and returns the Requests deferred to the next.
func (r *Committer) process(batch []*pending) []*pending {
	v := r.hs.View()
	now := r.cfg.Now()
	var (
		deferred []*pending
		plans    []*planned
		keys     = map[string]bool{} // conflict keys of the batch so far
		pools    = map[string]bool{} // pools with a whole-pool key
		claims   = claimSet{}        // identifiers assigned in this batch
	)
	// Tentative quota counts: the committed ones plus this batch's.
	owners := map[string]int{}
	poolCount := map[string]int{}
	countOwner := func(o string) int { return r.perOwner[o] + owners[o] }
	countPool := func(p string) int { return r.perPool[p] + poolCount[p] }

	for _, p := range batch {
		if err := p.withdrawn(); err != nil {
			p.answered = true
			p.done <- outcome{err: err}
			continue
		}
		if conflicts(p.req.Keys, keys, pools) {
			deferred = append(deferred, p)
			r.stats.Deferred++
			// Later Requests that meet this one wait too, keeping order.
			addKeys(p.req.Keys, keys, pools)
			continue
		}
		addKeys(p.req.Keys, keys, pools)
		pl, err := r.plan(v, now, p, claims, countOwner, countPool)
		if err != nil {
			r.answer(p, outcome{err: err})
			continue
		}
		for o, d := range pl.owners {
			owners[o] += d
		}
		for q, d := range pl.pools {
			poolCount[q] += d
		}
		plans = append(plans, pl)
	}
	// The batch is counted before commit answers its Requests, so that
	// Stats after an answer count the batch that answered it.
	if n := len(batch) - len(deferred); n > 0 {
		r.stats.Batches++
		r.stats.LastBatch = n
		r.stats.MaxBatch = max(r.stats.MaxBatch, n)
	}
	if len(plans) > 0 {
		r.commit(plans)
	}
	return deferred
}

func conflicts(ks []string, keys, pools map[string]bool) bool {
	for _, k := range ks {
		pool, label, _ := strings.Cut(k, "\x00")
		if keys[k] || pools[pool] || (label == "" && keys[pool+"\x00*"]) {
			return true
		}
	}
	return false
}

func addKeys(ks []string, keys, pools map[string]bool) {
	for _, k := range ks {
		keys[k] = true
		pool, label, _ := strings.Cut(k, "\x00")
		if label == "" {
			pools[pool] = true
		} else {
			keys[pool+"\x00*"] = true // the pool has element keys
		}
	}
}

func (r *Committer) answer(p *pending, o outcome) {
	r.stats.Requests++
	if o.err != nil {
		switch CodeOf(o.err) {
		case Refused, Invalid:
			r.stats.Refused++
		case Unavailable:
			r.stats.Failed++
		}
	}
	// Published before the answer, so that whoever got it sees it counted
	// in Stats.
	r.publishStats()
	// The answer waits for a loop's grant (see Pacer); p.done has room.
	p.answered = true
	p.out = o
	r.pacer.add(p.deliver)
}

// plan runs a Request's Build and turns its Changes into handlespace
// operations, checking ownership, quotas and identifiers.
func (r *Committer) plan(v *handlespace.View, now time.Time, p *pending, claims claimSet,
	countOwner, countPool func(string) int) (*planned, error) {
	changes, err := p.req.Build(v)
	if err != nil {
		return nil, err
	}
	who := p.req.Who
	// The counts' maps are made when a change counts (a refresh does
	// not), and a Request of one change has no twice-changed element.
	pl := &planned{p: p}
	var seen map[string]bool
	for _, c := range changes {
		if len(changes) > 1 {
			nk := c.Pool + "\x00" + c.Label
			if seen[nk] {
				return nil, &Error{Code: Invalid, Msg: fmt.Sprintf("element %s.%s is changed twice in one request", c.Label, c.Pool)}
			}
			if seen == nil {
				seen = map[string]bool{}
			}
			seen[nk] = true
		}
		if err := checkLabel(c.Label); err != nil {
			return nil, err
		}
		if err := handlespace.CheckPoolName(c.Pool); err != nil {
			return nil, &Error{Code: Invalid, Msg: "bad pool name: " + err.Error()}
		}
		if err := handlespace.CheckElementName(c.Pool, c.Label); err != nil {
			return nil, &Error{Code: Invalid, Msg: err.Error()}
		}
		pv := poolView(v, c.Pool)
		var cur *handlespace.Element
		if pv != nil {
			cur = pv.Label(c.Label)
		}
		if cur == nil && c.Elem != nil {
			// New only: one registered before the check may be refreshed
			// and removed.
			if err := handlespace.CheckRegistrable(c.Pool, c.Label); err != nil {
				return nil, &Error{Code: Invalid, Msg: err.Error()}
			}
		}
		if cur != nil {
			if cur.Static {
				return nil, refused("element %s.%s is defined by a zone file", c.Label, c.Pool)
			}
			if cur.Owner.String() != who.Owner && cur.Owner != 0 && !who.Admin { // "": stored before owners were
				return nil, refused("element %s.%s belongs to %s", c.Label, c.Pool, ownerName(cur.Owner.String()))
			}
		}
		if c.Elem == nil {
			if cur == nil {
				continue // removing what is not there: nothing to do (RFC 2136 §3.4.2.3)
			}
			pl.ops = append(pl.ops, handlespace.Op{Pool: c.Pool, ID: cur.ID})
			pl.done = append(pl.done, Done{Pool: c.Pool, Label: c.Label, ID: cur.ID, Removed: true})
			pl.count(cur.Owner.String(), c.Pool, -1)
			continue
		}
		e := c.Elem
		if e.Addrs.Len() == 0 {
			return nil, &Error{Code: Invalid, Msg: fmt.Sprintf("element %s.%s has no address", c.Label, c.Pool)}
		}
		if e.Port == 0 {
			return nil, &Error{Code: Invalid, Msg: fmt.Sprintf("element %s.%s has no port", c.Label, c.Pool)}
		}
		for _, a := range e.Addrs.All() {
			if err := handlespace.CheckAddr(a, r.cfg.AllowLoopback); err != nil {
				msg := fmt.Sprintf("element %s.%s: bad address %v", c.Label, c.Pool, err)
				if errors.Is(err, handlespace.ErrLoopback) {
					msg += " (registration.allow_loopback allows it)"
				}
				return nil, &Error{Code: Invalid, Msg: msg}
			}
		}
		id, err := claims.assign(pv, c.Pool, c.Label, cur)
		if err != nil {
			return nil, err
		}
		if cur == nil {
			if r.cfg.MaxPerPool > 0 && countPool(c.Pool)+pl.pools[c.Pool] >= r.cfg.MaxPerPool {
				return nil, refused("pool %s is full: it holds the most registered elements allowed (registration.max_per_pool = %d)", c.Pool, r.cfg.MaxPerPool)
			}
			if r.cfg.MaxPerOwner > 0 && !who.Admin && countOwner(who.Owner)+pl.owners[who.Owner] >= r.cfg.MaxPerOwner {
				return nil, refused("%s has registered the most elements allowed (registration.max_per_key = %d)", ownerName(who.Owner), r.cfg.MaxPerOwner)
			}
			pl.count(who.Owner, c.Pool, 1)
		}
		lease := r.cfg.Clamp(c.Lease)
		n := e
		if !c.Give {
			n = e.Clone()
		}
		n.ID, n.Label, n.Lease, n.Expires = id, handlespace.LabelOf(c.Label), lease, handlespace.ExpiryOf(now.Add(lease))
		n.Static, n.Home, n.Health, n.Admin, n.Reported, n.RTT = false, 0, 0, 0, false, 0
		n.Owner = handlespace.OwnerOf(who.Owner)
		if cur != nil {
			n.Owner = cur.Owner // an admin's change keeps the element's owner
		}
		pl.ops = append(pl.ops, handlespace.Op{Pool: c.Pool, Elem: n, Policy: c.Policy})
		pl.done = append(pl.done, Done{Pool: c.Pool, Label: c.Label, ID: id, Elem: n, Created: cur == nil})
		pl.lease = lease
	}
	return pl, nil
}

func ownerName(o string) string {
	if k, ok := strings.CutPrefix(o, "tsig:"); ok {
		return "TSIG key " + k
	}
	if o == "" {
		return "nobody"
	}
	return o
}

// checkLabel accepts a label as handlespace.CheckLabel does: letters,
// digits, '-' and '_', 1 to 63 bytes, lower case, no '-' first or last.
func checkLabel(l string) error {
	if err := handlespace.CheckLabel(l); err != nil {
		return &Error{Code: Invalid, Msg: "bad element label: " + err.Error()}
	}
	return nil
}

func poolView(v *handlespace.View, pool string) *handlespace.PoolView { return v.Pool(pool) }

// commit applies the planned Requests to the handlespace and the store as
// one batch, then answers them.
func (r *Committer) commit(plans []*planned) {
	groups := make([][]handlespace.Op, len(plans))
	for i, pl := range plans {
		groups[i] = pl.ops
	}
	var storeErr error
	errs := r.hs.Apply(groups, func(ok []bool) error {
		var ops []store.Write
		for i, pl := range plans {
			if !ok[i] {
				continue
			}
			for _, op := range pl.ops {
				ops = append(ops, store.Write{Pool: op.Pool, Elem: op.Elem, ID: op.ID})
			}
		}
		if len(ops) == 0 {
			return nil
		}
		r.stats.Commits++
		storeErr = r.store.Commit(ops)
		return storeErr
	})
	if storeErr != nil {
		r.log.Error("registrations not stored; refused them all", "requests", len(plans), "err", storeErr.Error())
	}
	for i, pl := range plans {
		if err := errs[i]; err != nil {
			r.answer(pl.p, outcome{err: r.applyError(err)})
			continue
		}
		for o, d := range pl.owners {
			r.perOwner[o] += d
			if r.perOwner[o] <= 0 {
				delete(r.perOwner, o)
			}
		}
		for q, d := range pl.pools {
			r.perPool[q] += d
			r.stats.Elements += d
			if r.perPool[q] <= 0 {
				delete(r.perPool, q)
			}
		}
		for _, d := range pl.done {
			if d.Elem != nil {
				r.leases.add(d.Pool, d.ID, d.Elem.Expires.Time())
				// A new element is a change of the pool (info); a refresh
				// or an update of its parameters is not (debug), so that
				// keep-alives do not flood the log.
				level := slog.LevelDebug
				if d.Created {
					level = slog.LevelInfo
				}
				if r.log.Enabled(context.Background(), level) { // the arguments are garbage of each refresh else
					r.log.Log(context.Background(), level, "registered", "pool", d.Pool, "element", handlespace.IDString(d.ID), "name", d.Label,
						"owner", d.Elem.Owner, "lease", d.Elem.Lease.String(), "created", d.Created)
				}
			} else if d.Removed {
				r.log.Info("deregistered", "pool", d.Pool, "element", handlespace.IDString(d.ID), "name", d.Label,
					"by", ownerName(pl.p.req.Who.Owner))
			}
		}
		r.answer(pl.p, outcome{res: Result{Lease: pl.lease, Done: pl.done}})
	}
}

// applyError turns an error of handlespace.Apply into a Submit error.
func (r *Committer) applyError(err error) error {
	switch {
	case errors.Is(err, handlespace.ErrCommit):
		return &Error{Code: Unavailable, Msg: "the store failed; nothing changed", Err: err}
	case errors.Is(err, handlespace.ErrNoZone), errors.Is(err, handlespace.ErrNoPool):
		return &Error{Code: NotFound, Msg: "the pool's zone is not served", Err: err}
	case errors.Is(err, handlespace.ErrBadElement):
		return &Error{Code: Invalid, Msg: err.Error(), Err: err}
	}
	return &Error{Code: Refused, Msg: strings.TrimPrefix(err.Error(), "handlespace: "), Err: err}
}

// recount counts the registered elements of the handlespace by owner and
// pool, and fills the lease wheel.
func (r *Committer) recount() {
	r.perOwner, r.perPool, r.leases = map[string]int{}, map[string]int{}, newWheel()
	r.stats.Elements = 0
	for _, z := range r.hs.View().Zones() {
		for _, h := range z.PoolHandles() {
			pv := z.Pool(h)
			if pv == nil {
				continue
			}
			for e := range pv.Range() {
				if e.Static {
					continue
				}
				r.perOwner[e.Owner.String()]++
				r.perPool[pv.Name]++
				r.stats.Elements++
				if !e.Expires.Time().IsZero() {
					r.leases.add(pv.Name, e.ID, e.Expires.Time())
				}
			}
		}
	}
	r.publishStats()
}
