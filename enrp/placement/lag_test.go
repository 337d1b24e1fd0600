package placement_test

import (
	"fmt"
	"hash/fnv"
	"testing"

	"github.com/poolnsd/poolnsd/enrp/placement"
)

// TestLiveLag: registrar 2's claim made with live set {1, 2} (3 not yet
// heard) or {1, 2, 3, 4} (4 heard first) is told from the one with
// {1, 2, 3}, the comparing registrar's, and so is one with two
// registrars seen otherwise; a claim that also misses one registration,
// or one with three registrars seen otherwise, is not. (A claim here is
// the plain sum of its elements' terms.)
func TestLiveLag(t *testing.T) {
	type elem struct {
		pool string
		id   uint32
	}
	term := func(e elem) uint16 {
		h := fnv.New32a()
		fmt.Fprintf(h, "%s/%d", e.pool, e.id)
		return uint16(h.Sum32())
	}
	var statics []elem
	for i := range 300 {
		statics = append(statics, elem{fmt.Sprintf("p%d.example.", i%7), uint32(1000 + i)})
	}
	regs := []elem{{"dyn.example.", 1}, {"dyn.example.", 2}}
	claim := func(live []uint32, home uint32, withRegs int) uint64 {
		var sum uint64
		for _, e := range statics {
			if placement.Rendezvous(live, e.pool, e.id) == home {
				sum += uint64(term(e))
			}
		}
		for _, e := range regs[:withRegs] {
			sum += uint64(term(e))
		}
		return sum
	}
	live := []uint32{1, 2, 3}
	base := claim(live, 2, 2)
	each := func(yield func(placement.Static) bool) {
		for _, e := range statics {
			if !yield(placement.Static{Pool: e.pool, ID: e.id, Sum: term(e), Home: placement.Rendezvous(live, e.pool, e.id)}) {
				return
			}
		}
	}
	for _, c := range []struct {
		name    string
		claimed uint64
		want    bool
	}{
		{"3 not yet heard", claim([]uint32{1, 2}, 2, 2), true},
		{"4 heard first", claim([]uint32{1, 2, 3, 4}, 2, 2), true},
		{"3 not heard, a registration missing", claim([]uint32{1, 2}, 2, 1), false},
		{"1 and 3 not heard", claim([]uint32{2}, 2, 2), true},
		{"3 not heard, 4 heard", claim([]uint32{1, 2, 4}, 2, 2), true},
		{"1 and 3 not heard, 4 heard", claim([]uint32{2, 4}, 2, 2), false},
	} {
		claims := func(join, leave []uint16) bool {
			s := base
			for _, v := range join {
				s += uint64(v)
			}
			for _, v := range leave {
				s -= uint64(v)
			}
			return s == c.claimed
		}
		if got := placement.LiveLag(live, []uint32{1, 2, 3, 4}, 2, claims, each); got != c.want {
			t.Errorf("%s: LiveLag %v, want %v", c.name, got, c.want)
		}
	}
	if claim([]uint32{1, 2}, 2, 2) == base {
		t.Fatal("the live sets give 2 the same zone-file elements: the test shows nothing")
	}
}
