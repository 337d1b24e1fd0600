package placement

import (
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// LeaseSkew is how much two registrars' lease ends of one registration
// may differ. From senders that carry the absolute lease end (see
// wire.LeaseEnd) they agree to the millisecond; an older sender's is
// counted from when the receiver heard of it, so a copy that travelled k
// hops ends k one-way delays (and the queues on the way) later. At
// 250 ms, a copy sent back over a 150 ms link (two hops, 300-355 ms in
// the namespace lab) passed for a later registration on one side while
// the generations decided the other way on the other: both sides
// yielded, and the registration was lost. A registration made
// again within this long of the one it replaces is taken for the same.
const LeaseSkew = time.Second

// Later reports whether lease end a is later than b by more than
// LeaseSkew: between copies of two registrations of an element, the
// later registration wins. A zero lease end (no lease) is later than any
// other.
func Later(a, b time.Time) bool {
	switch {
	case a.IsZero():
		return !b.IsZero()
	case b.IsZero():
		return false
	}
	// In whole milliseconds, as the wire carries them (ParamXLeaseEnd):
	// the registrar that granted a lease holds it to the nanosecond, its
	// peers as sent, and both must compare alike.
	return a.Truncate(time.Millisecond).Sub(b.Truncate(time.Millisecond)) > LeaseSkew
}

// Wins reports whether ownership claim (gen1, home1) of a registration
// beats (gen2, home2): the higher generation, and between equal ones the
// lower registrar ID.
func Wins(gen1, home1, gen2, home2 uint32) bool {
	return gen1 > gen2 || (gen1 == gen2 && home1 < home2)
}

// Guard is the registration that package enrp's Node believed the
// handlespace held when it asked for an operation on a registered
// element. The handlespace may have changed since by a local change that
// the Node has not seen yet: the registrar deregistered the element, or
// registered it (a new lease, or the home moved here). The operation is
// carried out only if the handlespace still holds that registration (the
// element there or not as believed, with the same home and lease end, to
// the millisecond), so that it undoes no such change; the Change that
// shows the local change then reaches the Node, which acts on it (a
// deregistration here of a peer's element goes to every peer). Health,
// administrative state and the other fields may differ: the operation
// sets them as it always did.
type Guard struct {
	Present bool      // the element was there
	Home    uint32    // with this home
	Expires time.Time // and this lease end (zero: none)
}

// Holds reports whether the handlespace's element cur (nil: none) is the
// registration the guard names.
func (g *Guard) Holds(cur *handlespace.Element) bool {
	if cur == nil || !g.Present {
		return cur == nil && !g.Present
	}
	return !cur.Static && cur.Home == g.Home && cur.Expires.Time().IsZero() == g.Expires.IsZero() &&
		cur.Expires.Time().UnixMilli() == g.Expires.UnixMilli()
}
