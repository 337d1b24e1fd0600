package baseline

import (
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
)

func elem(id uint32, h handlespace.Health) *handlespace.Element {
	return &handlespace.Element{ID: id, Health: h, Static: true}
}

// keys returns the keys of bases, in order.
func keys(bs []Base) []Key {
	var out []Key
	for _, b := range bs {
		out = append(out, b.Key)
	}
	return out
}

// A base is the lost home's word, kept through the moves that follow
// while that home is away, replaced by a later loss once the home came
// back, and gone once the home's word (Said) or its push (Take) came.
func TestSet(t *testing.T) {
	const e5, e3, e2 = 5, 3, 2
	x, y, z := Key{"p.", 1}, Key{"p.", 2}, Key{"q.", 1}
	var s Set
	s.Lost(x, e5, elem(1, handlespace.HealthUp), true)
	s.Lost(y, e5, elem(2, handlespace.HealthUp), true)
	s.Lost(z, e5, elem(1, handlespace.HealthUp), false) // not e5's word: no base
	// x moved on to e3, which never spoke of it, and e3 was lost too:
	// e5's base stands.
	s.Lost(x, e3, elem(1, handlespace.HealthDown), false)
	if s.Len() != 2 {
		t.Fatalf("%d bases, want x and y", s.Len())
	}
	s.Said(y, e3) // not y's base's home: nothing
	s.Said(y, e5)
	got := s.Take(e5)
	if len(got) != 1 || got[0].Key != x || got[0].From != e5 || got[0].Elem.Health != handlespace.HealthUp {
		t.Fatalf("Take(e5) = %+v, want x as e5 said it (up)", got)
	}
	if s.Len() != 0 || len(s.Take(e5)) != 0 {
		t.Fatal("Take did not forget")
	}

	// Back: a base whose home came back and was lost again without
	// pushing is replaced by the new loss's copy, or dropped when that
	// copy is not the home's word.
	s.Lost(x, e5, elem(1, handlespace.HealthUp), true)
	s.Lost(y, e5, elem(2, handlespace.HealthUp), true)
	s.Lost(z, e2, elem(1, handlespace.HealthUp), true)
	s.Back(e5)
	s.Lost(x, e5, elem(1, handlespace.HealthDown), true)
	s.Lost(y, e5, elem(2, handlespace.HealthDown), false)
	got = s.Take(e5)
	if len(got) != 1 || got[0].Key != x || got[0].Elem.Health != handlespace.HealthDown {
		t.Fatalf("Take(e5) after it came back and was lost again = %+v, want x as last said (down)", got)
	}
	if ks := keys(s.Take(e2)); len(ks) != 1 || ks[0] != z {
		t.Fatalf("Take(e2) = %v, want z alone (another home's)", ks)
	}
}

// Take returns the bases sorted by pool and identifier.
func TestTakeSorted(t *testing.T) {
	var s Set
	for _, k := range []Key{{"q.", 1}, {"p.", 9}, {"p.", 2}} {
		s.Lost(k, 7, elem(k.ID, handlespace.HealthUp), true)
	}
	ks := keys(s.Take(7))
	want := []Key{{"p.", 2}, {"p.", 9}, {"q.", 1}}
	if len(ks) != 3 || ks[0] != want[0] || ks[1] != want[1] || ks[2] != want[2] {
		t.Fatalf("Take = %v, want %v", ks, want)
	}
}
