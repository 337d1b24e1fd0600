// Package piece cuts a long run of work into pieces of about a budget,
// with a turn between two pieces, so that the work does not hold a
// processor that a UDP serving loop needs for milliseconds (the history
// sampler's and the monitor's reactions to changes at a million
// elements). It is a leaf.
//
// # Basics
//
// A Slicer is kept by the goroutine that does the work. Start marks the
// beginning of a run; Tick after each step takes a turn once the piece
// has run its Budget (the clock is read every 16 steps); Due and Yield
// are Tick's two halves, for a caller that must let go of a lock before
// the turn. The turn is Turn (the registration committer's
// regcommit.Pacer.Turn: the UDP loops grant it between their batches),
// or runtime.Gosched when Turn is nil.
//
// # Caveats
//
// A Slicer is not safe for concurrent use. The budget bounds a piece only
// as finely as 16 steps: a step that runs long makes its piece long.
package piece
