package testonly

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// mod is the module's path.
const mod = "github.com/poolnsd/poolnsd"

// helpers are the test helper packages (and the test programs): what
// their non-test files call counts as called by tests. The walls test
// keeps production code from importing them.
var helpers = []string{"internal/hstest", "internal/testrand", "internal/threadcpu", "internal/zonetext", "internal/proctest", "internal/browsertest", "internal/nettest", "geosite/geositetest",
	"internal/netlab", "probe/probetest", "enrp/enrptest", "metrics/metricstest", "zones/zonestest", "internal/updatetest", "test"}

// public are the packages whose API is for programs outside the module.
var public = []string{"poolclient"}

// known are the test-only functions left, each with why it is still
// there: none today. The list only shrinks: a function that production
// code comes to use, or that moves to the tests, must leave it (the test
// says so).
var known = map[string]string{}

func TestNoNewTestOnlyExports(t *testing.T) {
	found, err := find(options{Dir: "../..", Patterns: []string{"./..."},
		Helper: func(p string) bool { return under(p, helpers) },
		Public: func(p string) bool { return under(p, public) },
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range found {
		seen[f.Name] = true
		if _, ok := known[f.Name]; !ok {
			t.Errorf("%s is exported, but only tests call it (%s): move it into the tests (export_test.go, a test helper package) or "+
				"make production code use it", f, strings.Join(f.Users, ", "))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(known)) {
		if !seen[name] {
			t.Errorf("%s is no longer test-only (or gone): take it off the list known", name)
		}
	}
}

// under reports whether package path is one of pkgs (relative to the
// module) or below one.
func under(path string, pkgs []string) bool {
	rel, ok := strings.CutPrefix(path, mod+"/")
	if !ok {
		return false
	}
	for _, p := range pkgs {
		if rel == p || strings.HasPrefix(rel, p+"/") {
			return true
		}
	}
	return false
}

// TestFindFixture: in testdata/m, the functions only tests or a test
// helper call (or nothing) are found, with who calls them; those production code calls,
// directly or through an interface (its own, fmt's, errors'), are not.
func TestFindFixture(t *testing.T) {
	found, err := find(options{Dir: "testdata/m", Patterns: []string{"./..."},
		Helper: func(p string) bool { return p == "example.com/m/helper" },
		Public: func(string) bool { return false },
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range found {
		got[f.Name] = strings.Join(f.Users, ",")
	}
	want := map[string]string{
		"a.OnlyOwnTests":   "example.com/m/a",
		"a.OnlyOtherTests": "example.com/m/b",
		"a.Helped":         "example.com/m/helper",
		"a.T.Idle":         "example.com/m/a",
		"b.F":              "", // called by nothing at all
	}
	if !maps.Equal(got, want) {
		t.Errorf("found %v\nwant  %v", got, want)
	}
}
