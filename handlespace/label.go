package handlespace

import (
	"fmt"

	"github.com/poolnsd/poolnsd/handlespace/internal/ptree"
)

// Label is an element's DNS label (Element.Label), kept in the element
// itself: a DNS label is at most 63 octets, so that it needs no string of
// its own and the element no pointer for the collector to follow. The
// zero Label is empty.
type Label struct {
	n uint8 // the label's length (up to 255: past labelMax, too long)
	b [labelMax]byte
}

// labelMax is the longest DNS label (RFC 1035 §2.3.4).
const labelMax = 63

// LabelOf returns the Label s. A string longer than a DNS label gives a
// Label that keeps its first 63 octets and that the handlespace refuses
// (TooLong), so that bad input from a peer or a file is an error, not a
// crash.
func LabelOf(s string) Label {
	var l Label
	copy(l.b[:], s)
	l.n = uint8(min(len(s), 0xff))
	return l
}

// String returns the label. The string lies in l's own bytes, so that
// reading an element's label allocates nothing: l must not be written
// while the string is in use (a published element never is).
func (l *Label) String() string {
	return ptree.StringOver(l.b[:min(int(l.n), labelMax)])
}

// Len returns the label's length in octets.
func (l Label) Len() int { return min(int(l.n), labelMax) }

// TooLong reports whether the label was longer than a DNS label may be.
func (l Label) TooLong() bool { return l.n > labelMax }

// Check is CheckLabel of the label as it was given (a label too long
// says so, not what String keeps of it).
func (l *Label) Check() error {
	if l.TooLong() {
		return fmt.Errorf("label %.20q... is %d octets long or more; want at most 63", l.String(), l.n)
	}
	return CheckLabel(l.String())
}
