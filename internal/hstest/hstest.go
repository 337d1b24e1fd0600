// Package hstest builds the handlespace inputs that the tests of the
// packages above handlespace share: zone records from zone-file text and
// elements from their addresses. (handlespace's own tests cannot use it:
// it imports handlespace.)
package hstest

import (
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
