package dnssec

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
)

// syncBuf is a log destination safe for the Keeper's timer goroutine.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
func (s *syncBuf) Reset()                      { s.mu.Lock(); s.b.Reset(); s.mu.Unlock() }

func newTestKeeper(t *testing.T, dir string, served func(string) bool) (*Keeper, *syncBuf, error) {
	t.Helper()
	var logs syncBuf
	k, err := NewKeeper(KeeperOptions{Dir: dir, Log: slog.New(slog.NewTextHandler(&logs, nil)), Served: served})
	if k != nil {
		t.Cleanup(k.Close)
	}
	return k, &logs, err
}

// signing returns the tags of the keys that sign zone's RRsets now.
func signing(k *Keeper, zone string) []uint16 {
	var tags []uint16
	if zk := k.Signer().Keys().Zone(zone); zk != nil {
		for _, key := range zk.Signers() {
			tags = append(tags, key.Tag)
		}
	}
	slices.Sort(tags)
	return tags
}

// TestKeeperKeyOfUnservedZone: a key in the keys directory for a zone
// this registrar does not serve loads (it signs nothing) with a warning
// that names its file, at start and at each reload.
func TestKeeperKeyOfUnservedZone(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	writeKey(t, dir, "pool.example.", dns.ECDSAP256SHA256, Timing{Created: now, Publish: now, Activate: now})
	typo := writeKey(t, dir, "typo.example.", dns.ECDSAP256SHA256, Timing{Created: now, Publish: now, Activate: now}).File
	k, logs, err := newTestKeeper(t, dir, func(zone string) bool { return zone == "pool.example." })
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"level=WARN", "DNSSEC key of a zone not served here", "zone=typo.example.", "file=" + typo, "trigger=start",
		"level=INFO", `msg="zone signed" zone=pool.example.`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "Kpool.example.") {
		t.Errorf("a served zone's key warned about:\n%s", logs.String())
	}
	logs.Reset()
	k.Reload("SIGHUP")
	if !strings.Contains(logs.String(), "file="+typo) || !strings.Contains(logs.String(), "trigger=SIGHUP") {
		t.Errorf("no warning on reload:\n%s", logs.String())
	}
}

// TestKeeperBadKey: a bad key file stops the start; at a reload it is
// logged, naming the file, and the last good keys keep signing.
func TestKeeperBadKey(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	good := writeKey(t, dir, "pool.example.", dns.ECDSAP256SHA256, Timing{Created: now, Publish: now, Activate: now})
	bad := filepath.Join(dir, "Kpool.example.+013+00001.key")
	if err := os.WriteFile(bad, []byte("pool.example. IN A 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := newTestKeeper(t, dir, nil); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("NewKeeper with a bad key file: %v; want an error naming %s", err, bad)
	}
	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}
	k, logs, err := newTestKeeper(t, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("pool.example. IN A 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	k.Reload("SIGHUP")
	if s := logs.String(); !strings.Contains(s, "level=ERROR") || !strings.Contains(s, "DNSSEC keys not reloaded") || !strings.Contains(s, bad) {
		t.Errorf("reload with a bad key file logged:\n%s", s)
	}
	if got := signing(k, "pool.example."); !slices.Equal(got, []uint16{good.Tag}) {
		t.Errorf("signing with %v after a failed reload, want the last good key %d", got, good.Tag)
	}
}

// TestKeeperKeyTiming: a key whose activation time comes signs from then
// on without a SIGHUP (a fake clock in a synctest bubble); after Close
// nothing loads again.
func TestKeeperKeyTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		now := time.Now()
		old := writeKey(t, dir, "pool.example.", dns.ECDSAP256SHA256, Timing{Created: now, Publish: now, Activate: now})
		next := writeKey(t, dir, "pool.example.", dns.ECDSAP256SHA256, Timing{Created: now, Publish: now, Activate: now.Add(time.Hour)})
		k, logs, err := newTestKeeper(t, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := signing(k, "pool.example."); !slices.Equal(got, []uint16{old.Tag}) {
			t.Fatalf("signing with %v at start, want %d", got, old.Tag)
		}
		time.Sleep(time.Hour - time.Second) // the bubble's clock
		synctest.Wait()
		if got := signing(k, "pool.example."); !slices.Equal(got, []uint16{old.Tag}) {
			t.Fatalf("signing with %v before the activation, want %d", got, old.Tag)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		want := []uint16{old.Tag, next.Tag}
		slices.Sort(want)
		if got := signing(k, "pool.example."); !slices.Equal(got, want) {
			t.Errorf("signing with %v after the activation, want %v", got, want)
		}
		if !strings.Contains(logs.String(), `trigger="key timing"`) {
			t.Errorf("no load at the key's time:\n%s", logs.String())
		}
		// A retirement planned, then Close: no load at its time.
		next.Timing.Inactive = time.Now().Add(time.Hour)
		if err := next.SetTiming(next.Timing); err != nil {
			t.Fatal(err)
		}
		k.Reload("SIGHUP")
		k.Close()
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if got := signing(k, "pool.example."); !slices.Equal(got, want) {
			t.Errorf("signing with %v after Close and the retirement time, want %v as before", got, want)
		}
	})
}
