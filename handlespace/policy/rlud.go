package policy

import (
	"math/bits"
	"sync/atomic"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/handlespace/internal/ptree"
)

// rlud is RSPLIB's Randomized Least Used with Degradation: weighted
// random like rlu, each element's weight its free capacity less its
// degradation, LoadFull − (Load + degradation), where the degradation is
// lud's (count of first picks since the last load report, times LoadDeg;
// see lud). Every Select charges its first pick. A weight never falls
// below 1 (RSPLIB's floor): an element loaded or degraded to the full is
// practically never the first pick while others have capacity left, and
// when none has, all are equally likely. Further picks are drawn the
// same way among the elements not yet picked.
//
// rplud is RSPLIB's Randomized Priority Least Used with Degradation:
// rlud with LoadDeg also taken off each weight, LoadFull − (Load +
// LoadDeg + degradation), as rplu is to rlu.
//
// The state is lud's mirror of the set's tree (shared with the previous
// version of the set where the tree is, see lud), each node holding the
// sum of the weights below it instead of a tournament. A pick is a draw
// and a descent by the sums, O(k·log n) for the k ≤ randSmallK picks of
// an answer; a charge takes the weight it loses off the sums on the
// element's path, O(log n), one atomic add each. Larger answers draw
// from a snapshot of the weights in pooled scratch, O(n + k log n).
//
// Races: a Select that runs while another charges may see a sum before
// the charge and a part below it after: its draw is then slightly biased,
// never wrong (it still answers distinct elements of the set). A charge
// through the previous selector in a subtree the new one shares leaves
// the new one's sums above that subtree too high until the pool's next
// change there. The counts themselves are exact.
type rlud struct{ r handlespace.Rand }

type rplud struct{ r handlespace.Rand }

func init() {
	registerPolicy("rlud", func(r handlespace.Rand) handlespace.Policy { return rlud{r} })
	registerPolicy("rplud", func(r handlespace.Rand) handlespace.Policy { return rplud{r} })
}

var (
	_ handlespace.Policy = rlud{}
	_ handlespace.Policy = rplud{}
)

func (rlud) Name() string              { return "rlud" }
func (rlud) Order() handlespace.Order  { return handlespace.Order{} }
func (rplud) Name() string             { return "rplud" }
func (rplud) Order() handlespace.Order { return handlespace.Order{} }

func (p rlud) Build(set *handlespace.Set, seq *atomic.Uint64, prev handlespace.Selector, _ bool) handlespace.Selector {
	return buildRludSel(p.r, set, seq, prev, ludLoad)
}

func (p rplud) Build(set *handlespace.Set, seq *atomic.Uint64, prev handlespace.Selector, _ bool) handlespace.Selector {
	return buildRludSel(p.r, set, seq, prev, pluBase)
}

func buildRludSel(r handlespace.Rand, set *handlespace.Set, seq *atomic.Uint64, prev handlespace.Selector, base func(*handlespace.Element) uint64) *rludSel {
	var pl handlespace.Selector
	if p, ok := prev.(*rludSel); ok {
		pl = &p.ludSel
	}
	return &rludSel{ludSel: *buildLudSel(set, seq, pl, ludKind{base: base, weighted: true}), r: r}
}

// rludWeight returns the weight of an element of state st charged count
// times: LoadFull less its base and degradation, at least 1.
func rludWeight(st *ludState, count uint64) uint64 {
	hi, lo := bits.Mul64(count, st.deg)
	if hi != 0 || lo >= handlespace.LoadFull || st.load >= handlespace.LoadFull {
		return 1
	}
	if e := st.load + lo; e < handlespace.LoadFull {
		return handlespace.LoadFull - e
	}
	return 1
}

type rludSel struct {
	ludSel
	r handlespace.Rand
}

var _ handlespace.Selector = (*rludSel)(nil)

// rludPick is a pick of a Select: the mirror path to it (path[0] the
// root, path[depth] its leaf), the index taken in each node, and the
// weight it had when picked.
type rludPick struct {
	path  [ptree.MaxHeight]*ludNode
	idx   [ptree.MaxHeight]int
	depth int
	w     uint64
}

func (s *rludSel) Select(dst []handlespace.Pick, k int, _ *handlespace.Client) []handlespace.Pick {
	k = wantK(k, s.t.Len())
	base := len(dst)
	if k <= randSmallK {
		var ch [randSmallK]rludPick
		var ok bool
		if dst, ok = s.draw(dst, k, ch[:0]); ok {
			s.chargePick(ch[0].path[:ch[0].depth+1], ch[0].idx[:ch[0].depth+1])
			return dst
		}
		dst = dst[:base] // a race left the sums inconsistent: start again from a snapshot
	}
	dst = s.drawMany(dst, k)
	var pb [ptree.MaxHeight]*ludNode
	var ib [ptree.MaxHeight]int
	if path, idx, ok := s.leafOf(dst[base].Elem().ID, pb[:0], ib[:0]); ok {
		s.chargePick(path, idx)
	}
	return dst
}

