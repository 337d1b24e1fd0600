package geosite

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/poolnsd/poolnsd/handlespace"
)

// Site is what the operator says of one site besides its prefixes: the
// clients it serves by the database's record of their address, and where
// it is.
type Site struct {
	// Countries are ISO 3166-1 alpha-2 codes (DE, NL), any case.
	Countries []string
	// Continents are the database's continent codes: AF, AN, AS, EU, NA,
	// OC or SA.
	Continents []string
	// ASNs are autonomous system numbers.
	ASNs []uint32
	// Lat and Lon are the site's latitude and longitude in degrees, when
	// HasLocation: the clients that no other rule maps go to the nearest
	// located site.
	Lat, Lon    float64
	HasLocation bool
}

// Continents lists the continent codes of MaxMind's databases.
var Continents = []string{"AF", "AN", "AS", "EU", "NA", "OC", "SA"}

// Map finds clients' sites: the operator's prefix map first, then the
// database (see the package documentation). It is immutable and safe for
// concurrent use; a lookup takes no lock and allocates nothing.
type Map struct {
	path     string
	prefixes *handlespace.SiteMap
	db       *maxminddb.Reader
	sites    map[uintptr]handlespace.Site // record offset → site (0: none)
	mapped   int                          // records with a site
}

// record is what a lookup uses of a database record: the fields of
// GeoIP2/GeoLite2 City, Country and ASN databases (and traits' ASN, of the
// Enterprise and Insights layouts).
type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	Continent struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
	ASN    uint32 `maxminddb:"autonomous_system_number"`
	Traits struct {
		ASN uint32 `maxminddb:"autonomous_system_number"`
	} `maxminddb:"traits"`
}

// located is a site with coordinates, in radians.
type located struct {
	site     handlespace.Site
	lat, lon float64
}

// rules are the sites' mappings, by kind.
type rules struct {
	asn       map[uint32]handlespace.Site
	country   map[string]handlespace.Site
	continent map[string]handlespace.Site
	located   []located
}

// newRules indexes sites (name → Site); a country, continent or ASN given
// for two sites is an error naming both.
func newRules(sites map[string]Site) (*rules, error) {
	r := &rules{asn: map[uint32]handlespace.Site{}, country: map[string]handlespace.Site{}, continent: map[string]handlespace.Site{}}
	names := make([]string, 0, len(sites))
	for name := range sites {
		names = append(names, name)
	}
	slices.Sort(names)
	var errs []error
	claim := func(kind, key string, m map[string]handlespace.Site, s handlespace.Site) {
		if other, ok := m[key]; ok && other != s {
			errs = append(errs, fmt.Errorf("%s %s is given for two sites, %s and %s", kind, key, other, s))
			return
		}
		m[key] = s
	}
	for _, name := range names {
		s := handlespace.SiteOf(name)
		if s == 0 {
			errs = append(errs, fmt.Errorf("site %q: not a site name", name))
			continue
		}
		def := sites[name]
		for _, c := range def.Countries {
			claim("country", strings.ToUpper(c), r.country, s)
		}
		for _, c := range def.Continents {
			c = strings.ToUpper(c)
			if !slices.Contains(Continents, c) {
				errs = append(errs, fmt.Errorf("site %s: unknown continent %q; want one of %s", name, c, strings.Join(Continents, ", ")))
				continue
			}
			claim("continent", c, r.continent, s)
		}
		for _, a := range def.ASNs {
			if other, ok := r.asn[a]; ok && other != s {
				errs = append(errs, fmt.Errorf("AS%d is given for two sites, %s and %s", a, other, s))
				continue
			}
			r.asn[a] = s
		}
		if def.HasLocation {
			if !(def.Lat >= -90 && def.Lat <= 90 && def.Lon >= -180 && def.Lon <= 180) {
				errs = append(errs, fmt.Errorf("site %s: location %v, %v is not a latitude from -90 to 90 and a longitude from -180 to 180", name, def.Lat, def.Lon))
				continue
			}
			r.located = append(r.located, located{site: s, lat: def.Lat * math.Pi / 180, lon: def.Lon * math.Pi / 180})
		}
	}
	return r, errors.Join(errs...)
}

