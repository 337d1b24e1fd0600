package e2e

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestZoneFileWrittenInParts: a zone file rewritten in place in two parts,
// with a pause longer than the watcher's quiet period between them, is
// never served half-written: no reload while its writer holds it open
// (the first part alone is a valid zone with one element of three), one
// reload of the whole file once it is closed. And a file replaced
// atomically (write, then rename) is reloaded as before.
func TestZoneFileWrittenInParts(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("only Linux tells when a writer closes a file")
	}
	dir := daemonDir(t, goodZone)
	p := startDaemon(t, dir)
	addr, _ := p.ready()
	zoneFile := filepath.Join(dir, "zones", "pool.example.zone")

	full := zoneWith("10.0.0.1:8080", "10.0.0.3:8080", "10.0.0.4:8080")
	cut := strings.Index(full, "web    PE 10.0.0.3") // the first part ends after the first element
	from := p.cursor()
	f, err := os.OpenFile(zoneFile, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(full[:cut]); err != nil {
		t.Fatal(err)
	}
	_, after := p.waitLog(from, "the watcher seeing the write", msgIs("zone file being written in place; it is read once its writer closes it"))
	// The writer's pause: five quiet periods (the scenario, not a wait for
	// the daemon). The daemon reloads nothing meanwhile and serves the old
	// zone.
	time.Sleep(5 * reloadDebounce)
	if got := addrsOf(t, addr, "web.pool.example."); !slices.Equal(got, []string{"10.0.0.1", "10.0.0.2"}) {
		t.Errorf("web.pool.example. A during the pause = %v, want the old zone's", got)
	}
	for _, r := range p.Records(after, p.Cursor()) {
		if m := r.Str("msg"); m == "zones reloaded" || strings.HasPrefix(m, "zones not reloaded") {
			t.Errorf("a reload while the file was open for writing: %v", r)
		}
	}
	if _, err := f.WriteString(full[cut:]); err != nil {
		t.Fatal(err)
	}
	from = p.cursor()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	r, _ := p.waitLog(from, "the reload after the close", msgIs("zones reloaded"))
	if r["elements"] != 3.0 {
		t.Errorf("reloaded with %v elements, want 3: %v", r["elements"], r)
	}
	if got, want := addrsOf(t, addr, "web.pool.example."), []string{"10.0.0.1", "10.0.0.3", "10.0.0.4"}; !slices.Equal(got, want) {
		t.Errorf("web.pool.example. A after the close = %v, want %v", got, want)
	}

	// An atomic replace is reloaded too.
	from = p.cursor()
	writeAtomic(t, filepath.Join(dir, "zones"), "pool.example.zone", zoneWith("10.0.0.9:8080"))
	p.waitLog(from, "the reload after the rename", msgIs("zones reloaded"))
	if got := addrsOf(t, addr, "web.pool.example."); !slices.Equal(got, []string{"10.0.0.9"}) {
		t.Errorf("web.pool.example. A after the rename = %v", got)
	}
}
