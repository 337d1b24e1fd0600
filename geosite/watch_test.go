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

	// A burst of writes is one change. The writes are a tight loop, but
	// a writer starved between two of them for longer than quiet (seen:
	// 195 ms to 1.1 s, under -race at load 13-16, 2 of 155 runs) left the
	// file quiet, and the watcher rightly said two changes. So the writes are
	// timed: a burst with a gap over quiet/2 was no burst, and after its
	// changes it is made again, up to 5 times.
	for try := 1; ; try++ {
		var gap time.Duration
		prev := time.Now()
		for i := range 5 {
			write(path, string(rune('b'+i)))
			now := time.Now()
			gap = max(gap, now.Sub(prev))
			prev = now
		}
		if gap < quiet/2 {
			changed("five writes")
			break
		}
		if try == 5 {
			t.Fatalf("five writes: %d bursts, each with a gap over %v between two writes (the last %v)", try, quiet/2, gap)
		}
		t.Logf("five writes: a gap of %v between two; again", gap)
		for settled := time.After(3 * quiet); settled != nil; {
			select {
			case <-w.Changed():
				settled = time.After(3 * quiet)
			case err := <-w.Errors():
				t.Fatalf("five writes: %v", err)
			case <-settled:
				settled = nil
			}
		}
	}

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
