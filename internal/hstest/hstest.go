// Package hstest builds the handlespace inputs that the tests of the
// packages above handlespace share: zone records from zone-file text,
// elements from their addresses, and DNS UPDATEs from lines. (handlespace's own tests cannot use it:
// it imports handlespace.)
package hstest

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	_ "github.com/poolnsd/poolnsd/handlespace/policy" // the policies register themselves
	"github.com/poolnsd/poolnsd/internal/zonetext"
)

// RRs parses zone-file text (absolute names, or a $ORIGIN line) into
// records; a syntax error fails the test.
func RRs(t testing.TB, text string) []dns.RR {
	t.Helper()
	return zonetext.RRs(t, text)
}

// Elem is the element label on port with weight and addrs (comma
// separated), its identifier made from the first address and the port, as
// a zone file's element gets it.
func Elem(label, addrs string, port uint16, weight uint32) *handlespace.Element {
	e := &handlespace.Element{Label: handlespace.LabelOf(label), Port: port, Weight: weight}
	for _, a := range strings.Split(addrs, ",") {
		e.Addrs = e.Addrs.Append(netip.MustParseAddr(a))
	}
	e.ID = handlespace.ElementID(e.Addrs.At(0), port)
	return e
}

// Update builds a DNS UPDATE of zone origin from lines. Lines of the
// update section are "+ RR" (add), "- RR" (delete that record), "-rrset
// NAME TYPE" (delete an RRset), "-name NAME" (delete every RRset of a
// name); prerequisite lines start with "?": "?yxdomain NAME", "?nxdomain
// NAME", "?yxrrset NAME TYPE", "?nxrrset NAME TYPE", "?= RR"
// (value-dependent). A bad line fails the test.
func Update(t testing.TB, origin string, lines ...string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetUpdate(origin)
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		return r
	}
	meta := func(name string, typ uint16, class uint16) dns.RR {
		return &dns.ANY{Hdr: dns.RR_Header{Name: name, Rrtype: typ, Class: class}}
	}
	for _, l := range lines {
		op, rest, _ := strings.Cut(l, " ")
		f := strings.Fields(rest)
		if n := map[string]int{"-rrset": 2, "-name": 1, "?yxdomain": 1, "?nxdomain": 1, "?yxrrset": 2, "?nxrrset": 2}[op]; len(f) < n {
			t.Fatalf("bad line %q", l)
		}
		switch op {
		case "+":
			m.Insert([]dns.RR{rr(rest)})
		case "-":
			m.Remove([]dns.RR{rr(rest)})
		case "-rrset":
			m.Ns = append(m.Ns, meta(f[0], dns.StringToType[f[1]], dns.ClassANY))
		case "-name":
			m.Ns = append(m.Ns, meta(f[0], dns.TypeANY, dns.ClassANY))
		case "?yxdomain":
			m.Answer = append(m.Answer, meta(f[0], dns.TypeANY, dns.ClassANY))
		case "?nxdomain":
			m.Answer = append(m.Answer, meta(f[0], dns.TypeANY, dns.ClassNONE))
		case "?yxrrset":
			m.Answer = append(m.Answer, meta(f[0], dns.StringToType[f[1]], dns.ClassANY))
		case "?nxrrset":
			m.Answer = append(m.Answer, meta(f[0], dns.StringToType[f[1]], dns.ClassNONE))
		case "?=":
			m.Used([]dns.RR{rr(rest)})
		default:
			t.Fatalf("bad line %q", l)
		}
	}
	return m
}

// Register is the update lines that register element label of the pool
// (an FQDN) on port at addr (an A or AAAA), with TTL ttl.
func Register(label, pool string, port int, addr string, ttl int) []string {
	name := label + "." + pool
	typ := "A"
	if strings.Contains(addr, ":") {
		typ = "AAAA"
	}
	return []string{
		fmt.Sprintf("+ %s %d IN SRV 0 0 %d %s", name, ttl, port, name),
		fmt.Sprintf("+ %s %d IN %s %s", name, ttl, typ, addr),
	}
}

// Zone is the static part of the test zone pool.test. that dnsfront's
// handler tests and its lookup tests query (Space).
const Zone = `$ORIGIN pool.test.
@      3600 IN SOA ns1.pool.test. hostmaster.pool.test. 1 3600 600 86400 30
@      3600 IN NS  ns1.pool.test.
ns1    3600 IN A   192.0.2.53
ns1    3600 IN AAAA 2001:db8::53
www    300  IN CNAME txt.pool.test.
alias  300  IN CNAME web.pool.test.
gone   300  IN CNAME nope.web.pool.test.
mail   300  IN MX  10 mx1.pool.test.
mx1    300  IN A   192.0.2.25
txt    300  IN TXT "hello"
a.b.deep 300 IN TXT "deep"
*.wild 300  IN TXT "wild"
sub    300  IN NS  ns.sub.pool.test.
ns.sub 300  IN A   192.0.2.99
`

// Space builds the handlespace of pool.test.: Zone's static records and
// pools web (rr, 4 elements, one dual-stack, a service and a URI), api
// (wrr), dead (all down, fails closed) and open (all down, fails open),
// with extra pools added.
func Space(t testing.TB, extra ...handlespace.PoolDef) *handlespace.Handlespace {
	t.Helper()
	hs := handlespace.New(handlespace.Options{RegistrarID: 7})
	spec := func(policy string) handlespace.PoolSpec {
		s := handlespace.DefaultPoolSpec()
		s.Policy = policy
		return s
	}
	web := spec("rr")
	web.Service = "_http._tcp"
	web.URI = "http://{name}:{port}/"
	open := spec("rr")
	open.AllDown = handlespace.AllDownAll
	def := handlespace.ZoneDef{
		Origin: "pool.test.", File: "test.zone", Records: RRs(t, Zone),
		Pools: []handlespace.PoolDef{
			{Handle: "web", Spec: web, Elements: []*handlespace.Element{
				Elem("w1", "10.0.0.1", 8080, 1), Elem("w2", "10.0.0.2", 8080, 1),
				Elem("w3", "10.0.0.3", 8080, 1), Elem("w4", "10.0.0.4,2001:db8::4", 8080, 1),
			}},
			{Handle: "api", Spec: spec("wrr"), Elements: []*handlespace.Element{
				Elem("a1", "10.0.1.1", 443, 10), Elem("a2", "10.0.1.2", 443, 20),
			}},
			{Handle: "dead", Spec: spec("rr"), Elements: []*handlespace.Element{Elem("d1", "10.0.2.1", 80, 1)}},
			{Handle: "open", Spec: open, Elements: []*handlespace.Element{Elem("o1", "10.0.3.1", 80, 1)}},
		},
	}
	def.Pools = append(def.Pools, extra...)
	if err := hs.ApplyZones([]handlespace.ZoneDef{def}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"dead.pool.test.", "open.pool.test."} {
		pv := hs.View().Zone("pool.test.").Pool(strings.Split(p, ".")[0])
		if err := hs.Update(p, pv.Elements()[0].ID, func(x *handlespace.Element) { x.Health = handlespace.HealthDown }); err != nil {
			t.Fatal(err)
		}
	}
	return hs
}
