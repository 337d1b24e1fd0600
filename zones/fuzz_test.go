package zones

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/poolnsd/poolnsd/handlespace"
)

// errPrefix is how every message about the fuzzed files starts.
var errPrefix = regexp.MustCompile(`^(z\.zone|a\.inc):[0-9]+(:[0-9]+)?: `)

// FuzzParse feeds Parse arbitrary zone files. The file z.zone may include
// a.inc, which holds the same bytes (so includes, loops and depth limits
// are reached too). Checks:
//
//   - Parse never panics;
//   - a zone that Parse accepts is accepted by ApplyZones on a fresh
//     handlespace (the package's checks are at least handlespace's);
//   - every error is one line that starts with FILE:LINE: and says what
//     was expected.
//
// Seeds: every file in testdata, example.zone and the error cases.
func FuzzParse(f *testing.F) {
	for _, b := range testdataFiles(f) {
		f.Add(b)
	}
	if b, err := os.ReadFile("example.zone"); err == nil {
		f.Add(b)
	}
	for _, c := range errorCases {
		f.Add([]byte(c.src))
	}
	f.Add([]byte(head + "$INCLUDE a.inc\n"))
	f.Add([]byte(head + "$POOL web service=_http._tcp uri=\"http://{name}:{port}/\"\nweb PE 192.0.2.1,[2001:db8::1]:80 name=x weight=2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"z.zone": {Data: data}, "a.inc": {Data: data}}
		def, err := Parse(fsys, "z.zone")
		if err != nil {
			msg := err.Error()
			if !errPrefix.MatchString(msg) {
				t.Fatalf("error without FILE:LINE: %q", msg)
			}
			if strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("error of more than one line: %q", msg)
			}
			if !strings.Contains(msg, "want") {
				t.Fatalf("error that does not say what was expected: %q", msg)
			}
			var ze *Error
			if !errors.As(err, &ze) || ze.Line < 1 {
				t.Fatalf("error %q is not an *Error with a line", msg)
			}
			return
		}
		if def.File != "z.zone" || def.Origin == "" {
			t.Fatalf("zone %+v", def)
		}
		if err := handlespace.New(handlespace.Options{}).ApplyZones([]handlespace.ZoneDef{*def}); err != nil {
			t.Fatalf("Parse accepted a zone that ApplyZones rejects: %v", err)
		}
	})
}
