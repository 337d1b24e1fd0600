package handlespace

import (
	"slices"

	"github.com/poolnsd/poolnsd/handlespace/internal/intern"
)

// Vantages is what the vantage points of an element's last health
// confirmation saw (Element.Vantage) as a small number, so that the
// element holds no slice for the collector to follow: 0 for none, else
// the number of a list in a table of every distinct list of Vantage that
// elements were given, interned by value (few distinct lists: the
// registrars' identifiers by what each saw). The table only grows, up to
// vantagesMax lists; past that, VantagesOf gives 0 (not disputed).
type Vantages uint32

const vantagesMax = 1 << 16

var vantageTab = intern.New[string, []Vantage](vantagesMax)

// VantagesOf returns the Vantages of vs (empty: 0), in vs's order. It
// does not keep vs. Safe for concurrent use (it takes the table's lock;
// All takes none).
func VantagesOf(vs []Vantage) Vantages {
	if len(vs) == 0 {
		return 0
	}
	var buf [64]byte
	b := buf[:0]
	for _, v := range vs {
		b = append(b, byte(v.Registrar>>24), byte(v.Registrar>>16), byte(v.Registrar>>8), byte(v.Registrar), byte(v.Health))
	}
	return Vantages(vantageTab.Of(string(b), func() []Vantage { return slices.Clip(slices.Clone(vs)) }))
}

// All returns the list, nil for none. It is shared by every element that
// has the same: it must not be written (a writer gives an element
// another list with VantagesOf).
func (r Vantages) All() []Vantage {
	if p := vantageTab.Get(uint32(r)); p != nil {
		return *p
	}
	return nil
}