// siteOf returns the site of a record: of its ASN, its country, its
// continent, else the located site nearest to it; 0 for none.
func (r *rules) siteOf(rec *record) handlespace.Site {
	if asn := max(rec.ASN, rec.Traits.ASN); asn != 0 {
		if s := r.asn[asn]; s != 0 {
			return s
		}
	}
	cc := rec.Country.ISOCode
	if cc == "" {
		cc = rec.RegisteredCountry.ISOCode
	}
	if s := r.country[strings.ToUpper(cc)]; cc != "" && s != 0 {
		return s
	}
	if s := r.continent[strings.ToUpper(rec.Continent.Code)]; s != 0 {
		return s
	}
	if rec.Location.Latitude == nil || rec.Location.Longitude == nil {
		return 0
	}
	return r.nearest(*rec.Location.Latitude*math.Pi/180, *rec.Location.Longitude*math.Pi/180)
}

// nearest returns the located site nearest to (lat, lon), in radians, by
// great-circle distance (the first in name order of equally near ones); 0
// when no site is located.
func (r *rules) nearest(lat, lon float64) handlespace.Site {
	var best handlespace.Site
	bestD := math.Inf(1)
	for _, l := range r.located {
		if d := centralAngle(lat, lon, l.lat, l.lon); d < bestD {
			best, bestD = l.site, d
		}
	}
	return best
}

// centralAngle is the angle between two points of a sphere (radians), by
// the haversine formula: the great-circle distance over the radius.
func centralAngle(lat1, lon1, lat2, lon2 float64) float64 {
	s1 := math.Sin((lat2 - lat1) / 2)
	s2 := math.Sin((lon2 - lon1) / 2)
	h := s1*s1 + math.Cos(lat1)*math.Cos(lat2)*s2*s2
	return 2 * math.Asin(math.Sqrt(min(h, 1)))
}

// Load reads the MaxMind DB at path and returns the map of sites it and
// prefixes (the operator's prefix map; may be nil) give. Its errors name
// the path and say what is wrong with the file or with sites.
func Load(path string, sites map[string]Site, prefixes *handlespace.SiteMap) (*Map, error) {
	r, err := newRules(sites)
	if err != nil {
		return nil, fmt.Errorf("geosite: %s: %w", path, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("geosite: %w", err)
	}
	db, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, fmt.Errorf("geosite: %s: not a MaxMind DB: %w", path, err)
	}
	m := &Map{path: path, prefixes: prefixes, db: db, sites: map[uintptr]handlespace.Site{}}
	for res := range db.Networks() {
		if err := res.Err(); err != nil {
			return nil, fmt.Errorf("geosite: %s: reading its networks: %w", path, err)
		}
		off := res.Offset()
		if _, done := m.sites[off]; done {
			continue
		}
		var rec record
		if err := res.Decode(&rec); err != nil {
			return nil, fmt.Errorf("geosite: %s: the record of %s: %w", path, res.Prefix(), err)
		}
		s := r.siteOf(&rec)
		m.sites[off] = s
		if s != 0 {
			m.mapped++
		}
	}
	return m, nil
}

// Path returns the path of the map's database.
func (m *Map) Path() string { return m.path }

// Len returns the number of prefixes of the prefix map plus the number of
// the database's records that map to a site: 0 when the map finds no site
// for anyone.
func (m *Map) Len() int {
	if m == nil {
		return 0
	}
	return m.prefixes.Len() + m.mapped
}

// Records returns how many distinct records the database has, and how
// many of them map to a site.
func (m *Map) Records() (records, mapped int) { return len(m.sites), m.mapped }

// Lookup returns the site of the client, as handlespace.SiteMap.Lookup
// does (its EDNS Client Subnet, else its source address), and the scope:
// the length of the prefix over which the answer is the same (the
// matching prefix or record's network), at most the subnet's length.
func (m *Map) Lookup(c *handlespace.Client) (site handlespace.Site, scope int) {
	if m == nil || c == nil {
		return 0, 0
	}
	site, pscope := m.prefixes.Lookup(c)
	if site != 0 {
		return site, pscope
	}
	a, lim := c.Addr.Unmap(), 128
	if c.Subnet.IsValid() {
		a, lim = c.Subnet.Addr(), c.Subnet.Bits()
		if a.Is4In6() {
			a, lim = a.Unmap(), max(lim-96, 0)
		}
	}
	if !a.IsValid() {
		return 0, 0
	}
	lim = min(lim, a.BitLen())
	res := m.db.Lookup(a)
	if res.Err() != nil {
		return 0, pscope // an IPv6 address and an IPv4 database: the same for all
	}
	bits := res.Prefix().Bits()
	if res.Found() {
		site = m.sites[res.Offset()]
	}
	return site, min(max(pscope, bits), lim)
}
