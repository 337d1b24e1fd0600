package dnsfront

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/nettest"
)

// nearPool is a nearest pool whose elements are at sites fra, ams and lo
// (and one at none, the nearest by RTT), one A answer per query.
func nearPool() handlespace.PoolDef {
	spec := handlespace.DefaultPoolSpec()
	spec.Policy, spec.Answers, spec.Service = "nearest", 1, "_http._tcp"
	mk := func(label, addr, site string, rtt time.Duration) *handlespace.Element {
		e := elem(label, addr, 80, 1)
		e.Site, e.RTT = handlespace.SiteNameOf(site), rtt
		return e
	}
	return handlespace.PoolDef{Handle: "near", Spec: spec, Elements: []*handlespace.Element{
		mk("n-fra", "10.9.0.1", "fra", 5*time.Millisecond),
		mk("n-ams", "10.9.0.2", "AMS", 3*time.Millisecond), // site names are case-insensitive
		mk("n-lo", "10.9.0.3", "lo", 4*time.Millisecond),
		mk("n-none", "10.9.0.4", "", 1*time.Millisecond),
	}}
}

// testSiteMap: fra has 192.0.2.0/24, 2001:db8:f::/48 and the upper half
// of ams's 198.51.100.0/24 (longest prefix wins); lo has 127.0.0.0/8.
func testSiteMap(t testing.TB) *handlespace.SiteMap {
	t.Helper()
	m, err := handlespace.NewSiteMap(map[string][]netip.Prefix{
		"fra": {netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8:f::/48"), netip.MustParsePrefix("198.51.100.128/25")},
		"ams": {netip.MustParsePrefix("198.51.100.0/24")},
		"lo":  {netip.MustParsePrefix("127.0.0.0/8")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSitesEndToEnd queries a real server over loopback: queries with
// EDNS Client Subnet options from two sites' subnets get their own site's
// element (and the matched prefix's length as the ECS scope), a subnet of
// no site gets the nearest by RTT with a scope that covers no site's
// prefix, and a query without ECS from 127.0.0.1 gets the element of the
// site of 127.0.0.0/8. Without a site map the order is by RTT alone.
func TestSitesEndToEnd(t *testing.T) {
	addr, srv := serveTest(t, Config{Sites: testSiteMap(t)}, newTestSpace(t, nearPool()))
	ask := func(net string, qt uint16, ecs string) (*dns.Msg, *dns.EDNS0_SUBNET) {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion("near.pool.test.", qt)
		m.SetEdns0(1232, false)
		if ecs != "" {
			p := netip.MustParsePrefix(ecs)
			o := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(p.Bits()), Address: p.Addr().AsSlice()}
			if p.Addr().Is6() {
				o.Family = 2
			}
			m.IsEdns0().Option = append(m.IsEdns0().Option, o)
		}
		r, err := nettest.Exchange(&dns.Client{Net: net}, m, addr)
		if err != nil {
			t.Fatalf("%s %s ECS %s: %v", net, dns.TypeToString[qt], ecs, err)
		}
		return r, subnetOption(r.IsEdns0())
	}
	first := func(r *dns.Msg) string {
		t.Helper()
		if len(r.Answer) == 0 {
			t.Fatalf("no answer: %v", r)
		}
		switch rr := r.Answer[0].(type) {
		case *dns.A:
			return rr.A.String()
		case *dns.SRV:
			for _, a := range r.Answer {
				if a.(*dns.SRV).Priority == 0 {
					return strings.SplitN(a.(*dns.SRV).Target, ".", 2)[0]
				}
			}
		}
		t.Fatalf("unexpected answer %v", r.Answer[0])
		return ""
	}
	for _, tc := range []struct {
		ecs   string
		want  string
		scope int // -1: any but 0
	}{
		{"192.0.2.0/24", "10.9.0.1", 24},            // fra
		{"192.0.2.77/32", "10.9.0.1", 24},           // fra: the answer holds for its /24
		{"198.51.100.0/24", "10.9.0.2", 24},         // ams, though its upper half is fra's /25: the scope is at most the source's
		{"198.51.100.0/25", "10.9.0.2", 25},         // ams
		{"198.51.100.200/32", "10.9.0.1", 25},       // fra's /25 within ams's /24
		{"198.51.0.0/16", "10.9.0.4", 16},           // too coarse to know: no site, scoped to what was asked
		{"203.0.113.0/24", "10.9.0.4", -1},          // no site: nearest by RTT
		{"2001:db8:f:1::/64", "10.9.0.1", 48},       // fra over IPv6
		{"::ffff:198.51.100.5/128", "10.9.0.2", 25}, // IPv4-mapped: ams
	} {
		for _, net := range []string{"udp", "tcp"} {
			r, ecs := ask(net, dns.TypeA, tc.ecs)
			if got := first(r); got != tc.want {
				t.Errorf("%s ECS %s: A %s, want %s", net, tc.ecs, got, tc.want)
			}
			if ecs == nil {
				t.Fatalf("%s ECS %s: reply without ECS", net, tc.ecs)
			}
			if (tc.scope >= 0 && int(ecs.SourceScope) != tc.scope) || (tc.scope < 0 && ecs.SourceScope == 0) {
				t.Errorf("%s ECS %s: scope %d, want %d", net, tc.ecs, ecs.SourceScope, tc.scope)
			}
		}
	}
	// SRV: the site's element has priority 0, then the rest by RTT.
	r, ecs := ask("udp", dns.TypeSRV, "192.0.2.0/24")
	if got := first(r); got != "n-fra" || ecs == nil || ecs.SourceScope != 24 {
		t.Errorf("SRV from fra: first %s, ECS %v", got, ecs)
	}
	// Without ECS, from 127.0.0.1: lo's element, and no ECS in the reply.
	for _, net := range []string{"udp", "tcp"} {
		r, ecs := ask(net, dns.TypeA, "")
		if got := first(r); got != "10.9.0.3" || ecs != nil {
			t.Errorf("%s from 127.0.0.1: A %s, ECS %v; want 10.9.0.3 and none", net, got, ecs)
		}
	}
	// Other pools keep scope 0.
	m := new(dns.Msg)
	m.SetQuestion("web.pool.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: []byte{192, 0, 2, 0}})
	if r, err := nettest.Exchange(nil, m, addr); err != nil || subnetOption(r.IsEdns0()) == nil || subnetOption(r.IsEdns0()).SourceScope != 0 {
		t.Errorf("rr pool with ECS: %v %v", r, err)
	}
	// The map replaced while serving; then none: the order by RTT, scope 0.
	h := srv.Handler()
	m2, _ := handlespace.NewSiteMap(map[string][]netip.Prefix{"ams": {netip.MustParsePrefix("192.0.2.0/24")}})
	h.SetSites(m2)
	if r, ecs := ask("udp", dns.TypeA, "192.0.2.0/24"); first(r) != "10.9.0.2" || ecs.SourceScope != 24 {
		t.Errorf("new map: A %s scope %d, want 10.9.0.2 scope 24", first(r), ecs.SourceScope)
	}
	h.SetSites(nil)
	if r, ecs := ask("udp", dns.TypeA, "192.0.2.0/24"); first(r) != "10.9.0.4" || ecs.SourceScope != 0 {
		t.Errorf("no map: A %s scope %d, want 10.9.0.4 scope 0", first(r), ecs.SourceScope)
	}
}

// TestSitesDig asks with the real dig's +subnet, as users will.
func TestSitesDig(t *testing.T) {
	dig := digPath(t)
	addr, _ := serveTest(t, Config{Sites: testSiteMap(t)}, newTestSpace(t, nearPool()))
	for _, tc := range []struct{ subnet, want, ecs string }{
		{"192.0.2.0/24", "10.9.0.1", "CLIENT-SUBNET: 192.0.2.0/24/24"},
		{"198.51.100.0/25", "10.9.0.2", "CLIENT-SUBNET: 198.51.100.0/25/25"},
	} {
		r := runDig(t, dig, addr, "+subnet="+tc.subnet, "near.pool.test", "A")
		if r.status != "NOERROR" || r.answer != 1 || !strings.Contains(r.out, "IN\tA\t"+tc.want) || !strings.Contains(r.out, tc.ecs) {
			t.Errorf("dig +subnet=%s: want %s and %q:\n%s", tc.subnet, tc.want, tc.ecs, r.out)
		}
	}
	if r := runDig(t, dig, addr, "near.pool.test", "A"); !strings.Contains(r.out, "IN\tA\t10.9.0.3") {
		t.Errorf("dig from 127.0.0.1: want lo's 10.9.0.3:\n%s", r.out)
	}
}
