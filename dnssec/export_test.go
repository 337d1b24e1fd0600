package dnssec

// Keys returns the keys in use, nil if none were set.
func (s *Signer) Keys() *Keys { return s.state.Load().keys }

// Keys returns the zone's keys.
func (z *Zone) Keys() *ZoneKeys { return z.keys }
