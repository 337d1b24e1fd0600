package config

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
)

func TestSitesKey(t *testing.T) {
	file := `
sites:
  fra: ["10.1.0.0/16", "2001:db8:1::/48"]
  AMS: ["10.2.0.0/16", "10.1.2.0/24", "::ffff:10.3.0.0/112"]
`
	c, _, err := load(t, file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Sites) != 2 || !slices.Equal(c.Sites["fra"], []string{"10.1.0.0/16", "2001:db8:1::/48"}) {
		t.Fatalf("Sites = %v", c.Sites)
	}
	m := c.SiteMap()
	if m.Len() != 5 {
		t.Fatalf("site map of %d prefixes, want 5", m.Len())
	}
	for addr, want := range map[string]string{
		"10.1.9.9": "fra", "10.1.2.3": "ams", "2001:db8:1::5": "fra", "10.3.4.5": "ams", "10.4.0.1": "",
	} {
		if s, _ := m.Lookup(&handlespace.Client{Addr: netip.MustParseAddr(addr)}); s.String() != want {
			t.Errorf("%s: site %q, want %q", addr, s, want)
		}
	}
	if c, _, err := load(t, "", nil); err != nil || c.Sites != nil || c.SiteMap() != nil {
		t.Errorf("no sites key: %v %v", c.Sites, err)
	}
}

func TestSitesErrors(t *testing.T) {
	for _, c := range []struct {
		name, file string
		want       []string // lines, "F" stands for the file's path
	}{
		{"not a prefix", "sites:\n  fra: [10.1.0.0/16, 10.1.0.0/33, nonsense]\n", []string{
			`sites.fra[1]: not a prefix: "10.1.0.0/33"; want an address/length such as 10.1.0.0/16 or 2001:db8:1::/48`,
			`sites.fra[2]: not a prefix: "nonsense"; want an address/length such as 10.1.0.0/16 or 2001:db8:1::/48`,
		}},
		{"host bits", "sites:\n  fra: [10.1.2.3/16]\n", []string{
			`sites.fra[0]: "10.1.2.3/16" has bits set past its length; did you mean 10.1.0.0/16?`,
		}},
		{"two sites, one prefix", "sites:\n  fra: [10.1.0.0/16]\n  ams: [10.2.0.0/16, 10.1.0.0/16]\n", []string{
			`sites.fra[0]: 10.1.0.0/16 is also sites.ams[1]: a prefix belongs to one site`,
		}},
		{"two sites, one prefix, mapped", "sites:\n  fra: [10.1.0.0/16]\n  ams: ['::ffff:10.1.0.0/112']\n", []string{
			`sites.fra[0]: 10.1.0.0/16 is also sites.ams[0]: a prefix belongs to one site`,
		}},
		{"not a list", "sites:\n  fra: 10.1.0.0/16\n", []string{
			`F: sites.fra: want a list of prefixes (["10.1.0.0/16"]) or a section (prefixes, countries, continents, asns, location), not "10.1.0.0/16"`,
		}},
		{"not a map", "sites: [10.1.0.0/16]\n", []string{
			`F: sites: want a map of site names to lists of prefixes (fra: ["10.1.0.0/16"]), not a list`,
		}},
		{"not a string", "sites:\n  fra: [{a: b}]\n", []string{
			`F: sites.fra[0]: want a prefix ("10.1.0.0/16"), not a section`,
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := loadErrors(t, c.file); !slices.Equal(got, c.want) {
				t.Errorf("errors\n got %q\nwant %q", got, c.want)
			}
		})
	}
}
