package geosite

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/poolnsd/poolnsd/geosite/geositetest"
	"github.com/poolnsd/poolnsd/handlespace"
)

// testRecords are the networks of the test database and their records,
// in GeoIP2 City / ASN layout.
var testRecords = []struct {
	network string
	rec     mmdbtype.Map
}{
	// Frankfurt: country DE.
	{"198.51.100.0/25", city("DE", "EU", 50.11, 8.68, 0)},
	// Paris: FR, which no site claims; nearer to Amsterdam than to
	// Frankfurt (430 km against 480 km).
	{"198.51.100.128/25", city("FR", "EU", 48.86, 2.35, 0)},
	// An AS of ams's inside Germany: the AS wins over the country.
	{"203.0.113.0/24", city("DE", "EU", 50.11, 8.68, 64500)},
	// North America: the continent of iad.
	{"192.0.2.0/24", city("US", "NA", 40.71, -74.0, 0)},
	// Only a location, near Singapore.
	{"198.18.0.0/16", city("", "", 1.29, 103.85, 0)},
	// IPv6: the Netherlands.
	{"2001:db8:1::/48", city("NL", "EU", 52.37, 4.9, 0)},
	// A record that maps to nothing (no site located for it).
	{"2001:db8:2::/48", mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String("JP")}}},
}

// city is a record with a country, a continent, a location and an ASN
// (each left out when zero).
func city(cc, cont string, lat, lon float64, asn uint32) mmdbtype.Map {
	m := mmdbtype.Map{"location": mmdbtype.Map{"latitude": mmdbtype.Float64(lat), "longitude": mmdbtype.Float64(lon)}}
	if cc != "" {
		m["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(cc)}
	}
	if cont != "" {
		m["continent"] = mmdbtype.Map{"code": mmdbtype.String(cont)}
	}
	if asn != 0 {
		m["autonomous_system_number"] = mmdbtype.Uint32(asn)
	}
	return m
}

// testSites are the sites of the tests.
var testSites = map[string]Site{
	"fra": {Countries: []string{"de"}, Lat: 50.11, Lon: 8.68, HasLocation: true},
	"ams": {Countries: []string{"NL"}, ASNs: []uint32{64500}, Lat: 52.37, Lon: 4.9, HasLocation: true},
	"iad": {Continents: []string{"NA"}, Lat: 38.9, Lon: -77.0, HasLocation: true},
	"sin": {Lat: 1.35, Lon: 103.82, HasLocation: true},
}

// writeDB writes a MaxMind DB of the records to a file of the test's and
// returns its path.
func writeDB(t testing.TB, records ...struct {
	network string
	rec     mmdbtype.Map
}) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "poolnsd-Test-City", RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		_, n, err := net.ParseCIDR(r.network)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, r.rec); err != nil {
			t.Fatalf("insert %s: %v", r.network, err)
		}
	}
	path := filepath.Join(t.TempDir(), "test.mmdb")
	geositetest.Write(t, tree, path)
	return path
}

func site(name string) handlespace.Site { return handlespace.SiteOf(name) }

// TestLookup: the site of each kind of client, and the scope.
func TestLookup(t *testing.T) {
	prefixes, err := handlespace.NewSiteMap(map[string][]netip.Prefix{"ams": {netip.MustParsePrefix("198.51.100.64/26")}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(writeDB(t, testRecords...), testSites, prefixes)
	if err != nil {
		t.Fatal(err)
	}
	if recs, mapped := m.Records(); recs != len(testRecords) || mapped != len(testRecords)-1 {
		t.Errorf("%d records, %d mapped; want %d, %d", recs, mapped, len(testRecords), len(testRecords)-1)
	}
	for _, c := range []struct {
		addr, subnet string
		site         string
		scope        int
	}{
		{"198.51.100.1", "", "fra", 26},               // country (the prefix map says no site over /26)
		{"198.51.100.65", "", "ams", 26},              // the operator's prefix wins
		{"198.51.100.200", "", "ams", 25},             // no rule: nearest by location
		{"203.0.113.9", "", "ams", 24},                // ASN before country
		{"192.0.2.7", "", "iad", 24},                  // continent
		{"198.18.3.4", "", "sin", 16},                 // location alone
		{"2001:db8:1::5", "", "ams", 48},              // IPv6
		{"2001:db8:2::5", "", "", 48},                 // a record of no site
		{"100.64.0.1", "", "", 1},                     // no record: the empty network 0.0.0.0/1
		{"192.0.2.200", "198.51.100.0/24", "fra", 24}, // ECS: the subnet, scope at most its length
		{"192.0.2.200", "198.51.100.0/28", "fra", 26},
		{"192.0.2.200", "::ffff:198.51.100.0/120", "fra", 24}, // IPv4-mapped subnet
		{"192.0.2.200", "2001:db8:1::/56", "ams", 48},
	} {
		cl := &handlespace.Client{Addr: netip.MustParseAddr(c.addr)}
		if c.subnet != "" {
			cl.Subnet = netip.MustParsePrefix(c.subnet)
		}
		s, scope := m.Lookup(cl)
		if s != site(c.site) || scope != c.scope {
			t.Errorf("%s %s: site %q scope %d; want %q %d", c.addr, c.subnet, s, scope, c.site, c.scope)
		}
	}
	if m.Len() != 1+len(testRecords)-1 {
		t.Errorf("Len %d", m.Len())
	}
}

// TestDistance: great-circle distances between known places.
func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b   [2]float64
		km, at float64
	}{
		{[2]float64{48.86, 2.35}, [2]float64{52.37, 4.9}, 430, 10},    // Paris–Amsterdam
		{[2]float64{48.86, 2.35}, [2]float64{50.11, 8.68}, 478, 10},   // Paris–Frankfurt
		{[2]float64{51.5, -0.13}, [2]float64{40.71, -74.0}, 5570, 30}, // London–New York
		{[2]float64{0, 0}, [2]float64{0, 180}, 20015, 5},              // half the equator
	} {
		if d := Distance(c.a[0], c.a[1], c.b[0], c.b[1]); d < c.km-c.at || d > c.km+c.at {
			t.Errorf("%v–%v: %.0f km, want %.0f ± %.0f", c.a, c.b, d, c.km, c.at)
		}
	}
}

