package policy

import (
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// nearest puts the elements of the client's site first (Client.Site, which
// the DNS front finds in the site map from the query's EDNS Client Subnet
// or source address), then the others; each of the two in the order of
// the smoothed probe round-trip time, lowest first: this registrar's own
// (Element.LocalRTT) where it has one, else the home's (Element.RTT), so
// that registrars near their clients answer by their own distance.
// Elements whose RTT is not known yet (no probe has measured it) come
// last of their part, and equal RTTs take turns round robin. A client without a site, or of a site
// that no element of the set has, gets the order by RTT alone. The order
// changes as the probes' RTT reports do (a new Build).
//
// RTTs are compared in whole tenths of a millisecond, so that two servers
// a few microseconds apart count as equally near and share the load (and
// RTTs beyond 4.9 days count as equal).
//
// The set's tree holds every element by RTT; its z tree holds the
// elements that have a site again, by site, then RTT, so that a site's
// elements are one run of it, found in O(log n). Both are changed by path
// copying as every set is, O(log n) per changed element. A selection for
// a client of site s costs O(k + log n) while s has k elements or more;
// with fewer (m < k) it goes on in the order by RTT, leaving out the m
// already given, which costs O(k + m log n).
type nearest struct{}

func init() {
	registerPolicy("nearest", func(handlespace.Rand) handlespace.Policy { return nearest{} })
}

var _ handlespace.Policy = nearest{}

func (nearest) Name() string { return "nearest" }

func (nearest) Order() handlespace.Order {
	return handlespace.Order{Rank: nearestRank, Site: nearestSiteKey}
}

func (nearest) Build(s *handlespace.Set, seq *atomic.Uint64, _ handlespace.Selector, _ bool) handlespace.Selector {
	ns := &nearestSel{z: *s.Aside()}
	ns.rankSel.init(s, seq)
	return ns
}

// unknownRTT is the rank of an element whose RTT is not known.
const unknownRTT = math.MaxUint64

// nearestRank is an element's RTT (NearestRTT) in units of 100 µs (at
// most 2³²-2); unknown is last.
func nearestRank(e *handlespace.Element) uint64 {
	rtt := NearestRTT(e)
	if rtt <= 0 {
		return unknownRTT
	}
	return min(uint64(rtt/(100*time.Microsecond)), 1<<32-2)
}

// NearestRTT is the RTT by which the nearest policy orders e: this
// registrar's own (LocalRTT) when it has one, else the home's (RTT); 0
// when neither is known.
func NearestRTT(e *handlespace.Element) time.Duration {
	if e.LocalRTT > 0 {
		return e.LocalRTT
	}
	return e.RTT
}

// nearestSiteKey is an element's key in the tree by site: its site, then
// its rank in 32 bits (unknown: 2³²-1). No site: not there.
func nearestSiteKey(e *handlespace.Element) (uint64, bool) {
	s := e.Site.Site()
	if s == 0 {
		return 0, false
	}
	return uint64(s)<<32 | min(nearestRank(e), 1<<32-1), true
}

// rankOfSiteKey is the rank (in the set's tree) of a site-tree key.
func rankOfSiteKey(k uint64) uint64 {
	if r := k & (1<<32 - 1); r != 1<<32-1 {
		return r
	}
	return unknownRTT
}

// nearestSel is a nearest set's selector: rankSel for the clients of no
// site (or of a site the set lacks), the run of the client's site in z
// first for the others.
type nearestSel struct {
	rankSel
	z tree // byRank: the elements that have a site, by site, rank, ID
}

var _ handlespace.Selector = (*nearestSel)(nil)

func (s *nearestSel) Select(dst []handlespace.Pick, k int, c *handlespace.Client) []handlespace.Pick {
	if c == nil || c.Site == 0 || s.z.Len() == 0 {
		return s.rankSel.Select(dst, k, c)
	}
	site := uint64(c.Site)
	a := s.z.RankOf(site<<32, 0)
	if a == s.z.Len() || s.z.KeyAt(a)>>32 != site {
		return s.rankSel.Select(dst, k, c)
	}
	n := s.t.Len()
	k = wantK(k, n)
	seq := s.seq.Add(1) - 1
	base := len(dst)
	dst, k = appendRanked(dst, &s.z, a, s.z.Len(), seq, k, nil, site)
	if k == 0 {
		return dst
	}
	// All of the site's elements are given: the others follow, by rank,
	// without them.
	var buf [32]int
	skip := buf[:0]
	for _, p := range dst[base:] {
		key, tie := p.Part().Keys()[p.Index()], p.Part().Tie(p.Index())
		skip = append(skip, s.t.RankOf(rankOfSiteKey(key), tie))
	}
	slices.Sort(skip)
	dst, _ = appendRanked(dst, &s.t, 0, n, seq, k, skip, 0)
	return dst
}

// appendRanked appends up to k entries of the ranks [from, to) of t
// (byRank) in rank order, leaving out the ranks in skip (sorted, within
// [from, to)), each group of equal keys turned by seq so that its
// members take turns first; it returns dst and how many are still
// wanted. With site > 0 (t is a nearest set's tree by site) it stops at
// the first entry of another site. O(k + len(skip) + g log n) for the g
// groups it reaches.
func appendRanked(dst []handlespace.Pick, t *tree, from, to int, seq uint64, k int, skip []int, site uint64) ([]handlespace.Pick, int) {
	if from >= to || k <= 0 {
		return dst, k
	}
	l, i := t.At(from)
	for r := from; r < to && k > 0; {
		end := groupEndIn(t, r, l, i, to)
		ns := 0
		for ns < len(skip) && skip[ns] < end {
			ns++
		}
		gskip := skip[:ns]
		skip = skip[ns:]
		if m := end - r - len(gskip); m == 1 && len(gskip) == 0 {
			dst = append(dst, handlespace.PickOf(l, int32(i)))
			k--
		} else if m > 0 {
			off := int(seq % uint64(m))
			a := min(k, m-off)
			dst = appendSkipping(dst, t, r, end, gskip, off, a)
			k -= a
			if b := min(k, off); b > 0 {
				dst = appendSkipping(dst, t, r, end, gskip, 0, b)
				k -= b
			}
		}
		if k == 0 || end >= to {
			break
		}
		if i += end - r; i >= len(l.Elems()) {
			l, i = t.At(end)
		}
		if site > 0 && l.Keys()[i]>>32 != site {
			break
		}
		r = end
	}
	return dst, k
}

// groupEndIn returns the rank after the last entry of the group of equal
// keys of the entry of rank r (entry i of leaf l), at most to. (A
// nearest set's tree by site has its sites in its keys: its groups never
// reach into another site.)
func groupEndIn(t *tree, r int, l *tnode, i int, to int) int {
	keys := l.Keys()
	key := keys[i]
	for j := i + 1; j < len(keys); j++ {
		if keys[j] != key {
			return min(r+j-i, to)
		}
	}
	end := t.Len()
	if key != math.MaxUint64 {
		end = t.RankOf(key+1, 0)
	}
	return min(end, to)
}

// appendSkipping appends cnt entries of the ranks [start, end) of t that
// are not in skip (sorted, within [start, end)), from the j-th of them on.
func appendSkipping(dst []handlespace.Pick, t *tree, start, end int, skip []int, j, cnt int) []handlespace.Pick {
	pos, si := start, 0
	for ; si < len(skip); si++ {
		g := skip[si]
		if pos+j < g {
			break
		}
		j -= g - pos
		pos = g + 1
	}
	p := pos + j
	for cnt > 0 {
		next := end
		if si < len(skip) {
			next = skip[si]
		}
		m := min(cnt, next-p)
		dst = appendRun(dst, t, p, m)
		cnt -= m
		p = next + 1
		si++
	}
	return dst
}
