// Package testrand is the seeded random source of the tests and
// benchmarks: the same seed, the same sequence. It depends on nothing of
// poolnsd, so that handlespace's own tests can use it beside those of the
// packages above it.
//
// # Basics
//
// New(seed) returns a Rand; its Uint64 method makes it a handlespace.Rand.
//
// # Caveats
//
// A Rand is safe for concurrent use, but which goroutine then gets which
// number depends on scheduling. Servers use handlespace.DefaultRand.
package testrand

import (
	"math/rand/v2"
	"sync"
)

// Rand is math/rand/v2's PCG behind a mutex.
type Rand struct {
	mu  sync.Mutex // guards pcg
	pcg *rand.PCG
}

// New returns a Rand that yields the same sequence for the same seed.
func New(seed uint64) *Rand {
	return &Rand{pcg: rand.NewPCG(seed, 0xda3e39cb94b95bdb)}
}

// Uint64 returns the next number of the sequence.
func (r *Rand) Uint64() uint64 {
	r.mu.Lock()
	v := r.pcg.Uint64()
	r.mu.Unlock()
	return v
}
