package policy

import (
	"math/bits"
	"sync"

	"github.com/poolnsd/poolnsd/handlespace"
)

// Helpers shared by the policies.

// registerPolicy registers a policy that needs nothing of its pools'
// specs.
func registerPolicy(name string, mk func(handlespace.Rand) handlespace.Policy) {
	handlespace.RegisterPolicy(name, false, func(r handlespace.Rand, _ handlespace.PoolSpec) handlespace.Policy {
		return mk(r)
	})
}

// randBelow returns a uniformly distributed number in [0, n), n > 0, without
// modulo bias (Lemire's multiply-and-reject; almost never draws twice).
func randBelow(r handlespace.Rand, n uint64) uint64 {
	hi, lo := bits.Mul64(r.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(r.Uint64(), n)
		}
	}
	return hi
}

// wantK is how many indexes Select appends for k out of n elements.
func wantK(k, n int) int {
	if k <= 0 || k > n {
		return n
	}
	return k
}

// mix64 is the splitmix64 finalizer: a bijection of uint64 that scatters
// every input bit over the whole output.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// idxScratches holds index buffers of the selectors that work on indexes,
// for answers too long for a buffer on the stack.
var idxScratches = sync.Pool{New: func() any { return new([]int32) }}

// appendIdx appends the elements of part of the given indexes.
func appendIdx(dst []handlespace.Pick, part *tnode, idx []int32) []handlespace.Pick {
	for _, i := range idx {
		dst = append(dst, handlespace.PickOf(part, i))
	}
	return dst
}
