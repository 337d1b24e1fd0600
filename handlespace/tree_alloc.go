package handlespace

import "unsafe"

// Node allocation in one piece: a leaf of a plain tree (byID, unweighted)
// is its header, its element pointers and its keys in one allocation, an
// inner node of one its header, children, keys and counts, in capacity
// steps of four (the garbage collector scans only up to the last
// pointer). One allocation instead of three per node makes a change
// cheaper and a descent touch fewer cache lines. Other trees' numbers
// take a second allocation.

// newPlainLeaf returns a leaf of m (<= leafMax) entries with room for the
// keys, packed two to a word (see tnode.lkey).
func newPlainLeaf(m int) *tnode {
	w := packedWords(m)
	switch {
	case m <= 4:
		return plainLeafOf[[4]*Element, [2]uint64](m, w)
	case m <= 8:
		return plainLeafOf[[8]*Element, [4]uint64](m, w)
	case m <= 12:
		return plainLeafOf[[12]*Element, [6]uint64](m, w)
	case m <= 16:
		return plainLeafOf[[16]*Element, [8]uint64](m, w)
	case m <= 20:
		return plainLeafOf[[20]*Element, [10]uint64](m, w)
	case m <= 24:
		return plainLeafOf[[24]*Element, [12]uint64](m, w)
	case m <= 28:
		return plainLeafOf[[28]*Element, [14]uint64](m, w)
	case m <= 32:
		return plainLeafOf[[32]*Element, [16]uint64](m, w)
	case m <= 36:
		return plainLeafOf[[36]*Element, [18]uint64](m, w)
	case m <= 40:
		return plainLeafOf[[40]*Element, [20]uint64](m, w)
	case m <= 44:
		return plainLeafOf[[44]*Element, [22]uint64](m, w)
	case m <= 48:
		return plainLeafOf[[48]*Element, [24]uint64](m, w)
	case m <= 52:
		return plainLeafOf[[52]*Element, [26]uint64](m, w)
	case m <= 56:
		return plainLeafOf[[56]*Element, [28]uint64](m, w)
	case m <= 60:
		return plainLeafOf[[60]*Element, [30]uint64](m, w)
	case m <= 64:
		return plainLeafOf[[64]*Element, [32]uint64](m, w)
	}
	panic("handlespace: leaf too wide")
}

// newPlainInner returns an inner node of m (<= innerMax) children with
// room for the packed keys and counts.
func newPlainInner(m int) *tnode {
	switch {
	case m <= 4:
		return plainInnerOf[[4]*tnode, [4]uint64](m)
	case m <= 8:
		return plainInnerOf[[8]*tnode, [8]uint64](m)
	case m <= 12:
		return plainInnerOf[[12]*tnode, [12]uint64](m)
	case m <= 16:
		return plainInnerOf[[16]*tnode, [16]uint64](m)
	case m <= 20:
		return plainInnerOf[[20]*tnode, [20]uint64](m)
	case m <= 24:
		return plainInnerOf[[24]*tnode, [24]uint64](m)
	case m <= 28:
		return plainInnerOf[[28]*tnode, [28]uint64](m)
	case m <= 32:
		return plainInnerOf[[32]*tnode, [32]uint64](m)
	}
	panic("handlespace: inner node too wide")
}

// plainLeafOf returns a leaf of m entries and w key words in one
// allocation of its header, E (an array of at least m *Element) and K (an
// array of at least w uint64).
func plainLeafOf[E, K any](m, w int) *tnode {
	b := new(struct {
		n tnode
		e E
		k K
	})
	b.n.setElems(unsafe.Slice((**Element)(unsafe.Pointer(&b.e)), m))
	b.n.buf = unsafe.Slice((*uint64)(unsafe.Pointer(&b.k)), w)
	return &b.n
}

// plainInnerOf returns an inner node of m children in one allocation of
// its header, C (an array of at least m *tnode) and K (an array of at least
// m uint64).
func plainInnerOf[C, K any](m int) *tnode {
	b := new(struct {
		n tnode
		c C
		k K
	})
	b.n.setKids(unsafe.Slice((**tnode)(unsafe.Pointer(&b.c)), m))
	b.n.buf = unsafe.Slice((*uint64)(unsafe.Pointer(&b.k)), m)
	return &b.n
}
