package policy

import (
	"fmt"
	"math/big"
	"math/rand"
	"slices"
	"sync"
	"testing"
	"testing/quick"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/handlespace/internal/ptree"
	"github.com/poolnsd/poolnsd/internal/testrand"
)

// Tests of RSPLIB's policies beyond RFC 5356: rplu, plud, rlud, rplud and
// the distance-penalty family (wrand-dpf, lu-dpf, lud-dpf, plu-dpf,
// plud-dpf).

const pct = handlespace.LoadFull / 100

// mustDistPolicy returns policy name with penalty factor dpf and
// distance step step.
func mustDistPolicy(t testing.TB, name string, dpf uint32, step time.Duration, r handlespace.Rand) handlespace.Policy {
	t.Helper()
	spec := handlespace.DefaultPoolSpec()
	spec.Policy, spec.DPF, spec.DistanceStep = name, dpf, step
	p, err := handlespace.PolicyFor(spec, r)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRSPLIBPolicyNames(t *testing.T) {
	dpf := []string{"lu-dpf", "lud-dpf", "plu-dpf", "plud-dpf", "wrand-dpf"}
	for _, n := range append([]string{"plud", "rlud", "rplu", "rplud"}, dpf...) {
		mustPolicy(t, n, nil)
		if got, want := handlespace.DistancePolicy(n), slices.Contains(dpf, n); got != want {
			t.Errorf("DistancePolicy(%s) = %v", n, got)
		}
		if got, want := handlespace.UsesRTT(n), slices.Contains(dpf, n); got != want {
			t.Errorf("handlespace.UsesRTT(%s) = %v", n, got)
		}
	}
	if !handlespace.UsesRTT("nearest") || handlespace.UsesRTT("lud") || handlespace.DistancePolicy("nearest") {
		t.Error("UsesRTT or DistancePolicy wrong for nearest or lud")
	}
}

func TestDistance(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		rtt, local, step time.Duration
		want             uint32
	}{
		{0, 0, 50 * ms, 0},                            // unknown
		{40 * ms, 0, 50 * ms, 0},                      // 20 ms one way: rounds down to 0
		{60 * ms, 0, 50 * ms, 50},                     // 30 ms: up to 50
		{50 * ms, 0, 50 * ms, 50},                     // 25 ms: half way rounds up
		{150 * ms, 0, 50 * ms, 100},                   // 75 ms
		{149 * ms, 0, 50 * ms, 50},                    // 74.5 ms
		{200 * ms, 30 * ms, 10 * ms, 20},              // this registrar's own RTT wins: 15 ms → 20
		{0, 7 * ms, time.Millisecond, 4},              // 3.5 ms → 4
		{0, 7 * ms, 0, 0},                             // step 0: the default, 50 ms
		{1 << 62, 0, time.Millisecond, maxDistance},   // capped
		{3 * time.Second, 0, time.Minute, 0},          // 1.5 s of a minute's step
		{90 * time.Second, 0, time.Minute, 60 * 1000}, // 45 s: a step
	} {
		e := &handlespace.Element{RTT: tc.rtt, LocalRTT: tc.local}
		if got := Distance(e, tc.step); got != tc.want {
			t.Errorf("Distance(RTT %v, LocalRTT %v, step %v) = %d ms, want %d", tc.rtt, tc.local, tc.step, got, tc.want)
		}
	}
}

