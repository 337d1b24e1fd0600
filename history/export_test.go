package history

import "github.com/poolnsd/poolnsd/handlespace"

// TallyLen is how many elements of pool the tally keeps. Testing.
func TallyLen(a *Answers, pool *handlespace.PoolInfo) int {
	into := map[uint32]uint64{}
	a.read(pool.Name, into)
	return len(into)
}
