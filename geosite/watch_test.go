package geosite

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWatch: a write, a rename over the file and a removal are each one
// change, said once the file is quiet; a file beside it is no change;
// Close ends the watcher's goroutine (the package's leak check fails the
// tests otherwise).
func TestWatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sites.mmdb")
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(path, "a")
	// quiet is long beside the gaps between a burst's writes (a tight loop),
	// even on a loaded machine, so that a burst is surely one change.
	const quiet = 200 * time.Millisecond
	w, err := Watch(path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			w.Close()
		}
	})

	// changed waits (bounded) for one change, then checks that no second
	// one follows within a few quiet times: a burst is one change.
	changed := func(what string) {
		t.Helper()
		select {
		case <-w.Changed():
		case err := <-w.Errors():
			t.Fatalf("%s: %v", what, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no change said within 10 s", what)
		}
		select {
		case <-w.Changed():
			t.Fatalf("%s: said twice", what)
		case <-time.After(3 * quiet):
		}
	}
	// none checks that nothing is said for a while after an event that
	// must not count.
	none := func(what string) {
		t.Helper()
		select {
		case <-w.Changed():
			t.Fatalf("%s: a change was said", what)
		case <-time.After(5 * quiet):
		}
	}

	for i := range 5 { // a burst of writes
		write(path, string(rune('b'+i)))
	}
	changed("five writes")

	write(filepath.Join(dir, "other.mmdb"), "x")
	none("a write of another file")

	tmp := filepath.Join(dir, "sites.mmdb.tmp")
	write(tmp, "new")
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	changed("a rename over the file")

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	changed("a removal")

	if err := w.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	closed = true
}
