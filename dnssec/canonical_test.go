package dnssec

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestLowerName: the eight-bytes-at-a-time lowercasing is the plain one,
// byte for byte, on every byte value (high-bit bytes left alone) and at
// every length and alignment.
func TestLowerName(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for range 20000 {
		b := make([]byte, rng.IntN(80))
		for i := range b {
			b[i] = byte(rng.IntN(256))
			if rng.IntN(2) == 0 {
				b[i] = byte('@' + rng.IntN(28)) // around 'A'…'Z'
			}
		}
		want := bytes.Clone(b)
		for i, c := range want {
			if 'A' <= c && c <= 'Z' {
				want[i] = c + 32
			}
		}
		got := bytes.Clone(b)
		lowerName(got)
		if !bytes.Equal(got, want) {
			t.Fatalf("lowerName(%x) = %x, want %x", b, got, want)
		}
	}
}
