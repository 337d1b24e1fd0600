package rrl

import "sync"

// Add adds o's counters to s.
func (s *Stats) Add(o Stats) {
	for c := range NumClasses {
		s.Counted[c] += o.Counted[c]
		s.Dropped[c] += o.Dropped[c]
		s.Slipped[c] += o.Slipped[c]
	}
	s.Evicted += o.Evicted
}

// Totals are the summed counters of the limiters a server has retired: a
// reload that changes the limits replaces the Limiter (and its buckets),
// and counters exported as running totals must not go back. It is safe
// for concurrent use; the zero value has retired nothing.
type Totals struct {
	mu      sync.Mutex
	retired Stats
}

// Retire adds the counters of l, replaced and no longer counting, to the
// totals (nothing for a nil l).
func (t *Totals) Retire(l *Limiter) {
	s := l.Stats()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.retired.Add(s)
}

// With returns the totals with the counters of cur, the limiter in use
// (nil: none), added. ok is false when there is nothing to report: no
// limiter in use, and none retired that counted anything.
func (t *Totals) With(cur *Limiter) (s Stats, ok bool) {
	c := cur.Stats()
	t.mu.Lock()
	s = t.retired
	t.mu.Unlock()
	ok = cur != nil || s != (Stats{})
	s.Add(c)
	return s, ok
}
