package handlespace

import (
	"flag"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace/internal/ptree"
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

// labelIndexHolds reports whether pv's label index holds keys and no other
// key: removing each must change the index (ptree's Without returns the
// index itself when it lacks the key), and removing them all must leave
// it empty (the zero Index).
func labelIndexHolds(pv *PoolView, keys []uint64) bool {
	x := pv.labels
	for _, k := range keys {
		y := x.Without(k)
		if y == x {
			return false
		}
		x = y
	}
	return x == ptree.Index{}
}
