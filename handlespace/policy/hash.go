package policy

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/handlespace/internal/ptree"
)

// hash gives a client the same element as long as that element is there:
// rendezvous (highest random weight) hashing. The client is its EDNS Client
// Subnet if the query has one, else its source address cut to /24 (IPv4) or
// /56 (IPv6); each element scores a fixed hash of the client and its ID, and
// the answer is the elements by score, highest first. An ECS source prefix
// of length 0 (the client opted out, RFC 7871) counts as no ECS. Removing an element
// moves only the clients whose best it was, each to its second best; adding
// one moves only clients to it; and every registrar, every restart, answers
// alike (the hash has no random seed). Without a client address the policy
// is round robin.
//
// Cost: up to hashExactMax elements, one multiply-xorshift hash per element
// and query, O(n) (about 2 ns per element, under 0.6 µs); a full ordering
// O(n log n); a change of the set costs O(n), n <= 256. Rendezvous hashing
// must look at every element, so larger pools use a Maglev lookup table
// instead (Eisenbud et al., NSDI 2016): a prime number of slots, at least
// 16 per element, each owned by one element, filled from per-element
// permutations of the slots. A client's answer starts at slot key mod M
// and takes the distinct elements of the slots that follow: O(k) expected
// per answer, balance within a few percent, and removing an element moves
// its clients and, unlike rendezvous hashing, a few percent of the others.
// A table costs O(16 n) to fill, too much for every change of a large
// pool, so it is built in the background (see hashBig).
type hashPol struct{}

func init() { registerPolicy("hash", func(handlespace.Rand) handlespace.Policy { return hashPol{} }) }

var _ handlespace.Policy = hashPol{}

func (hashPol) Name() string { return "hash" }

// hashExactMax is the largest pool that hash scores element by element;
// larger ones use a Maglev table.
const hashExactMax = 256

func (hashPol) Order() handlespace.Order { return handlespace.Order{} }

func (hashPol) Build(set *handlespace.Set, seq *atomic.Uint64, prev handlespace.Selector, full bool) handlespace.Selector {
	if set.Tree().Len() > hashExactMax {
		return buildHashBig(set, seq, prev, full)
	}
	return buildHash(set.Tree().AppendElems(make([]*handlespace.Element, 0, set.Tree().Len())), seq)
}

func buildHash(elems []*handlespace.Element, seq *atomic.Uint64) *hashSel {
	s := &hashSel{part: ptree.LeafOf(elems), keys: make([]uint64, len(elems)), seq: seq}
	for i, e := range elems {
		s.keys[i] = elementHashKey(e.ID)
	}
	n := len(elems)
	s.scratch.New = func() any { b := make([]hashScore, n); return &b }
	return s
}

type hashSel struct {
	part    *tnode         // the elements, as a leaf (see Pick)
	keys    []uint64       // elementHashKey of each element; distinct
	seq     *atomic.Uint64 // round robin for clients without an address
	scratch sync.Pool      // *[]hashScore, for answers beyond hashSmallK
}

// maglevTable fills a table of M slots (M prime, at least 16 per element;
// the same M for every n up to the same power of two, so that an element
// coming or going does not resize the table and move every client):
// each element in turn takes the next free slot of its own permutation of
// the slots (offset + j·skip mod M), until every slot is taken.
func maglevTable(keys []uint64) []int32 {
	n := len(keys)
	m := nextPrime(16 << bits.Len(uint(n-1)))
	table := make([]int32, m)
	for i := range table {
		table[i] = -1
	}
	offset, skip, next := make([]uint64, n), make([]uint64, n), make([]uint64, n)
	for i, k := range keys {
		offset[i] = mix64(k^0x243f6a8885a308d3) % uint64(m)
		skip[i] = mix64(k^0x13198a2e03707344)%uint64(m-1) + 1
	}
	for filled := 0; ; {
		for i := 0; i < n; i++ {
			c := (offset[i] + next[i]*skip[i]) % uint64(m)
			for table[c] >= 0 {
				next[i]++
				c = (offset[i] + next[i]*skip[i]) % uint64(m)
			}
			table[c] = int32(i)
			next[i]++
			if filled++; filled == m {
				return table
			}
		}
	}
}

func nextPrime(n int) int {
	for ; ; n++ {
		if isPrime(n) {
			return n
		}
	}
}

