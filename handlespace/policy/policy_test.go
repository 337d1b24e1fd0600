package policy

import (
	"flag"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/testrand"
)

// Tests common to all policies, and helpers for the other policy tests.

var policySeed = flag.Uint64("policy.seed", 20260501, "seed of the random sources in the policy tests")

// polSeed returns the seed for the policy tests and logs it, so that a
// failure can be replayed with -policy.seed.
func polSeed(t testing.TB) uint64 {
	t.Helper()
	t.Logf("seed %d (replay with -policy.seed=%d)", *policySeed, *policySeed)
	return *policySeed
}

// polElems returns n elements with IDs 1000+i·7 and parameters set by f.
func polElems(n int, f func(i int, e *handlespace.Element)) []*handlespace.Element {
	es := make([]*handlespace.Element, n)
	for i := range es {
		es[i] = &handlespace.Element{ID: uint32(1000 + i*7), Health: handlespace.HealthUp}
		if f != nil {
			f(i, es[i])
		}
	}
	return es
}

// polVaried sets parameters with ties and zeros, for the contract tests.
func polVaried(i int, e *handlespace.Element) {
	e.Weight = uint32([]int{0, 1, 5, 5, 100, 3}[i%6])
	e.Priority = uint32(i % 3)
	e.Load = handlespace.LoadFromFraction([]float64{0, 0.5, 0.5, 1, 0.25}[i%5])
	e.LoadDeg = handlespace.LoadFromFraction([]float64{0, 0.01, 0.1}[i%3])
}

// testSel is policy p's selector for a set of the given elements (kept as
// a pool keeps its served sets), answering with indexes into them, which
// is how these tests think.
type testSel struct {
	sel   handlespace.Selector // nil for an empty set
	seq   *atomic.Uint64
	elems []*handlespace.Element
	idx   map[*handlespace.Element]int32
}

// build returns the selector of p for elems, carrying over prev's state.
func build(p handlespace.Policy, elems []*handlespace.Element, prev *testSel) *testSel {
	sorted := slices.Clone(elems)
	sortByID(sorted)
	o := p.Order()
	set := o.NewSet(sorted)
	ts := &testSel{elems: elems, idx: make(map[*handlespace.Element]int32, len(elems))}
	for i, e := range elems {
		ts.idx[e] = int32(i)
	}
	var ps handlespace.Selector
	ts.seq = new(atomic.Uint64)
	if prev != nil {
		ps, ts.seq = prev.sel, prev.seq
	}
	if len(sorted) > 0 {
		ts.sel = p.Build(&set, ts.seq, ps, true)
	}
	return ts
}

// Select appends the indexes of the selector's answer to dst.
func (s *testSel) Select(dst []int32, k int, c *handlespace.Client) []int32 {
	for _, p := range s.sel.Select(nil, k, c) {
		e := p.Elem()
		if p.Part().Elems()[p.Index()] != e {
			panic(fmt.Sprintf("pick of element %d does not lie where it says", e.ID))
		}
		i, ok := s.idx[e]
		if !ok {
			panic(fmt.Sprintf("selector answered element %d, not in its set", e.ID))
		}
		dst = append(dst, i)
	}
	return dst
}

// charges returns lud's charge count of element i (testing).
func (s *testSel) charges(i int) uint64 { c, _ := s.ludState(i); return c }

// degradation returns lud's accumulated degradation of element i.
func (s *testSel) degradation(i int) uint64 {
	return s.sel.(*ludSel).degradationOf(s.elems[i].ID)
}

// ludState returns lud's count and last-charge stamp of element i.
func (s *testSel) ludState(i int) (count, last uint64) {
	if r, ok := s.sel.(*rludSel); ok {
		return r.stateOf(s.elems[i].ID)
	}
	return s.sel.(*ludSel).stateOf(s.elems[i].ID)
}

func mustPolicy(t testing.TB, name string, r handlespace.Rand) handlespace.Policy {
	t.Helper()
	p, err := handlespace.NewPolicy(name, r)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != name {
		t.Fatalf("policy %q calls itself %q", name, p.Name())
	}
	return p
}

func TestPolicyNames(t *testing.T) {
	want := []string{"hash", "lu", "lud", "plu", "prio", "rand", "rlu", "rr", "wrand", "wrr"}
	for _, n := range want {
		if !slices.Contains(handlespace.PolicyNames(), n) {
			t.Errorf("policy %q is not registered; have %v", n, handlespace.PolicyNames())
		}
	}
	if _, err := handlespace.NewPolicy("lru", nil); err == nil {
		t.Error("NewPolicy(lru) did not fail")
	}
}

// checkAnswer checks that got (appended to prefix) holds want distinct
// indexes in [0, n) after the untouched prefix.
func checkAnswer(t *testing.T, got, prefix []int32, n, want int) {
	t.Helper()
	if len(got) != len(prefix)+want {
		t.Fatalf("got %d indexes %v, want %d after the prefix", len(got)-len(prefix), got, want)
	}
	if !slices.Equal(got[:len(prefix)], prefix) {
		t.Fatalf("prefix changed: %v", got)
	}
	seen := make([]bool, n)
	for _, i := range got[len(prefix):] {
		if i < 0 || int(i) >= n {
			t.Fatalf("index %d out of range [0,%d): %v", i, n, got)
		}
		if seen[i] {
			t.Fatalf("index %d twice: %v", i, got)
		}
		seen[i] = true
	}
}

