package handlespace

import (
	"fmt"
	"testing"
)

// TestIDString: eight lower-case hex digits, zero-padded, that ParseID
// reads back; other widths are refused.
func TestIDString(t *testing.T) {
	for _, id := range []uint32{0, 1, 0xf, 0x10, 0xabc, 0x1234abcd, 0x7fffffff, 0xffffffff} {
		s := IDString(id)
		if want := fmt.Sprintf("%08x", id); s != want {
			t.Errorf("IDString(%#x) = %q, want %q", id, s, want)
		}
		if got, err := ParseID(s); err != nil || got != id {
			t.Errorf("ParseID(%q) = %#x, %v; want %#x", s, got, err, id)
		}
	}
	for _, s := range []string{"abc", "0000000001", "", "0000000g"} {
		if _, err := ParseID(s); err == nil {
			t.Errorf("ParseID(%q) succeeded, want an error", s)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = IDString(0x1234) }); n > 1 {
		t.Errorf("IDString allocates %v times, want at most 1", n)
	}
}