func isPrime(n int) bool {
	if n < 2 {
		return false
	}
	for d := 2; d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return true
}

var _ handlespace.Selector = (*hashSel)(nil)

// elementHashKey is a bijection of element IDs, so distinct IDs never tie.
func elementHashKey(id uint32) uint64 { return mix64(uint64(id) + 0x9e3779b97f4a7c15) }

// clientHashKey returns the hash of the client's subnet, and false if the
// client has no address.
func clientHashKey(c *handlespace.Client) (uint64, bool) {
	if c == nil {
		return 0, false
	}
	p := c.Subnet
	if p.IsValid() && p.Bits() > 0 {
		p = p.Masked()
	} else if c.Addr.IsValid() {
		a := c.Addr.Unmap()
		bits := 56
		if a.Is4() {
			bits = 24
		}
		p, _ = a.Prefix(bits)
	} else {
		return 0, false
	}
	a := p.Addr().Unmap()
	b := a.As16()
	fam := uint64(6)
	if a.Is4() {
		fam = 4
	}
	h := mix64(binary.BigEndian.Uint64(b[:8]) ^ 0x6a09e667f3bcc908)
	h = mix64(h ^ binary.BigEndian.Uint64(b[8:]))
	return mix64(h ^ uint64(p.Bits())<<8 ^ fam), true
}

// hashScore is an element's score for one client.
type hashScore struct {
	score, key uint64
	i          int32
}

// before orders scores highest first; equal scores (a 2⁻⁶⁴ event) by the
// element's key, which does not depend on the element's index.
func (a hashScore) before(b hashScore) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.key > b.key
}

// hashSmallK is the largest answer that hash keeps in a fixed array while
// scanning; larger ones sort all scores.
const hashSmallK = 8

func (s *hashSel) Select(dst []handlespace.Pick, k int, c *handlespace.Client) []handlespace.Pick {
	if wantK(k, len(s.keys)) <= hashSmallK {
		var buf [hashSmallK]int32
		return appendIdx(dst, s.part, s.selectIdx(buf[:0], k, c))
	}
	bp := idxScratches.Get().(*[]int32)
	idx := s.selectIdx((*bp)[:0], k, c)
	dst = appendIdx(dst, s.part, idx)
	*bp = idx[:0]
	idxScratches.Put(bp)
	return dst
}

func (s *hashSel) selectIdx(dst []int32, k int, c *handlespace.Client) []int32 {
	n := len(s.keys)
	k = wantK(k, n)
	ck, ok := clientHashKey(c)
	if !ok {
		start := int((s.seq.Add(1) - 1) % uint64(n))
		for i := 0; i < k; i++ {
			j := start + i
			if j >= n {
				j -= n
			}
			dst = append(dst, int32(j))
		}
		return dst
	}
	if k == 1 {
		best := hashScore{score: mix64(ck ^ s.keys[0]), key: s.keys[0]}
		for i := 1; i < n; i++ {
			if sc := (hashScore{mix64(ck ^ s.keys[i]), s.keys[i], int32(i)}); sc.before(best) {
				best = sc
			}
		}
		return append(dst, best.i)
	}
	if k <= hashSmallK {
		var top [hashSmallK]hashScore // the best so far, best first
		m := 0
		for i := 0; i < n; i++ {
			sc := hashScore{mix64(ck ^ s.keys[i]), s.keys[i], int32(i)}
			if m == k && !sc.before(top[k-1]) {
				continue
			}
			if m < k {
				m++
			}
			j := m - 1
			for ; j > 0 && sc.before(top[j-1]); j-- {
				top[j] = top[j-1]
			}
			top[j] = sc
		}
		for _, sc := range top[:m] {
			dst = append(dst, sc.i)
		}
		return dst
	}
	bp := s.scratch.Get().(*[]hashScore)
	all := *bp
	for i := range all {
		all[i] = hashScore{mix64(ck ^ s.keys[i]), s.keys[i], int32(i)}
	}
	slices.SortFunc(all, func(a, b hashScore) int {
		switch {
		case a.before(b):
			return -1
		case b.before(a):
			return 1
		}
		return 0 // the same element: keys are distinct
	})
	for _, sc := range all[:k] {
		dst = append(dst, sc.i)
	}
	s.scratch.Put(bp)
	return dst
}
