package history

// TallyLen is how many elements of pool the tally keeps. Testing.
func TallyLen(a *Answers, pool string) int {
	pt := (*a.pools.Load())[pool]
	if pt == nil {
		return 0
	}
	return len(*pt.first.Load())
}
