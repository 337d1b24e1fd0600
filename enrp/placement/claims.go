package placement

import "time"

// LeaseSkew is how much two registrars' lease ends of one registration
// may differ. From senders that carry the absolute lease end (see
// wire.LeaseEnd) they agree to the millisecond; an older sender's is
// counted from when the receiver heard of it, so a copy that travelled k
// hops ends k one-way delays (and the queues on the way) later. At 250 ms, a copy sent back over a 150 ms link (two hops,
// 300-355 ms in the namespace lab) passed for a later registration on
// one side while the generations decided the other way on the other:
// both sides yielded, and the registration was lost. A registration made
// again within this long of the one it replaces is taken for the same.
const LeaseSkew = time.Second

// ClockTolerance bounds how far a sender's absolute lease end (see
// wire.LeaseEnd) may lie from the one its registration life gives at the
// receiver: further, and the registrars' clocks disagree (or the message
// lay in a queue that long), so the receiver counts the lease from the
// registration life, as it does an older sender's.
const ClockTolerance = time.Minute

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
