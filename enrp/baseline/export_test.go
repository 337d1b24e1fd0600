package baseline

// Len is how many bases are kept.
func (s *Set) Len() int { return len(s.m) }
