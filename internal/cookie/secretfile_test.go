package cookie

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadSecretsGenerated: without dns.cookie_secret a secret is made
// once, kept in the data directory (mode 0600) and read back on the next
// start.
func TestLoadSecretsGenerated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // not there yet
	s1, gen, err := LoadSecrets("", "", dir)
	if err != nil || !gen {
		t.Fatalf("first load: generated %v, err %v; want a new secret", gen, err)
	}
	path := filepath.Join(dir, SecretFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if string(b) != s1.Current.String()+"\n" {
		t.Errorf("%s holds %q, want %q", path, b, s1.Current.String()+"\n")
	}
	s2, gen, err := LoadSecrets("", "", dir)
	if err != nil || gen || s2.Current != s1.Current {
		t.Fatalf("second load: %v generated %v err %v; want the first secret read back", s2.Current, gen, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("data directory holds %d files, want only %s", len(entries), SecretFile)
	}
}

func TestLoadSecretsConfigured(t *testing.T) {
	dir := t.TempDir()
	const cur, prev = "e5e973e5a6b2a43f48e7dc849e37bfcf", "445536bcd2513298075a5d379663c962"
	s, gen, err := LoadSecrets(cur, prev, dir)
	if err != nil || gen {
		t.Fatalf("generated %v, err %v", gen, err)
	}
	if s.Current.String() != cur || s.Previous == nil || s.Previous.String() != prev {
		t.Errorf("secrets %v / %v, want %s / %s", s.Current, s.Previous, cur, prev)
	}
	if _, err := os.Stat(filepath.Join(dir, SecretFile)); !os.IsNotExist(err) {
		t.Errorf("a configured secret wrote %s (stat: %v)", SecretFile, err)
	}
}

func TestLoadSecretsErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, SecretFile), []byte("not a secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cur, prev, want string
	}{
		{"abc", "", "dns.cookie_secret: secret has 3 hex digits, want 32"},
		{"", "xyz", "dns.cookie_secret_previous: secret has 3 hex digits"},
		{"", "", filepath.Join(dir, SecretFile) + ": secret has 12 hex digits"},
	} {
		_, _, err := LoadSecrets(tc.cur, tc.prev, dir)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("LoadSecrets(%q, %q): %v, want an error starting %q", tc.cur, tc.prev, err, tc.want)
		}
	}
	// The bad file is left as it was for the operator.
	if b, _ := os.ReadFile(filepath.Join(dir, SecretFile)); string(b) != "not a secret\n" {
		t.Errorf("the bad file was changed to %q", b)
	}
}
