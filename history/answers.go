package history

import (
	"sync"
	"sync/atomic"
)

// Answers counts the answers of each pool and, per element, how often it
// came first: what a DNS front reports on its query path (PoolAnswer) and
// a Recorder reads at each sample (Inputs.Answers). Counting an answer
// costs two map look-ups and two atomic adds, no lock and no allocation,
// except for the first answer of a pool or element, which copies a map.
// Its pools and elements are those of the handlespace (a query cannot add
// one), and the Recorder forgets those that left it.
type Answers struct {
	mu    sync.Mutex                            // serialises writers of pools
	pools atomic.Pointer[map[string]*poolTally] // copy on write
}

// poolTally is one pool's counts.
type poolTally struct {
	total atomic.Uint64
	mu    sync.Mutex                                // serialises writers of first
	first atomic.Pointer[map[uint32]*atomic.Uint64] // by element ID; copy on write
}

// NewAnswers returns an empty tally.
func NewAnswers() *Answers {
	a := &Answers{}
	m := map[string]*poolTally{}
	a.pools.Store(&m)
	return a
}

// PoolAnswer counts an answer of pool (its lower-case name) whose first
// element is first. It is safe for concurrent use and does nothing on a
// nil *Answers.
func (a *Answers) PoolAnswer(pool string, first uint32) {
	if a == nil {
		return
	}
	pt := (*a.pools.Load())[pool]
	if pt == nil {
		pt = a.addPool(pool)
	}
	pt.total.Add(1)
	c := (*pt.first.Load())[first]
	if c == nil {
		c = pt.addElem(first)
	}
	c.Add(1)
}

func (a *Answers) addPool(pool string) *poolTally {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := *a.pools.Load()
	if pt := old[pool]; pt != nil {
		return pt
	}
	pt := &poolTally{}
	fm := map[uint32]*atomic.Uint64{}
	pt.first.Store(&fm)
	m := make(map[string]*poolTally, len(old)+1)
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

// read returns a pool's running totals: answers, and first places by
// element. ok is false when the pool has had no answer.
func (a *Answers) read(pool string, into map[uint32]uint64) (total uint64, ok bool) {
	pt := (*a.pools.Load())[pool]
	if pt == nil {
		return 0, false
	}
	for id, c := range *pt.first.Load() {
		into[id] = c.Load()
	}
	return pt.total.Load(), true
}

// retain forgets the pools that keep says no to, and in the others the
// elements it says no to.
func (a *Answers) retain(keepPool func(string) bool, keepElem func(pool string, id uint32) bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := *a.pools.Load()
	m := make(map[string]*poolTally, len(old))
	changed := false
	for name, pt := range old {
		if !keepPool(name) {
			changed = true
			continue
		}
		m[name] = pt
		pt.mu.Lock()
		fo := *pt.first.Load()
		fm := make(map[uint32]*atomic.Uint64, len(fo))
		for id, c := range fo {
			if keepElem(name, id) {
				fm[id] = c
			}
		}
		if len(fm) != len(fo) {
			pt.first.Store(&fm)
		}
		pt.mu.Unlock()
	}
	if changed {
		a.pools.Store(&m)
	}
}