func TestSelectContract(t *testing.T) {
	seed := polSeed(t)
	clients := []*handlespace.Client{
		nil,
		{},
		{Addr: netip.MustParseAddr("192.0.2.7")},
		{Addr: netip.MustParseAddr("2001:db8::1"), Subnet: netip.MustParsePrefix("2001:db8:77::/48")},
	}
	for _, name := range policyNames() {
		t.Run(name, func(t *testing.T) {
			p := mustPolicy(t, name, testrand.New(seed))
			// pool.go builds selectors for empty sets too (never selected)
			sel := build(p, nil, build(p, []*handlespace.Element{}, nil))
			for _, n := range []int{1, 2, 3, 7, 9, 10, 33, 4} {
				for _, f := range []func(int, *handlespace.Element){nil, polVaried, func(i int, e *handlespace.Element) { e.Load = handlespace.LoadFull }} {
					sel = build(p, polElems(n, f), sel)
					for _, k := range []int{-1, 0, 1, 2, 3, n - 1, n, n + 1, 50} {
						want := k
						if k <= 0 || k > n {
							want = n
						}
						for rep := 0; rep < 3*n; rep++ {
							c := clients[rep%len(clients)]
							prefix := []int32{-7, 99}
							got := sel.Select(slices.Clone(prefix), k, c)
							checkAnswer(t, got, prefix, n, want)
						}
					}
				}
			}
		})
	}
}

func TestSelectAllocs(t *testing.T) {
	c := &handlespace.Client{Addr: netip.MustParseAddr("198.51.100.4")}
	for _, name := range policyNames() {
		p := mustPolicy(t, name, testrand.New(1))
		sel := build(p, polElems(1000, polVaried), nil).sel
		dst := make([]handlespace.Pick, 0, 8)
		for _, k := range []int{1, 3, 8} {
			if a := testing.AllocsPerRun(100, func() { dst = sel.Select(dst[:0], k, c) }); a != 0 {
				t.Errorf("%s: Select(k=%d) of 1000 makes %v allocations, want 0", name, k, a)
			}
		}
	}
}

// chiSquareP returns the probability that a χ² variable with df degrees of
// freedom is at least x: the regularised upper incomplete gamma Q(df/2, x/2).
func chiSquareP(x float64, df int) float64 {
	a, x := float64(df)/2, x/2
	if x <= 0 {
		return 1
	}
	lg, _ := math.Lgamma(a)
	front := math.Exp(-x + a*math.Log(x) - lg)
	if x < a+1 { // series for the lower function P
		sum, term := 1/a, 1/a
		for n := 1; n < 10000 && term > sum*1e-16; n++ {
			term *= x / (a + float64(n))
			sum += term
		}
		return 1 - front*sum
	}
	// continued fraction for Q (modified Lentz)
	const tiny = 1e-300
	b := x + 1 - a
	c, d := 1/tiny, 1/b
	h := d
	for i := 1; i < 10000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		if d = an*d + b; math.Abs(d) < tiny {
			d = tiny
		}
		if c = b + an/c; math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-16 {
			break
		}
	}
	return front * h
}

func TestChiSquareP(t *testing.T) {
	for _, tc := range []struct {
		x    float64
		df   int
		want float64
	}{
		{3.841458820694124, 1, 0.05},
		{23.209251158954356, 10, 0.01},
		{9.341818, 10, 0.5},
		{0.0, 3, 1},
		{124.342, 100, 0.05},
	} {
		if got := chiSquareP(tc.x, tc.df); math.Abs(got-tc.want) > 1e-4 {
			t.Errorf("chiSquareP(%v, %d) = %v, want %v", tc.x, tc.df, got, tc.want)
		}
	}
}

// chiSquare tests counts against probabilities (cells of probability 0
// must be empty) and fails if the fit's p-value is 0.01 or less.
func chiSquare(t *testing.T, what string, counts []int, probs []float64) {
	t.Helper()
	total := 0
	for _, c := range counts {
		total += c
	}
	x, df := 0.0, -1
	for i, p := range probs {
		if p == 0 {
			if counts[i] != 0 {
				t.Errorf("%s: cell %d has probability 0 but count %d", what, i, counts[i])
			}
			continue
		}
		e := p * float64(total)
		x += (float64(counts[i]) - e) * (float64(counts[i]) - e) / e
		df++
	}
	if df < 1 {
		return
	}
	pv := chiSquareP(x, df)
	t.Logf("%s: χ²=%.2f df=%d p=%.3f over %d draws", what, x, df, pv, total)
	if pv <= 0.01 {
		t.Errorf("%s: χ²=%.2f with %d degrees of freedom, p=%.5f <= 0.01; counts %v", what, x, df, pv, counts)
	}
}

func ExampleNewPolicy() {
	p, _ := handlespace.NewPolicy("wrr", testrand.New(1))
	elems := []*handlespace.Element{{ID: 1, Weight: 1}, {ID: 2, Weight: 3}}
	sel := build(p, elems, nil)
	var firsts []uint32
	for i := 0; i < 8; i++ { // two rounds of 1+3
		firsts = append(firsts, elems[sel.Select(nil, 1, nil)[0]].ID)
	}
	fmt.Println(firsts)
	// Output: [1 2 2 2 1 2 2 2]
}
