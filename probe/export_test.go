package probe

// Set replaces the targets whole, as Change would with the targets not in
// targets removed: for the tests, which give the whole set.
func (s *Scheduler) Set(targets []Target) {
	for _, k := range s.set(targets) {
		for _, f := range s.forgetters {
			f.Forget(k)
		}
	}
}

// Idle returns how many connections the checker's own table keeps open
// between probes (those of checks made without a Scheduler).
func (h *HTTPChecker) Idle() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.idle)
}

// set does Set's work and returns the keys of the targets it retired.
func (s *Scheduler) set(targets []Target) (retired []string) {
	s.deliver.Lock()
	defer s.deliver.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]*entry, len(targets))
	var fresh []*entry
	for _, t := range targets {
		if _, dup := next[t.Key]; dup {
			continue
		}
		e, isNew := s.entryFor(t)
		next[t.Key] = e
		if isNew {
			fresh = append(fresh, e)
		}
	}
	for k, e := range s.entries {
		if next[k] != e {
			s.retire(e)
			retired = append(retired, k)
		}
	}
	s.entries = next
	s.spread(fresh)
	return retired
}
