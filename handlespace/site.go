package handlespace

import (
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// Site is a site name (an element's Site, a site of the site map) as a
// small number, so that a query compares numbers, not strings: 0 is no
// site. Names are case-insensitive ("FRA" is "fra") and interned for the
// life of the process: every distinct name ever seen keeps a few bytes
// (up to maxSites names; further names count as no site).
type Site uint32

// maxSites bounds the interned names; a Site fits 31 bits, so that a
// site's entries in a nearest set's tree (Site<<32 | rank) never reach
// the largest key.
const maxSites = 1 << 24

var siteNames struct {
	mu    sync.RWMutex
	ids   map[string]Site
	names []string // of Site i+1
}

// SiteOf returns the site of a name ("" or a name past the bound: 0).
func SiteOf(name string) Site {
	if name == "" {
		return 0
	}
	siteNames.mu.RLock()
	s, ok := siteNames.ids[name]
	siteNames.mu.RUnlock()
	if ok {
		return s
	}
	lname := strings.ToLower(name)
	siteNames.mu.Lock()
	defer siteNames.mu.Unlock()
	if siteNames.ids == nil {
		siteNames.ids = map[string]Site{}
	}
	s, ok = siteNames.ids[lname]
	if !ok {
		if len(siteNames.names) >= maxSites {
			return 0
		}
		siteNames.names = append(siteNames.names, lname)
		s = Site(len(siteNames.names))
		siteNames.ids[lname] = s
	}
	if len(siteNames.ids) < 2*maxSites {
		siteNames.ids[name] = s // the name as written, for the next lookup
	}
	return s
}

// String returns the site's name (lower case), "" for no site.
func (s Site) String() string {
	if s == 0 {
		return ""
	}
	siteNames.mu.RLock()
	defer siteNames.mu.RUnlock()
	if int(s) > len(siteNames.names) {
		return ""
	}
	return siteNames.names[s-1]
}

// SiteMap maps client addresses to sites: the site of the longest of its
// prefixes that holds the address. It is immutable once made, and safe for
// concurrent use; a lookup takes no lock and allocates nothing.
//
// It is a path-compressed binary trie per address family (IPv4 addresses,
// and IPv4-mapped IPv6 prefixes and addresses, in the IPv4 one): a lookup
// visits one node per branching on the address's path, at most one per
// prefix, and, for a few hundred prefixes, typically about log₂ of their
// number.
type SiteMap struct {
	v4, v6 *snode
	n      int
	sites  []string // sorted
}

// snode is a node of a SiteMap's trie: a prefix (bits, its address's
// leading bits left-aligned in hi and lo), the site of that prefix if the
// map has it, and the subtries of the two values of the next bit.
type snode struct {
	hi, lo uint64
	bits   int
	site   Site
	kid    [2]*snode
}

// NewSiteMap makes the map of sites (a site name → its prefixes). The same
// prefix for two sites is an error naming both; prefixes of different
// lengths may overlap (the longest wins).
func NewSiteMap(sites map[string][]netip.Prefix) (*SiteMap, error) {
	m := &SiteMap{}
	names := make([]string, 0, len(sites))
	for name := range sites {
		names = append(names, name)
	}
	slices.Sort(names)
	var errs []error
	for _, name := range names {
		if name == "" {
			errs = append(errs, errors.New("empty site name"))
			continue
		}
		s := SiteOf(name)
		if s == 0 {
			errs = append(errs, fmt.Errorf("site %q: too many site names", name))
			continue
		}
		m.sites = append(m.sites, s.String())
		for _, p := range sites[name] {
			if !p.IsValid() {
				errs = append(errs, fmt.Errorf("site %q: invalid prefix", name))
				continue
			}
			hi, lo, b, v6 := prefixBits(p)
			root := &m.v4
			if v6 {
				root = &m.v6
			}
			if other := insertSite(root, hi, lo, b, s); other != 0 {
				errs = append(errs, fmt.Errorf("prefix %s is given for two sites, %s and %s", p.Masked(), other, s))
				continue
			}
			m.n++
		}
	}
	m.sites = slices.Compact(m.sites)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

// Len returns the number of prefixes of the map.
func (m *SiteMap) Len() int {
	if m == nil {
		return 0
	}
	return m.n
}

// Sites returns the map's site names, sorted.
func (m *SiteMap) Sites() []string {
	if m == nil {
		return nil
	}
	return slices.Clone(m.sites)
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

// insertSite adds the prefix (hi, lo)/b of site s below *ref; if the
// prefix is already another site's, it returns that site and changes
// nothing.
func insertSite(ref **snode, hi, lo uint64, b int, s Site) Site {
	hi, lo = maskBits(hi, lo, b)
	for {
		n := *ref
		if n == nil {
			*ref = &snode{hi: hi, lo: lo, bits: b, site: s}
			return 0
		}
		c := commonBits(hi, lo, n.hi, n.lo, min(b, n.bits))
		switch {
		case c == n.bits && c == b: // this very prefix
			if n.site != 0 && n.site != s {
				return n.site
			}
			n.site = s
			return 0
		case c == n.bits: // inside n
			ref = &n.kid[bitAt(hi, lo, n.bits)]
		case c == b: // n is inside the new prefix
			nn := &snode{hi: hi, lo: lo, bits: b, site: s}
			nn.kid[bitAt(n.hi, n.lo, b)] = n
			*ref = nn
			return 0
		default: // they part at bit c: a branching node of neither
			ghi, glo := maskBits(hi, lo, c)
			g := &snode{hi: ghi, lo: glo, bits: c}
			g.kid[bitAt(hi, lo, c)] = &snode{hi: hi, lo: lo, bits: b, site: s}
			g.kid[bitAt(n.hi, n.lo, c)] = n
			*ref = g
			return 0
		}
	}
}

// Lookup returns the site of the client: of its EDNS Client Subnet when
// it has one (only the prefixes no longer than the subnet's count), else
// of its source address; 0 when no prefix holds it (or the map is nil).
//
// scope is the length of the shortest prefix of the client's address
// over which the answer is the same, at most the subnet's length (without
// a subnet, the address's length): a reply whose order depends on the
// site holds for that prefix (RFC 7871's scope prefix length).
func (m *SiteMap) Lookup(c *Client) (site Site, scope int) {
	var a netip.Addr
	lim := 128
	switch {
	case c == nil:
		return 0, 0
	case c.Subnet.IsValid():
		a, lim = c.Subnet.Addr(), c.Subnet.Bits()
		if a.Is4In6() {
			a, lim = a.Unmap(), max(lim-96, 0)
		}
	case c.Addr.IsValid():
		a = c.Addr.Unmap()
	default:
		return 0, 0
	}
	if m == nil {
		return 0, 0
	}
	n, width := m.v6, 128
	if a.Is4() {
		n, width, lim = m.v4, 32, min(lim, 32)
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
			return site, min(c+1, lim)
		}
		if n.site != 0 {
			site = n.site
		}
		if n.bits >= lim || n.bits == width {
			return site, min(n.bits, lim)
		}
		b := bitAt(hi, lo, n.bits)
		k := n.kid[b]
		if k == nil {
			if n.kid[1-b] == nil {
				return site, n.bits // n's whole prefix maps to its site
			}
			return site, n.bits + 1
		}
		n = k
	}
}
