// Package intern numbers values: handlespace keeps a small number in an
// element for what many elements hold alike (a site's name, probe
// settings, what vantage points saw), not a pointer, so that an element
// has no pointer for the garbage collector to follow.
package intern

import (
	"sync"
	"sync/atomic"
)

// chunk is the number of values in a chunk of a Table.
const chunk = 1 << 10

// Table gives each distinct key a number, from 1, and keeps a value for
// it: numbers are never reused, so a reader needs no lock. It only grows,
// up to its bound. Safe for concurrent use: Of takes a lock, Get none.
type Table[K comparable, V any] struct {
	mu  sync.Mutex
	ids map[K]uint32
	n   atomic.Uint32 // the next number; written under mu
	max uint32
	// refused counts the keys Of gave no number (the table was full).
	refused atomic.Uint64
	// dir holds the chunks made so far: it grows (a new slice) with the
	// table, so that a small table is a small root for the collector.
	dir atomic.Pointer[[]*[chunk]V]
}

// New returns a table of at most max-1 values.
func New[K comparable, V any](max uint32) *Table[K, V] {
	t := &Table[K, V]{ids: make(map[K]uint32), max: max}
	t.n.Store(1)
	t.dir.Store(new([]*[chunk]V))
	return t
}

// Of returns the number of k, giving it the next one with the value
// mk() if k has none yet; 0 when the table is full.
func (t *Table[K, V]) Of(k K, mk func() V) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.ids[k]; ok {
		return id
	}
	id := t.n.Load()
	if id >= t.max {
		t.refused.Add(1)
		return 0
	}
	dir := *t.dir.Load()
	if int(id/chunk) >= len(dir) {
		dir = append(dir[:len(dir):len(dir)], new([chunk]V)) // a new slice: readers keep the old
		t.dir.Store(&dir)
	}
	dir[id/chunk][id%chunk] = mk() // written before the number is handed out
	t.ids[k] = id
	t.n.Store(id + 1)
	return id
}

// Stats returns the values the table holds, the most it may hold and how
// many times Of found it full.
func (t *Table[K, V]) Stats() (values, max uint32, refused uint64) {
	return t.n.Load() - 1, t.max - 1, t.refused.Load()
}

// Get returns the value of number id, nil for 0 or a number that Of never
// gave. The value is shared: it must not be written.
func (t *Table[K, V]) Get(id uint32) *V {
	if id == 0 || id >= t.n.Load() {
		return nil
	}
	return &(*t.dir.Load())[id/chunk][id%chunk]
}
