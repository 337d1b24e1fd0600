// Package enrptest runs ENRP state machines in memory: a fake clock, a
// network that drops, delays, reorders and partitions messages, and a
// cluster of registrars, each a real enrp.Node with a real handlespace,
// driven like the real driver drives them but without sockets, goroutines
// or sleeps. It is a non-test package so that other packages' tests can
// use it too.
//
// # Basics
//
// NewCluster makes a cluster on a fake clock; Add starts a registrar with
// its zones and static peers; RunFor and RunUntil advance the fake clock
// from event to event (deliveries and timers) and return. Messages travel
// encoded: each is encoded by the sender and decoded by the receiver with
// the enrp codec, so the scenarios exercise the wire format too.
//
// # Caveats
//
// A Cluster is not safe for concurrent use. Randomness (jitter, drops,
// delays) comes from one seeded source: the same seed replays the same run.
package enrptest

import (
	"sync"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
)

// Clock is a fake clock that only moves when told to. It is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

var _ enrp.Clock = (*Clock)(nil)

// NewClock returns a clock that reads start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t if t is later than its time.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	if t.After(c.now) {
		c.now = t
	}
	c.mu.Unlock()
}
