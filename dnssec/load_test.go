package dnssec

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// writeKey makes and writes a key into dir.
func writeKey(t *testing.T, dir, zone string, alg uint8, timing Timing) *Key {
	t.Helper()
	k, err := Generate(zone, alg, FlagsCSK, timing)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Write(dir); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestWriteLoad(t *testing.T) {
	dir := t.TempDir()
	k := writeKey(t, dir, "Pool.Example", dns.ECDSAP256SHA256, Timing{Created: t0, Publish: t0, Activate: t0})
	e := writeKey(t, dir, "other.example.", dns.ED25519, Timing{})
	if want := filepath.Join(dir, BaseName("pool.example.", 13, k.Tag)+".key"); k.File != want {
		t.Errorf("file %s; want %s", k.File, want)
	}
	st, err := os.Stat(k.PrivateFile())
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("private file mode %v (%v); want 0600", st.Mode(), err)
	}
	ks, err := Load(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	if got := ks.Zones(); len(got) != 2 || got[0] != "other.example." || got[1] != "pool.example." {
		t.Errorf("zones %v", got)
	}
	z := ks.Zone("pool.example.")
	if len(z.Keys) != 1 || z.Keys[0].Tag != k.Tag || !z.Keys[0].Timing.Activate.Equal(t0) || z.States[0] != StateActive {
		t.Fatalf("loaded %+v states %v", z.Keys, z.States)
	}
	// The loaded key signs what the made one verifies.
	s := NewSigner(Options{Now: func() time.Time { return t0 }})
	s.SetKeys(ks)
	set := rrs(t, "web.pool.example. 5 IN A 10.0.0.1")
	sigs, err := s.Zone("pool.example.").Sign(set)
	if err != nil {
		t.Fatal(err)
	}
	if err := sigs.RRSIGs[0].(*dns.RRSIG).Verify(k.DNSKEY, set); err != nil {
		t.Error(err)
	}
	if s.Zone("other.example.").Keys().Keys[0].Tag != e.Tag {
		t.Error("other zone's key")
	}
	if s.Zone("unsigned.example.") != nil {
		t.Error("a zone without keys is signed")
	}
}

func TestStates(t *testing.T) {
	h := time.Hour
	for _, c := range []struct {
		timing Timing
		want   State
	}{
		{Timing{}, StateActive},
		{Timing{Created: t0.Add(-h)}, StateActive},
		{Timing{Publish: t0.Add(-h)}, StatePublished},
		{Timing{Publish: t0.Add(h)}, StateFuture},
		{Timing{Publish: t0.Add(-h), Activate: t0}, StateActive},
		{Timing{Publish: t0.Add(-h), Activate: t0.Add(h)}, StatePublished},
		{Timing{Activate: t0.Add(-h), Inactive: t0.Add(-time.Second)}, StateRetired},
		{Timing{Activate: t0.Add(-h), Inactive: t0.Add(-h), Delete: t0}, StateRemoved},
	} {
		if got := c.timing.State(t0); got != c.want {
			t.Errorf("%+v: %s; want %s", c.timing, got, c.want)
		}
	}
}

func TestSetTimingAndNextEvent(t *testing.T) {
	dir := t.TempDir()
	k1 := writeKey(t, dir, "pool.example.", dns.ECDSAP256SHA256, Timing{Created: t0, Publish: t0, Activate: t0})
	k2 := writeKey(t, dir, "pool.example.", dns.ECDSAP256SHA256, Timing{Created: t0, Publish: t0})
	if err := k2.SetTiming(Timing{Created: t0, Publish: t0, Activate: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := k1.SetTiming(Timing{Created: t0, Publish: t0, Activate: t0, Inactive: t0.Add(3 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	ks, err := Load(dir, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got := ks.NextEvent(); !got.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("next event %v; want k2's activation", got)
	}
	z := ks.Zone("pool.example.")
	if len(z.Published()) != 2 || len(z.Signers()) != 1 || z.Signers()[0].Tag != k1.Tag {
		t.Errorf("published %d, signers %v", len(z.Published()), z.Signers())
	}
	ks, err = Load(dir, t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	z = ks.Zone("pool.example.")
	if len(z.Signers()) != 1 || z.Signers()[0].Tag != k2.Tag || !ks.NextEvent().IsZero() {
		t.Errorf("after the roll: signers %v, next %v", z.Signers(), ks.NextEvent())
	}
	b, _ := os.ReadFile(k1.File)
	if !strings.Contains(string(b), "; Inactive: ") || strings.Count(string(b), "; Activate: ") != 1 {
		t.Errorf("key file after SetTiming:\n%s", b)
	}
}

// TestLoadErrors: a bad key file makes the whole directory fail to load,
// with the file's path and the reason.
func TestLoadErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		make func(t *testing.T, dir string) string // returns the file the error names
		want string
	}{
		{"unreadable .key", func(t *testing.T, dir string) string {
			k := writeKey(t, dir, "pool.example.", 13, Timing{})
			os.Remove(k.File)
			os.Mkdir(k.File, 0o700) // a directory cannot be read as a file, even by root
			return k.File
		}, "is a directory"},
		{"malformed .key", func(t *testing.T, dir string) string {
			k := writeKey(t, dir, "pool.example.", 13, Timing{})
			os.WriteFile(k.File, []byte("; comment\npool.example. IN DNSKEY 257 3 13 !!notbase64\n"), 0o644)
			return k.File
		}, "public key is not base64"},
		{"dangling symlink", func(t *testing.T, dir string) string {
			k := writeKey(t, dir, "pool.example.", 13, Timing{})
			os.Remove(k.File)
			os.Symlink(filepath.Join(dir, "gone"), k.File)
			return k.File
		}, "no such file or directory"},
		{"short public key", func(t *testing.T, dir string) string {
			k := writeKey(t, dir, "pool.example.", 13, Timing{})
			os.WriteFile(k.File, []byte("pool.example. IN DNSKEY 257 3 13 AAAA\n"), 0o644)
			return k.File
		}, "public key has 3 bytes; want 64"},
		{"not a DNSKEY", func(t *testing.T, dir string) string {
			k := writeKey(t, dir, "pool.example.", 13, Timing{})
			os.WriteFile(k.File, []byte("pool.example. IN A 192.0.2.1\n"), 0o644)
			return k.File + ":1"
		}, "want DNSKEY"},
		{"key for another zone", func(t *testing.T, dir string) string {
			k := writeKey(t, dir, "other.example.", 13, Timing{})
			to := filepath.Join(dir, BaseName("pool.example.", 13, k.Tag))
			os.Rename(k.File, to+".key")
			os.Rename(k.PrivateFile(), to+".private")
			return to + ".key"
		}, "key for another zone: the DNSKEY is for other.example., the file name says pool.example."},
		{".key without .private", func(t *testing.T, dir string) string {
			k := writeKey(t, dir, "pool.example.", 13, Timing{})
			os.Remove(k.PrivateFile())
			return k.File
		}, "no private key file beside it"},
		{".private without .key", func(t *testing.T, dir string) string {
			k := writeKey(t, dir, "pool.example.", 13, Timing{})
			os.Remove(k.File)
			return k.PrivateFile()
		}, "no public key file"},
		{"private key of another key", func(t *testing.T, dir string) string {
			k := writeKey(t, dir, "pool.example.", 13, Timing{})
			other := writeKey(t, t.TempDir(), "pool.example.", 13, Timing{})
			b, _ := os.ReadFile(other.PrivateFile())
			os.WriteFile(k.PrivateFile(), b, 0o600)
			return k.PrivateFile()
		}, "private key does not match the public key"},
		{"private key of another algorithm", func(t *testing.T, dir string) string {
			k := writeKey(t, dir, "pool.example.", 13, Timing{})
			other := writeKey(t, t.TempDir(), "pool.example.", 15, Timing{})
			b, _ := os.ReadFile(other.PrivateFile())
			os.WriteFile(k.PrivateFile(), b, 0o600)
			return k.PrivateFile()
		}, "Algorithm"},
		{"garbage private key", func(t *testing.T, dir string) string {
			k := writeKey(t, dir, "pool.example.", 13, Timing{})
			os.WriteFile(k.PrivateFile(), []byte("Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: AAAA\n"), 0o600)
			return k.PrivateFile()
		}, "PrivateKey"},
		{"bad time", func(t *testing.T, dir string) string {
			k := writeKey(t, dir, "pool.example.", 13, Timing{})
			b, _ := os.ReadFile(k.PrivateFile())
			os.WriteFile(k.PrivateFile(), append(b, "Activate: tomorrow\n"...), 0o600)
			return k.PrivateFile() + ":4"
		}, "not a time"},
		{"no active key", func(t *testing.T, dir string) string {
			writeKey(t, dir, "pool.example.", 13, Timing{Publish: t0.Add(-time.Hour), Activate: t0.Add(time.Hour)})
			return "zone pool.example."
		}, "none is active"},
		{"only removed keys", func(t *testing.T, dir string) string {
			writeKey(t, dir, "pool.example.", 13, Timing{Activate: t0.Add(-time.Hour), Delete: t0.Add(-time.Minute)})
			return "zone pool.example."
		}, "none is active"},
		{"an algorithm published, none of it active", func(t *testing.T, dir string) string {
			writeKey(t, dir, "pool.example.", 13, Timing{Activate: t0.Add(-time.Hour)})
			writeKey(t, dir, "pool.example.", 15, Timing{Publish: t0.Add(-time.Hour)})
			return "zone pool.example."
		}, "no active key of algorithm ED25519"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeKey(t, dir, "good.example.", 13, Timing{}) // a good key does not save the directory
			file := c.make(t, dir)
			ks, err := Load(dir, t0)
			if err == nil {
				t.Fatalf("loaded %v", ks.Zones())
			}
			if ks != nil {
				t.Error("keys returned with an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, file) || !strings.Contains(msg, c.want) {
				t.Errorf("error %q; want %q and %q", msg, file, c.want)
			}
			if !strings.HasPrefix(msg, "dnssec: ") || strings.Count(msg, "\n") != 0 {
				t.Errorf("error %q: want one line starting with dnssec:", msg)
			}
		})
	}
}

func TestLoadMissingDir(t *testing.T) {
	ks, err := Load(filepath.Join(t.TempDir(), "keys"), t0)
	if err != nil || len(ks.Zones()) != 0 {
		t.Errorf("missing directory: %v, %v", ks, err)
	}
	if err := os.WriteFile(filepath.Join(t.TempDir(), "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := Load(f, t0); err == nil || !strings.Contains(err.Error(), f) {
		t.Errorf("a file as directory: %v", err)
	}
	if !errors.Is(ErrNoPrivate, ErrNoPrivate) {
		t.Fatal()
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"now":                  t0,
		"+2h":                  t0.Add(2 * time.Hour),
		"+7d":                  t0.Add(7 * 24 * time.Hour),
		"2026-03-02T00:00:00Z": time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC),
		"20260302000000":       time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC),
	} {
		got, err := ParseTime(in, t0)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "tomorrow", "+x", "+1.5d"} {
		if _, err := ParseTime(bad, t0); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestShortScalar: a P-256 private key written without its leading zero
// bytes (as ldns-keygen does for one key in 256) loads.
func TestShortScalar(t *testing.T) {
	dir := t.TempDir()
	for range 2000 {
		k, err := Generate("pool.example.", dns.ECDSAP256SHA256, FlagsCSK, Timing{})
		if err != nil {
			t.Fatal(err)
		}
		d, _ := k.priv.(interface{ Bytes() ([]byte, error) }).Bytes()
		if d[0] != 0 {
			continue
		}
		if err := k.Write(dir); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(k.PrivateFile())
		short := base64.StdEncoding.EncodeToString(d[1:])
		b = []byte(strings.Replace(string(b), base64.StdEncoding.EncodeToString(d), short, 1))
		os.WriteFile(k.PrivateFile(), b, 0o600)
		if _, err := Load(dir, t0); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("no key with a leading zero byte in 2000")
}
