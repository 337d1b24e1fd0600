package placement_test

import (
	"fmt"
	"testing"

	"github.com/poolnsd/poolnsd/enrp/placement"
	"github.com/poolnsd/poolnsd/enrp/wire"
)

// TestLiveLag: registrar 2's claim made with live set {1, 2} (3 not yet
// heard) or {1, 2, 3, 4} (4 heard first) is told from the one with
// {1, 2, 3}, the comparing registrar's, and so is one with two
// registrars seen otherwise; a claim that also misses one registration,
// or one with three registrars seen otherwise, is not.
func TestLiveLag(t *testing.T) {
	type elem struct {
		pool string
		id   uint32
	}
	var statics []elem
	for i := range 300 {
		statics = append(statics, elem{fmt.Sprintf("p%d.example.", i%7), uint32(1000 + i)})
	}
	regs := []elem{{"dyn.example.", 1}, {"dyn.example.", 2}}
	claim := func(live []uint32, home uint32, withRegs int) uint16 {
		var acc wire.SumAcc
		for _, e := range statics {
			if placement.Rendezvous(live, e.pool, e.id) == home {
				acc.Add(wire.ElementSum(e.pool, e.id))
			}
		}
		for _, e := range regs[:withRegs] {
			acc.Add(wire.ElementSum(e.pool, e.id))
		}
		return acc.Checksum()
	}
	live := []uint32{1, 2, 3}
	var base wire.SumAcc
	for _, e := range statics {
		if placement.Rendezvous(live, e.pool, e.id) == 2 {
			base.Add(wire.ElementSum(e.pool, e.id))
		}
	}
	for _, e := range regs {
		base.Add(wire.ElementSum(e.pool, e.id))
	}
	each := func(yield func(placement.Static) bool) {
		for _, e := range statics {
			if !yield(placement.Static{Pool: e.pool, ID: e.id, Sum: wire.ElementSum(e.pool, e.id), Home: placement.Rendezvous(live, e.pool, e.id)}) {
				return
			}
		}
	}
	for _, c := range []struct {
		name    string
		claimed uint16
		want    bool
	}{
		{"3 not yet heard", claim([]uint32{1, 2}, 2, 2), true},
		{"4 heard first", claim([]uint32{1, 2, 3, 4}, 2, 2), true},
		{"3 not heard, a registration missing", claim([]uint32{1, 2}, 2, 1), false},
		{"1 and 3 not heard", claim([]uint32{2}, 2, 2), true},
		{"3 not heard, 4 heard", claim([]uint32{1, 2, 4}, 2, 2), true},
		{"1 and 3 not heard, 4 heard", claim([]uint32{2, 4}, 2, 2), false},
	} {
		if got := placement.LiveLag(live, []uint32{1, 2, 3, 4}, 2, base, c.claimed, each); got != c.want {
			t.Errorf("%s: LiveLag %v, want %v", c.name, got, c.want)
		}
	}
	if claim([]uint32{1, 2}, 2, 2) == claim(live, 2, 2) {
		t.Fatal("the live sets give 2 the same zone-file elements: the test shows nothing")
	}
}
