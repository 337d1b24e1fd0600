package vantage

import (
	"time"

	"github.com/poolnsd/poolnsd/enrp/placement"
	"github.com/poolnsd/poolnsd/handlespace"
)

// Round is one confirmation a home asked for (see the package doc).
type Round struct {
	// Current is the health published when it began, Proposed what the
	// home's probes say.
	Current, Proposed handlespace.Health
	// Votes are the answers in so far, the home's own first.
	Votes []placement.Vote
	// Waiting are the vantage points asked that have not answered;
	// Asked how many were asked.
	Waiting map[uint32]bool
	Asked   int
	// Start is when it began; Deadline when it is decided with the votes
	// in; Wait the time between them, given again after a stall (Stall).
	Start, Deadline time.Time
	Wait            time.Duration
	// Elsewhere: a vantage point refused because it sees the element
	// homed elsewhere. Cut: the home was cut off when it began.
	Elsewhere, Cut bool
}

// NewRound begins a round at now, waiting wait for the vantage points
// asked, with the home's own vote (self, proposed) first.
func NewRound(now time.Time, wait time.Duration, self uint32, current, proposed handlespace.Health, asked []uint32) *Round {
	r := &Round{Current: current, Proposed: proposed, Votes: []placement.Vote{{Registrar: self, Health: proposed}},
		Waiting: make(map[uint32]bool, len(asked)), Asked: len(asked), Start: now, Deadline: now.Add(wait), Wait: wait}
	for _, v := range asked {
		r.Waiting[v] = true
	}
	return r
}

// Answer counts vantage point from's vote h (anything but up or down
// counts as unknown). counted is false when from was not waited for (not
// asked, or answered already); done reports that nobody is left to wait
// for.
func (r *Round) Answer(from uint32, h handlespace.Health) (counted, done bool) {
	if !r.Waiting[from] {
		return false, false
	}
	delete(r.Waiting, from)
	if h > handlespace.HealthDown {
		h = handlespace.HealthUnknown
	}
	r.Votes = append(r.Votes, placement.Vote{Registrar: from, Health: h})
	return true, len(r.Waiting) == 0
}

// Forget stops waiting for from (it refused, or died; elsewhere: it
// refused because the element is homed elsewhere there). waited is false
// when from was not waited for; done reports that nobody is left.
func (r *Round) Forget(from uint32, elsewhere bool) (waited, done bool) {
	if !r.Waiting[from] {
		return false, false
	}
	delete(r.Waiting, from)
	r.Elsewhere = r.Elsewhere || elsewhere
	return true, len(r.Waiting) == 0
}

// VotedBy reports whether a vantage point other than self voted h.
func (r *Round) VotedBy(self uint32, h handlespace.Health) bool {
	for _, v := range r.Votes {
		if v.Registrar != self && v.Health == h {
			return true
		}
	}
	return false
}

// Stall gives the round its whole wait again from now, after a stall of
// the home: the answers may have come while it did not run and wait to
// be read, and a round decided first would count its vantage points as
// silent and go by the home's own probes alone.
func (r *Round) Stall(now time.Time) {
	if end := now.Add(r.Wait); r.Deadline.Before(end) {
		r.Deadline = end
	}
}
