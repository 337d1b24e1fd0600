package placement

import (
	"fmt"
	"testing"
)

// TestHandedBack: of the elements homed at 1 among 1..5, those homed
// without 1 at one of the registrars coming back (4, 5) are handed back;
// those homed without 1 at 2, of its own side, are not; and elements
// homed elsewhere are not either.
func TestHandedBack(t *testing.T) {
	all := []uint32{1, 2, 3, 4, 5}
	test := HandedBack(1, []uint32{1, 2, 3}, []uint32{5, 4, 3})
	counts := map[string]int{}
	for i := range 2000 {
		pool, id := fmt.Sprintf("p%d.", i%7), uint32(i)
		home, without := Rendezvous(all, pool, id), Rendezvous(all[1:], pool, id)
		got := test(pool, id)
		want := home == 1 && without >= 3
		if got != want {
			t.Fatalf("%s %d: home %d, %d without 1: handed back %v, want %v", pool, id, home, without, got, want)
		}
		counts[fmt.Sprintf("home %v, back %v", home == 1, got)]++
	}
	if counts["home true, back true"] == 0 || counts["home true, back false"] == 0 {
		t.Errorf("the cases seen: %v, want elements homed at 1 both handed back and not", counts)
	}
}
