// Package zonetext turns zone-file text into records for the tests. It
// depends on nothing of poolnsd, so that handlespace's own tests and its
// policies' can use it beside internal/hstest (which imports both, and
// builds on it).
//
// # Basics
//
// RRs(t, text) parses absolute names (or a $ORIGIN line); a syntax error
// fails the test.
//
// # Caveats
//
// For tests only: the walls test keeps production code from importing it.
package zonetext

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// RRs parses zone-file text into records; a syntax error fails the test.
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
