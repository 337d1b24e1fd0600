package dnsfront

import "github.com/poolnsd/poolnsd/handlespace"

// Tally counts the pools' answers for the status page's history (package
// history's Answers is one): each answer of a pool (known by its
// PoolInfo, which the pool's views share while its settings stay the
// same), with the element the policy put first. PoolAnswer is called on
// the query path: it must be safe for concurrent use, cheap, and never
// block.
type Tally interface {
	PoolAnswer(pool *handlespace.PoolInfo, first uint32)
}

// tallyAnswer reports a pool answer whose elements are in s.picks.
func (h *Handler) tallyAnswer(r *Result, s *scratch) {
	if h.tally != nil && len(s.picks) > 0 {
		h.tally.PoolAnswer(r.Pool.PoolInfo, s.picks[0].Elem().ID)
	}
}
