package dnssec

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadKey: any content of a key pair's two files gives a key or an
// error naming a file, never a panic.
func FuzzReadKey(f *testing.F) {
	for _, alg := range []uint8{13, 15} {
		k, err := Generate("pool.example.", alg, FlagsCSK, Timing{Created: t0, Publish: t0, Activate: t0})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(k.publicText(), k.privateText())
	}
	f.Add([]byte("pool.example. IN DNSKEY 257 3 13 AAAA\n"), []byte("Private-key-format: v1.3\nAlgorithm: 13\nPrivateKey: AAAA\n"))
	f.Add([]byte("; only a comment\n"), []byte(""))
	f.Fuzz(func(t *testing.T, pub, priv []byte) {
		dir := t.TempDir()
		base := filepath.Join(dir, "Kpool.example.+013+12345")
		if err := os.WriteFile(base+".key", pub, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(base+".private", priv, 0o600); err != nil {
			t.Fatal(err)
		}
		k, err := ReadKey(base + ".key")
		if err == nil && (k.priv == nil || k.Zone != "pool.example.") {
			t.Fatalf("key without a private key or of another zone: %+v", k)
		}
	})
}
