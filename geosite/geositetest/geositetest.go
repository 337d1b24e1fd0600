// Package geositetest writes MaxMind-format databases for the tests of the
// sites map (geosite) and of the processes that load one (cmd/poolnsd,
// test/e2e).
//
// # Basics
//
// Build the database with mmdbwriter as the test needs it, then Write it to
// its path: to a temporary file beside it first, renamed over the path, as
// an operator replaces a database, so that a watcher sees one whole file.
//
// # Caveats
//
// Only tests (and the bench programs) may import it (internal/walls).
package geositetest

import (
	"os"
	"testing"

	"github.com/maxmind/mmdbwriter"
)

// Write writes tree to path through path+".tmp" and a rename; it fails
// the test on any error.
func Write(t testing.TB, tree *mmdbwriter.Tree, path string) {
	t.Helper()
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
