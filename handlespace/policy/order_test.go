package policy

import (
	"cmp"
	"math/big"
	"math/rand"
	"reflect"
	"slices"
	"sync"
	"testing"
	"testing/quick"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/handlespace/internal/ptree"
)

// Tests of the deterministic policies: rr, wrr, prio, lu, plu, lud.

// firstPicks makes count selections of k and returns how often each index
// came first.
func firstPicks(sel *testSel, n, count, k int) []int {
	counts := make([]int, n)
	dst := make([]int32, 0, n)
	for i := 0; i < count; i++ {
		dst = sel.Select(dst[:0], k, nil)
		counts[dst[0]]++
	}
	return counts
}

func TestRRCycle(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 10} {
		sel := build(mustPolicy(t, "rr", nil), polElems(n, nil), nil)
		sel.Select(nil, 1, nil) // start anywhere
		sel.Select(nil, 1, nil)
		for round := 0; round < 3; round++ {
			if got := firstPicks(sel, n, n, 1); slices.Max(got) != 1 || slices.Min(got) != 1 {
				t.Errorf("n=%d: first picks over %d selections %v, want each once", n, n, got)
			}
		}
		for i := 0; i < 2*n; i++ {
			got := sel.Select(nil, 3, nil)
			for j := 1; j < len(got); j++ {
				if int(got[j]) != (int(got[0])+j)%n {
					t.Fatalf("n=%d: answer %v is not consecutive", n, got)
				}
			}
		}
	}
}

func TestRRCarriesSequence(t *testing.T) {
	p := mustPolicy(t, "rr", nil)
	sel := build(p, polElems(4, nil), nil)
	sel.Select(nil, 1, nil)
	sel.Select(nil, 1, nil)
	if got := build(p, polElems(4, nil), sel).Select(nil, 1, nil); got[0] != 2 {
		t.Errorf("after two selections the next build starts at %d, want 2", got[0])
	}
}

func TestWRRRound(t *testing.T) {
	for _, tc := range []struct {
		name    string
		weights []uint32
	}{
		{"one", []uint32{7}},
		{"equal", []uint32{3, 3, 3}},
		{"mixed", []uint32{1, 2, 3, 4, 10}},
		{"zeros", []uint32{0, 5, 0, 1, 0}},
		{"all zero", []uint32{0, 0, 0}},
		{"one heavy", []uint32{1, 1000, 1}},
		{"primes", []uint32{2, 3, 5, 7, 11, 13}},
		{"large", []uint32{40000, 1, 25000, 9999}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(tc.weights)
			elems := polElems(n, func(i int, e *handlespace.Element) { e.Weight = tc.weights[i] })
			want := make([]int, n)
			w := 0
			for i, x := range tc.weights {
				want[i] = int(x)
				w += int(x)
			}
			if w == 0 { // all zero: round robin
				for i := range want {
					want[i] = 1
				}
				w = n
			}
			sel := build(mustPolicy(t, "wrr", nil), elems, nil)
			for i := 0; i < w/3+1; i++ { // a round starts anywhere
				sel.Select(nil, 1, nil)
			}
			for round := 0; round < 2; round++ {
				if got := firstPicks(sel, n, w, 2); !slices.Equal(got, want) {
					t.Errorf("round %d: first picks %v, want %v", round, got, want)
				}
			}
			// Spread: an element with at most half the weight never
			// comes first three times in a row.
			if w > 1000 {
				return
			}
			last, run := int32(-1), 0
			for i := 0; i < 2*w; i++ {
				f := sel.Select(nil, 1, nil)[0]
				if f == last {
					run++
				} else {
					last, run = f, 1
				}
				if run >= 3 && 2*want[f] <= w {
					t.Fatalf("element %d (weight %d of %d) first %d times in a row", f, want[f], w, run)
				}
			}
		})
	}
}

