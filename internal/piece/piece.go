package piece

import (
	"runtime"
	"time"
)

// Slicer cuts a run of work into pieces of about Budget, taking a turn
// between two pieces (see the package comment).
type Slicer struct {
	// Turn waits for a turn; nil: runtime.Gosched.
	Turn func()
	// Budget is about how long a piece runs before the turn.
	Budget time.Duration

	since time.Time // the piece's start
	n     uint32    // steps since the last clock reading's window began
}

// Start begins a piece (a run's first).
func (s *Slicer) Start() { s.since, s.n = time.Now(), 0 }

// Due reports whether the piece has run its budget, reading the clock
// every 16 calls.
func (s *Slicer) Due() bool {
	s.n++
	return s.n%16 == 0 && time.Since(s.since) >= s.Budget
}

// Tick is a step done: it takes a turn and begins the next piece when the
// piece is due.
func (s *Slicer) Tick() {
	if s.Due() {
		s.Yield()
	}
}

// Yield takes a turn and begins the next piece.
func (s *Slicer) Yield() {
	if s.Turn != nil {
		s.Turn()
	} else {
		runtime.Gosched()
	}
	s.Start()
}
