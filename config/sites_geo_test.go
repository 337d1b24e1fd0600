package config

import (
	"reflect"
	"slices"
	"testing"
)

// TestSitesLongForm: a site as a section, for sites_mmdb.
func TestSitesLongForm(t *testing.T) {
	file := `
sites_mmdb: /var/lib/GeoIP/GeoLite2-City.mmdb
sites:
  fra:
    prefixes: ["10.1.0.0/16"]
    countries: [de, AT]
    continents: [eu]
    asns: [3320, 64500]
    location: [50.11, 8.68]
  ams: ["10.2.0.0/16"]
  sin:
    location: [1, 103.8]
`
	c, _, err := load(t, file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.SitesMMDB != "/var/lib/GeoIP/GeoLite2-City.mmdb" || !slices.Equal(c.Sites["fra"], []string{"10.1.0.0/16"}) ||
		!slices.Equal(c.Sites["ams"], []string{"10.2.0.0/16"}) || len(c.Sites["sin"]) != 0 {
		t.Fatalf("sites_mmdb %q, sites %v", c.SitesMMDB, c.Sites)
	}
	want := map[string]SiteGeo{
		"fra": {Countries: []string{"DE", "AT"}, Continents: []string{"EU"}, ASNs: []uint32{3320, 64500}, Location: []float64{50.11, 8.68}},
		"sin": {Location: []float64{1, 103.8}},
	}
	if !reflect.DeepEqual(c.SiteGeo, want) {
		t.Errorf("SiteGeo\n got %+v\nwant %+v", c.SiteGeo, want)
	}
	if m := c.SiteMap(); m.Len() != 2 {
		t.Errorf("prefix map of %d prefixes, want 2", m.Len())
	}
}

func TestSitesLongFormErrors(t *testing.T) {
	const mmdb = "sites_mmdb: x.mmdb\n"
	for _, c := range []struct {
		name, file string
		want       []string
	}{
		{"unknown key", mmdb + "sites:\n  fra:\n    country: [DE]\n", []string{
			`F: sites.fra.country: unknown key; want prefixes, countries, continents, asns or location`}},
		{"not a list", mmdb + "sites:\n  fra:\n    countries: DE\n", []string{
			`F: sites.fra.countries: want a list, not "DE"`}},
		{"bad country", mmdb + "sites:\n  fra:\n    countries: [DE, GER]\n", []string{
			`sites.fra.countries[1]: "GER" is not a country code; want two letters (ISO 3166-1) such as DE`}},
		{"bad continent", mmdb + "sites:\n  fra:\n    continents: [Europe]\n", []string{
			`sites.fra.continents[0]: "EUROPE" is not a continent code; want one of AF, AN, AS, EU, NA, OC, SA`}},
		{"bad asn", mmdb + "sites:\n  fra:\n    asns: [0, 1.5, x]\n", []string{
			`F: sites.fra.asns[0]: want an AS number from 1 to 4294967295, not 0`,
			`F: sites.fra.asns[1]: want an AS number from 1 to 4294967295, not 1.5`,
			`F: sites.fra.asns[2]: want an AS number from 1 to 4294967295, not "x"`}},
		{"bad location", mmdb + "sites:\n  fra:\n    location: [95, 8]\n", []string{
			`F: sites.fra.location: want [latitude, longitude] in degrees, from -90 to 90 and -180 to 180, such as [50.11, 8.68]`}},
		{"short location", mmdb + "sites:\n  fra:\n    location: [50]\n", []string{
			`F: sites.fra.location: want [latitude, longitude] in degrees, from -90 to 90 and -180 to 180, such as [50.11, 8.68]`}},
		{"a country for two sites", mmdb + "sites:\n  fra:\n    countries: [DE]\n  ams:\n    countries: [de]\n", []string{
			`sites.fra.countries[0]: country DE is also sites.ams.countries[0]: it belongs to one site`}},
		{"an AS for two sites", mmdb + "sites:\n  fra:\n    asns: [1]\n  ams:\n    asns: [1]\n", []string{
			`sites.fra.asns[0]: AS1 is also sites.ams.asns[0]: it belongs to one site`}},
		{"no database", "sites:\n  fra:\n    countries: [DE]\n", []string{
			`sites.fra: countries, continents, asns and location need a database; want sites_mmdb: PATH too`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := loadErrors(t, c.file); !slices.Equal(got, c.want) {
				t.Errorf("errors\n got %q\nwant %q", got, c.want)
			}
		})
	}
}