func TestRankPolicies(t *testing.T) {
	type params struct{ load, deg, prio uint32 }
	for _, tc := range []struct {
		policy string
		elems  []params
		firsts []int32   // first picks of consecutive selections
		full   [][]int32 // full orderings of the selections after those
	}{
		{"lu", []params{{load: 50}, {load: 10}, {load: 10}, {load: 30}},
			[]int32{1, 2, 1, 2}, [][]int32{{1, 2, 3, 0}, {2, 1, 3, 0}}},
		{"lu", []params{{load: 5}, {load: 5}, {load: 5}},
			[]int32{0, 1, 2, 0, 1, 2}, [][]int32{{0, 1, 2}, {1, 2, 0}}},
		{"lu", []params{{load: handlespace.LoadFull}, {load: 0, deg: 100}},
			[]int32{1, 1}, [][]int32{{1, 0}}},
		{"plu", []params{{load: 10, deg: 50}, {load: 30, deg: 10}, {load: 40}, {load: 0, deg: 90}},
			[]int32{1, 2, 1, 2}, [][]int32{{1, 2, 0, 3}, {2, 1, 0, 3}}},
		{"plu", []params{{load: handlespace.LoadFull, deg: handlespace.LoadFull}, {load: handlespace.LoadFull}},
			[]int32{1, 1}, [][]int32{{1, 0}}},
		{"prio", []params{{prio: 2}, {prio: 1}, {prio: 1}, {prio: 3}, {prio: 2}},
			[]int32{1, 2, 1, 2}, [][]int32{{1, 2, 0, 4, 3}, {2, 1, 4, 0, 3}}},
		{"prio", []params{{prio: 0, load: 99}, {prio: 1, load: 0}},
			[]int32{0, 0}, [][]int32{{0, 1}}},
	} {
		elems := polElems(len(tc.elems), func(i int, e *handlespace.Element) {
			e.Load, e.LoadDeg, e.Priority = tc.elems[i].load, tc.elems[i].deg, tc.elems[i].prio
		})
		sel := build(mustPolicy(t, tc.policy, nil), elems, nil)
		var firsts []int32
		for range tc.firsts {
			firsts = append(firsts, sel.Select(nil, 1, nil)[0])
		}
		if !slices.Equal(firsts, tc.firsts) {
			t.Errorf("%s %v: first picks %v, want %v", tc.policy, tc.elems, firsts, tc.firsts)
		}
		for _, want := range tc.full {
			if got := sel.Select(nil, 0, nil); !slices.Equal(got, want) {
				t.Errorf("%s %v: full order %v, want %v", tc.policy, tc.elems, got, want)
			}
		}
	}
}

// polCase is a random pool and a selection for testing/quick: few distinct
// parameter values, so that ties are common.
type polCase struct {
	Elems []*handlespace.Element
	Seq   uint64
	K     int
}

func (polCase) Generate(r *rand.Rand, _ int) reflect.Value {
	n := 1 + r.Intn(12)
	pick := func(vals ...uint32) uint32 { return vals[r.Intn(len(vals))] }
	elems := polElems(n, func(i int, e *handlespace.Element) {
		e.Load = pick(0, 0, 7, 100, handlespace.LoadFull/2, handlespace.LoadFull)
		e.LoadDeg = pick(0, 3, 93, handlespace.LoadFull/4, handlespace.LoadFull)
		e.Priority = pick(0, 1, 1, 2, 10, 1<<31)
		e.Weight = pick(0, 1, 2, 3, 7, 1000, 4_000_000_000)
	})
	return reflect.ValueOf(polCase{elems, uint64(r.Int63n(1 << 40)), r.Intn(n+3) - 1})
}

func quickConfig(t *testing.T) *quick.Config {
	return &quick.Config{MaxCount: 2000, Rand: rand.New(rand.NewSource(int64(polSeed(t))))}
}

