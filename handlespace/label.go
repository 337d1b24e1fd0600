package handlespace

import "github.com/poolnsd/poolnsd/handlespace/internal/ptree"

// Label is an element's DNS label (Element.Label), kept in the element
// itself: a DNS label is at most 63 octets, so that it needs no string of
// its own and the element no pointer for the collector to follow. The
// zero Label is empty.
type Label struct {
	n uint8 // the label's length; labelTooLong for a label over labelMax
	b [labelMax]byte
}

// labelMax is the longest DNS label (RFC 1035 §2.3.4).
const labelMax = 63

// labelTooLong is Label.n of a label longer than labelMax, which no
// element may have: the handlespace refuses its element (ErrBadElement).
const labelTooLong = 0xff

// LabelOf returns the Label s. A string longer than a DNS label gives a
// Label that keeps its first 63 octets and that the handlespace refuses
// (TooLong), so that bad input from a peer or a file is an error, not a
// crash.
func LabelOf(s string) Label {
	var l Label
	l.n = uint8(copy(l.b[:], s))
	if len(s) > labelMax {
		l.n = labelTooLong
	}
	return l
}

// String returns the label. The string lies in l's own bytes, so that
// reading an element's label allocates nothing: l must not be written
// while the string is in use (a published element never is).
func (l *Label) String() string {
	n := int(l.n)
	if n == labelTooLong {
		n = labelMax
	}
	return ptree.StringOver(l.b[:n])
}

// Len returns the label's length in octets.
func (l Label) Len() int {
	if l.n == labelTooLong {
		return labelMax
	}
	return int(l.n)
}

// TooLong reports whether the label was longer than a DNS label may be.
func (l Label) TooLong() bool { return l.n == labelTooLong }
