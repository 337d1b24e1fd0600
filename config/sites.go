package config

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/poolnsd/poolnsd/handlespace"
)

// SitesDoc documents the "sites" map in poolnsd config's output.
const SitesDoc = "the site map of the nearest policy: site name → list of prefixes (IPv4, IPv6), or a section of prefixes, countries, continents, asns and location [lat, lon] (the last four with sites_mmdb); a client (its EDNS Client Subnet, else its source address) is at the site of its longest matching prefix, else of its record in sites_mmdb (AS, then country, then continent, else the nearest located site); config file only; SIGHUP applies a change"

// decodeSites reads the "sites" map of a config file: site name → list of
// prefixes, as written (Validate parses them). Its errors name the site:
// sites.fra.
func decodeSites(file string, raw any) (map[string][]string, map[string]SiteGeo, error) {
	if raw == nil {
		return nil, nil, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("%s: sites: want a map of site names to lists of prefixes (fra: [\"10.1.0.0/16\"]), not %s", file, show(raw))
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	var errs []error
	out := make(map[string][]string, len(m))
	var geo map[string]SiteGeo
	for _, name := range names {
		at := "sites." + name
		switch v := m[name].(type) {
		case []any:
			list := make([]string, 0, len(v))
			for i, e := range v {
				s, ok := e.(string)
				if !ok {
					errs = append(errs, fmt.Errorf("%s: %s[%d]: want a prefix (\"10.1.0.0/16\"), not %s", file, at, i, show(e)))
					continue
				}
				list = append(list, s)
			}
			out[name] = list
		case nil:
			out[name] = []string{}
		case map[string]any: // sites_geo.go
			prefixes, g, err := decodeSiteGeo(file, at, v)
			errs = append(errs, err)
			out[name] = prefixes
			if geo == nil {
				geo = map[string]SiteGeo{}
			}
			geo[name] = g
		default:
			errs = append(errs, fmt.Errorf("%s: %s: want a list of prefixes ([\"10.1.0.0/16\"]) or a section (prefixes, countries, continents, asns, location), not %s", file, at, show(v)))
		}
	}
	return out, geo, errors.Join(errs...)
}

// validateSites checks the site map, reporting through bad with the key
// path: sites.fra[1].
func validateSites(sites map[string][]string, bad func(key, format string, a ...any)) {
	names := make([]string, 0, len(sites))
	for name := range sites {
		names = append(names, name)
	}
	sort.Strings(names)
	lower := map[string]string{}
	seen := map[netip.Prefix]string{} // a prefix → the key that gave it
	for _, name := range names {
		at := "sites." + name
		switch l := strings.ToLower(name); {
		case strings.TrimSpace(name) == "":
			bad(at, "empty site name")
			continue
		case lower[l] != "":
			bad(at, "the same site as sites.%s (site names are case-insensitive)", lower[l])
			continue
		default:
			lower[l] = name
		}
		for i, s := range sites[name] {
			key := fmt.Sprintf("%s[%d]", at, i)
			p, err := netip.ParsePrefix(strings.TrimSpace(s))
			if err != nil {
				bad(key, "not a prefix: %q; want an address/length such as 10.1.0.0/16 or 2001:db8:1::/48", s)
				continue
			}
			if p.Addr().Zone() != "" {
				bad(key, "%q has a zone; want a prefix without one", s)
				continue
			}
			if m := p.Masked(); m != p {
				bad(key, "%q has bits set past its length; did you mean %s?", s, m)
				continue
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96) // the same as the IPv4 prefix
			}
			switch other, dup := seen[p]; {
			case dup && strings.HasPrefix(other, at+"["):
				// The same prefix twice for one site: harmless.
			case dup:
				bad(key, "%s is also %s: a prefix belongs to one site", p, other)
			default:
				seen[p] = key
			}
		}
	}
}

// SiteMap returns the site map of the "sites" key (nil when it is empty);
// Validate checked it.
func (c Config) SiteMap() *handlespace.SiteMap {
	if len(c.Sites) == 0 {
		return nil
	}
	in := make(map[string][]netip.Prefix, len(c.Sites))
	for name, list := range c.Sites {
		ps := make([]netip.Prefix, 0, len(list))
		for _, s := range list {
			if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil {
				ps = append(ps, p)
			}
		}
		in[name] = slices.Clip(ps)
	}
	m, err := handlespace.NewSiteMap(in)
	if err != nil {
		return nil // Validate refuses such a map
	}
	return m
}