// checkRank checks policy p (named name) against naiveRank by key on
// random cases, each first given to prep (nil: none).
func checkRank(t *testing.T, name string, p handlespace.Policy, key func(*handlespace.Element) uint64, prep func(polCase)) {
	t.Helper()
	f := func(c polCase) bool {
		if prep != nil {
			prep(c)
		}
		sel := build(p, c.Elems, nil)
		sel.sel.(*rankSel).seq.Store(c.Seq)
		got := sel.Select(nil, c.K, nil)
		want := naiveRank(c.Elems, key, c.Seq, c.K)
		if !slices.Equal(got, want) {
			t.Logf("%s seq=%d k=%d: got %v, want %v", name, c.Seq, c.K, got, want)
			return false
		}
		return true
	}
	if err := quick.Check(f, quickConfig(t)); err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

// naiveRank is the reference for prio, lu and plu: sort by key (stably),
// rotate each run of equal keys by seq, take k.
func naiveRank(elems []*handlespace.Element, key func(*handlespace.Element) uint64, seq uint64, k int) []int32 {
	idx := make([]int32, len(elems))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortStableFunc(idx, func(a, b int32) int { return cmp.Compare(key(elems[a]), key(elems[b])) })
	var out []int32
	for start := 0; start < len(idx); {
		end := start
		for end < len(idx) && key(elems[idx[end]]) == key(elems[idx[start]]) {
			end++
		}
		group := idx[start:end]
		r := int(seq % uint64(len(group)))
		out = append(out, group[r:]...)
		out = append(out, group[:r]...)
		start = end
	}
	if k > 0 && k < len(out) {
		out = out[:k]
	}
	return out
}

func TestQuickRank(t *testing.T) {
	for _, tc := range []struct {
		policy string
		key    func(*handlespace.Element) uint64
	}{
		{"lu", func(e *handlespace.Element) uint64 { return uint64(e.Load) }},
		{"plu", func(e *handlespace.Element) uint64 { return uint64(e.Load) + uint64(e.LoadDeg) }},
		{"prio", func(e *handlespace.Element) uint64 { return uint64(e.Priority) }},
	} {
		checkRank(t, tc.policy, mustPolicy(t, tc.policy, nil), tc.key, nil)
	}
}

// naiveWRR is the reference for wrr, with big integers and a linear scan:
// selection seq takes point (seq·stride) mod W of the weight line; the
// answer goes on along the line, then through the weight-0 elements from
// seq mod z on.
func naiveWRR(elems []*handlespace.Element, seq uint64, k int) []int32 {
	var pos, zero []int32
	w := new(big.Int)
	for i, e := range elems {
		if e.Weight == 0 {
			zero = append(zero, int32(i))
		} else {
			pos = append(pos, int32(i))
			w.Add(w, big.NewInt(int64(e.Weight)))
		}
	}
	weight := func(i int32) int64 { return int64(elems[i].Weight) }
	if len(pos) == 0 {
		pos, zero = zero, nil
		w.SetInt64(int64(len(pos)))
		weight = func(int32) int64 { return 1 }
	}
	point := new(big.Int).SetUint64(seq)
	point.Mul(point, new(big.Int).SetUint64(coprimeStride(w.Uint64())))
	point.Mod(point, w)
	first, acc := 0, new(big.Int)
	for j, i := range pos {
		if acc.Add(acc, big.NewInt(weight(i))); acc.Cmp(point) > 0 {
			first = j
			break
		}
	}
	out := append(slices.Clone(pos[first:]), pos[:first]...)
	if len(zero) > 0 {
		r := int(seq % uint64(len(zero)))
		out = append(append(out, zero[r:]...), zero[:r]...)
	}
	if k > 0 && k < len(out) {
		out = out[:k]
	}
	return out
}

func TestQuickWRR(t *testing.T) {
	p := mustPolicy(t, "wrr", nil)
	f := func(c polCase) bool {
		sel := build(p, c.Elems, nil)
		sel.sel.(*wrrSel).seq.Store(c.Seq)
		got := sel.Select(nil, c.K, nil)
		want := naiveWRR(c.Elems, c.Seq, c.K)
		if !slices.Equal(got, want) {
			t.Logf("seq=%d k=%d: got %v, want %v", c.Seq, c.K, got, want)
			return false
		}
		return true
	}
	if err := quick.Check(f, quickConfig(t)); err != nil {
		t.Error(err)
	}
}

func TestCoprimeStride(t *testing.T) {
	for w := uint64(1); w < 2000; w++ {
		st := coprimeStride(w)
		if w > 1 && (st == 0 || st >= w || gcd(st, w) != 1) {
			t.Fatalf("coprimeStride(%d) = %d", w, st)
		}
	}
}

// naiveLUD is the reference for lud: counts and last-charge stamps in plain
// slices, a full sort per selection.
type naiveLUD struct {
	elems       []*handlespace.Element
	count, last []uint64
	seq         uint64
	base        func(*handlespace.Element) uint64 // the base of the effective load; nil: Load (lud)
}

func (m *naiveLUD) Order() []int32 {
	eff := func(i int32) *big.Int {
		x := new(big.Int).SetUint64(m.count[i])
		x.Mul(x, big.NewInt(int64(m.elems[i].LoadDeg)))
		if m.base != nil {
			x.Add(x, new(big.Int).SetUint64(m.base(m.elems[i])))
		} else {
			x.Add(x, big.NewInt(int64(m.elems[i].Load)))
		}
		if x.Cmp(new(big.Int).SetUint64(^uint64(0))) > 0 {
			x.SetUint64(^uint64(0))
		}
		return x
	}
	idx := make([]int32, len(m.elems))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int {
		if c := eff(a).Cmp(eff(b)); c != 0 {
			return c
		}
		if c := cmp.Compare(m.last[a], m.last[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return idx
}

func (m *naiveLUD) selectK(k int) []int32 {
	out := m.Order()
	if k > 0 && k < len(out) {
		out = out[:k]
	}
	m.seq++
	m.count[out[0]]++
	m.last[out[0]] = m.seq
	return out
}

func TestQuickLUD(t *testing.T) {
	p := mustPolicy(t, "lud", nil)
	f := func(c polCase) bool {
		n := len(c.Elems)
		sel := build(p, c.Elems, nil)
		ref := &naiveLUD{elems: c.Elems, count: make([]uint64, n), last: make([]uint64, n)}
		for step := 0; step < 40; step++ {
			k := []int{1, 2, 3, 0, c.K, 9}[step%6]
			got := sel.Select(nil, k, nil)
			want := ref.selectK(k)
			if !slices.Equal(got, want) {
				t.Logf("step %d k=%d: got %v, want %v", step, k, got, want)
				return false
			}
		}
		return true
	}
	if err := quick.Check(f, quickConfig(t)); err != nil {
		t.Error(err)
	}
}

func TestLUDDegradation(t *testing.T) {
	const pct = handlespace.LoadFull / 100
	elems := polElems(4, func(i int, e *handlespace.Element) {
		e.Load = []uint32{0, 25 * pct, 25 * pct, 90 * pct}[i]
		e.LoadDeg = []uint32{10 * pct, 10 * pct, 5 * pct, 0}[i]
	})
	p := mustPolicy(t, "lud", nil)
	sel := build(p, elems, nil)

	// 0 is taken until its effective load passes 25 % (0, 10, 20 %); at
	// 30 % it is behind 1 and 2 (25 %, tied: list order); then 2 (30 %)
	// ties with 0 (30 %), which was charged longer ago.
	var firsts []int32
	for i := 0; i < 7; i++ {
		firsts = append(firsts, sel.Select(nil, 1, nil)[0])
	}
	if want := []int32{0, 0, 0, 1, 2, 0, 2}; !slices.Equal(firsts, want) {
		t.Errorf("first picks %v, want %v", firsts, want)
	}

	// Exact accounting: every Select charges its first pick once.
	const N = 10000
	counts := make([]uint64, len(elems))
	for _, f := range firsts {
		counts[f]++
	}
	for i := 0; i < N; i++ {
		got := sel.Select(nil, []int{1, 3, 0}[i%3], nil)
		counts[got[0]]++
	}
	var sum, sumDeg uint64
	for i, e := range elems {
		if sel.charges(i) != counts[i] {
			t.Errorf("element %d charged %d times, first %d times", i, sel.charges(i), counts[i])
		}
		if got, want := sel.degradation(i), counts[i]*uint64(e.LoadDeg); got != want {
			t.Errorf("element %d degradation %d, want %d", i, got, want)
		}
		sum += sel.charges(i)
		sumDeg += sel.degradation(i)
	}
	var wantDeg uint64
	for i, e := range elems {
		wantDeg += counts[i] * uint64(e.LoadDeg)
	}
	if sum != N+7 || sumDeg != wantDeg {
		t.Errorf("charges sum %d, want %d; degradation sum %d, want %d", sum, N+7, sumDeg, wantDeg)
	}
	// Without load reports the others degrade past 90 %, and the element
	// without degradation takes over.
	if counts[3] < N/2 {
		t.Errorf("the 90%% element without degradation was first only %d times", counts[3])
	}

	// A load report for element 0 (new Load) resets its degradation; 1
	// keeps its count under a new LoadDeg; 2 goes and a new one comes.
	next := []*handlespace.Element{elems[0].Clone(), elems[1].Clone(), elems[3], {ID: 5000, Load: 50 * pct}}
	next[0].Load = 10 * pct
	next[1].LoadDeg = 1
	sel2 := build(p, next, sel)
	for i, want := range []uint64{0, counts[1], counts[3], 0} {
		if got := sel2.charges(i); got != want {
			t.Errorf("after the build element %d (ID %d) has %d charges, want %d", i, next[i].ID, got, want)
		}
	}
	if got := sel2.degradation(1); got != counts[1] {
		t.Errorf("element 1's degradation under LoadDeg 1 is %d, want %d", got, counts[1])
	}
	if got := sel2.Select(nil, 1, nil)[0]; got != 0 {
		t.Errorf("after its load report element 0 (10%%) is not first: %d", got)
	}
}

// TestConcurrentFairness checks that the rotations are exact under
// concurrency: G goroutines making M selections each see every element of
// a tie first exactly G·M/n times (and wrr w·G·M/W times).
func TestConcurrentFairness(t *testing.T) {
	const G, M = 8, 1500
	for _, tc := range []struct {
		policy string
		elems  []*handlespace.Element
		want   func(i int) int
	}{
		{"rr", polElems(10, nil), func(int) int { return G * M / 10 }},
		{"lu", polElems(6, func(i int, e *handlespace.Element) { e.Load = 7 }), func(int) int { return G * M / 6 }},
		{"lu", polElems(5, func(i int, e *handlespace.Element) { e.Load = uint32(7 + i/4) }), func(i int) int { return G * M / 4 * (1 - i/4) }},
		{"prio", polElems(4, func(i int, e *handlespace.Element) { e.Priority = 3 }), func(int) int { return G * M / 4 }},
		{"wrr", polElems(3, func(i int, e *handlespace.Element) { e.Weight = uint32(i + 1) }), func(i int) int { return G * M / 6 * (i + 1) }},
		{"hash", polElems(12, nil), func(int) int { return G * M / 12 }}, // no client: round robin
	} {
		sel := build(mustPolicy(t, tc.policy, nil), tc.elems, nil)
		counts := make([][]int, G)
		var wg sync.WaitGroup
		for g := 0; g < G; g++ {
			counts[g] = make([]int, len(tc.elems))
			wg.Add(1)
			go func(c []int) {
				defer wg.Done()
				dst := make([]int32, 0, 3)
				for i := 0; i < M; i++ {
					dst = sel.Select(dst[:0], 3, nil)
					c[dst[0]]++
				}
			}(counts[g])
		}
		wg.Wait()
		for i := range tc.elems {
			total := 0
			for g := range counts {
				total += counts[g][i]
			}
			if total != tc.want(i) {
				t.Errorf("%s: element %d first %d times, want %d", tc.policy, i, total, tc.want(i))
			}
		}
	}
}

// TestConcurrentLUD checks that lud's counts stay exact under concurrency
// (the order may race, the accounting may not).
func TestConcurrentLUD(t *testing.T) {
	const G, M = 8, 2000
	elems := polElems(20, func(i int, e *handlespace.Element) { e.Load = uint32(i) * 1000; e.LoadDeg = 997 })
	sel := build(mustPolicy(t, "lud", nil), elems, nil)
	counts := make([][]uint64, G)
	var wg sync.WaitGroup
	for g := 0; g < G; g++ {
		counts[g] = make([]uint64, len(elems))
		wg.Add(1)
		go func(c []uint64) {
			defer wg.Done()
			dst := make([]int32, 0, 8)
			for i := 0; i < M; i++ {
				dst = sel.Select(dst[:0], 1+i%4, nil)
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
			t.Errorf("element %d charged %d times, first %d times", i, sel.charges(i), firsts)
		}
		sum += sel.charges(i)
	}
	if sum != G*M {
		t.Errorf("%d charges for %d selections", sum, G*M)
	}
	// Quiet again, the tree must have settled: the root is the best.
	ref := &naiveLUD{elems: elems, count: make([]uint64, len(elems)), last: make([]uint64, len(elems))}
	for i := range elems {
		ref.count[i], ref.last[i] = sel.ludState(i)
	}
	if got, want := sel.Select(nil, 0, nil), ref.Order(); !slices.Equal(got, want) {
		t.Errorf("after the storm: order %v, want %v", got, want)
	}
}

// TestQuickLUDLarge: lud over sets of several leaves and levels against
// the naive reference, with answers of every length.
func TestQuickLUDLarge(t *testing.T) {
	p := mustPolicy(t, "lud", nil)
	r := rand.New(rand.NewSource(int64(polSeed(t))))
	for _, n := range []int{ptree.LeafMax + 1, 700, 3000} {
		elems := polElems(n, func(i int, e *handlespace.Element) {
			e.Load = uint32(r.Intn(4)) * 1000
			e.LoadDeg = uint32(r.Intn(3)) * 700
		})
		sel := build(p, elems, nil)
		if h := sel.sel.(*ludSel).t.Height(); h < 2 {
			t.Fatalf("n=%d: tree of height %d", n, h)
		}
		ref := &naiveLUD{elems: elems, count: make([]uint64, n), last: make([]uint64, n)}
		for step := 0; step < 300; step++ {
			k := []int{1, 2, 3, 8, 9, 0}[step%6]
			got := sel.Select(nil, k, nil)
			want := ref.selectK(k)
			if !slices.Equal(got, want) {
				t.Fatalf("n=%d step %d k=%d: got %v, want %v", n, step, k, got[:min(len(got), 10)], want[:min(len(want), 10)])
			}
		}
	}
}
