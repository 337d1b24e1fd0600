package handlespace

import (
	"iter"
	"net/netip"
	"strings"
)

// Addrs is an element's addresses, IPv4 and/or IPv6, in the order given.
//
// It keeps one valid address without a zone in itself, as its 16 bytes and its
// family: no slice into the element and no netip zone handle, nothing for
// the garbage collector to follow in an element of one address (at a
// million elements each pointer costs the collector's mark phase a few
// milliseconds a cycle). Several addresses, or one with an IPv6 zone or
// the zero netip.Addr, are kept in a slice of their own. The zero Addrs is empty. An Addrs never
// changes once made (Append makes another), so copies share freely.
type Addrs struct {
	more *[]netip.Addr // the addresses, when not inline (n == addrsMore)
	one  [16]byte      // the address when n == 1 (IPv4: its first 4 bytes)
	n    uint8         // 0, 1 or addrsMore
	fam  uint8         // famV4 | famV6: the families among the addresses
}

// addrsMore is Addrs.n when the addresses are in Addrs.more.
const addrsMore = 2

// The families in Addrs.fam.
const (
	famV4 = 1 << iota
	famV6
)

// AddrsOf returns the addresses as. It does not keep as.
func AddrsOf(as ...netip.Addr) Addrs {
	var a Addrs
	for _, x := range as {
		a.fam |= family(x)
	}
	switch {
	case len(as) == 1 && as[0].IsValid() && as[0].Zone() == "":
		a.n = 1
		if as[0].Is4() {
			b := as[0].As4()
			copy(a.one[:], b[:])
		} else {
			a.one = as[0].As16()
		}
	case len(as) > 0:
		s := append([]netip.Addr(nil), as...)
		a.more, a.n = &s, addrsMore
	}
	return a
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
	return int(a.n)
}

// At returns the i-th address (from 0); it panics if i is out of range,
// as a slice index does.
func (a Addrs) At(i int) netip.Addr {
	if a.n == addrsMore {
		return (*a.more)[i]
	}
	if i != 0 || a.n == 0 {
		panic("handlespace: Addrs index out of range")
	}
	if a.fam == famV4 {
		return netip.AddrFrom4([4]byte(a.one[:4]))
	}
	return netip.AddrFrom16(a.one)
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
	if a.n == 1 {
		dst = append(dst, a.At(0))
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
