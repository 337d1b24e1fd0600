package dnssec

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestDenial(t *testing.T) {
	s, _ := newTestSigner(t, Options{}, newTestKey(t, "pool.example.", dns.ECDSAP256SHA256, FlagsCSK))
	z := s.Zone("pool.example.")
	A, AAAA, SRV, MX, URI := dns.TypeA, dns.TypeAAAA, dns.TypeSRV, dns.TypeMX, dns.TypeURI
	cases := []struct {
		name     string
		sign     func() (*Sigs, error)
		owner    string
		next     string
		types    []uint16
		notQuery uint16 // the type asked, never in the bit map
	}{
		{"NXDOMAIN", func() (*Sigs, error) { return z.NXDomain("NoSuch.pool.example.", 5) },
			"nosuch.pool.example.", `\000.nosuch.pool.example.`, []uint16{dns.TypeRRSIG, dns.TypeNSEC, TypeNXNAME}, A},
		{"name under a pool (no such element)", func() (*Sigs, error) { return z.NXDomain("x.y.web.pool.example.", 5) },
			"x.y.web.pool.example.", `\000.x.y.web.pool.example.`, []uint16{dns.TypeRRSIG, dns.TypeNSEC, TypeNXNAME}, A},
		{"NODATA at a static name", func() (*Sigs, error) { return z.NoData("mail.pool.example.", AAAA, []uint16{A, MX}, 300) },
			"mail.pool.example.", `\000.mail.pool.example.`, []uint16{A, MX, dns.TypeRRSIG, dns.TypeNSEC}, AAAA},
		{"all-down pool, A asked: A left out, AAAA and SRV kept", func() (*Sigs, error) { return z.NoData("web.pool.example.", A, []uint16{A, AAAA, SRV}, 5) },
			"web.pool.example.", `\000.web.pool.example.`, []uint16{AAAA, SRV, dns.TypeRRSIG, dns.TypeNSEC}, A},
		{"pool service name, TXT asked", func() (*Sigs, error) {
			return z.NoData("_http._tcp.web.pool.example.", dns.TypeTXT, []uint16{SRV, URI}, 5)
		}, "_http._tcp.web.pool.example.", `\000._http._tcp.web.pool.example.`, []uint16{SRV, dns.TypeRRSIG, dns.TypeNSEC, URI}, dns.TypeTXT},
		{"element name, AAAA asked of a v4 element", func() (*Sigs, error) { return z.NoData("e1.web.pool.example.", AAAA, []uint16{A}, 5) },
			"e1.web.pool.example.", `\000.e1.web.pool.example.`, []uint16{A, dns.TypeRRSIG, dns.TypeNSEC}, AAAA},
		{"empty non-terminal", func() (*Sigs, error) { return z.NoData("_tcp.web.pool.example.", SRV, nil, 5) },
			"_tcp.web.pool.example.", `\000._tcp.web.pool.example.`, []uint16{dns.TypeRRSIG, dns.TypeNSEC}, SRV},
		{"apex: DNSKEY, CDS and CDNSKEY added", func() (*Sigs, error) {
			return z.NoData("pool.example.", A, []uint16{dns.TypeSOA, dns.TypeNS, MX}, 300)
		}, "pool.example.", `\000.pool.example.`, []uint16{dns.TypeNS, dns.TypeSOA, MX, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY}, A},
		{"DS at the apex (not authoritative for the parent)", func() (*Sigs, error) {
			return z.NoData("pool.example.", dns.TypeDS, []uint16{dns.TypeSOA, dns.TypeNS}, 300)
		}, "pool.example.", `\000.pool.example.`, []uint16{dns.TypeNS, dns.TypeSOA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY}, dns.TypeDS},
		{"delegation without DS", func() (*Sigs, error) { return z.NoDS("Sub.pool.example.", 300) },
			"sub.pool.example.", `sub\000.pool.example.`, []uint16{dns.TypeNS, dns.TypeRRSIG, dns.TypeNSEC}, dns.TypeDS},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sigs, err := c.sign()
			if err != nil {
				t.Fatal(err)
			}
			n := sigs.NSEC
			if n == nil {
				t.Fatal("no NSEC")
			}
			if n.Hdr.Name != c.owner || n.NextDomain != c.next {
				t.Errorf("NSEC %s → %s; want %s → %s", n.Hdr.Name, n.NextDomain, c.owner, c.next)
			}
			want := slices.Clone(c.types)
			slices.Sort(want)
			if !slices.Equal(n.TypeBitMap, want) {
				t.Errorf("bit map %v; want %v", typeNames(n.TypeBitMap), typeNames(want))
			}
			if slices.Contains(n.TypeBitMap, c.notQuery) {
				t.Errorf("bit map has the type asked, %s: a validator rejects the denial", dns.TypeToString[c.notQuery])
			}
			verify(t, z, sigs, []dns.RR{n}, t0)
			// The next name sorts after the owner and covers nothing else
			// in the zone: a name between them cannot exist.
			if !canonicalLess(n.Hdr.Name, n.NextDomain) {
				t.Errorf("next name %s does not sort after %s", n.NextDomain, n.Hdr.Name)
			}
			// The record packs as the wire form miekg/dns reads.
			m := new(dns.Msg)
			m.Ns = []dns.RR{n}
			if _, err := m.Pack(); err != nil {
				t.Error(err)
			}
		})
	}
}

