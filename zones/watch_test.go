package zones

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestSettle: the watcher's decisions on a script of events and times,
// without I/O or a clock.
func TestSettle(t *testing.T) {
	const quiet, limit = 200 * time.Millisecond, 30 * time.Second
	t0 := time.Unix(1700000000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type step struct {
		ms   int
		ev   *event // nil: call due
		fire bool   // due's answer
		next int    // when to call due next (ms), -1 never
	}
	ev := func(name string, k evKind) *event { return &event{name: name, kind: k} }
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"a rename in fires after the quiet", []step{
			{0, ev("web.zone", evChanged), false, 200},
			{200, nil, true, -1},
		}},
		{"events within the quiet delay it", []step{
			{0, ev("a.zone", evChanged), false, 200},
			{150, ev("b.zone", evChanged), false, 350},
			{350, nil, true, -1},
		}},
		{"a zone file written in two parts waits for its close", []step{
			{0, ev("web.zone", evWriting), false, 30000},
			{1000, ev("web.zone", evWriting), false, 31000}, // after a pause longer than the quiet
			{3000, ev("web.zone", evClosed), false, 3200},
			{3200, nil, true, -1},
		}},
		{"another file's change waits for the open zone file", []step{
			{0, ev("web.zone", evWriting), false, 30000},
			{10, ev("other.zone", evChanged), false, 30000},
			{210, nil, false, 30000}, // (called early: nothing to do)
			{500, ev("web.zone", evClosed), false, 700},
			{700, nil, true, -1},
		}},
		{"a file open past the limit is read as it is", []step{
			{0, ev("web.zone", evWriting), false, 30000},
			{30000, nil, true, -1},
		}},
		{"an included file (any name) written in place counts after the quiet", []step{
			{0, ev("web.inc", evWriting), false, 200},
			{200, nil, true, -1},
		}},
		{"a zone file renamed away while open is no longer waited for", []step{
			{0, ev("web.zone", evWriting), false, 30000},
			{100, ev("web.zone", evChanged), false, 300},
			{300, nil, true, -1},
		}},
		{"an overflow counts as a change of everything", []step{
			{0, ev("web.zone", evWriting), false, 30000},
			{5, &event{kind: evOverflow}, false, 205},
			{205, nil, true, -1},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSettle(quiet, limit)
			for i, st := range c.steps {
				var fire bool
				var next time.Time
				if st.ev != nil {
					next = s.event(*st.ev, at(st.ms))
				} else {
					fire, _, next = s.due(at(st.ms))
				}
				want := time.Time{}
				if st.next >= 0 {
					want = at(st.next)
				}
				if fire != st.fire || !next.Equal(want) {
					t.Fatalf("step %d at %d ms: fire %v next %v, want %v %v", i, st.ms, fire, next.Sub(t0), st.fire, want.Sub(t0))
				}
			}
		})
	}
}

// TestWatchFileWrittenInParts: a zone file rewritten in place in two
// parts with a pause longer than the quiet period between them is told
// once, after its writer closed it, never in the pause; a file renamed
// in is told after the quiet. Real files, the real inotify.
func TestWatchFileWrittenInParts(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux tells when a writer closes a file")
	}
	dir := t.TempDir()
	const quiet = 50 * time.Millisecond
	w, err := Watch(dir, WatchConfig{Quiet: quiet, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	wait := func(what string) {
		t.Helper()
		select {
		case <-w.Changed():
		case err := <-w.Errors():
			t.Fatalf("%s: %v", what, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: not told within 10 s", what)
		}
	}

	f, err := os.Create(filepath.Join(dir, "web.zone"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("$ORIGIN pool.example.\n"); err != nil {
		t.Fatal(err)
	}
	// The writer's pause, ten quiet periods long: the scenario, not a
	// wait for the watcher. Nothing may be told meanwhile.
	select {
	case <-w.Changed():
		t.Fatal("told while the file is still open for writing")
	case err := <-w.Errors():
		t.Fatal(err)
	case <-time.After(10 * quiet):
	}
	if _, err := f.WriteString("@ SOA ns1 hostmaster 1 3600 600 86400 5\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	wait("the close")

	// An atomic replace: told after the quiet, once.
	tmp := filepath.Join(dir, ".web.zone.tmp")
	if err := os.WriteFile(tmp, []byte("; new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "web.zone")); err != nil {
		t.Fatal(err)
	}
	wait("the rename")

	// Closing ends the watcher.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-w.done; ok {
		t.Fatal("the watcher's loop still runs")
	}
}