// TestLoadErrors: a bad file or bad sites give an error that names the
// path and the cause.
func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.mmdb")
	os.WriteFile(junk, []byte("not a database at all"), 0o644)
	good := writeDB(t, testRecords...)
	data, _ := os.ReadFile(good)
	cut := filepath.Join(dir, "cut.mmdb")
	os.WriteFile(cut, data[:len(data)/2], 0o644)
	for _, c := range []struct {
		path  string
		sites map[string]Site
		want  string
	}{
		{filepath.Join(dir, "missing.mmdb"), testSites, "missing.mmdb: no such file or directory"},
		{junk, testSites, junk + ": not a MaxMind DB"},
		{cut, testSites, cut + ": "},
		{good, map[string]Site{"a": {Countries: []string{"DE"}}, "b": {Countries: []string{"de"}}}, good + ": country DE is given for two sites, a and b"},
		{good, map[string]Site{"a": {ASNs: []uint32{1}}, "b": {ASNs: []uint32{1}}}, "AS1 is given for two sites, a and b"},
		{good, map[string]Site{"a": {Continents: []string{"XX"}}}, `site a: unknown continent "XX"`},
		{good, map[string]Site{"a": {Lat: 91, HasLocation: true}}, "site a: location 91, 0 is not a latitude"},
	} {
		m, err := Load(c.path, c.sites, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "geosite: ") {
			t.Errorf("Load(%s): %v, %v; want an error holding %q", c.path, m, err, c.want)
		}
	}
}

// TestLookupAllocs: a lookup allocates nothing.
func TestLookupAllocs(t *testing.T) {
	m, err := Load(writeDB(t, testRecords...), testSites, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &handlespace.Client{Addr: netip.MustParseAddr("198.51.100.200"), Subnet: netip.MustParsePrefix("198.51.100.128/25")}
	if n := testing.AllocsPerRun(1000, func() { m.Lookup(c) }); n != 0 {
		t.Errorf("%.1f allocations per lookup, want 0", n)
	}
}

// BenchmarkLookup: one lookup in the test database, and in one of 100 000
// networks.
func BenchmarkLookup(b *testing.B) {
	small, err := Load(writeDB(b, testRecords...), testSites, nil)
	if err != nil {
		b.Fatal(err)
	}
	var many []struct {
		network string
		rec     mmdbtype.Map
	}
	countries := []string{"DE", "NL", "FR", "US", "JP", "BR", "IN", "ZA"}
	for i := 0; i < 100000; i++ {
		a := netip.AddrFrom4([4]byte{byte(1 + i>>16), byte(i >> 8), byte(i), 0})
		many = append(many, struct {
			network string
			rec     mmdbtype.Map
		}{netip.PrefixFrom(a, 24).String(), city(countries[i%len(countries)], "EU", float64(i%90), float64(i%180), 0)})
	}
	big, err := Load(writeDB(b, many...), testSites, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		m    *Map
		addr string
	}{{"small", small, "198.51.100.200"}, {"n=100000", big, "1.128.7.9"}} {
		cl := &handlespace.Client{Addr: netip.MustParseAddr(c.addr)}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.m.Lookup(cl)
			}
		})
	}
}
