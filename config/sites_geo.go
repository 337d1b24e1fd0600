package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// SiteGeo is what the long form of a site in the "sites" map says besides
// its prefixes: the clients it serves by their record in sites_mmdb, and
// where it is.
type SiteGeo struct {
	Countries  []string  // ISO 3166-1 alpha-2, upper case
	Continents []string  // AF, AN, AS, EU, NA, OC, SA
	ASNs       []uint32  // autonomous system numbers
	Location   []float64 // [latitude, longitude] in degrees, or none
}

// continents are the continent codes of MaxMind's databases.
var continents = []string{"AF", "AN", "AS", "EU", "NA", "OC", "SA"}

var countryRE = regexp.MustCompile(`^[A-Za-z]{2}$`)

// decodeSiteGeo reads the long form of site at (sites.NAME): a section of
// prefixes, countries, continents, asns and location. Its errors name the
// key: sites.fra.countries[1].
func decodeSiteGeo(file, at string, m map[string]any) ([]string, SiteGeo, error) {
	var g SiteGeo
	prefixes := []string{}
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: "+format, append([]any{file, key}, a...)...))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		key := at + "." + k
		list, ok := m[k].([]any)
		if !ok && m[k] != nil {
			bad(key, "want a list, not %s", show(m[k]))
			continue
		}
		switch k {
		case "prefixes", "countries", "continents":
			for i, e := range list {
				s, ok := e.(string)
				if !ok {
					bad(fmt.Sprintf("%s[%d]", key, i), "want a string, not %s", show(e))
					continue
				}
				switch k {
				case "prefixes":
					prefixes = append(prefixes, s)
				case "countries":
					g.Countries = append(g.Countries, strings.ToUpper(s))
				default:
					g.Continents = append(g.Continents, strings.ToUpper(s))
				}
			}
		case "asns":
			for i, e := range list {
				n, ok := wholeNumber(e)
				if !ok || n < 1 || n > math.MaxUint32 {
					bad(fmt.Sprintf("%s[%d]", key, i), "want an AS number from 1 to %d, not %s", uint32(math.MaxUint32), show(e))
					continue
				}
				g.ASNs = append(g.ASNs, uint32(n))
			}
		case "location":
			var ll []float64
			for _, e := range list {
				if f, ok := number(e); ok {
					ll = append(ll, f)
				}
			}
			if len(ll) != 2 || len(list) != 2 || !(ll[0] >= -90 && ll[0] <= 90 && ll[1] >= -180 && ll[1] <= 180) {
				bad(key, "want [latitude, longitude] in degrees, from -90 to 90 and -180 to 180, such as [50.11, 8.68]")
				continue
			}
			g.Location = ll
		default:
			bad(key, "unknown key; want prefixes, countries, continents, asns or location")
		}
	}
	return prefixes, g, errors.Join(errs...)
}

// number reads a YAML number.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// wholeNumber reads a YAML whole number.
func wholeNumber(v any) (int64, bool) {
	f, ok := number(v)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// validateSiteGeo checks what the sites say for sites_mmdb (mmdb): country
// codes and continents, and that no country, continent or AS belongs to
// two sites; a site that says any of it needs sites_mmdb.
func validateSiteGeo(geo map[string]SiteGeo, mmdb string, bad func(key, format string, a ...any)) {
	names := make([]string, 0, len(geo))
	for name := range geo {
		names = append(names, name)
	}
	sort.Strings(names)
	owner := map[string]string{} // "country DE" → the key that gave it
	claim := func(what, key string) {
		if other, dup := owner[what]; dup && !strings.HasPrefix(other, strings.TrimRight(key, "[0123456789]")) {
			bad(key, "%s is also %s: it belongs to one site", what, other)
			return
		}
		owner[what] = key
	}
	for _, name := range names {
		g, at := geo[name], "sites."+name
		if mmdb == "" && (len(g.Countries)+len(g.Continents)+len(g.ASNs)+len(g.Location)) > 0 {
			bad(at, "countries, continents, asns and location need a database; want sites_mmdb: PATH too")
		}
		for i, c := range g.Countries {
			key := fmt.Sprintf("%s.countries[%d]", at, i)
			if !countryRE.MatchString(c) {
				bad(key, "%q is not a country code; want two letters (ISO 3166-1) such as DE", c)
				continue
			}
			claim("country "+c, key)
		}
		for i, c := range g.Continents {
			key := fmt.Sprintf("%s.continents[%d]", at, i)
			if !slices.Contains(continents, c) {
				bad(key, "%q is not a continent code; want one of %s", c, strings.Join(continents, ", "))
				continue
			}
			claim("continent "+c, key)
		}
		for i, a := range g.ASNs {
			claim(fmt.Sprintf("AS%d", a), fmt.Sprintf("%s.asns[%d]", at, i))
		}
	}
}
