package prefixset

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

func TestContains(t *testing.T) {
	s := MustParse("192.0.2.0/24", "198.51.100.7", "10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32", "2001:db8:1::/48",
		"::ffff:203.0.113.0/120", "fe80::1")
	for _, tc := range []struct {
		addr string
		in   bool
	}{
		{"192.0.2.0", true},
		{"192.0.2.255", true},
		{"192.0.3.0", false},
		{"192.0.1.255", false},
		{"198.51.100.7", true},
		{"198.51.100.8", false},
		{"10.200.1.1", true},
		{"11.0.0.0", false},
		{"::ffff:192.0.2.9", true}, // a dual-stack socket's IPv4 client
		{"203.0.113.77", true},     // from the IPv4-mapped prefix
		{"2001:db8:ffff::1", true},
		{"2001:db9::", false},
		{"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", false},
		{"fe80::1", true},
		{"fe80::2", false},
		{"::", false},
	} {
		if got := s.Contains(netip.MustParseAddr(tc.addr)); got != tc.in {
			t.Errorf("Contains(%s) = %v, want %v", tc.addr, got, tc.in)
		}
	}
	if s.Len() != 8 {
		t.Errorf("Len() = %d, want 8", s.Len())
	}
	var nilSet *Set
	if nilSet.Contains(netip.MustParseAddr("192.0.2.1")) || (&Set{}).Contains(netip.MustParseAddr("::1")) {
		t.Error("an empty set contains an address")
	}
	if (&Set{}).Contains(netip.Addr{}) {
		t.Error("contains the zero Addr")
	}
}

func TestAll(t *testing.T) {
	for _, tc := range []struct {
		list []string
		all  bool
	}{
		{[]string{"0.0.0.0/0", "::/0"}, true},
		{[]string{"0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1"}, true}, // merged
		{[]string{"0.0.0.0/0"}, false},
		{[]string{"0.0.0.0/0", "::/1"}, false},
	} {
		s := MustParse(tc.list...)
		if s.All() != tc.all {
			t.Errorf("%v: All() = %v, want %v", tc.list, s.All(), tc.all)
		}
		if !s.Contains(netip.MustParseAddr("0.0.0.0")) || !s.Contains(netip.MustParseAddr("255.255.255.255")) {
			t.Errorf("%v does not hold the ends of IPv4", tc.list)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.1/24", `"192.0.2.1/24" has bits set after its length; did you mean 192.0.2.0/24?`},
		{"192.0.2.0/33", `"192.0.2.0/33" is not an IP prefix`},
		{"example.com", `"example.com" is not an IP prefix or address`},
		{"fe80::1%eth0", `"fe80::1%eth0" is not an IP prefix or address`},
		{"", `"" is not an IP prefix or address`},
	} {
		_, err := Parse([]string{"10.0.0.0/8", tc.in})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(%q): %v, want %s", tc.in, err, tc.want)
		}
	}
}

// TestAgainstNaive compares Contains with a scan of netip.Prefix.Contains
// over random prefixes and addresses near them.
func TestAgainstNaive(t *testing.T) {
	seed := uint64(rand.Int64())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	for round := 0; round < 200; round++ {
		var list []string
		var ps []netip.Prefix
		for i := 0; i < 1+r.IntN(20); i++ {
			var a netip.Addr
			var bits int
			if r.IntN(2) == 0 {
				a = netip.AddrFrom4([4]byte{byte(r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
				bits = r.IntN(33)
			} else {
				var b [16]byte
				b[0], b[1], b[15] = 0x20, byte(r.IntN(4)), byte(r.IntN(256))
				a = netip.AddrFrom16(b)
				bits = r.IntN(129)
			}
			p := netip.PrefixFrom(a, bits).Masked()
			ps = append(ps, p)
			list = append(list, p.String())
		}
		s := MustParse(list...)
		for k := 0; k < 200; k++ {
			base := ps[r.IntN(len(ps))].Addr()
			b := base.AsSlice()
			for i := 0; i < 1+r.IntN(3); i++ {
				b[len(b)-1-r.IntN(len(b))] ^= byte(1 << r.IntN(8))
			}
			a, _ := netip.AddrFromSlice(b)
			want := false
			for _, p := range ps {
				want = want || p.Contains(a)
			}
			if got := s.Contains(a); got != want {
				t.Fatalf("prefixes %v: Contains(%s) = %v, want %v", list, a, got, want)
			}
		}
	}
}

func BenchmarkContains(b *testing.B) {
	var list []string
	for i := 0; i < 1000; i++ {
		list = append(list, netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}).String()+"/24")
	}
	list = append(list, "2001:db8::/32")
	s := MustParse(list...)
	for _, c := range []struct{ name, ip string }{{"ipv4", "10.3.5.9"}, {"ipv6", "2001:db8::5"}, {"mapped", "::ffff:10.3.5.9"}} {
		b.Run(c.name, func(b *testing.B) {
			a := netip.MustParseAddr(c.ip)
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				if !s.Contains(a) {
					b.Fatal("not contained")
				}
			}
		})
	}
}
