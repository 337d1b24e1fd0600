package regcommit

import (
	"sync"
	"sync/atomic"
	"time"
)

// Turns: the committer's work and the answers of a group commit, paced by
// the DNS front's UDP loops.
//
// After a group commit every Request of the batch has its answer, and each
// answer wakes the goroutine waiting in Submit, which then writes its reply
// (a DNS UPDATE's signed reply, an HTTP response). Handed out at once,
// those goroutines run back to back; and the Go scheduler consults the
// network poller only when no goroutine is runnable (or every 10 ms), so
// with one P a query that came meanwhile waits in its socket, its loop not
// even seen to be ready, until the whole burst has run: milliseconds for a
// batch of tens (bench/RESULTS.md, "A million elements"). The committer's
// own work on a batch holds the P the same way.
//
// With a loop attached (Attach: the DNS front's UDP loops), each of those
// pieces of work is a turn that waits in a Pacer until a loop grants it
// (Grant), between the loop's batches, after it has read its socket
// without waiting: the loop yields its P after each grant, so that the
// goroutine granted runs its piece at once, and reads its socket again
// before the next. A query then waits for one piece, not for all of them.
// A turn that no loop grants within the Pacer's hold (the loops stopped,
// or starved) is granted by a timer; without an attached loop (no UDP
// listener) a turn is granted at once, as before.
//
// An answer is queued only after its batch is on disk: pacing delays the
// acknowledgement, never the commit.

// defaultHold bounds how long a turn waits for a loop's grant.
const defaultHold = 20 * time.Millisecond

// Pacer queues turns until a loop grants them. Its methods are safe for
// concurrent use.
type Pacer struct {
	hold time.Duration

	waiting atomic.Int32 // len(turns), for Waiting without the lock

	mu    sync.Mutex
	turns []waitingTurn // queued, oldest first
	loops []*pacedLoop
	next  int         // the loop woken next
	timer *time.Timer // expire's; armed: it will fire
	armed bool

	granted, expired atomic.Uint64
}

type waitingTurn struct {
	f  func()
	at time.Time // when it was queued
}

type pacedLoop struct {
	wake func() bool
}

// PacerStats counts the turns of a Pacer.
type PacerStats struct {
	// Granted were granted by a loop; Expired by the timer, their hold
	// over; the others at once (no loop attached).
	Granted, Expired uint64
}

func newPacer(hold time.Duration) *Pacer {
	if hold <= 0 {
		hold = defaultHold
	}
	p := &Pacer{hold: hold}
	p.timer = time.AfterFunc(time.Hour, p.expire)
	p.timer.Stop()
	return p
}

// Attach makes a loop grant the turns: wake is called (from the goroutine
// that queued a turn) when turns come to wait while none did, and should
// make the loop call Grant soon; it returns false when the loop is gone
// (stopping), which detaches it. Attach returns the function that
// detaches the loop; turns left waiting without a loop are granted at
// once.
func (p *Pacer) Attach(wake func() bool) (detach func()) {
	l := &pacedLoop{wake: wake}
	p.mu.Lock()
	p.loops = append(p.loops, l)
	p.mu.Unlock()
	return func() { p.detach(l) }
}

func (p *Pacer) detach(l *pacedLoop) {
	p.mu.Lock()
	for i, x := range p.loops {
		if x == l {
			p.loops = append(p.loops[:i], p.loops[i+1:]...)
			break
		}
	}
	var left []func()
	if len(p.loops) == 0 {
		left = p.takeAll()
	}
	p.mu.Unlock()
	run(left)
}

// Waiting reports whether turns wait for a grant. A loop asks each time
// round: an atomic load.
func (p *Pacer) Waiting() bool { return p.waiting.Load() > 0 }

// Grant grants the oldest waiting turn and reports whether one waited.
// The goroutine it wakes is runnable when Grant returns: a loop yields its
// P (runtime.Gosched) to let it run its piece.
func (p *Pacer) Grant() bool {
	p.mu.Lock()
	if len(p.turns) == 0 {
		p.mu.Unlock()
		return false
	}
	f := p.turns[0].f
	p.turns[0] = waitingTurn{}
	p.turns = p.turns[1:]
	p.waiting.Add(-1)
	p.mu.Unlock()
	p.granted.Add(1)
	f()
	return true
}

