package poolrr

import "github.com/poolnsd/poolnsd/handlespace"

// Mode says how SRV and URI answers show a pool's policy order.
//
// A policy whose order is fixed by the pool's state (rr, prio, lu, lud,
// nearest, hash, …) is shown as it is: the rank as priority (0, 1, 2, …),
// weight 0, a strict order. A policy whose order is a random draw in
// proportion to static weights is shown as that draw's definition
// instead: one priority and each element's weight, with which an RFC 2782
// client makes the same draw itself (RFC 2782's selection: by weight
// among the records of one priority, then among the rest, the same
// algorithm as the policy's). The records still come in the order the
// policy drew, for clients that take the first. Such an answer is one
// RRset whatever the draw (until an element or its load changes), which
// a signed zone signs once instead of once per ordering (10! orderings of
// ten elements: every answer new), and it spreads the clients of a
// caching resolver by the weights where one cached ordering would send
// them all to its first element for a TTL. Policies whose weights change
// with every answer (rlud, rplud: degradation) or with the client
// (wrand-dpf) keep the rank.
type Mode uint8

// The modes, by what the weight shows.
const (
	Rank    Mode = iota // priority = rank, weight 0
	Weight              // wrr, wrand: the weight= of the element
	Equal               // rand: every element weight 1
	Free                // rlu: the capacity left, 100 % − load
	FreeDeg             // rplu: the capacity left after loaddeg=, 100 % − load − loaddeg
)

// ModeOf returns the Mode of a policy.
func ModeOf(policy string) Mode {
	switch {
	case handlespace.WeightedPolicy(policy):
		return Weight
	case policy == "rand":
		return Equal
	case policy == "rlu":
		return Free
	case policy == "rplu":
		return FreeDeg
	}
	return Rank
}

// Weights is what an element's SRV or URI priority and weight depend on.
type Weights struct {
	weight  uint16 // weight=, at most 65535
	free    uint16 // (LoadFull − Load) in 1/65536ths, at least 1 unless none is left
	freeDeg uint16 // (LoadFull − Load − LoadDeg) likewise
	last    bool   // Element.Last: after the others, also in weighted answers
}

// WeightsOf returns what element e's priority and weight depend on.
func WeightsOf(e *handlespace.Element) Weights {
	return Weights{
		weight:  uint16(min(e.Weight, 0xFFFF)),
		free:    capacity16(uint64(handlespace.LoadFull) - uint64(e.Load)),
		freeDeg: capacity16(uint64(handlespace.LoadFull) - min(uint64(e.Load)+uint64(e.LoadDeg), handlespace.LoadFull)),
		last:    e.Last,
	}
}

// capacity16 scales a capacity of 0 … LoadFull to an SRV weight of 0 …
// 65535: 0 only for none at all.
func capacity16(c uint64) uint16 {
	if c == 0 {
		return 0
	}
	return uint16(max(c>>16, 1))
}

// Order gives the SRV (or URI) priority and weight of the element at
// rank in an answer of a pool of mode m: the rank as priority (Rank),
// else one shared priority and the element's weight in the mode (RFC 2782
// clients then make the weighted pick themselves). An element that goes
// last comes after those: a disputed one this registrar cannot reach
// (its rank puts it there, and in weighted answers priority 1 does), and
// in Free and FreeDeg one without capacity left, weight 1 (the
// policies draw those last, uniformly).
func Order(m Mode, rank int, e *Weights) (prio, weight uint16) {
	switch m {
	case Rank:
		return uint16(min(rank, 0xFFFF)), 0
	case Weight:
		weight = e.weight
	case Equal:
		weight = 1
	case Free:
		weight = e.free
	case FreeDeg:
		weight = e.freeDeg
	}
	if weight == 0 && (m == Free || m == FreeDeg) {
		return 1, 1
	}
	if e.last {
		return 1, weight
	}
	return 0, weight
}
