package ptree

import (
	"sync/atomic"
	"unsafe"
)

// Memo is a cell that caches a reader's material derived from what holds
// it: a value built for a key, kept until a value for another key replaces
// it. handlespace puts one in every leaf and every pool view (its
// readers' memo: Pick.PartMemo, PoolView.Memo; an element has a Cell).
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

// Cell is a memo cell whose values carry their own entry: a value starts
// with a Head, which says which cell stored it and for which key, so that
// keeping a value costs no allocation besides the value's own, and the
// garbage collector one object to mark, not two. handlespace puts one in
// every element (its readers' memo, handlespace.ElementMemo): a
// registrar of a million queried elements keeps a million values.
//
// The zero Cell is empty. Load and Store are safe for concurrent use, as
// Memo's. A key belongs to one value type: Load returns what was stored
// for its key as that type.
type Cell struct {
	p unsafe.Pointer // *Head, the first field of the value
}

// Head is the first field of a value kept in a Cell.
type Head struct {
	cell *Cell // the cell that stored it
	key  any
}

func (h *Head) head() *Head { return h }

// Headed is a pointer to a value whose first field is a Head.
type Headed[T any] interface {
	*T
	head() *Head
}

// Load returns the value stored in c for key, if c holds one.
func Load[T any, P Headed[T]](c *Cell, key any) (P, bool) {
	if h := (*Head)(atomic.LoadPointer(&c.p)); h != nil && h.cell == c && h.key == key {
		return P(unsafe.Pointer(h)), true
	}
	return nil, false
}

// Store keeps v for key in c, replacing what c held, and returns v. v's
// Head is its own first field (else Store panics), written here, before
// v is published: v must not be in another cell.
func Store[T any, P Headed[T]](c *Cell, key any, v P) P {
	h := v.head()
	if unsafe.Pointer(h) != unsafe.Pointer(v) {
		panic("ptree: a Cell's value must start with its Head")
	}
	h.cell, h.key = c, key
	atomic.StorePointer(&c.p, unsafe.Pointer(h))
	return v
}

// StringOver returns a string over b's bytes, without a copy: an element
// keeps its label in itself that way (handlespace.Label). The caller must
// never write b while the string or a copy of it may exist.
func StringOver(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
