package ptree

import (
	"sync/atomic"
	"unsafe"
)

// Memo is a cell that caches a reader's material derived from what holds
// it: a value built for a key, kept until a value for another key replaces
// it. handlespace puts one in every element, every leaf and every pool
// view (its readers' memo: Element.Memo, Pick.PartMemo, PoolView.Memo).
//
// The zero Memo is empty. Load and Store are safe for concurrent use: two
// readers that find it empty may both build and store; one value stays.
// A Memo copied by value (an Element copied with *e) does not hand out
// the original's value: an entry is valid only in the cell that stored it.
// It holds a plain pointer, not an atomic.Pointer, so that the structs
// that hold one may be copied (go vet's copylocks).
type Memo struct {
	p unsafe.Pointer // *memoEntry
}

type memoEntry struct {
	cell *Memo // the cell that stored it
	key  any
	v    any
}

// Load returns the value stored for key, if the cell holds one.
func (m *Memo) Load(key any) (any, bool) {
	if e := (*memoEntry)(atomic.LoadPointer(&m.p)); e != nil && e.cell == m && e.key == key {
		return e.v, true
	}
	return nil, false
}

// Store keeps v for key, replacing what the cell held, and returns v.
func (m *Memo) Store(key, v any) any {
	atomic.StorePointer(&m.p, unsafe.Pointer(&memoEntry{cell: m, key: key, v: v}))
	return v
}
