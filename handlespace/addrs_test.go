package handlespace

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
)

// TestAddrs: Addrs gives back the addresses it was made of, in order and
// of the same form (IPv4, IPv6, IPv4-mapped, with a zone, the zero Addr),
// answers Len, At, All, Slice, Equal, HasV4, HasV6 and String
// as the slice would, keeps one plain address, or two of which one at
// most is IPv6, without a side slice (others in one), and
// is not changed by Append or by a change of the slice it was made of.
func TestAddrs(t *testing.T) {
	p := netip.MustParseAddr
	for _, as := range [][]netip.Addr{
		nil,
		{p("10.0.0.1")},
		{p("2001:db8::1")},
		{p("::ffff:10.0.0.1")},
		{p("fe80::1%eth0")},
		{{}},
		{p("0.0.0.0")},
		{p("::")},
		{p("10.0.0.1"), p("2001:db8::1")},
		{p("2001:db8::1"), p("10.0.0.1")},
		{p("10.0.0.1"), p("10.0.0.2")},
		{p("2001:db8::1"), p("2001:db8::2")},
		{p("::ffff:10.0.0.1"), p("10.0.0.1")},
		{p("10.0.0.1"), p("fe80::1%eth0")},
		{p("fe80::1%eth0"), p("fe80::2%eth1")},
		{p("10.0.0.1"), {}},
		{p("10.0.0.1"), p("10.0.0.2"), p("10.0.0.3")},
		{p("10.0.0.1"), p("2001:db8::1"), p("fe80::1%eth0"), p("::ffff:10.0.0.1")},
	} {
		a := AddrsOf(as...)
		if a.Len() != len(as) || !slices.Equal(a.Slice(), as) || a.String() != fmt.Sprint(as) {
			t.Errorf("%v: Len %d, Slice %v, String %s", as, a.Len(), a.Slice(), a)
			continue
		}
		inline := len(as) <= 2 && !slices.ContainsFunc(as, func(x netip.Addr) bool { return !x.IsValid() || x.Zone() != "" })
		if len(as) == 2 && !as[0].Is4() && !as[1].Is4() {
			inline = false // 32 bytes
		}
		if (a.more == nil) != inline {
			t.Errorf("%v: kept in a side slice: %v", as, a.more != nil)
		}
		var all []netip.Addr
		for i, x := range a.All() {
			if x != a.At(i) || x != as[i] {
				t.Errorf("%v: All's %d: %v, At %v", as, i, x, a.At(i))
			}
			all = append(all, x)
		}
		if !slices.Equal(all, as) {
			t.Errorf("%v: All yields %v", as, all)
		}
		v4 := slices.ContainsFunc(as, netip.Addr.Is4)
		v6 := slices.ContainsFunc(as, func(x netip.Addr) bool { return !x.Is4() })
		if a.HasV4() != v4 || a.HasV6() != v6 {
			t.Errorf("%v: HasV4 %v, HasV6 %v", as, a.HasV4(), a.HasV6())
		}
		if !a.Equal(AddrsOf(slices.Clone(as)...)) || a.Equal(a.Append(p("192.0.2.9"))) {
			t.Errorf("%v: Equal wrong", as)
		}
		if len(as) > 0 {
			b := a.Append(p("192.0.2.9"))
			as[0] = p("192.0.2.8")
			if a.At(0) == as[0] || b.At(0) == as[0] || b.At(b.Len()-1) != p("192.0.2.9") || b.Len() != a.Len()+1 {
				t.Errorf("Append or the caller's slice changed the addresses: %v, %v", a, b)
			}
		}
	}
	a := AddrsOf(p("10.0.0.1"))
	if n := testing.AllocsPerRun(100, func() {
		if a.Len() != 1 || !a.At(0).Is4() || !a.HasV4() || a.HasV6() {
			t.Fatal("wrong address")
		}
	}); n != 0 {
		t.Errorf("reading one address allocates %v times", n)
	}
	a = AddrsOf(p("10.0.0.1"), p("2001:db8::1"))
	if n := testing.AllocsPerRun(100, func() {
		if a.Len() != 2 || a.At(0) != p("10.0.0.1") || a.At(1) != p("2001:db8::1") {
			t.Fatal("wrong addresses")
		}
	}); n != 0 {
		t.Errorf("reading two addresses allocates %v times", n)
	}
	for _, i := range []int{-1, 2} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("At(%d) of two addresses did not panic", i)
				}
			}()
			a.At(i)
		}()
	}
}
