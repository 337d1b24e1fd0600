package wire

import (
	"math/rand/v2"
	"testing"
)

// TestChecksumRFC1071 uses RFC 1071 §3's worked example: the words 0001,
// f203, f4f5, f6f7 sum to 2ddf0, which folds to ddf2, whose complement is
// 220d.
func TestChecksumRFC1071(t *testing.T) {
	if got := ElementSum("\x00\x01\xf2\x03", 0xf4f5f6f7); got != 0xddf2 {
		t.Errorf("ElementSum = %04x, want ddf2", got)
	}
	if got := Checksum([]string{"\x00\x01\xf2\x03"}, []uint32{0xf4f5f6f7}); got != 0x220d {
		t.Errorf("Checksum = %04x, want 220d", got)
	}
	// An odd handle length pads with a zero byte, before the identifier.
	if got, want := ElementSum("ab.", 1), fold(0x6162+0x2e00+0+1); got != want {
		t.Errorf("odd handle: %04x, want %04x", got, want)
	}
	if got := (SumAcc{}).Checksum(); got != 0xffff {
		t.Errorf("empty set: %04x, want ffff", got)
	}
}

// TestChecksumIncremental: adding and removing terms in any order gives
// the checksum computed from scratch.
func TestChecksumIncremental(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	type pe struct {
		h  string
		id uint32
	}
	var set []pe
	var acc SumAcc
	for i := 0; i < 5000; i++ {
		if len(set) > 0 && r.IntN(3) == 0 {
			j := r.IntN(len(set))
			acc.Sub(ElementSum(set[j].h, set[j].id))
			set = append(set[:j], set[j+1:]...)
		} else {
			p := pe{string(rune('a'+r.IntN(26))) + ".pool.example.", r.Uint32()}
			set = append(set, p)
			acc.Add(ElementSum(p.h, p.id))
		}
		hs := make([]string, len(set))
		ids := make([]uint32, len(set))
		for k, p := range set {
			hs[k], ids[k] = p.h, p.id
		}
		if got, want := acc.Checksum(), Checksum(hs, ids); got != want {
			t.Fatalf("step %d: incremental %04x, from scratch %04x", i, got, want)
		}
	}
}
