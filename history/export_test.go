package history

import "github.com/poolnsd/poolnsd/handlespace"

// TallyLen is how many elements of pool the tally keeps. Testing.
func TallyLen(a *Answers, pool *handlespace.PoolInfo) int {
	pt := (*a.pools.Load())[pool]
	if pt == nil {
		return 0
	}
	return len(*pt.first.Load())
}
