// Package zonestest turns zone-file text into zones for the tests of the
// packages above zones (admin, monitor, metrics/metered, …), through
// zones.LoadDir, the daemon's own loader: what a test loads is what
// poolnsd would serve from the same file.
//
// # Basics
//
// Def(t, text) returns the zone of one file's text; Apply(t, hs, text)
// applies it to a handlespace. A zone that does not load, or that the
// handlespace refuses, fails the test.
//
// # Caveats
//
// For tests only: the walls test keeps production code from importing it.
// Each call writes the text to a file in a temporary directory of the
// test's (t.TempDir), so messages name that file.
package zonestest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/zones"
)

// Def returns the zone that text, one zone file, defines.
func Def(t testing.TB, text string) handlespace.ZoneDef {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "test.zone"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	defs, err := zones.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) != 1 {
		t.Fatalf("zonestest: %d zones from one file", len(defs))
	}
	return defs[0]
}

// Apply applies the zone that text defines to hs (as its only zone:
// ApplyZones replaces the zones hs had).
func Apply(t testing.TB, hs *handlespace.Handlespace, text string) {
	t.Helper()
	if err := hs.ApplyZones([]handlespace.ZoneDef{Def(t, text)}); err != nil {
		t.Fatal(err)
	}
}
