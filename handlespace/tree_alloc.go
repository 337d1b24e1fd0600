package handlespace

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
		b := new(struct {
			n tnode
			e [4]*Element
			k [2]uint64
		})
		b.n.setElems(b.e[:m:m])
		b.n.buf = b.k[:w:w]
		return &b.n
	case m <= 8:
		b := new(struct {
			n tnode
			e [8]*Element
			k [4]uint64
		})
		b.n.setElems(b.e[:m:m])
		b.n.buf = b.k[:w:w]
		return &b.n
	case m <= 12:
		b := new(struct {
			n tnode
			e [12]*Element
			k [6]uint64
		})
		b.n.setElems(b.e[:m:m])
		b.n.buf = b.k[:w:w]
		return &b.n
	case m <= 16:
		b := new(struct {
			n tnode
			e [16]*Element
			k [8]uint64
		})
		b.n.setElems(b.e[:m:m])
		b.n.buf = b.k[:w:w]
		return &b.n
	case m <= 20:
		b := new(struct {
			n tnode
			e [20]*Element
			k [10]uint64
		})
		b.n.setElems(b.e[:m:m])
		b.n.buf = b.k[:w:w]
		return &b.n
	case m <= 24:
		b := new(struct {
			n tnode
			e [24]*Element
			k [12]uint64
		})
		b.n.setElems(b.e[:m:m])
		b.n.buf = b.k[:w:w]
		return &b.n
	case m <= 28:
		b := new(struct {
			n tnode
			e [28]*Element
			k [14]uint64
		})
		b.n.setElems(b.e[:m:m])
		b.n.buf = b.k[:w:w]
		return &b.n
	case m <= 32:
		b := new(struct {
			n tnode
			e [32]*Element
			k [16]uint64
		})
		b.n.setElems(b.e[:m:m])
		b.n.buf = b.k[:w:w]
		return &b.n
	case m <= 36:
		b := new(struct {
			n tnode
			e [36]*Element
			k [18]uint64
		})
		b.n.setElems(b.e[:m:m])
		b.n.buf = b.k[:w:w]
		return &b.n
	case m <= 40:
		b := new(struct {
			n tnode
			e [40]*Element
			k [20]uint64
		})
		b.n.setElems(b.e[:m:m])
		b.n.buf = b.k[:w:w]
		return &b.n
	case m <= 44:
		b := new(struct {
			n tnode
			e [44]*Element
			k [22]uint64
		})
		b.n.setElems(b.e[:m:m])
		b.n.buf = b.k[:w:w]
		return &b.n
	case m <= 48:
		b := new(struct {
			n tnode
			e [48]*Element
			k [24]uint64
		})
		b.n.setElems(b.e[:m:m])
		b.n.buf = b.k[:w:w]
		return &b.n
	case m <= 52:
		b := new(struct {
			n tnode
			e [52]*Element
			k [26]uint64
		})
		b.n.setElems(b.e[:m:m])
		b.n.buf = b.k[:w:w]
		return &b.n
	case m <= 56:
		b := new(struct {
			n tnode
			e [56]*Element
			k [28]uint64
		})
		b.n.setElems(b.e[:m:m])
		b.n.buf = b.k[:w:w]
		return &b.n
	case m <= 60:
		b := new(struct {
			n tnode
			e [60]*Element
			k [30]uint64
		})
		b.n.setElems(b.e[:m:m])
		b.n.buf = b.k[:w:w]
		return &b.n
	case m <= 64:
		b := new(struct {
			n tnode
			e [64]*Element
			k [32]uint64
		})
		b.n.setElems(b.e[:m:m])
		b.n.buf = b.k[:w:w]
		return &b.n
	}
	panic("handlespace: leaf too wide")
}

// newPlainInner returns an inner node of m (<= innerMax) children with
// room for the packed keys and counts.
func newPlainInner(m int) *tnode {
	switch {
	case m <= 4:
		b := new(struct {
			n tnode
			c [4]*tnode
			k [4]uint64
		})
		b.n.setKids(b.c[:m:m])
		b.n.buf = b.k[:m:m]
		return &b.n
	case m <= 8:
		b := new(struct {
			n tnode
			c [8]*tnode
			k [8]uint64
		})
		b.n.setKids(b.c[:m:m])
		b.n.buf = b.k[:m:m]
		return &b.n
	case m <= 12:
		b := new(struct {
			n tnode
			c [12]*tnode
			k [12]uint64
		})
		b.n.setKids(b.c[:m:m])
		b.n.buf = b.k[:m:m]
		return &b.n
	case m <= 16:
		b := new(struct {
			n tnode
			c [16]*tnode
			k [16]uint64
		})
		b.n.setKids(b.c[:m:m])
		b.n.buf = b.k[:m:m]
		return &b.n
	case m <= 20:
		b := new(struct {
			n tnode
			c [20]*tnode
			k [20]uint64
		})
		b.n.setKids(b.c[:m:m])
		b.n.buf = b.k[:m:m]
		return &b.n
	case m <= 24:
		b := new(struct {
			n tnode
			c [24]*tnode
			k [24]uint64
		})
		b.n.setKids(b.c[:m:m])
		b.n.buf = b.k[:m:m]
		return &b.n
	case m <= 28:
		b := new(struct {
			n tnode
			c [28]*tnode
			k [28]uint64
		})
		b.n.setKids(b.c[:m:m])
		b.n.buf = b.k[:m:m]
		return &b.n
	case m <= 32:
		b := new(struct {
			n tnode
			c [32]*tnode
			k [32]uint64
		})
		b.n.setKids(b.c[:m:m])
		b.n.buf = b.k[:m:m]
		return &b.n
	}
	panic("handlespace: inner node too wide")
}
