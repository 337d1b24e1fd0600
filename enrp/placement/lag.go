package placement

import "slices"

// maxPairs bounds the registrars whose pairs LiveLag tries: 28 live sets
// more at most.
const maxPairs = 8

// Static is a zone-file element as LiveLag sees it: its pool and ID, its
// term of an ownership checksum (the caller's: ENRP's is
// wire.ElementSum) and its home by the live set.
type Static struct {
	Pool string
	ID   uint32
	Sum  uint16
	Home uint32
}

// LiveLag reports whether home's claim matches (claims) with one
// registrar of others seen the other way, alive or not, than in live, or
// two of them (a 2|3 split heals: the far side hears both at once) when
// others are at most maxPairs: claims gets the terms of the zone-file
// elements that would join home's set and of those that would leave it,
// and says whether the claim is home's current set (by live) with those
// added and removed; statics calls yield with each zone-file element
// (whose home follows the live set by Rendezvous; registrations do not
// move). A registrar that heard of another coming back or dying before
// the registrar comparing, or after it, homes the zone-file elements by
// another live set, and their claims differ with nothing lost until both
// have heard. One pass over statics for all the live sets tried.
func LiveLag(live, others []uint32, home uint32, claims func(join, leave []uint16) bool, statics func(yield func(Static) bool)) bool {
	toggle := func(l []uint32, id uint32) []uint32 {
		out := slices.DeleteFunc(slices.Clone(l), func(x uint32) bool { return x == id })
		if len(out) == len(l) {
			out = append(out, id)
			slices.Sort(out)
		}
		return out
	}
	others = slices.DeleteFunc(slices.Clone(others), func(x uint32) bool { return x == home })
	var alts [][]uint32
	for i, a := range others {
		alts = append(alts, toggle(live, a))
		if len(others) <= maxPairs {
			for _, b := range others[i+1:] {
				alts = append(alts, toggle(toggle(live, a), b))
			}
		}
	}
	join, leave := make([][]uint16, len(alts)), make([][]uint16, len(alts))
	statics(func(s Static) bool {
		for i, l := range alts {
			switch h := Rendezvous(l, s.Pool, s.ID); {
			case s.Home == home && h != home:
				leave[i] = append(leave[i], s.Sum)
			case s.Home != home && h == home:
				join[i] = append(join[i], s.Sum)
			}
		}
		return true
	})
	for i := range alts {
		if claims(join[i], leave[i]) {
			return true
		}
	}
	return false
}
