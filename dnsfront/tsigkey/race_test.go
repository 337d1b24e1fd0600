//go:build race

package tsigkey

// raceOn: the race detector is on (sync.Pool then drops what it is given
// at random: allocation counts do not hold).
const raceOn = true