func typeNames(ts []uint16) string {
	var s []string
	for _, t := range ts {
		if t == TypeNXNAME {
			s = append(s, "NXNAME")
			continue
		}
		s = append(s, dns.TypeToString[t])
	}
	return strings.Join(s, " ")
}

// canonicalLess compares names in DNSSEC order (RFC 4034 §6.1): labels
// from the right, each as lower-case bytes.
func canonicalLess(a, b string) bool {
	wa, wb := wireLabels(a), wireLabels(b)
	for i := 0; i < len(wa) && i < len(wb); i++ {
		x, y := wa[len(wa)-1-i], wb[len(wb)-1-i]
		if c := strings.Compare(x, y); c != 0 {
			return c < 0
		}
	}
	return len(wa) < len(wb)
}

func wireLabels(name string) []string {
	b := make([]byte, 256)
	n, err := dns.PackDomainName(name, b, 0, nil, false)
	if err != nil {
		panic(err)
	}
	var out []string
	for i := 0; i < n && b[i] != 0; i += int(b[i]) + 1 {
		out = append(out, strings.ToLower(string(b[i+1:i+1+int(b[i])])))
	}
	return out
}

func TestSuccessor(t *testing.T) {
	origin := pack(t, "pool.example.")
	long := strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 47) + ".pool.example." // 254 bytes
	cases := []struct {
		owner   string
		sibling bool
		want    string
	}{
		{"a.pool.example.", false, `\000.a.pool.example.`},
		{"sub.pool.example.", true, `sub\000.pool.example.`},
		{strings.Repeat("x", 63) + ".pool.example.", true, strings.Repeat("x", 62) + "y.pool.example."},
		{long, false, strings.Repeat("a", 62) + "b." + long[64:]},
		{`\255\255.b.pool.example.`, true, `\255\255\000.b.pool.example.`},
		{strings.Repeat(`\255`, 63) + ".b.pool.example.", true, `b\000.pool.example.`},
		{`Z.pool.example.`, true, `z\000.pool.example.`},
	}
	for _, c := range cases {
		got, ok := successor(nil, pack(t, c.owner), origin, c.sibling)
		if !ok {
			t.Errorf("%s: no successor", c.owner)
			continue
		}
		name, _, err := dns.UnpackDomainName(got, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.EqualFold(name, c.want) {
			t.Errorf("successor(%s, sibling %v) = %s; want %s", c.owner, c.sibling, name, c.want)
		}
		if !canonicalLess(c.owner, name) {
			t.Errorf("successor(%s) = %s does not sort after it", c.owner, name)
		}
	}
}

func pack(t *testing.T, name string) []byte {
	t.Helper()
	b := make([]byte, 256)
	n, err := dns.PackDomainName(name, b, 0, nil, false)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	lowerName(b[:n])
	return b[:n]
}
