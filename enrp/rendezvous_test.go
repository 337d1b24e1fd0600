package enrp

import "testing"

// TestRendezvous: every registrar agrees, removing one moves only its
// elements, and the split is even.
func TestRendezvous(t *testing.T) {
	live := []uint32{10, 20, 30, 40}
	count := map[uint32]int{}
	moved := 0
	for id := uint32(0); id < 20000; id++ {
		h := Rendezvous(live, "web.pool.example.", id)
		count[h]++
		h2 := Rendezvous([]uint32{10, 30, 40}, "web.pool.example.", id)
		if h != 20 && h2 != h {
			moved++
		}
		if h == 20 && h2 == 20 {
			t.Fatal("element homed at a registrar not in the live set")
		}
		if Rendezvous([]uint32{40, 30, 20, 10}, "web.pool.example.", id) != h {
			t.Fatal("home depends on the order of the live set")
		}
	}
	if moved != 0 {
		t.Errorf("removing 20 moved %d elements of the others", moved)
	}
	for r, n := range count {
		if n < 4500 || n > 5500 {
			t.Errorf("registrar %d is home of %d of 20000 elements, want about 5000", r, n)
		}
	}
}
