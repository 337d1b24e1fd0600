package handlespace

// rand is RFC 5356 Random: each answer is a uniformly random ordering of k
// distinct elements (the first pick uniform over all n, the second uniform
// over the n-1 others, and so on). The randomness is the policy's Rand.
type randPol struct{ r Rand }

func init() { registerPolicy("rand", func(r Rand) Policy { return randPol{r} }) }

var _ Policy = randPol{}

func (randPol) Name() string { return "rand" }

func (p randPol) Build(elems []*Element, _ Selector) Selector {
	return &randSel{r: p.r, n: len(elems)}
}

type randSel struct {
	r Rand
	n int
}

var _ Selector = (*randSel)(nil)

// randSmallK is the largest k that rand and the weighted random policies
// serve by drawing from the remaining elements directly, in O(k²) time and
// no memory; larger answers use O(n) scratch.
const randSmallK = 8

func (s *randSel) Select(dst []int32, k int, _ *Client) []int32 {
	k = wantK(k, s.n)
	if k > randSmallK {
		// Partial Fisher–Yates shuffle of all indexes, in dst itself.
		base := len(dst)
		for i := 0; i < s.n; i++ {
			dst = append(dst, int32(i))
		}
		a := dst[base:]
		for i := 0; i < k; i++ {
			j := i + int(randBelow(s.r, uint64(s.n-i)))
			a[i], a[j] = a[j], a[i]
		}
		return dst[:base+k]
	}
	// Draw x among the n-c elements not chosen yet and find the x-th of
	// them by stepping over the chosen ones, kept in ascending order.
	var chosen [randSmallK]int32
	for c := 0; c < k; c++ {
		x := int32(randBelow(s.r, uint64(s.n-c)))
		i := 0
		for ; i < c && x >= chosen[i]; i++ {
			x++
		}
		copy(chosen[i+1:c+1], chosen[i:c])
		chosen[i] = x
		dst = append(dst, x)
	}
	return dst
}
