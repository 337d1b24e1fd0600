package dnssec

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/miekg/dns"
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

// TestSigsWireLen: the size a renderer reserves for an RRset's RRSIGs
// before signing is what AppendWire adds, for every algorithm and for
// two keys at once, with a pointer or a full name as owner.
func TestSigsWireLen(t *testing.T) {
	now := time.Now()
	for _, keys := range [][]uint8{
		{dns.ECDSAP256SHA256}, {dns.ECDSAP384SHA384}, {dns.ED25519}, {dns.RSASHA256},
		{dns.ECDSAP256SHA256, dns.ED25519},
	} {
		var ks []*Key
		for _, alg := range keys {
			ks = append(ks, newTestKey(t, "pool.test.", alg, FlagsCSK))
		}
		s := NewSigner(Options{})
		s.SetKeys(keysOf(t, now, ks...))
		z := s.Zone("pool.test.")
		sigs, err := z.Sign(rrs(t, "web.pool.test. 5 IN A 10.0.0.1", "web.pool.test. 5 IN A 10.0.0.2"))
		if err != nil {
			t.Fatal(err)
		}
		for _, owner := range [][]byte{{0xC0, 0x0C}, []byte("\x03web\x04pool\x04test\x00")} {
			if got, want := len(sigs.AppendWire(nil, owner)), z.SigsWireLen(len(owner)); got != want {
				t.Errorf("algorithms %v, owner of %d bytes: AppendWire adds %d bytes, SigsWireLen says %d", keys, len(owner), got, want)
			}
		}
	}
}
