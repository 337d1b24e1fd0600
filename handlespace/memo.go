package handlespace

import "github.com/poolnsd/poolnsd/handlespace/internal/ptree"

// The readers' memo.
//
// A reader of the handlespace may keep material it derives from what it
// reads (the DNS front: its packed records) on the data it was derived
// from, so that it is built again only where a change made new data. The
// data never changes once published, and a change makes new data only
// where it changed, so the material of everything else carries over from
// one view of a pool to the next without being looked at:
//
//   - ElementMemo: material of one element (its packed A, AAAA, SRV and
//     URI records). A change of one element of a pool builds that
//     element's again, not the pool's.
//   - Pick.PartMemo: material of a part, the run of a few dozen elements
//     that a selection's picks lie in (a leaf of the set's tree), aligned
//     with them (the records of each element of the part, in an array), so
//     that an answer finds its elements' material by index. A change makes
//     new parts only where it changed.
//   - PoolView.Memo: material of one view of a pool (what answers need
//     besides the elements' own material).
//
// The three are one mechanism, a memo cell (ptree.Memo; in an element
// ptree.Cell, whose values carry their own entry) in each element, leaf
// and view: a value built for a key, the key saying what else the
// value depends on (the DNS front's: the pool's name, TTL and URI
// template), kept until a value for another key replaces it. Each is built
// at most once per cell and key in the common case (readers that find the
// cell empty at the same moment may each build; one value stays), so the
// build functions must not depend on anything but their arguments and the
// key. All three are safe for concurrent use, take no lock and allocate
// nothing once the value is there. A copy of an Element made by value
// does not share the original's memo.

// MemoHead starts a value that ElementMemo keeps: embedded, the value's
// first field.
type MemoHead = ptree.Head

// Memoized is a pointer to a value that starts with a MemoHead.
type Memoized[T any] = ptree.Headed[T]

// ElementMemo returns build(e) for key, built at most once per element
// and key in the common case. key is a comparable value that says what
// else the value depends on; a key belongs to one type of value. Safe for
// concurrent use. The value starts with a MemoHead and is its own entry
// in the element's memo, with no box around it, so that a reader that
// keeps material on a million elements (the DNS front's packed records)
// adds one object per element for the garbage collector to mark, not
// two.
func ElementMemo[T any, P Memoized[T]](e *Element, key any, build func(*Element) P) P {
	if v, ok := ptree.Load[T, P](&e.memo, key); ok {
		return v
	}
	return elementMemoBuild(e, key, build)
}

// elementMemoBuild is ElementMemo's slow path, apart so that ElementMemo
// inlines.
func elementMemoBuild[T any, P Memoized[T]](e *Element, key any, build func(*Element) P) P {
	return ptree.Store(&e.memo, key, build(e))
}

// PartMemo returns the value build computes from the elements of p's part,
// and p's index among them. The value is built at most once per part and
// key in the common case, so that material aligned with a part's elements
// is built again only for the parts a change made. key is a comparable
// value that says what else the value depends on. Safe for concurrent use.
func (p Pick) PartMemo(key any, build func(elems []*Element) any) (any, int) {
	if v, ok := p.part.Memo().Load(key); ok {
		return v, int(p.i)
	}
	return p.partMemoBuild(key, build), int(p.i)
}

// partMemoBuild is PartMemo's slow path, apart so that PartMemo inlines.
func (p Pick) partMemoBuild(key any, build func(elems []*Element) any) any {
	return p.part.Memo().Store(key, build(p.part.Elems()))
}

// Memo returns the value build computes from this view, built at most once
// per view in the common case. Safe for concurrent use.
func (v *PoolView) Memo(build func(*PoolView) any) any {
	if x, ok := v.memo.Load(nil); ok {
		return x
	}
	return v.memoBuild(build)
}

// memoBuild is Memo's slow path, apart so that Memo inlines.
func (v *PoolView) memoBuild(build func(*PoolView) any) any { return v.memo.Store(nil, build(v)) }