// chargePick charges the element at the end of path: one more count, and
// the weight that costs it taken off the sums on its path.
func (s *rludSel) chargePick(path []*ludNode, idx []int) {
	st := &path[len(path)-1].st[idx[len(idx)-1]]
	c := st.count.Add(1)
	st.last.Store(s.seq.Add(1))
	if delta := rludWeight(st, c-1) - rludWeight(st, c); delta > 0 {
		for _, n := range path {
			n.sum.Add(-delta)
		}
	}
}

// draw appends k picks drawn by descents of the sums, recording them in
// ch; ok is false if a race made the sums inconsistent (the caller draws
// from a snapshot instead).
func (s *rludSel) draw(dst []handlespace.Pick, k int, ch []rludPick) ([]handlespace.Pick, bool) {
	for c := 0; c < k; c++ {
		total := s.root.sum.Load()
		for i := range ch {
			total -= min(ch[i].w, total)
		}
		if total == 0 {
			return dst, false
		}
		x := randBelow(s.r, total)
		var p rludPick
		n, d := s.root, 0
		for n.kids != nil {
			pick, last, lastW := -1, -1, uint64(0)
			for j, kid := range n.kids {
				w := kid.sum.Load()
				for i := range ch {
					if ch[i].path[d+1] == kid {
						w -= min(ch[i].w, w)
					}
				}
				if w == 0 {
					continue
				}
				last, lastW = j, w
				if x < w {
					pick = j
					break
				}
				x -= w
			}
			if pick < 0 {
				if last < 0 {
					return dst, false
				}
				pick, x = last, lastW-1
			}
			p.path[d], p.idx[d] = n, pick
			n, d = n.kids[pick], d+1
		}
		pick, last, lastW := -1, -1, uint64(0)
		for i := range n.st {
			if rludChosen(ch, n, i, d) {
				continue
			}
			w := rludWeight(&n.st[i], n.st[i].count.Load())
			last, lastW = i, w
			if x < w {
				pick = i
				break
			}
			x -= w
		}
		if pick < 0 {
			if last < 0 {
				return dst, false
			}
			pick = last
		}
		p.path[d], p.idx[d], p.depth = n, pick, d
		p.w = lastW
		ch = append(ch, p)
		dst = append(dst, handlespace.PickOf(n.src, int32(pick)))
	}
	return dst, true
}

// rludChosen reports whether entry i of leaf n (at depth d) is among the
// picks.
func rludChosen(ch []rludPick, n *ludNode, i, d int) bool {
	for j := range ch {
		if ch[j].path[d] == n && ch[j].idx[d] == i {
			return true
		}
	}
	return false
}

// drawMany appends k picks drawn from a snapshot of the weights: a
// Fenwick tree in pooled scratch, as weightedSel's selectMany.
func (s *rludSel) drawMany(dst []handlespace.Pick, k int) []handlespace.Pick {
	sc := weightScratches.Get().(*weightScratch)
	ws, es := sc.w[:0], sc.es[:0]
	ws, es = appendRludWeights(s.root, ws, es)
	m := len(ws)
	f := append(append(sc.f[:0], 0), ws...) // 1-based
	var rest uint64
	for _, w := range ws {
		rest += w
	}
	for i := 1; i <= m; i++ {
		if p := i + i&-i; p <= m {
			f[p] += f[i]
		}
	}
	top := 1 << (bits.Len(uint(m)) - 1)
	for c := 0; c < k && c < m; c++ {
		x := randBelow(s.r, rest)
		idx := 0
		for step := top; step > 0; step >>= 1 {
			if nx := idx + step; nx <= m && f[nx] <= x {
				idx, x = nx, x-f[nx]
			}
		}
		w := ws[idx]
		rest -= w
		for i := idx + 1; i <= m; i += i & -i {
			f[i] -= w
		}
		dst = append(dst, es[idx])
	}
	clear(es)
	sc.f, sc.w, sc.es = f[:0], ws[:0], es[:0]
	weightScratches.Put(sc)
	return dst
}

func appendRludWeights(n *ludNode, ws []uint64, es []handlespace.Pick) ([]uint64, []handlespace.Pick) {
	if n.kids == nil {
		for i := range n.st {
			ws = append(ws, rludWeight(&n.st[i], n.st[i].count.Load()))
			es = append(es, handlespace.PickOf(n.src, int32(i)))
		}
		return ws, es
	}
	for _, c := range n.kids {
		ws, es = appendRludWeights(c, ws, es)
	}
	return ws, es
}
