package handlespace

import (
	"iter"
	"net/netip"
	"strings"
)

// Addrs is an element's addresses, IPv4 and/or IPv6, in the order given.
//
// It keeps in itself one valid address without a zone, or two of them
// that fit its 22 bytes (an IPv4 address takes 4, an IPv6 one 16: two
// IPv4 addresses, or one IPv4 and one IPv6, the common dual-stack
// element), with no slice into the element and no netip zone handle:
// nothing for the garbage collector to follow in such an element (at a
// million elements each pointer costs the collector's mark phase a few
// milliseconds a cycle, and a side slice two more objects to mark), in
// the 32 bytes Addrs took with one address. Other addresses (three or
// more, two IPv6, one with an IPv6 zone or the zero netip.Addr) are kept
// in a slice of their own. The zero Addrs is empty. An Addrs never
// changes once made (Append makes another), so copies share freely.
type Addrs struct {
	more *[]netip.Addr // the addresses, when not inline
	in   [22]byte      // the inline addresses, one after the other
	n    uint8         // the number of inline addresses (bits 0–1; addrsMore: in more), bit 2+i: inline address i is IPv4
	fam  uint8         // famV4 | famV6: the families among the addresses
}

// addrsMore is Addrs.n when the addresses are in Addrs.more; addrsCount
// masks the number of inline addresses in Addrs.n, and addrsV4 is its bit
// of an IPv4 address 0.
const (
	addrsMore  = 3
	addrsCount = 3
	addrsV4    = 4
)

// The families in Addrs.fam.
const (
	famV4 = 1 << iota
	famV6
)

// AddrsOf returns the addresses as. It does not keep as.
func AddrsOf(as ...netip.Addr) Addrs {
	var a Addrs
	size := 0
	for _, x := range as {
		a.fam |= family(x)
		if !x.IsValid() || x.Zone() != "" {
			size = len(a.in) + 1
		}
		size += addrSize(x)
	}
	if len(as) > 2 || size > len(a.in) {
		s := append([]netip.Addr(nil), as...)
		a.more, a.n = &s, addrsMore
		return a
	}
	off := 0
	for i, x := range as {
		if x.Is4() {
			b := x.As4()
			copy(a.in[off:], b[:])
			a.n |= addrsV4 << i
		} else {
			b := x.As16()
			copy(a.in[off:], b[:])
		}
		off += addrSize(x)
	}
	a.n |= uint8(len(as))
	return a
}

// addrSize is the bytes an inline address x takes.
func addrSize(x netip.Addr) int {
	if x.Is4() {
		return 4
	}
	return 16
}

func family(x netip.Addr) uint8 {
	if x.Is4() {
		return famV4
	}
	return famV6
}

// Len returns the number of addresses.
func (a Addrs) Len() int {
	if a.n == addrsMore {
		return len(*a.more)
	}
	return int(a.n & addrsCount)
}

// At returns the i-th address (from 0); it panics if i is out of range,
// as a slice index does.
func (a Addrs) At(i int) netip.Addr {
	if a.n == addrsMore {
		return (*a.more)[i]
	}
	if uint(i) >= uint(a.n&addrsCount) {
		panic("handlespace: Addrs index out of range")
	}
	off := 0
	if i == 1 {
		off = 16
		if a.n&addrsV4 != 0 {
			off = 4
		}
	}
	if a.n&(addrsV4<<i) != 0 {
		return netip.AddrFrom4([4]byte(a.in[off : off+4]))
	}
	return netip.AddrFrom16([16]byte(a.in[off : off+16]))
}

// All yields the index and value of each address in order.
func (a Addrs) All() iter.Seq2[int, netip.Addr] {
	return func(yield func(int, netip.Addr) bool) {
		for i := range a.Len() {
			if !yield(i, a.At(i)) {
				return
			}
		}
	}
}

// AppendTo appends the addresses to dst and returns the result.
func (a Addrs) AppendTo(dst []netip.Addr) []netip.Addr {
	if a.n == addrsMore {
		return append(dst, *a.more...)
	}
	for i := range int(a.n & addrsCount) {
		dst = append(dst, a.At(i))
	}
	return dst
}

// Slice returns the addresses in a new slice, nil if there are none.
func (a Addrs) Slice() []netip.Addr { return a.AppendTo(nil) }

// Append returns the addresses followed by xs; a is unchanged.
func (a Addrs) Append(xs ...netip.Addr) Addrs {
	if len(xs) == 0 {
		return a
	}
	return AddrsOf(append(a.Slice(), xs...)...)
}

// Equal reports whether a and b are the same addresses in the same order.
func (a Addrs) Equal(b Addrs) bool {
	if a.Len() != b.Len() {
		return false
	}
	for i := range a.Len() {
		if a.At(i) != b.At(i) {
			return false
		}
	}
	return true
}

// HasV4 reports whether an address is IPv4 (netip.Addr.Is4).
func (a Addrs) HasV4() bool { return a.fam&famV4 != 0 }

// HasV6 reports whether an address is not IPv4 (IPv6, IPv4-mapped
// included).
func (a Addrs) HasV6() bool { return a.fam&famV6 != 0 }

// String returns the addresses as fmt prints a []netip.Addr: "[a b]".
func (a Addrs) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range a.All() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x.String())
	}
	b.WriteByte(']')
	return b.String()
}
