package policy

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/zonetext"
)

// Helpers to build handlespaces in the tests (as handlespace's own tests
// do).

const apex = `z.test. 60 IN SOA ns.z.test. h.z.test. 1 60 60 60 10
z.test. 60 IN NS ns.z.test.
ns.z.test. 60 IN A 192.0.2.1
`

func testElem(label, addr string, port uint16) *handlespace.Element {
	a := netip.MustParseAddr(addr)
	return &handlespace.Element{ID: handlespace.ElementID(a, port), Label: handlespace.LabelOf(label), Addrs: handlespace.AddrsOf(a), Port: port, Weight: 1}
}

func zoneDef(t testing.TB, pools ...handlespace.PoolDef) handlespace.ZoneDef {
	return handlespace.ZoneDef{Origin: "z.test.", File: "z.zone", Records: zonetext.RRs(t, apex), Pools: pools}
}

func poolDef(handle, policy string, elems ...*handlespace.Element) handlespace.PoolDef {
	s := handlespace.DefaultPoolSpec()
	s.Policy = policy
	return handlespace.PoolDef{Handle: handle, Spec: s, Elements: elems, Line: 7}
}

// sortByID sorts es by ID.
func sortByID(es []*handlespace.Element) {
	slices.SortFunc(es, func(a, b *handlespace.Element) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
}
