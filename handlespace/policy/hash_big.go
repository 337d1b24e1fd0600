package policy

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/poolnsd/poolnsd/handlespace"
)

// hashBig is hash for sets of more than hashExactMax elements: a Maglev
// table of the set's elements. Filling a table costs O(16 n) (tens of
// milliseconds at 100 000 elements), so a change of the set does not wait
// for one: the first version of a set (a zone load, a pool crossing
// hashExactMax, a policy change) builds its table at once, and later
// versions have theirs built in the background by the pool's builder, one
// at a time, for the newest version (intermediate ones are skipped).
//
// Until its own table is ready, a selector answers from the newest table
// built, checking every element it finds there against its own set: an
// element that left the set (removed, down, drained) is never answered,
// one that changed is answered as it is now, and one that joined since is
// answered only once a table holds it (or when the stale table runs out
// of elements for a long answer). The table is the same function of the
// set on every registrar, so answers agree again once the tables are
// built. Under a steady stream of changes to one large pool the builder
// runs without pause: one core's worth at most, per such pool.
type hashBig struct {
	t   tree // the set, byID
	seq *atomic.Uint64
	cur atomic.Pointer[maglevTab] // this version's own table, once built
	b   *maglevBuilder
	// ready is closed when cur is set by the builder (testing).
	ready chan struct{}
}

var _ handlespace.Selector = (*hashBig)(nil)

// maglevTab is a Maglev table over one version of a set.
type maglevTab struct {
	slots []int32            // element indexes
	picks []handlespace.Pick // the elements, by ID, where they lie in that version's tree
	ids   []uint32           // their IDs
}

func newMaglev(t *tree) *maglevTab {
	tab := &maglevTab{picks: appendPicks(make([]handlespace.Pick, 0, t.Len()), t), ids: make([]uint32, t.Len())}
	keys := make([]uint64, t.Len())
	for i, p := range tab.picks {
		tab.ids[i] = p.Elem().ID
		keys[i] = elementHashKey(tab.ids[i])
	}
	tab.slots = maglevTable(keys)
	return tab
}

// maglevBuilder builds the tables of one pool's set in the background.
type maglevBuilder struct {
	latest  atomic.Pointer[maglevTab] // the newest table built
	mu      sync.Mutex
	want    *hashBig // the newest selector waiting for a table; guarded by mu
	running bool     // guarded by mu
}

// request asks for s's table.
func (b *maglevBuilder) request(s *hashBig) {
	b.mu.Lock()
	b.want = s
	start := !b.running
	b.running = true
	b.mu.Unlock()
	if start {
		go b.run()
	}
}

func (b *maglevBuilder) run() {
	for {
		b.mu.Lock()
		s := b.want
		b.want = nil
		if s == nil {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		tab := newMaglev(&s.t)
		s.cur.Store(tab)
		b.latest.Store(tab)
		close(s.ready)
	}
}

func buildHashBig(set *handlespace.Set, seq *atomic.Uint64, prev handlespace.Selector, full bool) *hashBig {
	s := &hashBig{t: *set.Tree(), seq: seq}
	p, _ := prev.(*hashBig)
	if full || p == nil {
		tab := newMaglev(&s.t)
		s.cur.Store(tab)
		s.b = &maglevBuilder{}
		s.b.latest.Store(tab)
		return s
	}
	s.b, s.ready = p.b, make(chan struct{})
	s.b.request(s)
	return s
}

func (s *hashBig) Select(dst []handlespace.Pick, k int, c *handlespace.Client) []handlespace.Pick {
	n := s.t.Len()
	k = wantK(k, n)
	ck, ok := clientHashKey(c)
	if !ok {
		return appendRun(dst, &s.t, int((s.seq.Add(1)-1)%uint64(n)), k)
	}
	tab, exact := s.cur.Load(), true
	if tab == nil {
		tab, exact = s.b.latest.Load(), false
	}
	if k > hashSmallK {
		return s.selectLarge(dst, k, ck, tab, exact)
	}
	m := len(tab.slots)
	start := len(dst)
	pos := int(ck % uint64(m))
	var seen [hashSmallK]int32 // table indexes taken (stale tables: also those skipped)
	ns := 0
	limit := m
	if !exact {
		limit = min(m, 64*k) // a stale table that lost most of its elements
	}
	for step := 0; step < limit && len(dst)-start < k; step++ {
		e := tab.slots[pos]
		if pos++; pos == m {
			pos = 0
		}
		if slices.Contains(seen[:ns], e) {
			continue
		}
		if exact {
			seen[ns], ns = e, ns+1
			dst = append(dst, tab.picks[e])
			continue
		}
		p, ok := s.find(tab.ids[e])
		if !ok {
			continue // left the set; skipping it again costs a search
		}
		seen[ns], ns = e, ns+1
		dst = append(dst, p)
	}
	if got := len(dst) - start; got < k {
		dst = s.fill(dst, start, k-got)
	}
	return dst
}

// fill appends k of the set's elements that the answer dst[start:] does
// not hold yet, in ID order (a stale table that ran out).
func (s *hashBig) fill(dst []handlespace.Pick, start, k int) []handlespace.Pick {
	s.t.EachLeaf(func(l *tnode) bool {
		for i := range l.Elems() {
			if k == 0 {
				return false
			}
			p := handlespace.PickOf(l, int32(i))
			if !slices.Contains(dst[start:], p) {
				dst = append(dst, p)
				k--
			}
		}
		return true
	})
	return dst
}

var seenScratches = sync.Pool{New: func() any { return new([]uint64) }}

// find returns where element id lies in the set, if it is there.
func (s *hashBig) find(id uint32) (handlespace.Pick, bool) {
	l, i, ok := s.t.Find(uint64(id), 0)
	return handlespace.PickOf(l, int32(i)), ok
}

// selectLarge is Select for long answers: a bitmap says which elements
// the answer holds; from a stale table, the set's elements the table does
// not know follow, in ID order, if the answer wants them.
func (s *hashBig) selectLarge(dst []handlespace.Pick, k int, ck uint64, tab *maglevTab, exact bool) []handlespace.Pick {
	bp := seenScratches.Get().(*[]uint64)
	defer seenScratches.Put(bp)
	seen := slices.Grow((*bp)[:0], (len(tab.picks)+63)/64)[:(len(tab.picks)+63)/64]
	clear(seen)
	*bp = seen
	m := len(tab.slots)
	pos := int(ck % uint64(m))
	got := 0
	for step := 0; step < m && got < k; step++ {
		e := tab.slots[pos]
		if pos++; pos == m {
			pos = 0
		}
		if seen[e/64]&(1<<(e%64)) != 0 {
			continue
		}
		seen[e/64] |= 1 << (e % 64)
		if exact {
			dst = append(dst, tab.picks[e])
			got++
		} else if p, ok := s.find(tab.ids[e]); ok {
			dst = append(dst, p)
			got++
		}
	}
	if got < k && !exact {
		// Elements that joined after the table was built.
		s.t.EachLeaf(func(l *tnode) bool {
			for i, e := range l.Elems() {
				if got == k {
					return false
				}
				if _, known := slices.BinarySearch(tab.ids, e.ID); !known {
					dst = append(dst, handlespace.PickOf(l, int32(i)))
					got++
				}
			}
			return true
		})
	}
	return dst
}
