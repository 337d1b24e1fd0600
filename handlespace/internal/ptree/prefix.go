package ptree

import (
	"math/bits"
	"net/netip"
)

// PrefixTrie maps IP prefixes to values (non-zero): a lookup finds the
// value of the longest prefix that holds an address (handlespace: the
// sites of a SiteMap). It is built once and then only read: Lookup takes
// no lock and allocates nothing, and is safe for concurrent use once the
// last Insert returned.
//
// It is a path-compressed binary trie per address family (IPv4 addresses,
// and IPv4-mapped IPv6 prefixes and addresses, in the IPv4 one): a lookup
// visits one node per branching on the address's path, at most one per
// prefix, and, for a few hundred prefixes, typically about log₂ of their
// number.
type PrefixTrie struct {
	v4, v6 *pnode
	n      int
}

// pnode is a node of a PrefixTrie: a prefix (bits, its address's leading
// bits left-aligned in hi and lo), the value of that prefix if the trie
// has it, and the subtries of the two values of the next bit.
type pnode struct {
	hi, lo uint64
	bits   int
	v      uint32
	kid    [2]*pnode
}

// Len returns the number of prefixes.
func (t *PrefixTrie) Len() int { return t.n }

// Insert adds prefix p (valid) with value v (non-zero). If p already has
// another value, Insert returns that value and changes nothing; else 0.
func (t *PrefixTrie) Insert(p netip.Prefix, v uint32) uint32 {
	hi, lo, b, v6 := prefixBits(p)
	root := &t.v4
	if v6 {
		root = &t.v6
	}
	if other := insertPrefix(root, hi, lo, b, v); other != 0 {
		return other
	}
	t.n++
	return 0
}

// prefixBits returns p's address bits left-aligned, its length, and
// whether it is an IPv6 prefix (IPv4-mapped ones of at least 96 bits are
// IPv4 prefixes).
func prefixBits(p netip.Prefix) (hi, lo uint64, b int, v6 bool) {
	p = p.Masked()
	a, b := p.Addr(), p.Bits()
	if a.Is4In6() && b >= 96 {
		a, b = a.Unmap(), b-96
	}
	hi, lo = addrBits(a)
	return hi, lo, b, a.Is6()
}

// addrBits returns a's bits left-aligned (an IPv4 address in the top 32
// bits of hi).
func addrBits(a netip.Addr) (hi, lo uint64) {
	if a.Is4() {
		v := a.As4()
		return uint64(v[0])<<56 | uint64(v[1])<<48 | uint64(v[2])<<40 | uint64(v[3])<<32, 0
	}
	v := a.As16()
	for i := range 8 {
		hi = hi<<8 | uint64(v[i])
		lo = lo<<8 | uint64(v[8+i])
	}
	return hi, lo
}

// bitAt returns bit i (0 is the first) of hi, lo.
func bitAt(hi, lo uint64, i int) int {
	if i < 64 {
		return int(hi >> (63 - i) & 1)
	}
	return int(lo >> (127 - i) & 1)
}

// commonBits returns how many leading bits (a) and (b) share, at most lim.
func commonBits(ahi, alo, bhi, blo uint64, lim int) int {
	c := bits.LeadingZeros64(ahi ^ bhi)
	if c == 64 {
		c += bits.LeadingZeros64(alo ^ blo)
	}
	return min(c, lim)
}

// maskBits keeps the first b bits of hi, lo.
func maskBits(hi, lo uint64, b int) (uint64, uint64) {
	switch {
	case b <= 0:
		return 0, 0
	case b < 64:
		return hi &^ (^uint64(0) >> b), 0
	case b < 128:
		return hi, lo &^ (^uint64(0) >> (b - 64))
	}
	return hi, lo
}

// insertPrefix adds the prefix (hi, lo)/b of value v below *ref; if the
// prefix already has another value, it returns that value and changes
// nothing.
func insertPrefix(ref **pnode, hi, lo uint64, b int, v uint32) uint32 {
	hi, lo = maskBits(hi, lo, b)
	for {
		n := *ref
		if n == nil {
			*ref = &pnode{hi: hi, lo: lo, bits: b, v: v}
			return 0
		}
		c := commonBits(hi, lo, n.hi, n.lo, min(b, n.bits))
		switch {
		case c == n.bits && c == b: // this very prefix
			if n.v != 0 && n.v != v {
				return n.v
			}
			n.v = v
			return 0
		case c == n.bits: // inside n
			ref = &n.kid[bitAt(hi, lo, n.bits)]
		case c == b: // n is inside the new prefix
			nn := &pnode{hi: hi, lo: lo, bits: b, v: v}
			nn.kid[bitAt(n.hi, n.lo, b)] = n
			*ref = nn
			return 0
		default: // they part at bit c: a branching node of neither
			ghi, glo := maskBits(hi, lo, c)
			g := &pnode{hi: ghi, lo: glo, bits: c}
			g.kid[bitAt(hi, lo, c)] = &pnode{hi: hi, lo: lo, bits: b, v: v}
			g.kid[bitAt(n.hi, n.lo, c)] = n
			*ref = g
			return 0
		}
	}
}

// Lookup returns the value of the longest prefix that holds a (an
// unmapped address) among the prefixes no longer than lim bits (0 when
// none does), and the scope: the length of the shortest prefix of a over
// which the answer is the same, at most lim (RFC 7871's scope prefix
// length, when lim is an EDNS Client Subnet's length).
func (t *PrefixTrie) Lookup(a netip.Addr, lim int) (v uint32, scope int) {
	n, width := t.v6, 128
	if a.Is4() {
		n, width, lim = t.v4, 32, min(lim, 32)
	}
	hi, lo := addrBits(a)
	hi, lo = maskBits(hi, lo, lim)
	if n == nil {
		return 0, 0 // no prefix of this family: the same for every address
	}
	for {
		c := commonBits(hi, lo, n.hi, n.lo, min(n.bits, lim))
		if c < n.bits {
			// The address (as far as known) leaves the trie at bit c: no
			// prefix lies inside its first c+1 bits; or n lies inside
			// what is known of it (c == lim).
			return v, min(c+1, lim)
		}
		if n.v != 0 {
			v = n.v
		}
		if n.bits >= lim || n.bits == width {
			return v, min(n.bits, lim)
		}
		b := bitAt(hi, lo, n.bits)
		k := n.kid[b]
		if k == nil {
			if n.kid[1-b] == nil {
				return v, n.bits // n's whole prefix has its value
			}
			return v, n.bits + 1
		}
		n = k
	}
}
