package piece

import (
	"testing"
	"time"
)

// TestSlicerTurns: a piece that has run its budget takes a turn at the
// next 16th step, not before; a budget not yet spent takes none.
func TestSlicerTurns(t *testing.T) {
	turns := 0
	s := Slicer{Turn: func() { turns++ }, Budget: time.Hour}
	s.Start()
	for range 64 {
		s.Tick()
	}
	if turns != 0 {
		t.Fatalf("%d turns within the budget, want 0", turns)
	}
	s.Budget = 0
	for range 15 {
		s.Tick()
	}
	if turns != 0 {
		t.Fatalf("%d turns before the 16th step, want 0", turns)
	}
	s.Tick()
	if turns != 1 {
		t.Fatalf("%d turns at the 16th step over budget, want 1", turns)
	}
	for range 32 {
		s.Tick()
	}
	if turns != 3 {
		t.Fatalf("%d turns after 32 more steps, want 3", turns)
	}
}

// TestSlicerGosched: without a Turn, a due piece yields the processor
// and goes on.
func TestSlicerGosched(t *testing.T) {
	s := Slicer{}
	s.Start()
	for range 32 {
		s.Tick()
	}
	if s.n != 0 {
		t.Fatalf("the piece did not begin again after its turn (n=%d)", s.n)
	}
}
