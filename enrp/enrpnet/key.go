package enrpnet

import (
	"cmp"
	"slices"
)

// key names an element: its pool (lower-case FQDN) and identifier.
type key struct {
	pool string
	id   uint32
}

// keysInOrder returns the keys of m by pool, then identifier.
func keysInOrder(m map[key]bool) []key {
	out := make([]key, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b key) int {
		if c := cmp.Compare(a.pool, b.pool); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	return out
}
