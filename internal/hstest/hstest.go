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
)

// RRs parses zone-file text (absolute names, or a $ORIGIN line) into
// records; a syntax error fails the test.
func RRs(t testing.TB, text string) []dns.RR {
	t.Helper()
	var rrs []dns.RR
	zp := dns.NewZoneParser(strings.NewReader(text), "", "test")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	return rrs
}

// Elem is the element label on port with weight and addrs (comma
// separated), its identifier made from the first address and the port, as
// a zone file's element gets it.
func Elem(label, addrs string, port uint16, weight uint32) *handlespace.Element {
	e := &handlespace.Element{Label: label, Port: port, Weight: weight}
	for _, a := range strings.Split(addrs, ",") {
		e.Addrs = append(e.Addrs, netip.MustParseAddr(a))
	}
	e.ID = handlespace.ElementID(e.Addrs[0], port)
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
