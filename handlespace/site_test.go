package handlespace

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

func pfx(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

func TestSiteOf(t *testing.T) {
	if SiteOf("") != 0 || Site(0).String() != "" {
		t.Fatal("no site is not 0")
	}
	a, b := SiteOf("Fra-Test"), SiteOf("fra-test")
	if a == 0 || a != b || a.String() != "fra-test" || SiteOf("ams-test") == a {
		t.Errorf("SiteOf: %d %d %q", a, b, a.String())
	}
}

// TestSiteNameOf: an element's site keeps its case, is one number per
// name, and gives the case-insensitive Site nearest compares.
func TestSiteNameOf(t *testing.T) {
	if SiteNameOf("") != 0 || SiteName(0).String() != "" || SiteName(0).Site() != 0 {
		t.Fatal("no site is not 0")
	}
	a, b, c := SiteNameOf("Fra-Name"), SiteNameOf(strings.Clone("Fra-Name")), SiteNameOf("fra-name")
	if a == 0 || a != b || a == c || a.String() != "Fra-Name" || c.String() != "fra-name" {
		t.Errorf("SiteNameOf: %d %d %d, %q %q", a, b, c, a.String(), c.String())
	}
	if a.Site() == 0 || a.Site() != c.Site() || a.Site() != SiteOf("FRA-NAME") {
		t.Errorf("sites %d %d, want %d", a.Site(), c.Site(), SiteOf("fra-name"))
	}
}

// TestSiteMapLookup: longest prefix, IPv4 and IPv6, IPv4-mapped addresses
// and prefixes, the ECS subnet before the source address (only prefixes
// no longer than the subnet), and the scope: the prefix over which the
// answer is the same, at most the subnet's length.
func TestSiteMapLookup(t *testing.T) {
	m, err := NewSiteMap(map[string][]netip.Prefix{
		"fra": pfx("10.1.0.0/16", "2001:db8:1::/48", "10.9.9.9/32"),
		"ams": pfx("10.1.2.0/24", "10.2.0.0/16", "::ffff:10.3.0.0/112", "2001:db8:1:2::/64"),
		"any": pfx("0.0.0.0/0"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != 8 {
		t.Fatalf("Len %d, want 8", m.Len())
	}
	for _, c := range []struct {
		addr, subnet string
		site         string
		scope        int // with a subnet
	}{
		{"10.1.9.9", "", "fra", 0},
		{"10.1.2.3", "", "ams", 0}, // the /24 within fra's /16
		{"10.2.200.1", "", "ams", 0},
		{"10.3.0.7", "", "ams", 0}, // the IPv4-mapped prefix is the IPv4 one
		{"::ffff:10.1.9.9", "", "fra", 0},
		{"::ffff:10.1.2.3", "", "ams", 0},
		{"192.0.2.1", "", "any", 0},
		{"2001:db8:1:5::1", "", "fra", 0},
		{"2001:db8:1:2::1", "", "ams", 0},
		{"2001:db8:2::1", "", "", 0},
		// The subnet wins over the address.
		{"10.2.0.1", "10.1.7.0/24", "fra", 22}, // fra all over 10.1.4.0/22
		{"10.1.7.1", "10.2.0.0/16", "ams", 16},
		{"10.1.2.3", "2001:db8:1:2::/64", "ams", 64},
		{"10.1.2.3", "2001:db8:1::/56", "fra", 56}, // ams's /64 lies inside: the answer holds only for the /56
		{"10.1.2.3", "2001:db8:1::/40", "", 40},    // too coarse for fra's /48
		{"10.1.2.3", "2001:db8:3::/48", "", 47},    // no site in 2001:db8:2::/47
		{"10.1.2.3", "10.1.0.0/16", "fra", 16},     // ams's /24 is longer than what is known
		{"10.1.2.3", "10.1.2.0/24", "ams", 24},
		{"10.1.2.3", "10.1.3.0/24", "fra", 24},
		{"10.1.2.3", "10.1.128.0/17", "fra", 17}, // fra's /16, nothing longer in its upper half
		{"10.1.2.3", "10.1.3.0/25", "fra", 24},   // fra all over 10.1.3.0/24
		{"10.1.2.3", "10.9.9.9/32", "fra", 32},
		{"10.1.2.3", "10.9.9.8/32", "any", 32},
		{"10.1.2.3", "192.0.2.0/24", "any", 1}, // any's /0, no other prefix in 128.0.0.0/1
		{"10.1.2.3", "0.0.0.0/0", "any", 0},
	} {
		cl := &Client{}
		if c.addr != "" {
			cl.Addr = netip.MustParseAddr(c.addr)
		}
		if c.subnet != "" {
			cl.Subnet = netip.MustParsePrefix(c.subnet)
		}
		s, scope := m.Lookup(cl)
		if s.String() != c.site || (c.subnet != "" && scope != c.scope) {
			t.Errorf("addr %s subnet %s: site %q scope %d, want %q %d", c.addr, c.subnet, s, scope, c.site, c.scope)
		}
	}
	var nilMap *SiteMap
	if s, _ := nilMap.Lookup(&Client{Addr: netip.MustParseAddr("10.1.2.3")}); s != 0 || nilMap.Len() != 0 {
		t.Errorf("nil map: site %d", s)
	}
	if s, sc := m.Lookup(&Client{}); s != 0 || sc != 0 {
		t.Errorf("no address: %d %d", s, sc)
	}
}

func TestSiteMapErrors(t *testing.T) {
	_, err := NewSiteMap(map[string][]netip.Prefix{"fra": pfx("10.1.0.0/16"), "ams": pfx("10.1.0.0/16", "10.1.0.0/17")})
	if err == nil || !strings.Contains(err.Error(), "prefix 10.1.0.0/16 is given for two sites, ams and fra") {
		t.Errorf("err %v", err)
	}
	if _, err := NewSiteMap(map[string][]netip.Prefix{"fra": pfx("10.1.0.0/16", "10.1.0.0/16")}); err != nil {
		t.Errorf("a prefix twice for one site: %v", err)
	}
}

// TestSiteMapQuick compares lookups against a naive longest-prefix match
// and checks the scope: at most the subnet's length, and every address in
// the scope's prefix maps alike (sampled). (The scope may be a bit longer
// than it must: a prefix whose two halves map alike is not looked into.)
func TestSiteMapQuick(t *testing.T) {
	seed := polSeed(t)
	r := rand.New(rand.NewPCG(seed, 9))
	names := []string{"q-a", "q-b", "q-c"}
	for round := range 30 {
		in := map[string][]netip.Prefix{}
		var all []struct {
			p    netip.Prefix
			site string
		}
		seen := map[netip.Prefix]bool{}
		for range 1 + r.IntN(40) {
			// Addresses in 10.0.0.0/12, so that prefixes meet.
			a := netip.AddrFrom4([4]byte{10, byte(r.IntN(16)), byte(r.IntN(4)), byte(r.IntN(256))})
			p := netip.PrefixFrom(a, 8+r.IntN(25)).Masked()
			if seen[p] {
				continue
			}
			seen[p] = true
			n := names[r.IntN(len(names))]
			in[n] = append(in[n], p)
			all = append(all, struct {
				p    netip.Prefix
				site string
			}{p, n})
		}
		m, err := NewSiteMap(in)
		if err != nil {
			t.Fatal(err)
		}
		naive := func(a netip.Addr, lim int) string {
			best, bl := "", -1
			for _, x := range all {
				if x.p.Bits() <= lim && x.p.Bits() > bl && x.p.Contains(a) {
					best, bl = x.site, x.p.Bits()
				}
			}
			return best
		}
		for range 200 {
			a := netip.AddrFrom4([4]byte{10, byte(r.IntN(20)), byte(r.IntN(5)), byte(r.IntN(256))})
			lim := 32
			cl := &Client{Addr: a}
			if r.IntN(2) == 0 {
				lim = r.IntN(33)
				cl.Subnet = netip.PrefixFrom(a, lim).Masked()
				a = cl.Subnet.Addr()
			}
			s, scope := m.Lookup(cl)
			if want := naive(a, lim); s.String() != want {
				t.Fatalf("seed %d round %d: %s/%d: site %q, want %q", seed, round, a, lim, s, want)
			}
			if scope > lim {
				t.Fatalf("%s/%d: scope %d beyond the subnet", a, lim, scope)
			}
			block := netip.PrefixFrom(a, scope).Masked()
			for range 20 {
				// A random address of the block, as known to lim bits.
				b := block.Addr().As4()
				v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
				if scope < 32 {
					v |= r.Uint32() & (1<<(32-scope) - 1)
				}
				x := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
				xl := netip.PrefixFrom(x, lim).Masked().Addr()
				if got := naive(xl, lim); got != s.String() && scope < lim {
					t.Fatalf("seed %d: %s/%d: scope %d, but %s maps to %q, not %q", seed, a, lim, scope, x, got, s)
				}
			}
		}
	}
}

// TestSiteNameForFull: once the process holds as many site names as it
// may, a registrant's new name is refused (ErrSitesFull) and counted in
// InternStats, where SiteNameOf gives no site; names in use still work.
func TestSiteNameForFull(t *testing.T) {
	limitSites(t, 2)
	a, errA := SiteNameFor("One")
	b, errB := SiteNameFor("two")
	if errA != nil || errB != nil || a == 0 || b == 0 || a.Site() == 0 {
		t.Fatalf("two names in a table of two: %d %v, %d %v", a, errA, b, errB)
	}
	if s, err := SiteNameFor("three"); !errors.Is(err, ErrSitesFull) || s != 0 {
		t.Errorf("a third name: %d, %v; want ErrSitesFull", s, err)
	}
	if s, err := SiteNameFor("One"); err != nil || s != a {
		t.Errorf("a name in use: %d, %v; want %d", s, err, a)
	}
	if s, err := SiteNameFor(""); err != nil || s != 0 {
		t.Errorf("no site: %d, %v", s, err)
	}
	if SiteNameOf("four") != 0 {
		t.Error("SiteNameOf gave a full table's name a number")
	}
	var got *InternStat
	for _, st := range InternStats() {
		if st.Table == "site_names" {
			got = &st
		}
	}
	if got == nil || got.Values != 2 || got.Max != 2 || got.Refused != 2 {
		t.Errorf("site_names stats %+v, want 2 of 2, 2 refused", got)
	}
}
