package handlespace

import (
	"flag"
	"testing"
)

var policySeed = flag.Uint64("policy.seed", 20260501, "seed of the random sources in the tests")

// polSeed returns the seed of the tests' random sources and logs it, so
// that a failure can be replayed with -policy.seed.
func polSeed(t testing.TB) uint64 {
	t.Helper()
	t.Logf("seed %d (replay with -policy.seed=%d)", *policySeed, *policySeed)
	return *policySeed
}

// hasLabelKey reports whether pv's label index holds key.
func hasLabelKey(pv *PoolView, key uint64) bool {
	found := false
	pv.labels.Each(uint32(key>>32), func(k uint64) bool { found = k == key; return !found })
	return found
}
