// Package stale keeps the bookkeeping of a registrar's hold of a view
// that may be stale (enrp.Node.Stale): what it waits for before it
// answers DNS from its view again, and for how long at most.
//
// A registrar holds its view after a stall long enough for its peers to
// have found it dead (they stopped sending it updates), and when its
// live set grows again after it was in a minority (a healed partition:
// the other side registered, deregistered and probed meanwhile). It
// holds until it has synced with each peer it expects back (a transfer
// or push of the peer's own elements begun after the hold began) and,
// after such a stall, until its peers have handed back the zone-file
// elements homed at it (they took them when they found it dead, probed
// them since, and hand them back when they hear it again: a round trip
// after their pushes, which come with their connections), or until its
// bounded wait has passed.
package stale

import (
	"fmt"
	"time"
)

// Hold is one hold of a view; K identifies an element.
type Hold[K comparable] struct {
	// Since is when the hold began; Why says why.
	Since time.Time
	Why   string
	until time.Time
	want  map[uint32]bool // peers to sync with
	back  map[K]bool      // elements to be handed back
	// stall: after a stall long enough for the peers to have found this
	// registrar dead (see Claims).
	stall bool
}

// New begins a hold at now, for at most wait.
func New[K comparable](now time.Time, wait time.Duration, why string) *Hold[K] {
	return &Hold[K]{Since: now, Why: why, until: now.Add(wait), want: map[uint32]bool{}, back: map[K]bool{}}
}

// Until is when the hold's bounded wait is over.
func (h *Hold[K]) Until() time.Time { return h.until }

// Want adds peers to sync with.
func (h *Hold[K]) Want(ids ...uint32) {
	for _, id := range ids {
		h.want[id] = true
	}
}

// Back adds elements to be handed back (homed here, they were homed
// by a peer meanwhile).
func (h *Hold[K]) Back(ks ...K) {
	for _, k := range ks {
		h.back[k] = true
	}
}

// AfterStall notes that the hold follows a stall long enough for the
// peers to have found this registrar dead (see Claims).
func (h *Hold[K]) AfterStall() { h.stall = true }

// Claims reports whether a peer's PRESENCE whose claim matches what this
// registrar believes the peer owns ends the wait for it, as a transfer
// would: not after such a stall, when a PRESENCE read may have been sent
// before the peers found this registrar dead (the kernel kept it while
// the registrar stood still) and match what it believed before the
// stall; the peers' pushes end it then.
func (h *Hold[K]) Claims() bool { return !h.stall }

// Synced notes a transfer or push of peer id's own elements begun at
// start: it counts if it began after the hold did.
func (h *Hold[K]) Synced(id uint32, start time.Time) {
	if !start.Before(h.Since) {
		delete(h.want, id)
	}
}

// HandedBack notes that a peer handed back k (whether its state was
// taken or not).
func (h *Hold[K]) HandedBack(k K) { delete(h.back, k) }

// Waiting says what the hold waits for.
func (h *Hold[K]) Waiting() string {
	s := fmt.Sprintf("waiting for %d peers", len(h.want))
	if len(h.back) > 0 {
		s += fmt.Sprintf(" and %d elements to be handed back", len(h.back))
	}
	return fmt.Sprintf("%s, at most %v", s, h.until.Sub(h.Since))
}

// Over reports whether the hold is over at now, and why: it has synced
// with every peer expected and has every element handed back, or its
// bounded wait has passed.
func (h *Hold[K]) Over(now time.Time) (why string, over bool) {
	switch {
	case len(h.want) == 0 && len(h.back) == 0:
		return fmt.Sprintf("synced after %v", now.Sub(h.Since).Round(time.Millisecond)), true
	case !now.Before(h.until):
		return fmt.Sprintf("bounded wait of %v over; %d peers not synced, %d elements not handed back",
			h.until.Sub(h.Since), len(h.want), len(h.back)), true
	}
	return "", false
}
