package history

import "github.com/poolnsd/poolnsd/internal/tally"

// Answers counts, per pool, how often each element came first in its
// answers, and the latency of a sample of them: what a DNS front counts
// on its query path (in the tally.Table that Table returns: one atomic
// add on a counter of its serving loop's own per answer, no map, no lock)
// and a Recorder reads at each sample (Inputs.Answers).
//
// Pools are known by name: a pool whose settings change (a zone reload)
// keeps its counts, and the Recorder takes the shares of first places
// since the change only. Its pools and elements are those of the
// handlespace (a query cannot add one), and the Recorder forgets those
// that left it.
type Answers struct {
	t *tally.Table
}

// NewAnswers returns an empty tally.
func NewAnswers() *Answers { return &Answers{t: tally.New()} }

// Table returns the counters the DNS front counts into (dnsfront's Tally).
// It is nil on a nil *Answers.
func (a *Answers) Table() *tally.Table {
	if a == nil {
		return nil
	}
	return a.t
}

// read returns a pool's running totals: answers, timed answers and their
// latency, and (into, if not nil) first places by element. ok is false
// when the pool has had no answer.
func (a *Answers) read(pool string, into map[uint32]uint64) (total tally.Counts, ok bool) {
	return a.t.Read(pool, into)
}

// retain forgets the pools that keepPool says no to, and in the others
// the elements that keepElem says no to.
func (a *Answers) retain(keepPool func(string) bool, keepElem func(pool string, id uint32) bool) {
	a.t.Retain(keepPool, keepElem)
}
