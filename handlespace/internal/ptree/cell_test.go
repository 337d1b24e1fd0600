package ptree

import (
	"testing"
)

type cellValue struct {
	Head
	n int
}

type badCellValue struct {
	n int
	Head
}

// TestCell: as TestMemo, for a cell whose values carry their own entry;
// and a value whose Head is not its first field is refused.
func TestCell(t *testing.T) {
	var c Cell
	if _, ok := Load[cellValue](&c, "a"); ok {
		t.Fatal("an empty cell holds a value")
	}
	a := Store(&c, "a", &cellValue{n: 1})
	if v, ok := Load[cellValue](&c, "a"); !ok || v != a || v.n != 1 {
		t.Fatalf("Load(a) = %v, %v; want the value stored, 1", v, ok)
	}
	if _, ok := Load[cellValue](&c, "b"); ok {
		t.Fatal("a cell of key a holds a value for key b")
	}
	type holder struct{ c Cell }
	h := holder{c: c}
	if _, ok := Load[cellValue](&h.c, "a"); ok {
		t.Fatal("a copy of a cell hands out the original's value")
	}
	Store(&c, "b", &cellValue{n: 2})
	if v, ok := Load[cellValue](&c, "b"); !ok || v.n != 2 {
		t.Fatalf("after storing b: Load(b) = %v, %v; want 2", v, ok)
	}
	if _, ok := Load[cellValue](&c, "a"); ok {
		t.Fatal("the value of key a outlived the store of key b")
	}
	defer func() {
		if recover() == nil {
			t.Error("Store took a value whose Head is not its first field")
		}
	}()
	Store(&c, "c", &badCellValue{n: 3})
}
