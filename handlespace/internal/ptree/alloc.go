package ptree

import "unsafe"

// Node allocation in one piece: a leaf of a plain tree (ByID, unweighted)
// is its header, its element pointers and its keys in one allocation, an
// inner node of one its header, children, keys and counts, in capacity
// steps of four (the garbage collector scans only up to the last
// pointer). One allocation instead of three per node makes a change
// cheaper and a descent touch fewer cache lines. Other trees' numbers
// take a second allocation.

// newPlainLeaf returns a leaf of m (<= LeafMax) entries with room for the
// keys, packed two to a word (see Node.Key).
func newPlainLeaf[E any](m int) *Node[E] {
	w := packedWords(m)
	switch {
	case m <= 4:
		return plainLeafOf[E, [4]*E, [2]uint64](m, w)
	case m <= 8:
		return plainLeafOf[E, [8]*E, [4]uint64](m, w)
	case m <= 12:
		return plainLeafOf[E, [12]*E, [6]uint64](m, w)
	case m <= 16:
		return plainLeafOf[E, [16]*E, [8]uint64](m, w)
	case m <= 20:
		return plainLeafOf[E, [20]*E, [10]uint64](m, w)
	case m <= 24:
		return plainLeafOf[E, [24]*E, [12]uint64](m, w)
	case m <= 28:
		return plainLeafOf[E, [28]*E, [14]uint64](m, w)
	case m <= 32:
		return plainLeafOf[E, [32]*E, [16]uint64](m, w)
	case m <= 36:
		return plainLeafOf[E, [36]*E, [18]uint64](m, w)
	case m <= 40:
		return plainLeafOf[E, [40]*E, [20]uint64](m, w)
	case m <= 44:
		return plainLeafOf[E, [44]*E, [22]uint64](m, w)
	case m <= 48:
		return plainLeafOf[E, [48]*E, [24]uint64](m, w)
	case m <= 52:
		return plainLeafOf[E, [52]*E, [26]uint64](m, w)
	case m <= 56:
		return plainLeafOf[E, [56]*E, [28]uint64](m, w)
	case m <= 60:
		return plainLeafOf[E, [60]*E, [30]uint64](m, w)
	case m <= 64:
		return plainLeafOf[E, [64]*E, [32]uint64](m, w)
	}
	panic("ptree: leaf too wide")
}

// newPlainInner returns an inner node of m (<= innerMax) children with
// room for the packed keys and counts.
func newPlainInner[E any](m int) *Node[E] {
	switch {
	case m <= 4:
		return plainInnerOf[E, [4]*Node[E], [4]uint64](m)
	case m <= 8:
		return plainInnerOf[E, [8]*Node[E], [8]uint64](m)
	case m <= 12:
		return plainInnerOf[E, [12]*Node[E], [12]uint64](m)
	case m <= 16:
		return plainInnerOf[E, [16]*Node[E], [16]uint64](m)
	case m <= 20:
		return plainInnerOf[E, [20]*Node[E], [20]uint64](m)
	case m <= 24:
		return plainInnerOf[E, [24]*Node[E], [24]uint64](m)
	case m <= 28:
		return plainInnerOf[E, [28]*Node[E], [28]uint64](m)
	case m <= 32:
		return plainInnerOf[E, [32]*Node[E], [32]uint64](m)
	}
	panic("ptree: inner node too wide")
}

// plainLeafOf returns a leaf of m entries and w key words in one
// allocation of its header, A (an array of at least m *E) and K (an
// array of at least w uint64).
func plainLeafOf[E, A, K any](m, w int) *Node[E] {
	b := new(struct {
		n Node[E]
		e A
		k K
	})
	b.n.setElems(unsafe.Slice((**E)(unsafe.Pointer(&b.e)), m))
	b.n.buf = unsafe.Slice((*uint64)(unsafe.Pointer(&b.k)), w)
	return &b.n
}

// plainInnerOf returns an inner node of m children in one allocation of
// its header, C (an array of at least m *Node[E]) and K (an array of at least
// m uint64).
func plainInnerOf[E, C, K any](m int) *Node[E] {
	b := new(struct {
		n Node[E]
		c C
		k K
	})
	b.n.setKids(unsafe.Slice((**Node[E])(unsafe.Pointer(&b.c)), m))
	b.n.buf = unsafe.Slice((*uint64)(unsafe.Pointer(&b.k)), m)
	return &b.n
}
