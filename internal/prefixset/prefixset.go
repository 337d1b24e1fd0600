// Package prefixset is a set of IP prefixes that answers "is this address
// in it?" fast and without allocating: the matcher of dns.allow_query and
// dns.rrl.exempt.
//
// # Basics
//
// Parse reads prefixes ("192.0.2.0/24", "2001:db8::/32") and bare
// addresses (a /32 or /128); the set keeps them as sorted, merged ranges,
// one list per family, and Contains is a binary search over the address's
// family. IPv4-mapped IPv6 addresses (::ffff:192.0.2.1, as a dual-stack
// socket reports IPv4 clients) are looked up as the IPv4 address.
//
// # Caveats
//
// A set is immutable: a new configuration makes a new set, which the
// caller swaps in (an atomic.Pointer). Prefixes with host bits set
// (192.0.2.1/24) are errors, not silently masked: they are usually a typo.
package prefixset

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Set is an immutable set of prefixes. The zero Set is empty.
type Set struct {
	v4 []r4
	v6 []r6
	n  int // prefixes as given
}

type r4 struct{ lo, hi uint32 }

// u128 is an IPv6 address as a number.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

func (a u128) next() (u128, bool) {
	if a.lo == ^uint64(0) {
		if a.hi == ^uint64(0) {
			return a, false
		}
		return u128{a.hi + 1, 0}, true
	}
	return u128{a.hi, a.lo + 1}, true
}

type r6 struct{ lo, hi u128 }

// Parse returns the set of the prefixes and addresses in list. Its error
// names the first bad item.
func Parse(list []string) (*Set, error) {
	s := &Set{}
	for _, item := range list {
		item = strings.TrimSpace(item)
		p, err := parseOne(item)
		if err != nil {
			return nil, err
		}
		s.add(p)
	}
	s.v4 = merge4(s.v4)
	s.v6 = merge6(s.v6)
	return s, nil
}

func parseOne(item string) (netip.Prefix, error) {
	if !strings.Contains(item, "/") {
		a, err := netip.ParseAddr(item)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP prefix or address, want e.g. 192.0.2.0/24 or 2001:db8::/32", item)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(item)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP prefix, want e.g. 192.0.2.0/24 or 2001:db8::/32", item)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q has bits set after its length; did you mean %s?", item, p.Masked())
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		// ::ffff:192.0.2.0/120 is 192.0.2.0/24.
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p, nil
}

func (s *Set) add(p netip.Prefix) {
	s.n++
	a := p.Addr()
	if a.Is4() {
		b := a.As4()
		lo := binary.BigEndian.Uint32(b[:])
		hi := lo | uint32(uint64(1)<<(32-p.Bits())-1)
		s.v4 = append(s.v4, r4{lo, hi})
		return
	}
	b := a.As16()
	lo := u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
	hi := lo
	host := 128 - p.Bits()
	switch {
	case host >= 64:
		hi.lo = ^uint64(0)
		hi.hi |= uint64(1)<<(host-64) - 1 // all ones for host == 128
	default:
		hi.lo |= uint64(1)<<host - 1
	}
	s.v6 = append(s.v6, r6{lo, hi})
}

func merge4(rs []r4) []r4 {
	slices.SortFunc(rs, func(a, b r4) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	var out []r4
	for _, r := range rs {
		if n := len(out); n > 0 && (r.lo <= out[n-1].hi || (out[n-1].hi != ^uint32(0) && r.lo == out[n-1].hi+1)) {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

func merge6(rs []r6) []r6 {
	slices.SortFunc(rs, func(a, b r6) int {
		switch {
		case a.lo.less(b.lo):
			return -1
		case b.lo.less(a.lo):
			return 1
		}
		return 0
	})
	var out []r6
	for _, r := range rs {
		if n := len(out); n > 0 {
			last := &out[n-1]
			overlap := !last.hi.less(r.lo) // r.lo <= last.hi
			adj, ok := last.hi.next()
			if overlap || (ok && r.lo == adj) {
				if last.hi.less(r.hi) {
					last.hi = r.hi
				}
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// Contains reports whether a is in one of the set's prefixes. It does not
// allocate. A nil Set is empty.
func (s *Set) Contains(a netip.Addr) bool {
	if s == nil {
		return false
	}
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		x := binary.BigEndian.Uint32(b[:])
		rs := s.v4
		// The last range whose lo <= x.
		i, j := 0, len(rs)
		for i < j {
			h := int(uint(i+j) >> 1)
			if rs[h].lo <= x {
				i = h + 1
			} else {
				j = h
			}
		}
		return i > 0 && x <= rs[i-1].hi
	}
	if !a.Is6() {
		return false
	}
	b := a.As16()
	x := u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
	rs := s.v6
	i, j := 0, len(rs)
	for i < j {
		h := int(uint(i+j) >> 1)
		if !x.less(rs[h].lo) {
			i = h + 1
		} else {
			j = h
		}
	}
	return i > 0 && !rs[i-1].hi.less(x)
}

// Len returns the number of prefixes the set was made of.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// All reports whether the set holds every address of both families
// (0.0.0.0/0 and ::/0): a caller may skip the lookup.
func (s *Set) All() bool {
	return s != nil && len(s.v4) == 1 && s.v4[0] == r4{0, ^uint32(0)} &&
		len(s.v6) == 1 && s.v6[0] == r6{u128{}, u128{^uint64(0), ^uint64(0)}}
}