// TestDistanceRankPolicies: exact orders of lu-dpf and plu-dpf, with a
// penalty of 1 % of full load per millisecond and steps of 10 ms.
func TestDistanceRankPolicies(t *testing.T) {
	ms := time.Millisecond
	type params struct {
		load, deg uint32
		rtt       time.Duration
	}
	elems := []params{
		{load: 10 * pct},                      // no RTT: no penalty, 10 %
		{load: 0, rtt: 40 * ms},               // 20 ms: 20 %
		{load: 5 * pct, rtt: 12 * ms},         // 6 ms → 10 ms: 15 %
		{load: 0, deg: 30 * pct, rtt: 8 * ms}, // 4 ms → 0: 0 % (plu-dpf: 30 %)
		{load: 10 * pct, rtt: 2 * ms},         // 1 ms → 0: 10 %, ties with 0
	}
	for _, tc := range []struct {
		policy string
		firsts []int32
		full   [][]int32
	}{
		// The tie of 0 and 4 turns with every Select (the pool's
		// sequence), whether it is reached or not.
		{"lu-dpf", []int32{3, 3, 3}, [][]int32{{3, 4, 0, 2, 1}, {3, 0, 4, 2, 1}, {3, 4, 0, 2, 1}}},
		{"plu-dpf", []int32{0, 4, 0}, [][]int32{{4, 0, 2, 1, 3}, {0, 4, 2, 1, 3}}},
	} {
		es := polElems(len(elems), func(i int, e *handlespace.Element) {
			e.Load, e.LoadDeg, e.RTT = elems[i].load, elems[i].deg, elems[i].rtt
		})
		sel := build(mustDistPolicy(t, tc.policy, pct, 10*ms, nil), es, nil)
		var firsts []int32
		for range tc.firsts {
			firsts = append(firsts, sel.Select(nil, 1, nil)[0])
		}
		if !slices.Equal(firsts, tc.firsts) {
			t.Errorf("%s: first picks %v, want %v", tc.policy, firsts, tc.firsts)
		}
		for _, want := range tc.full {
			if got := sel.Select(nil, 0, nil); !slices.Equal(got, want) {
				t.Errorf("%s: full order %v, want %v", tc.policy, got, want)
			}
		}
	}
	// Penalty factor 0 is the default, 0.1 %/ms: 3 %, 2 % + 50 %, 1 % +
	// 100 %.
	es := polElems(3, func(i int, e *handlespace.Element) {
		e.Load = uint32(3-i) * pct
		e.RTT = time.Duration(i) * time.Second
	})
	if got := build(mustDistPolicy(t, "lu-dpf", 0, 10*ms, nil), es, nil).Select(nil, 0, nil); !slices.Equal(got, []int32{0, 1, 2}) {
		t.Errorf("lu-dpf with dpf=0 (the default): %v, want [0 1 2]", got)
	}
}

// setRTTs gives the elements of a quick case RTTs from a few values
// (some unknown), drawn from the case's sequence.
func setRTTs(c polCase) {
	r := rand.New(rand.NewSource(int64(c.Seq)))
	for _, e := range c.Elems {
		e.RTT = []time.Duration{0, time.Millisecond, 21 * time.Millisecond, 40 * time.Millisecond, 250 * time.Millisecond}[r.Intn(5)]
		if r.Intn(3) == 0 {
			e.LocalRTT = time.Duration(r.Intn(100)) * time.Millisecond
		}
	}
}

// naivePenalty is the distance penalty, computed apart from dist: half
// the RTT in ms rounded to the nearest step, times the factor, in big
// integers, capped at 2⁶⁴-1.
func naivePenalty(e *handlespace.Element, dpf uint32, step time.Duration) uint64 {
	rtt := e.RTT
	if e.LocalRTT > 0 {
		rtt = e.LocalRTT
	}
	oneWay := float64(rtt) / 2 / float64(time.Millisecond)
	stepMs := float64(step / time.Millisecond)
	d := int64(oneWay/stepMs+0.5) * int64(stepMs)
	return new(big.Int).Mul(big.NewInt(d), big.NewInt(int64(dpf))).Uint64()
}

func TestQuickDistanceRank(t *testing.T) {
	const dpf, step = handlespace.LoadFull / 300, 20 * time.Millisecond
	for _, tc := range []struct {
		policy string
		key    func(*handlespace.Element) uint64
	}{
		{"lu-dpf", func(e *handlespace.Element) uint64 { return uint64(e.Load) + naivePenalty(e, dpf, step) }},
		{"plu-dpf", func(e *handlespace.Element) uint64 {
			return uint64(e.Load) + uint64(e.LoadDeg) + naivePenalty(e, dpf, step)
		}},
	} {
		checkRank(t, tc.policy, mustDistPolicy(t, tc.policy, dpf, step, nil), tc.key, setRTTs)
	}
}

