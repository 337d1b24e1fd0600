package dnsfront

import (
	"runtime"

	"github.com/poolnsd/poolnsd/regcommit"
)

// The UDP loops grant the registrar's turns (package regcommit's Pacer):
// the committer's work on a batch and each answer of a commit, whose
// goroutine then writes its reply. A loop grants one turn at a time
// between its batches, after reading its socket without waiting, and
// yields its P so that the goroutine granted runs its piece at once: a
// query that comes during a burst of registrations waits for one piece,
// not for the burst (the Go scheduler consults the network poller only
// when nothing else is runnable).

// Pacer is what grants the registrar's turns: *regcommit.Pacer.
type Pacer interface {
	// Attach makes a loop grant the turns; wake (Socket.Wake) is called
	// when turns come to wait. It returns the function that detaches it.
	Attach(wake func() bool) (detach func())
	// Waiting reports whether turns wait; Grant grants the oldest.
	Waiting() bool
	Grant() bool
	// Turn waits for a turn: an UPDATE's goroutine takes one before its
	// work (its checks, its Build's), as the committer's answer is one.
	Turn()
}

var _ Pacer = (*regcommit.Pacer)(nil)

// grant grants one waiting turn of the registrar, if any, and lets the
// goroutine it woke run its piece before the loop goes on.
func (u *loopAnswerer) grant() bool {
	p := u.h.pacer
	if u.detach == nil || !p.Waiting() || !p.Grant() {
		return false
	}
	runtime.Gosched()
	return true
}

// granting reports whether turns wait for the loop.
// Only a loop attached to the Pacer grants: one that waits in its own
// recvmmsg (dnsserve.Socket.Paces false) never reads without waiting for
// the registrar's sake.
func (u *loopAnswerer) granting() bool { return u.detach != nil && u.h.pacer.Waiting() }
