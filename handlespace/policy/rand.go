package policy

import (
	"sync/atomic"

	"github.com/poolnsd/poolnsd/handlespace"
)

// rand is RFC 5356 Random: each answer is a uniformly random ordering of k
// distinct elements (the first pick uniform over all n, the second uniform
// over the n-1 others, and so on). The randomness is the policy's Rand.
type randPol struct{ r handlespace.Rand }

func init() {
	registerPolicy("rand", func(r handlespace.Rand) handlespace.Policy { return randPol{r} })
}

var _ handlespace.Policy = randPol{}

func (randPol) Name() string { return "rand" }

func (randPol) Order() handlespace.Order { return handlespace.Order{} }

func (p randPol) Build(s *handlespace.Set, seq *atomic.Uint64, _ handlespace.Selector, _ bool) handlespace.Selector {
	return &randSel{r: p.r, t: *s.Tree()}
}

type randSel struct {
	r handlespace.Rand
	t tree
}

var _ handlespace.Selector = (*randSel)(nil)

// randSmallK is the largest k that rand and the weighted random policies
// serve by drawing from the remaining elements directly, in O(k²) time and
// no memory; larger answers use O(n) scratch.
const randSmallK = 8

// pickAt returns the entry of rank r of t.
func pickAt(t *tree, r int) handlespace.Pick {
	if t.Height() == 1 {
		return handlespace.PickOf(t.Root(), int32(r))
	}
	l, i := t.At(r)
	return handlespace.PickOf(l, int32(i))
}

// appendPicks appends every entry of t, in order.
func appendPicks(dst []handlespace.Pick, t *tree) []handlespace.Pick {
	t.EachLeaf(func(l *tnode) bool {
		for i := range l.Elems() {
			dst = append(dst, handlespace.PickOf(l, int32(i)))
		}
		return true
	})
	return dst
}

func (s *randSel) Select(dst []handlespace.Pick, k int, _ *handlespace.Client) []handlespace.Pick {
	n := s.t.Len()
	k = wantK(k, n)
	if k > randSmallK {
		// Partial Fisher–Yates shuffle of all elements, in dst itself.
		base := len(dst)
		dst = appendPicks(dst, &s.t)
		a := dst[base:]
		for i := 0; i < k; i++ {
			j := i + int(randBelow(s.r, uint64(n-i)))
			a[i], a[j] = a[j], a[i]
		}
		return dst[:base+k]
	}
	// Draw x among the n-c elements not chosen yet and find the x-th of
	// them by stepping over the chosen ones, kept in ascending order.
	var chosen [randSmallK]int32
	for c := 0; c < k; c++ {
		x := int32(randBelow(s.r, uint64(n-c)))
		i := 0
		for ; i < c && x >= chosen[i]; i++ {
			x++
		}
		copy(chosen[i+1:c+1], chosen[i:c])
		chosen[i] = x
		dst = append(dst, pickAt(&s.t, int(x)))
	}
	return dst
}
