package ptree

import "unsafe"

// Diff compares two versions a and b of a ByID tree (b made from a by
// Update, or the other way, or any two trees of the same kind) entry by
// entry in key order, and calls f for each key whose entries differ:
// f(x, nil) for an entry only a has, f(nil, y) for one only b has, and
// f(x, y) for a key whose element is another pointer in b.
//
// It skips every subtree the two versions share, so two versions d
// changes apart cost O(d log n) nodes to compare, not O(n): a change
// copies only the paths from the root to the leaves it touched, and the
// walk meets the shared nodes at the same point of both trees.
func Diff[E any](a, b *Tree[E], f func(x, y *E)) { diff(a, b, f) }

// diff is Diff; it returns how many nodes it opened or read, for the tests.
func diff[E any](a, b *Tree[E], f func(x, y *E)) int {
	var ca, cb diffCursor[E]
	ca.init(a)
	cb.init(b)
	for {
		if ca.leaf == nil && cb.leaf == nil {
			// At a boundary of both sides: every key up to here is
			// compared, so a node both have next holds the same entries.
			skipShared(&ca, &cb)
		}
		if ca.leaf == nil {
			ca.nextLeaf()
		}
		if cb.leaf == nil {
			cb.nextLeaf()
		}
		if ca.i == 0 && cb.i == 0 && ca.leaf != nil && cb.leaf != nil && sameKeys(ca.leaf, cb.leaf) {
			ea, eb := ca.leaf.Elems(), cb.leaf.Elems()
			eb = eb[:len(ea)]
			for i, x := range ea {
				if y := eb[i]; x != y {
					f(x, y)
				}
			}
			ca.leaf, cb.leaf = nil, nil
			continue
		}
		switch {
		case ca.leaf == nil && cb.leaf == nil:
			return ca.nodes + cb.nodes
		case cb.leaf == nil || (ca.leaf != nil && ca.key() < cb.key()):
			f(ca.elem(), nil)
			ca.advance()
		case ca.leaf == nil || cb.key() < ca.key():
			f(nil, cb.elem())
			cb.advance()
		default:
			if x, y := ca.elem(), cb.elem(); x != y {
				f(x, y)
			}
			ca.advance()
			cb.advance()
		}
	}
}

// diffCursor walks a tree's leaves in order: the subtrees not walked yet
// are, per level, the rest of an inner node's children (the next on top),
// leaf the leaf being read, at entry i. A level is a frame of its own, so
// the cursor is of fixed size and lives on the caller's stack: a diff
// allocates nothing (the monitor diffs a pool's versions on every
// registration).
type diffCursor[E any] struct {
	frames [MaxHeight + 1]diffFrame[E]
	depth  int // frames in use
	leaf   *Node[E]
	i      int
	nodes  int // inner nodes opened and leaves read
}

// diffFrame is the subtrees of one level not walked yet (kids[0] next)
// and their height (1: leaves).
type diffFrame[E any] struct {
	kids []*Node[E]
	h    int
}

// diffItem is a pending subtree and its height (1: a leaf).
type diffItem[E any] struct {
	n *Node[E]
	h int
}

func (c *diffCursor[E]) init(t *Tree[E]) {
	if t.root != nil {
		// The root as a level of one subtree: t's own field (a slice of
		// the cursor's would move the cursor to the heap).
		c.push(unsafe.Slice(&t.root, 1), int(t.height))
	}
}

func (c *diffCursor[E]) push(kids []*Node[E], h int) {
	c.frames[c.depth] = diffFrame[E]{kids, h}
	c.depth++
}

// more reports whether subtrees are pending.
func (c *diffCursor[E]) more() bool { return c.depth > 0 }

func (c *diffCursor[E]) top() diffItem[E] {
	f := &c.frames[c.depth-1]
	return diffItem[E]{f.kids[0], f.h}
}

func (c *diffCursor[E]) pop() {
	f := &c.frames[c.depth-1]
	if f.kids = f.kids[1:]; len(f.kids) == 0 {
		c.frames[c.depth-1] = diffFrame[E]{}
		c.depth--
	}
}

// open replaces the pending inner node on top with its children.
func (c *diffCursor[E]) open() {
	it := c.top()
	c.pop()
	c.nodes++
	if kids := it.n.Kids(); len(kids) > 0 {
		c.push(kids, it.h-1)
	}
}

// nextLeaf makes the next leaf the one being read (leaf stays nil at the
// end; empty leaves, which a tree never keeps, are passed over).
func (c *diffCursor[E]) nextLeaf() {
	for c.more() {
		it := c.top()
		if it.h > 1 {
			c.open()
			continue
		}
		c.pop()
		c.nodes++
		if it.n.Width() > 0 {
			c.leaf, c.i = it.n, 0
			return
		}
	}
}

func (c *diffCursor[E]) key() uint64 { return c.leaf.Key(c.i) }
func (c *diffCursor[E]) elem() *E    { return c.leaf.Elem(c.i) }

func (c *diffCursor[E]) advance() {
	if c.i++; c.i >= c.leaf.Width() {
		c.leaf = nil
	}
}

// skipShared passes over the subtrees both cursors have next, opening the
// taller of two different ones (both when as tall) until two leaves
// differ or a side ends.
func skipShared[E any](a, b *diffCursor[E]) {
	for a.more() && b.more() {
		x, y := a.top(), b.top()
		switch {
		case x.n == y.n:
			a.pop()
			b.pop()
		case x.h == 1 && y.h == 1:
			return
		case x.h > y.h:
			a.open()
		case y.h > x.h:
			b.open()
		default:
			a.open()
			b.open()
		}
	}
}

// sameKeys reports whether leaves a and b hold the same keys (of a ByID
// tree: no ties) in the same layout.
func sameKeys[E any](a, b *Node[E]) bool {
	if a.cnt != b.cnt || len(a.buf) != len(b.buf) {
		return false
	}
	bb := b.buf[:len(a.buf)]
	for i, w := range a.buf {
		if w != bb[i] {
			return false
		}
	}
	return true
}
