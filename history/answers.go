package history

import (
	"sync"
	"sync/atomic"

	"github.com/poolnsd/poolnsd/handlespace"
)

// Answers counts, per pool, how often each element came first in its
// answers: what a DNS front reports on its query path (PoolAnswer) and a
// Recorder reads at each sample (Inputs.Answers). Counting an answer
// costs a map look-up by pointer, one by element ID and one atomic add,
// no lock and no allocation, except for the first answer of a pool or an
// element, which copies a map.
//
// A pool is known by its *handlespace.PoolInfo, which its views share
// while its settings stay the same: a change of settings (a zone reload
// that changes the pool) starts new counts, which the Recorder reads as
// such. Its pools and elements are those of the handlespace (a query
// cannot add one), and the Recorder forgets those that left it.
type Answers struct {
	mu    sync.Mutex                                           // serialises writers of pools
	pools atomic.Pointer[map[*handlespace.PoolInfo]*poolTally] // copy on write
}

// poolTally is one pool's counts.
type poolTally struct {
	mu    sync.Mutex                                // serialises writers of first and retired
	first atomic.Pointer[map[uint32]*atomic.Uint64] // by element ID; copy on write
	// retired is the sum of the counts of the elements forgotten, so that
	// the pool's total (retired + the sum of first) never goes down.
	retired atomic.Uint64
}

// NewAnswers returns an empty tally.
func NewAnswers() *Answers {
	a := &Answers{}
	m := map[*handlespace.PoolInfo]*poolTally{}
	a.pools.Store(&m)
	return a
}

// PoolAnswer counts an answer of the pool whose settings are pool (a
// PoolView's PoolInfo) with first in first place. It is safe for
// concurrent use and does nothing on a nil *Answers.
func (a *Answers) PoolAnswer(pool *handlespace.PoolInfo, first uint32) {
	if a == nil {
		return
	}
	pt := (*a.pools.Load())[pool]
	if pt == nil {
		pt = a.addPool(pool)
	}
	c := (*pt.first.Load())[first]
	if c == nil {
		c = pt.addElem(first)
	}
	c.Add(1)
}

func (a *Answers) addPool(pool *handlespace.PoolInfo) *poolTally {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := *a.pools.Load()
	if pt := old[pool]; pt != nil {
		return pt
	}
	pt := &poolTally{}
	fm := map[uint32]*atomic.Uint64{}
	pt.first.Store(&fm)
	m := make(map[*handlespace.PoolInfo]*poolTally, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[pool] = pt
	a.pools.Store(&m)
	return pt
}

func (pt *poolTally) addElem(id uint32) *atomic.Uint64 {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	old := *pt.first.Load()
	if c := old[id]; c != nil {
		return c
	}
	c := new(atomic.Uint64)
	m := make(map[uint32]*atomic.Uint64, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[id] = c
	pt.first.Store(&m)
	return c
}

// read returns a pool's running totals: answers, and (into, if not nil)
// first places by element. ok is false when the pool has had no answer
// with these settings.
func (a *Answers) read(pool *handlespace.PoolInfo, into map[uint32]uint64) (total uint64, ok bool) {
	pt := (*a.pools.Load())[pool]
	if pt == nil {
		return 0, false
	}
	total = pt.retired.Load()
	for id, c := range *pt.first.Load() {
		n := c.Load()
		total += n
		if into != nil {
			into[id] = n
		}
	}
	return total, true
}

// retain forgets the pools (settings) that keepPool says no to, and in
// the others the elements that keepElem says no to.
func (a *Answers) retain(keepPool func(*handlespace.PoolInfo) bool, keepElem func(pool *handlespace.PoolInfo, id uint32) bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := *a.pools.Load()
	m := make(map[*handlespace.PoolInfo]*poolTally, len(old))
	changed := false
	for pi, pt := range old {
		if !keepPool(pi) {
			changed = true
			continue
		}
		m[pi] = pt
		pt.mu.Lock()
		fo := *pt.first.Load()
		fm := make(map[uint32]*atomic.Uint64, len(fo))
		for id, c := range fo {
			if keepElem(pi, id) {
				fm[id] = c
			}
		}
		if len(fm) != len(fo) {
			pt.first.Store(&fm)
			// Answers still being added to the counters dropped (by
			// PoolAnswer calls that loaded the old map) are lost: a
			// handful, for an element that has left the pool.
			for id, c := range fo {
				if fm[id] == nil {
					pt.retired.Add(c.Load())
				}
			}
		}
		pt.mu.Unlock()
	}
	if changed {
		a.pools.Store(&m)
	}
}
