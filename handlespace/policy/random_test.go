package policy

import (
	"fmt"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/testrand"
)

// Goodness of fit of the random policies: rand, wrand and rlu.

// firstTwo draws count answers of k from sel and counts the first picks and
// the (first, second) pairs.
func firstTwo(sel *testSel, n, count, k int) (first []int, pairs []int) {
	first, pairs = make([]int, n), make([]int, n*n)
	dst := make([]int32, 0, n)
	for i := 0; i < count; i++ {
		dst = sel.Select(dst[:0], k, nil)
		first[dst[0]]++
		if len(dst) > 1 {
			pairs[int(dst[0])*n+int(dst[1])]++
		}
	}
	return first, pairs
}

func TestRandomPolicies(t *testing.T) {
	seed := polSeed(t)
	const draws = 200_000
	pct := func(p float64) uint32 { return handlespace.LoadFromFraction(p) }
	for _, tc := range []struct {
		policy string
		elems  []*handlespace.Element
		weight func(e *handlespace.Element) float64 // proportional to the first-pick probability
	}{
		{"rand", polElems(10, nil), func(*handlespace.Element) float64 { return 1 }},
		{"wrand", polElems(7, func(i int, e *handlespace.Element) { e.Weight = []uint32{1, 2, 3, 4, 0, 10, 30}[i] }),
			func(e *handlespace.Element) float64 { return float64(e.Weight) }},
		{"wrand", polElems(12, func(i int, e *handlespace.Element) { e.Weight = uint32(1 + i%4) }), // 12 > randSmallK: the Fenwick path
			func(e *handlespace.Element) float64 { return float64(e.Weight) }},
		{"wrand", polElems(5, nil), func(*handlespace.Element) float64 { return 1 }}, // all weights 0: uniform
		{"rlu", polElems(6, func(i int, e *handlespace.Element) {
			e.Load = []uint32{0, pct(.25), pct(.5), pct(.75), handlespace.LoadFull, pct(.9)}[i]
		}),
			func(e *handlespace.Element) float64 {
				return handlespace.LoadFraction(handlespace.LoadFull) - handlespace.LoadFraction(e.Load)
			}},
		{"rlu", polElems(3, func(i int, e *handlespace.Element) { e.Load = handlespace.LoadFull }), func(*handlespace.Element) float64 { return 1 }},
	} {
		n := len(tc.elems)
		w := make([]float64, n)
		total := 0.0
		for i, e := range tc.elems {
			w[i] = tc.weight(e)
			total += w[i]
		}
		probs, pairProbs := make([]float64, n), make([]float64, n*n)
		for i := range w {
			probs[i] = w[i] / total
			for j := range w {
				if i != j && w[i] > 0 {
					// Without replacement; a zero-weight second pick only
					// after all positive ones, i.e. never here unless
					// everything else is zero.
					pairProbs[i*n+j] = probs[i] * w[j] / (total - w[i])
				}
			}
		}
		for _, k := range []int{1, 3, 0} {
			what := fmt.Sprintf("%s n=%d k=%d", tc.policy, n, k)
			sel := build(mustPolicy(t, tc.policy, testrand.New(seed)), tc.elems, nil)
			first, pairs := firstTwo(sel, n, draws, k)
			chiSquare(t, what+" first picks", first, probs)
			if k != 1 {
				chiSquare(t, what+" first two picks", pairs, pairProbs)
			}
		}
	}
}

// TestRandomZeroWeightsLast checks that weight-0 (or fully loaded) elements
// come after all others.
func TestRandomZeroWeightsLast(t *testing.T) {
	seed := polSeed(t)
	for _, k := range []int{3, 0} {
		elems := polElems(11, func(i int, e *handlespace.Element) {
			if i%3 == 0 {
				e.Load = handlespace.LoadFull
			} else {
				e.Weight, e.Load = 1, 5
			}
		})
		for _, name := range []string{"wrand", "rlu"} {
			sel := build(mustPolicy(t, name, testrand.New(seed)), elems, nil)
			for rep := 0; rep < 200; rep++ {
				got := sel.Select(nil, k, nil)
				zeroSeen := false
				for _, i := range got {
					zero := i%3 == 0
					if !zero && zeroSeen {
						t.Fatalf("%s k=%d: %v puts a zero-weight element before a positive one", name, k, got)
					}
					zeroSeen = zeroSeen || zero
				}
			}
		}
	}
}
