package dnsfront

// Tally counts the pools' answers for the status page's history (package
// history's Answers is one): each answer of a pool, with the element the
// policy put first. PoolAnswer is called on the query path: it must be
// safe for concurrent use, cheap, and never block.
type Tally interface {
	PoolAnswer(pool string, first uint32)
}

// tallyAnswer reports a pool answer whose elements are in s.picks.
func (h *Handler) tallyAnswer(r *Result, s *scratch) {
	if h.tally != nil && len(s.picks) > 0 {
		h.tally.PoolAnswer(r.Pool.Name, s.picks[0].Elem().ID)
	}
}
