package handlespace

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/poolnsd/poolnsd/handlespace/internal/intern"
	"github.com/poolnsd/poolnsd/handlespace/internal/ptree"
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

// siteTab holds the sites' names, lower case: Site is its number.
var siteTab = intern.New[string, string](maxSites + 1)

// SiteOf returns the site of a name ("" or a name past the bound: 0).
func SiteOf(name string) Site {
	if name == "" {
		return 0
	}
	lname := strings.ToLower(name)
	return Site(siteTab.Of(lname, func() string { return strings.Clone(lname) }))
}

// String returns the site's name (lower case), "" for no site.
func (s Site) String() string {
	if n := siteTab.Get(uint32(s)); n != nil {
		return *n
	}
	return ""
}

// SiteMap maps client addresses to sites: the site of the longest of its
// prefixes that holds the address. It is immutable once made, and safe for
// concurrent use; a lookup takes no lock and allocates nothing (see
// ptree.PrefixTrie for how).
type SiteMap struct {
	t ptree.PrefixTrie
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
		for _, p := range sites[name] {
			if !p.IsValid() {
				errs = append(errs, fmt.Errorf("site %q: invalid prefix", name))
				continue
			}
			if other := m.t.Insert(p, uint32(s)); other != 0 {
				errs = append(errs, fmt.Errorf("prefix %s is given for two sites, %s and %s", p.Masked(), Site(other), s))
			}
		}
	}
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
	return m.t.Len()
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
	v, scope := m.t.Lookup(a, lim)
	return Site(v), scope
}

// SiteName is an element's site as it was given (Element.Site): a small
// number, so that the element holds no string for the collector to
// follow. Unlike Site it keeps the name's case, as the API, peers and the
// store see it; Site gives the site nearest compares. Names are interned
// for the life of the process, as Site's (up to maxSites names; further
// names count as no site). The zero SiteName is no site.
type SiteName uint32

type siteNameEntry struct {
	name string
	site Site
}

var siteNameTab = intern.New[string, siteNameEntry](maxSites)

// SiteNameOf returns the SiteName of name ("" or a name past the bound:
// 0). Safe for concurrent use (it takes the table's lock; String and Site
// take none).
func SiteNameOf(name string) SiteName {
	if name == "" {
		return 0
	}
	return SiteName(siteNameTab.Of(name, func() siteNameEntry {
		name = strings.Clone(name)
		return siteNameEntry{name: name, site: SiteOf(name)}
	}))
}

// ErrSitesFull is SiteNameFor's error once the process has interned as
// many distinct site names as it may (InternStats, "site_names"): a
// registration with a new name is refused rather than taken without its
// site.
var ErrSitesFull = fmt.Errorf("the process holds %d distinct site names, the most it may (names are kept until a restart): use one of the names in use, or restart poolnsd", maxSites-1)

// SiteNameFor is SiteNameOf for a registrant's name: ErrSitesFull where
// SiteNameOf would give 0 for a name that is not "".
func SiteNameFor(name string) (SiteName, error) {
	s := SiteNameOf(name)
	if name != "" && (s == 0 || s.Site() == 0) {
		return 0, ErrSitesFull
	}
	return s, nil
}

// InternStat is one of the process's tables of interned values (site
// names, probe settings, vantage lists): how many it holds, the most it
// may, and how many values it refused, full. Tables only grow.
type InternStat struct {
	Table   string
	Values  uint32
	Max     uint32
	Refused uint64
}

// internTable is an intern.Table of any kind, for InternStats.
type internTable interface {
	Stats() (values, max uint32, refused uint64)
}

// InternStats returns the tables' figures, for the metrics.
func InternStats() []InternStat {
	stat := func(name string, t internTable) InternStat {
		v, m, r := t.Stats()
		return InternStat{Table: name, Values: v, Max: m, Refused: r}
	}
	return []InternStat{stat("sites", siteTab), stat("site_names", siteNameTab),
		stat("probes", probeRefs), stat("vantages", vantageTab)}
}

// String returns the name as it was given, "" for no site.
func (s SiteName) String() string {
	if e := siteNameTab.Get(uint32(s)); e != nil {
		return e.name
	}
	return ""
}

// Site returns the site of the name (case-insensitive, as nearest
// compares sites), 0 for no site.
func (s SiteName) Site() Site {
	if e := siteNameTab.Get(uint32(s)); e != nil {
		return e.site
	}
	return 0
}
