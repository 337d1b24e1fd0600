// Package probetest has fakes for testing code that uses package probe: a
// FakeClock that moves only when told, and a FakeChecker with scripted
// results. Like memberlist's mock transport it is an ordinary package, so
// that packages built on probe (monitor) can use it in their tests.
//
// # Basics
//
// Give the Scheduler a FakeClock and a FakeChecker for every kind, Set the
// targets, start Run in a goroutine, and step time with Advance. A
// Scheduler works in its own goroutines, so wait for it between steps:
// inside a testing/synctest bubble, synctest.Wait after each step; outside
// one, BlockUntil (the Scheduler's loop re-arms its one timer when it has
// dispatched what was due) and the FakeChecker's counts.
//
// To reproduce a Scheduler's exact timing, step from timer to timer:
//
//	for at, ok := clock.Next(); ok && !at.After(end); at, ok = clock.Next() {
//		clock.Advance(at.Sub(clock.Now()))
//		synctest.Wait()
//	}
package probetest

import (
	"context"
	"sync"
	"time"

	"github.com/poolnsd/poolnsd/probe"
)

// FakeClock is a probe.Clock whose time moves only by Advance (and Jump,
// a stall). Its methods
// are safe for concurrent use.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	seq     uint64
	armed   map[*fakeTimer]struct{}
	changed chan struct{} // closed and replaced when a timer is armed or disarmed
}

var _ probe.Clock = (*FakeClock)(nil)

// Epoch is the time a FakeClock starts at unless told otherwise.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// NewFakeClock returns a FakeClock at start (Epoch if zero).
func NewFakeClock(start time.Time) *FakeClock {
	if start.IsZero() {
		start = Epoch
	}
	return &FakeClock{now: start, armed: map[*fakeTimer]struct{}{}, changed: make(chan struct{})}
}

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires when the clock reaches Now()+d; at
// once if d <= 0.
func (c *FakeClock) NewTimer(d time.Duration) probe.Timer {
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1)}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.arm(t, d)
	return t
}

// Advance moves the clock forward by d, firing the timers that fall due on
// the way in the order of their deadlines (ties in the order they were
// armed), each with the clock at its deadline. It does not wait for the
// receivers of the timers; a timer armed by another goroutine while
// Advance runs is fired by it only if armed before Advance reaches it.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var first *fakeTimer
		for t := range c.armed {
			if !t.at.After(end) && (first == nil || t.at.Before(first.at) || t.at.Equal(first.at) && t.seq < first.seq) {
				first = t
			}
		}
		if first == nil {
			if end.After(c.now) {
				c.now = end
			}
			c.mu.Unlock()
			return
		}
		c.now = first.at
		c.fire(first)
		c.mu.Unlock()
	}
}

// Jump moves the clock forward by d at once, as a process that was
// stopped for d (SIGSTOP, a paused machine) finds it when it runs again:
// the timers that fell due meanwhile fire late, all with the clock at the
// end, in the order of their deadlines.
func (c *FakeClock) Jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for {
		var first *fakeTimer
		for t := range c.armed {
			if !t.at.After(c.now) && (first == nil || t.at.Before(first.at) || t.at.Equal(first.at) && t.seq < first.seq) {
				first = t
			}
		}
		if first == nil {
			return
		}
		c.fire(first)
	}
}

// Next returns the deadline of the earliest armed timer.
func (c *FakeClock) Next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var at time.Time
	ok := false
	for t := range c.armed {
		if !ok || t.at.Before(at) {
			at, ok = t.at, true
		}
	}
	return at, ok
}

// Timers returns how many timers are armed: made or reset, and neither
// fired nor stopped.
func (c *FakeClock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.armed)
}

// BlockUntil waits until at least n timers are armed, or ctx ends.
func (c *FakeClock) BlockUntil(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		if len(c.armed) >= n {
			c.mu.Unlock()
			return nil
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// arm sets t to fire d from now. Called with mu held.
func (c *FakeClock) arm(t *fakeTimer, d time.Duration) {
	select { // no stale value after Reset, as with time.Timer since Go 1.23
	case <-t.ch:
	default:
	}
	if d <= 0 {
		delete(c.armed, t)
		c.fire(t)
		return
	}
	c.seq++
	t.at, t.seq = c.now.Add(d), c.seq
	c.armed[t] = struct{}{}
	c.notify()
}

// fire sends the time on t's channel and disarms it. Called with mu held.
func (c *FakeClock) fire(t *fakeTimer) {
	delete(c.armed, t)
	select {
	case t.ch <- c.now:
	default:
	}
	c.notify()
}

func (c *FakeClock) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

type fakeTimer struct {
	c   *FakeClock
	ch  chan time.Time
	at  time.Time // guarded by c.mu
	seq uint64    // guarded by c.mu
}

var _ probe.Timer = (*fakeTimer)(nil)

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	select {
	case <-t.ch:
	default:
	}
	if _, ok := t.c.armed[t]; ok {
		delete(t.c.armed, t)
		t.c.notify()
		return true
	}
	return false
}

func (t *fakeTimer) Reset(d time.Duration) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.c.arm(t, d)
}
