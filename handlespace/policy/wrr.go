package policy

import (
	"math/bits"
	"sync/atomic"

	"github.com/poolnsd/poolnsd/handlespace"
)

// wrr is RFC 5356 Weighted Round Robin.
//
// The elements of positive weight lie, in list order, on a line of W points,
// W the sum of their weights, each element owning as many consecutive points
// as its weight. Selection number s takes the point (s mod W)·stride mod W,
// where stride is coprime to W (about 0.618·W, so that successive
// selections land far apart): over any W consecutive selections every point
// is taken once, so an element of weight w is the first pick exactly w times,
// and its turns are spread over the round rather than bunched. The first
// pick costs one binary search, O(log n).
//
// The rest of a k-element answer are the elements that follow the first on
// the line (wrapping around), then the elements of weight 0, rotated by the
// sequence; an element of weight 0 is never the first pick unless every
// weight is 0, in which case the policy is plain round robin.
type wrr struct{}

func init() { registerPolicy("wrr", func(handlespace.Rand) handlespace.Policy { return wrr{} }) }

var _ handlespace.Policy = wrr{}

func (wrr) Name() string { return "wrr" }

func (wrr) Order() handlespace.Order {
	return handlespace.Order{Weight: func(e *handlespace.Element) uint64 { return uint64(e.Weight) }}
}

func (wrr) Build(set *handlespace.Set, seq *atomic.Uint64, _ handlespace.Selector, _ bool) handlespace.Selector {
	s := &wrrSel{pos: *set.Tree(), zero: *set.Aside(), seq: seq}
	total := set.Tree().Total()
	if total == 0 { // every weight is 0: round robin
		s.pos, s.zero = *set.Aside(), tree{}
		total = uint64(set.Aside().Len())
	}
	s.total, s.stride = total, coprimeStride(total)
	return s
}

// coprimeStride returns a stride near W/φ that is coprime to W, so that
// i ↦ i·stride mod W permutes [0, W) and spreads neighbours apart.
func coprimeStride(w uint64) uint64 {
	if w <= 2 {
		return w / 2 // 0 for the empty and the one-point line, 1 for two
	}
	st := uint64(float64(w) * 0.6180339887498949)
	if st == 0 {
		st = 1
	}
	for gcd(st, w) != 1 { // ends at w-1 at the latest
		st++
	}
	return st
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

type wrrSel struct {
	pos    tree   // elements of positive weight, by ID, weighted; all of them (unweighted) if every weight is 0
	zero   tree   // elements of weight 0
	total  uint64 // W, the length of a round
	stride uint64 // coprime to total
	seq    *atomic.Uint64
}

var _ handlespace.Selector = (*wrrSel)(nil)

// point returns the point of the line that selection number seq takes.
func (s *wrrSel) point(seq uint64) uint64 {
	hi, lo := bits.Mul64(seq%s.total, s.stride)
	return bits.Rem64(hi, lo, s.total)
}

func (s *wrrSel) Select(dst []handlespace.Pick, k int, _ *handlespace.Client) []handlespace.Pick {
	k = wantK(k, s.pos.Len()+s.zero.Len())
	seq := s.seq.Add(1) - 1
	x := s.point(seq)
	var j int
	if s.pos.Weighted() {
		_, _, j, _ = s.pos.AtWeight(x)
	} else {
		j = int(x) // every weight is 0: one point per element
	}
	m := min(k, s.pos.Len())
	dst = appendRun(dst, &s.pos, j, m)
	if k -= m; k > 0 && s.zero.Len() > 0 {
		dst = appendRun(dst, &s.zero, int(seq%uint64(s.zero.Len())), min(k, s.zero.Len()))
	}
	return dst
}
