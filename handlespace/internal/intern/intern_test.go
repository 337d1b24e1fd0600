package intern

import (
	"sync"
	"testing"
)

// TestTable: one number per distinct key from 1, its value kept, 0 and
// unknown numbers give nil, a full table gives 0, and concurrent callers
// agree on the numbers.
func TestTable(t *testing.T) {
	tab := New[string, string](2 * chunk)
	a, b := tab.Of("a", func() string { return "A" }), tab.Of("b", func() string { return "B" })
	if a != 1 || b != 2 || tab.Of("a", func() string { t.Fatal("made again"); return "" }) != a {
		t.Fatalf("numbers %d %d", a, b)
	}
	if *tab.Get(a) != "A" || *tab.Get(b) != "B" || tab.Get(0) != nil || tab.Get(3) != nil || tab.Get(5*chunk) != nil {
		t.Error("Get wrong")
	}
	for i := 3; i < 2*chunk; i++ {
		if tab.Of(string(rune(i+1000)), func() string { return "" }) != uint32(i) {
			t.Fatalf("number %d", i)
		}
	}
	if tab.Of("full", func() string { return "" }) != 0 {
		t.Error("a full table gave a number")
	}
	if n, max, refused := tab.Stats(); n != 2*chunk-1 || max != 2*chunk-1 || refused != 1 {
		t.Errorf("Stats %d of %d, %d refused; want %d of %d, 1 refused", n, max, refused, 2*chunk-1, 2*chunk-1)
	}
	var wg sync.WaitGroup
	got := make([]uint32, 8)
	par := New[int, int](chunk)
	for i := range got {
		wg.Go(func() { got[i] = par.Of(42, func() int { return 42 }) })
	}
	wg.Wait()
	for _, g := range got {
		if g != got[0] || *par.Get(g) != 42 {
			t.Errorf("concurrent numbers %v", got)
		}
	}
}
