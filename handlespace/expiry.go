package handlespace

import (
	"math"
	"time"
)

// Expiry is the end of an element's registration lease (Element.Expires)
// as nanoseconds since the Unix epoch, 0 for none: a time.Time would give
// the element a pointer word (its *Location) for the collector to look
// at. The zero Expiry is no lease.
type Expiry int64

// ExpiryOf returns the Expiry of t (the zero time: 0). Instants before
// 1970 or after 2262 are clamped to them; t's location and monotonic
// reading are dropped.
func ExpiryOf(t time.Time) Expiry {
	switch {
	case t.IsZero():
		return 0
	case t.Before(time.Unix(0, 1)):
		return 1
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return Expiry(t.UnixNano())
}

// Time returns the expiry as a time.Time in UTC, the zero time for none.
func (x Expiry) Time() time.Time {
	if x == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(x)).UTC()
}
