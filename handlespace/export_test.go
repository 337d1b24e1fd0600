package handlespace

// Last returns how many of the set's elements go last in its selections
// (Element.Last).
func (s *ElementSet) Last() int { return int(s.nlast) }