// Stats returns the Pacer's counters.
func (p *Pacer) Stats() PacerStats {
	return PacerStats{Granted: p.granted.Load(), Expired: p.expired.Load()}
}

// add queues the turn f (which must not block), or runs it now when no
// loop is attached.
func (p *Pacer) add(f func()) {
	p.mu.Lock()
	if len(p.loops) == 0 {
		p.mu.Unlock()
		f()
		return
	}
	p.turns = append(p.turns, waitingTurn{f: f, at: time.Now()})
	first := p.waiting.Add(1) == 1
	if !p.armed {
		p.armed = true
		p.timer.Reset(p.hold)
	}
	p.mu.Unlock()
	if first {
		p.wakeOne()
	}
}

// wakeOne wakes an attached loop, the next in turn, detaching the ones
// that are gone; when none is left, the waiting turns are granted.
func (p *Pacer) wakeOne() {
	for {
		p.mu.Lock()
		if len(p.loops) == 0 {
			left := p.takeAll()
			p.mu.Unlock()
			run(left)
			return
		}
		p.next %= len(p.loops)
		l := p.loops[p.next]
		p.next++
		p.mu.Unlock()
		if l.wake() {
			return
		}
		p.detach(l)
	}
}

// expire, the timer's, grants the turns that waited a hold or longer,
// oldest first (so, in order, every turn queued before them too), and
// arms the timer for the oldest left, if any. One timer per Pacer: it
// fires at most once a hold however many turns come.
func (p *Pacer) expire() {
	p.mu.Lock()
	now := time.Now()
	n := 0
	for n < len(p.turns) && now.Sub(p.turns[n].at) >= p.hold {
		n++
	}
	left := make([]func(), n)
	for i := range left {
		left[i] = p.turns[i].f
		p.turns[i] = waitingTurn{}
	}
	p.turns = p.turns[n:]
	p.waiting.Add(-int32(n))
	p.armed = len(p.turns) > 0
	if p.armed {
		p.timer.Reset(p.hold - now.Sub(p.turns[0].at))
	}
	p.mu.Unlock()
	p.expired.Add(uint64(n))
	run(left)
}

// flush grants every waiting turn now (the committer's Close).
func (p *Pacer) flush() {
	p.mu.Lock()
	left := p.takeAll()
	p.mu.Unlock()
	run(left)
}

// takeAll empties the queue and returns what it held. p.mu is held.
func (p *Pacer) takeAll() []func() {
	left := make([]func(), len(p.turns))
	for i, t := range p.turns {
		left[i] = t.f
	}
	p.turns = nil
	p.waiting.Store(0)
	return left
}

func run(fs []func()) {
	for _, f := range fs {
		f()
	}
}

// Turn waits for a turn: a loop's grant, or the hold. A front end takes
// one before its own work on a request (a DNS UPDATE's checks, an HTTP
// PUT's), so that a burst of requests that came together is spread
// between the loops' batches too.
func (p *Pacer) Turn() { p.turn(nil) }

// Turn waits for a turn of the committer's Pacer (see Pacer.Turn).
func (r *Committer) Turn() { r.pacer.Turn() }

// turn waits for a turn (the committer's own: a batch's work). It returns
// early when stop closes.
func (p *Pacer) turn(stop <-chan struct{}) {
	w := turnWaiters.Get().(*turnWaiter)
	p.add(w.grant)
	select {
	case <-w.ch:
		turnWaiters.Put(w) // granted once, its channel empty again
	case <-stop:
		// Still queued: its grant comes later, into its buffer. Not
		// reused.
	}
}

// turnWaiter is what a turn waits on: grant sends on ch (room for one).
// They are reused, a channel and a closure per turn being garbage of each
// registration (two turns: its request's and its batch's).
type turnWaiter struct {
	ch    chan struct{}
	grant func()
}

var turnWaiters = sync.Pool{New: func() any {
	w := &turnWaiter{ch: make(chan struct{}, 1)}
	w.grant = func() { w.ch <- struct{}{} }
	return w
}}