// ludBases are the bases of the effective load of the sorted degradation
// policies, computed apart from the policies.
func ludBases(dpf uint32, step time.Duration) map[string]func(*handlespace.Element) uint64 {
	return map[string]func(*handlespace.Element) uint64{
		"plud":    func(e *handlespace.Element) uint64 { return uint64(e.Load) + uint64(e.LoadDeg) },
		"lud-dpf": func(e *handlespace.Element) uint64 { return uint64(e.Load) + naivePenalty(e, dpf, step) },
		"plud-dpf": func(e *handlespace.Element) uint64 {
			return uint64(e.Load) + uint64(e.LoadDeg) + naivePenalty(e, dpf, step)
		},
	}
}

func TestQuickPLUD(t *testing.T) {
	const dpf, step = handlespace.LoadFull / 300, 20 * time.Millisecond
	for name, base := range ludBases(dpf, step) {
		p := mustDistPolicy(t, name, dpf, step, nil)
		f := func(c polCase) bool {
			setRTTs(c)
			n := len(c.Elems)
			sel := build(p, c.Elems, nil)
			ref := &naiveLUD{elems: c.Elems, count: make([]uint64, n), last: make([]uint64, n), base: base}
			for step := 0; step < 40; step++ {
				k := []int{1, 2, 3, 0, c.K, 9}[step%6]
				if got, want := sel.Select(nil, k, nil), ref.selectK(k); !slices.Equal(got, want) {
					t.Logf("%s step %d k=%d: got %v, want %v", name, step, k, got, want)
					return false
				}
			}
			return true
		}
		if err := quick.Check(f, quickConfig(t)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestPLUDOrder: plud's exact first picks, and a load report resetting
// the count.
func TestPLUDOrder(t *testing.T) {
	elems := polElems(3, func(i int, e *handlespace.Element) {
		e.Load = []uint32{0, 10 * pct, 25 * pct}[i]
		e.LoadDeg = []uint32{10 * pct, 5 * pct, 0}[i]
	})
	p := mustPolicy(t, "plud", nil)
	sel := build(p, elems, nil)
	// Effective loads: 0: 10+10c, 1: 15+5c, 2: 25. 0 (10), 1 (15), 1 (20)
	// and 0 (20, charged longer ago), 2 (25) ties with 1 (25) and 0 (30
	// after its second charge)... worked out step by step:
	// 0:10 1:15 2:25 → 0; 0:20 1:15 → 1; 0:20 1:20 → 0 (charged before 1);
	// 0:30 1:20 → 1; 0:30 1:25 2:25 → 2 (never charged); 2 stays 25 → 1
	// (25, charged less recently than... 2 just was) → 1.
	want := []int32{0, 1, 0, 1, 2, 1}
	var got []int32
	for range want {
		got = append(got, sel.Select(nil, 1, nil)[0])
	}
	if !slices.Equal(got, want) {
		t.Errorf("plud first picks %v, want %v", got, want)
	}
	next := []*handlespace.Element{elems[0].Clone(), elems[1], elems[2]}
	next[0].Load = 1 // a load report: 0's count starts again
	sel2 := build(p, next, sel)
	if c := sel2.charges(0); c != 0 {
		t.Errorf("after a load report element 0 has %d charges, want 0", c)
	}
	if c := sel2.charges(1); c != sel.charges(1) || c != 3 {
		t.Errorf("element 1 has %d charges after the build, %d before, want 3", c, sel.charges(1))
	}
}

// naiveRLUD is the reference for rlud and rplud: weights from counts in
// plain slices, each pick a linear scan in ID order over the elements not
// yet picked, drawn with the same random source.
type naiveRLUD struct {
	elems []*handlespace.Element
	count []uint64
	base  func(*handlespace.Element) uint64
	r     handlespace.Rand
}

func (m *naiveRLUD) weight(i int) uint64 {
	x := new(big.Int).SetUint64(m.count[i])
	x.Mul(x, big.NewInt(int64(m.elems[i].LoadDeg)))
	x.Add(x, new(big.Int).SetUint64(m.base(m.elems[i])))
	full := big.NewInt(handlespace.LoadFull)
	if x.Cmp(full) >= 0 {
		return 1
	}
	return full.Sub(full, x).Uint64()
}

// probs returns the first-pick probabilities in the current state.
func (m *naiveRLUD) probs() []float64 {
	p := make([]float64, len(m.elems))
	total := 0.0
	for i := range p {
		p[i] = float64(m.weight(i))
		total += p[i]
	}
	for i := range p {
		p[i] /= total
	}
	return p
}

func (m *naiveRLUD) selectK(k int) []int32 {
	n := len(m.elems)
	k = wantK(k, n)
	w := make([]uint64, n)
	for i := range w {
		w[i] = m.weight(i)
	}
	var out []int32
	picked := make([]bool, n)
	for c := 0; c < k; c++ {
		var total uint64
		for i := range n {
			if !picked[i] {
				total += w[i]
			}
		}
		x := randBelow(m.r, total)
		for i := range n {
			if picked[i] {
				continue
			}
			if x >= w[i] {
				x -= w[i]
				continue
			}
			picked[i] = true
			out = append(out, int32(i))
			break
		}
	}
	m.count[out[0]]++
	return out
}

var rludBases = map[string]func(*handlespace.Element) uint64{
	"rlud":  func(e *handlespace.Element) uint64 { return uint64(e.Load) },
	"rplud": func(e *handlespace.Element) uint64 { return uint64(e.Load) + uint64(e.LoadDeg) },
}

func TestQuickRLUD(t *testing.T) {
	seed := polSeed(t)
	for name, base := range rludBases {
		f := func(c polCase) bool {
			n := len(c.Elems)
			sel := build(mustPolicy(t, name, testrand.New(seed+c.Seq)), c.Elems, nil)
			ref := &naiveRLUD{elems: c.Elems, count: make([]uint64, n), base: base, r: testrand.New(seed + c.Seq)}
			for step := 0; step < 40; step++ {
				k := []int{1, 2, 3, 0, c.K, 9}[step%6]
				if got, want := sel.Select(nil, k, nil), ref.selectK(k); !slices.Equal(got, want) {
					t.Logf("%s step %d k=%d: got %v, want %v", name, step, k, got, want)
					return false
				}
			}
			return true
		}
		if err := quick.Check(f, quickConfig(t)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestQuickRLUDLarge: rlud over sets of several leaves and levels, the
// descents of the sums against the reference's linear scans.
func TestQuickRLUDLarge(t *testing.T) {
	seed := polSeed(t)
	r := rand.New(rand.NewSource(int64(seed)))
	for _, n := range []int{ptree.LeafMax + 1, 700, 3000} {
		elems := polElems(n, func(i int, e *handlespace.Element) {
			e.Load = uint32(r.Intn(4)) * 20 * pct
			e.LoadDeg = uint32(r.Intn(3)) * 7 * pct
		})
		for name, base := range rludBases {
			sel := build(mustPolicy(t, name, testrand.New(seed)), elems, nil)
			if h := sel.sel.(*rludSel).t.Height(); h < 2 {
				t.Fatalf("n=%d: tree of height %d", n, h)
			}
			ref := &naiveRLUD{elems: elems, count: make([]uint64, n), base: base, r: testrand.New(seed)}
			for step := 0; step < 300; step++ {
				k := []int{1, 2, 3, 8, 9, 40}[step%6]
				if n < 1000 && step%12 == 5 {
					k = 0 // all
				}
				got, want := sel.Select(nil, k, nil), ref.selectK(k)
				if !slices.Equal(got, want) {
					t.Fatalf("%s n=%d step %d k=%d: got %v, want %v", name, n, step, k, got[:min(len(got), 10)], want[:min(len(want), 10)])
				}
			}
			checkRludSums(t, sel.sel.(*rludSel).root)
		}
	}
}

// checkRludSums checks that every mirror node's sum is the sum of the
// weights below it, and returns it.
func checkRludSums(t *testing.T, n *ludNode) uint64 {
	t.Helper()
	var sum uint64
	for i := range n.st {
		sum += rludWeight(&n.st[i], n.st[i].count.Load())
	}
	for _, k := range n.kids {
		sum += checkRludSums(t, k)
	}
	if got := n.sum.Load(); got != sum {
		t.Errorf("node sum %d, its weights sum to %d", got, sum)
	}
	return sum
}

// TestRLUDCarriesState: a new version of the set keeps the counts of the
// elements whose base stayed, starts again those with a load report, and
// keeps its sums right.
func TestRLUDCarriesState(t *testing.T) {
	for _, n := range []int{5, 700} {
		elems := polElems(n, func(i int, e *handlespace.Element) { e.Load = uint32(i%5) * 10 * pct; e.LoadDeg = pct })
		p := mustPolicy(t, "rplud", testrand.New(polSeed(t)))
		sel := build(p, elems, nil)
		for range 200 {
			sel.Select(nil, 3, nil)
		}
		next := slices.Clone(elems)
		next[1] = elems[1].Clone()
		next[1].Load = 3 * pct // a load report
		next = append(next[:3], next[4:]...)
		next = append(next, &handlespace.Element{ID: 1 << 30, Load: 0, LoadDeg: pct})
		sel2 := build(p, next, sel)
		for i, e := range next {
			want := uint64(0)
			if j := slices.Index(elems, e); j >= 0 {
				want = sel.charges(j)
			}
			if got := sel2.charges(i); got != want {
				t.Errorf("n=%d: element %d (ID %d) has %d charges after the build, want %d", n, i, e.ID, got, want)
			}
		}
		checkRludSums(t, sel2.sel.(*rludSel).root)
		for range 200 {
			sel2.Select(nil, 1, nil)
		}
		checkRludSums(t, sel2.sel.(*rludSel).root)
	}
}

// TestConcurrentRLUD: under concurrent Selects the counts stay exact and,
// once quiet, the sums are right again.
func TestConcurrentRLUD(t *testing.T) {
	const G, M = 8, 2000
	for _, n := range []int{20, 500} {
		elems := polElems(n, func(i int, e *handlespace.Element) { e.Load = uint32(i%10) * 5 * pct; e.LoadDeg = pct / 7 })
		sel := build(mustPolicy(t, "rlud", testrand.New(polSeed(t))), elems, nil)
		counts := make([][]uint64, G)
		var wg sync.WaitGroup
		for g := 0; g < G; g++ {
			counts[g] = make([]uint64, n)
			wg.Add(1)
			go func(c []uint64) {
				defer wg.Done()
				dst := make([]int32, 0, 12)
				for i := 0; i < M; i++ {
					dst = sel.Select(dst[:0], []int{1, 3, 8, 12}[i%4], nil)
					c[dst[0]]++
				}
			}(counts[g])
		}
		wg.Wait()
		var sum uint64
		for i := range elems {
			var firsts uint64
			for g := range counts {
				firsts += counts[g][i]
			}
			if sel.charges(i) != firsts {
				t.Errorf("n=%d: element %d charged %d times, first %d times", n, i, sel.charges(i), firsts)
			}
			sum += sel.charges(i)
		}
		if sum != G*M {
			t.Errorf("n=%d: %d charges for %d selections", n, sum, G*M)
		}
		checkRludSums(t, sel.sel.(*rludSel).root)
	}
}

// TestRSPLIBRandomPolicies: goodness of fit of the first picks (and the
// first two) of rplu and wrand-dpf, and of rlud and rplud without
// degradation, over 2·10⁵ seeded draws.
func TestRSPLIBRandomPolicies(t *testing.T) {
	seed := polSeed(t)
	const draws = 200_000
	ms := time.Millisecond
	dpfWeights := []float64{90, 10, 1, 0, 7, 45}
	for _, tc := range []struct {
		policy string
		p      handlespace.Policy
		elems  []*handlespace.Element
		weight []float64 // proportional to the first-pick probability
	}{
		{"rplu", nil, polElems(6, func(i int, e *handlespace.Element) {
			e.Load = []uint32{0, 25 * pct, 50 * pct, 70 * pct, handlespace.LoadFull, 90 * pct}[i]
			e.LoadDeg = []uint32{10 * pct, 0, 25 * pct, 30 * pct, 0, 0}[i]
		}), []float64{90, 75, 25, 0, 0, 10}},
		// wrand-dpf at 0.1 %/ms, steps of 50 ms: weight 100 at 100 ms
		// (RTT 200 ms) loses 10 %; weight 50 at 1 s all but 1; weight 7
		// at 50 ms (RTT 60 ms) loses 0.35, rounded to 0; weight 50 at
		// 100 ms by its own RTT (the home's is 2 s) loses 5.
		{"wrand-dpf", mustDistPolicy(t, "wrand-dpf", handlespace.LoadFull/1000, 50*ms, testrand.New(seed)), polElems(6, func(i int, e *handlespace.Element) {
			e.Weight = []uint32{100, 10, 50, 0, 7, 50}[i]
			e.RTT = []time.Duration{200 * ms, 0, 2 * time.Second, 30 * ms, 60 * ms, 2 * time.Second}[i]
			if i == 5 {
				e.LocalRTT = 200 * ms
			}
		}), dpfWeights},
		{"wrand-dpf", mustDistPolicy(t, "wrand-dpf", handlespace.LoadFull/1000, 50*ms, testrand.New(seed)), polElems(12, func(i int, e *handlespace.Element) { // the Fenwick path
			e.Weight = uint32(10 + 10*(i%4))
			e.RTT = time.Duration(i%3) * 400 * ms // 0, 200, 400 ms one way: 0 %, 20 %, 40 % off
		}), []float64{10, 16, 18, 40, 8, 12, 30, 32, 6, 20, 24, 24}},
		{"rlud", nil, polElems(6, func(i int, e *handlespace.Element) {
			e.Load = []uint32{0, 25 * pct, 50 * pct, 75 * pct, handlespace.LoadFull, 90 * pct}[i]
		}), []float64{100, 75, 50, 25, 0, 10}},
		{"rplud", nil, polElems(4, func(i int, e *handlespace.Element) {
			e.Load = []uint32{0, 30 * pct, 50 * pct, 60 * pct}[i]
			e.LoadDeg = []uint32{40 * pct, 0, 0, 0}[i] // no degradation: charged, but 0 per charge
		}), nil},
	} {
		n := len(tc.elems)
		w := tc.weight
		if tc.policy == "rplud" {
			for i := range tc.elems {
				tc.elems[i].LoadDeg = 0
			}
			w = []float64{100, 70, 50, 40}
		}
		total := 0.0
		for _, x := range w {
			total += x
		}
		probs, pairProbs := make([]float64, n), make([]float64, n*n)
		for i := range w {
			probs[i] = w[i] / total
			for j := range w {
				if i != j && w[i] > 0 {
					pairProbs[i*n+j] = probs[i] * w[j] / (total - w[i])
				}
			}
		}
		for _, k := range []int{1, 3, 0} {
			what := fmt.Sprintf("%s n=%d k=%d", tc.policy, n, k)
			p := tc.p
			if p == nil {
				p = mustPolicy(t, tc.policy, testrand.New(seed))
			}
			sel := build(p, tc.elems, nil)
			first, pairs := firstTwo(sel, n, draws, k)
			// Weight-1 elements of rlud (fully loaded: RSPLIB's floor)
			// have a probability of about 2⁻³², expected 0 in 2·10⁵.
			chiSquare(t, what+" first picks", first, probs)
			if k != 1 {
				chiSquare(t, what+" first two picks", pairs, pairProbs)
			}
		}
	}
}

// TestRLUDDegradationFit: with degradation, each draw of rlud and rplud
// has its own distribution (the weights fall as elements are charged).
// Over 10⁵ draws the first picks must fit the sum of those distributions,
// which the reference computes from the counts. (The counts of first
// picks are sums of independent draws of varying probability: their
// variance is at most a multinomial's, so the χ² test is conservative.)
func TestRLUDDegradationFit(t *testing.T) {
	seed := polSeed(t)
	const draws = 100_000
	for name, base := range rludBases {
		elems := polElems(6, func(i int, e *handlespace.Element) {
			e.Load = []uint32{0, 10 * pct, 20 * pct, 40 * pct, 60 * pct, 0}[i]
			e.LoadDeg = []uint32{1, 2, 1, 0, 3, 10}[i] * (pct / 1000) // saturates after ~10⁵ charges at most
		})
		sel := build(mustPolicy(t, name, testrand.New(seed)), elems, nil)
		ref := &naiveRLUD{elems: elems, count: make([]uint64, len(elems)), base: base}
		first := make([]int, len(elems))
		expect := make([]float64, len(elems))
		for d := 0; d < draws; d++ {
			for i, p := range ref.probs() {
				expect[i] += p
			}
			got := sel.Select(nil, 1+d%3, nil)[0]
			first[got]++
			ref.count[got]++
		}
		for i := range expect {
			expect[i] /= draws
		}
		chiSquare(t, name+" first picks under degradation", first, expect)
		for i := range elems {
			if sel.charges(i) != uint64(first[i]) {
				t.Errorf("%s: element %d charged %d times, first %d times", name, i, sel.charges(i), first[i])
			}
		}
	}
}

// TestDistancePolicyRebuild: a pool's penalty factor or distance step
// changed by a zone reload rebuilds its order (and a registration into a
// pool keeps the spec's settings).
func TestDistancePolicyRebuild(t *testing.T) {
	h := handlespace.New(handlespace.Options{})
	near, far := testElem("near", "192.0.2.1", 80), testElem("far", "192.0.2.2", 80)
	near.Load, far.Load = 30*pct, 0
	zone := func(dpf uint32, step time.Duration) []handlespace.ZoneDef {
		pd := poolDef("web", "lu-dpf", near, far)
		pd.Spec.DPF, pd.Spec.DistanceStep = dpf, step
		return []handlespace.ZoneDef{zoneDef(t, pd)}
	}
	if err := h.ApplyZones(zone(pct, 10*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	for id, rtt := range map[uint32]time.Duration{near.ID: 2 * time.Millisecond, far.ID: 80 * time.Millisecond} {
		if err := h.Update("web.z.test.", id, func(e *handlespace.Element) { e.RTT = rtt; e.Health = handlespace.HealthUp }); err != nil {
			t.Fatal(err)
		}
	}
	first := func() string {
		pv := h.View().Pool("web.z.test.")
		return pv.All.Select(nil, 1, nil)[0].Elem().Label.String()
	}
	// far: 40 ms one way at 1 %/ms is 40 % > near's 30 %.
	if got := first(); got != "near" {
		t.Errorf("dpf 1%%/ms: first %s, want near", got)
	}
	if err := h.ApplyZones(zone(pct/2, 10*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if got := first(); got != "far" { // 20 % < 30 %
		t.Errorf("dpf 0.5%%/ms: first %s, want far", got)
	}
	if err := h.ApplyZones(zone(pct, 100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if got := first(); got != "far" { // 40 ms rounds to 0 in steps of 100 ms
		t.Errorf("step 100 ms: first %s, want far", got)
	}
}
