package history

import (
	"fmt"
	"strings"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/hstest"
)

// TestExpectedShare: each policy's share of first places among the
// elements served: equal (rr, rand, hash), by weight (wrr, wrand), the
// lowest priority value (prio, ties equal), none for the load- and
// distance-driven ones; a pool with none served has no element.
func TestExpectedShare(t *testing.T) {
	for _, tt := range []struct {
		policy, basis, want string
		down                int // index of an element down, -1 none
	}{
		{"rr", "equal", "a=0.25 b=0.25 c=0.25 d=0.25", -1},
		{"rand", "equal", "a=0.33 c=0.33 d=0.33", 1},
		{"hash", "equal", "a=0.25 b=0.25 c=0.25 d=0.25", -1},
		{"wrr", "weight", "a=0.10 b=0.20 c=0.30 d=0.40", -1},
		{"wrand", "weight", "a=0.14 b=0.29 d=0.57", 2}, // 1, 2, 4 of 7
		{"prio", "priority", "a=0.50 b=0.50 c=0.00 d=0.00", -1},
		{"prio", "priority", "b=1.00 c=0.00 d=0.00", 0},
		{"lu", "load", "", -1},
		{"lud", "load", "", -1},
		{"nearest", "client", "", -1},
		{"wrand-dpf", "distance", "", -1},
		{"rplud", "load", "", -1},
	} {
		hs := handlespace.New(handlespace.Options{RegistrarID: 1})
		rrs := hstest.RRs(t, "z. 3600 IN SOA ns.z. h.z. 1 3600 600 86400 30\nz. 3600 IN NS ns.z.\nns.z. 3600 IN A 192.0.2.1\n")
		spec := handlespace.DefaultPoolSpec()
		spec.Policy = tt.policy
		var els []*handlespace.Element
		for i, l := range []string{"a", "b", "c", "d"} {
			e := hstest.Elem(l, fmt.Sprintf("10.0.0.%d", i+1), 80, uint32(i+1))
			e.Priority = uint32(i / 2) // a, b 0; c, d 1
			els = append(els, e)
		}
		if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "z.", File: "z", Records: rrs, Pools: []handlespace.PoolDef{{Handle: "p", Spec: spec, Elements: els}}}}); err != nil {
			t.Fatal(err)
		}
		if tt.down >= 0 {
			if err := hs.Update("p.z.", els[tt.down].ID, func(x *handlespace.Element) { x.Health = handlespace.HealthDown }); err != nil {
				t.Fatal(err)
			}
		}
		sh := expectedShare(hs.View().Pool("p.z."))
		var parts []string
		for _, e := range sh.Elements {
			parts = append(parts, fmt.Sprintf("%s=%.2f", e.Label, e.Share))
		}
		if got := strings.Join(parts, " "); sh.Basis != tt.basis || got != tt.want {
			t.Errorf("%s (down %d): %s %q, want %s %q", tt.policy, tt.down, sh.Basis, strings.Join(parts, " "), tt.basis, tt.want)
		}
	}
}

// TestExpectedShareBounded: a pool serving more than MaxShareElements
// elements says how many instead of listing their shares; one serving
// exactly that many lists them all.
func TestExpectedShareBounded(t *testing.T) {
	for _, n := range []int{MaxShareElements, MaxShareElements + 1} {
		hs := handlespace.New(handlespace.Options{RegistrarID: 1})
		rrs := hstest.RRs(t, "z. 3600 IN SOA ns.z. h.z. 1 3600 600 86400 30\nz. 3600 IN NS ns.z.\nns.z. 3600 IN A 192.0.2.1\n")
		spec := handlespace.DefaultPoolSpec()
		spec.Policy = "prio"
		var els []*handlespace.Element
		for i := range n {
			els = append(els, hstest.Elem(fmt.Sprintf("e%d", i), fmt.Sprintf("10.0.%d.%d", i>>8, i&255), 80, 1))
		}
		if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "z.", File: "z", Records: rrs, Pools: []handlespace.PoolDef{{Handle: "p", Spec: spec, Elements: els}}}}); err != nil {
			t.Fatal(err)
		}
		sh := expectedShare(hs.View().Pool("p.z."))
		switch {
		case n > MaxShareElements && (sh.Omitted != n || sh.Elements != nil || sh.Basis != "priority"):
			t.Errorf("%d served: basis %s, omitted %d, %d listed; want priority, %d, none", n, sh.Basis, sh.Omitted, len(sh.Elements), n)
		case n <= MaxShareElements && (sh.Omitted != 0 || len(sh.Elements) != n):
			t.Errorf("%d served: omitted %d, %d listed; want 0 and all", n, sh.Omitted, len(sh.Elements))
		}
	}
}
