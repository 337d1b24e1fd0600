package history

import (
	"maps"

	"github.com/poolnsd/poolnsd/handlespace"
)

// TallyLen is how many elements of pool the tally keeps. Testing.
func TallyLen(a *Answers, pool *handlespace.PoolInfo) int {
	into := map[uint32]uint64{}
	a.read(pool.Name, into)
	return len(into)
}

// WalkCounts is what History and Peers counted by a walk of every pool
// kept before they kept the counts as pools change: the pools without
// series, the elements without a timeline and the elements by home.
// Testing.
func WalkCounts(r *Recorder) (untrackedPools, untrackedElements int, homes, kept map[uint32]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	homes = map[uint32]int{}
	for _, ps := range r.pools {
		untrackedElements += ps.untracked
		if ps.series == nil {
			untrackedPools++
		}
		for id, n := range ps.homes {
			homes[id] += n
		}
	}
	return untrackedPools, untrackedElements, homes, maps.Clone(r.homes)
}
