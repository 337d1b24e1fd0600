package handlespace

import (
	"cmp"
	"slices"
	"sync/atomic"
	"unsafe"
)

// tree is an immutable B+tree, the storage of a pool view: its elements by
// identifier, its label index, and each served set in its policy's order.
// A change copies the path from the root to the leaves it touches (O(log n)
// nodes of at most leafMax or innerMax entries) and shares every other node
// with the tree it was made from, so that one registration in a pool of
// 100 000 copies a few kilobytes, not the pool. Readers never see a node
// change.
//
// Entries are ordered by a 64-bit key and, in byRank trees, a 32-bit tie
// (the element's ID, so that equal ranks keep identifier order). Each inner
// node counts the entries below each of its children, so the entry at a
// rank is found in O(log n); a weighted tree also sums the weights below
// each child, so the entry whose interval of the weight line holds a point
// is found in O(log n).
type tree struct {
	root     *tnode
	n        int
	height   int8 // 0: empty; 1: the root is a leaf
	kind     tkind
	weighted bool
}

type tkind uint8

const (
	byID   tkind = iota // key: the element's ID
	byRank              // key: a policy's rank; tie: the element's ID
)

const (
	leafMax  = 64 // entries of a leaf
	innerMax = 32 // children of an inner node
	// A node left with fewer than these after a change is merged with a
	// neighbour, so the height stays O(log n).
	leafMin  = leafMax / 4
	innerMin = innerMax / 4
	// bulkLeaf and bulkInner are the fill of trees built in one go: room
	// for some insertions before a node splits.
	bulkLeaf  = leafMax * 3 / 4
	bulkInner = innerMax * 3 / 4
	// maxHeight bounds the height (innerMin⁸·leafMin > 2³¹ entries).
	maxHeight = 12
)

// tnode is a leaf (kids == nil) or an inner node. Its numbers share one
// allocation, buf, in sections as long as the node is wide: a leaf's keys,
// then (byRank) the ties, then (weighted) the cumulative weights; an
// inner node of a byRank tree the same, then the cumulative counts; an
// inner node of a byID tree, whose keys (IDs) and counts fit 32 bits each,
// packs each child's first key and cumulative count into one word, then
// (weighted) the weights. A leaf of a plain tree (byID, unweighted) packs
// its keys, IDs, two to a word (see lkey), so that a copy of it is a
// quarter smaller. The header is 48 bytes: the entries' elements or the
// children are a pointer and a width (see elems, kids), not two slices.
type tnode struct {
	ptr  unsafe.Pointer // the first element (leaf) or child (inner node)
	buf  []uint64
	w    int32 // the number of entries or children
	leaf bool
	memo atomic.Pointer[partMemo] // a reader's material of a leaf (Pick.PartMemo)
}

// elems returns a leaf's elements, one per entry (nil for an inner node).
func (n *tnode) elems() []*Element {
	if !n.leaf {
		return nil
	}
	return unsafe.Slice((**Element)(n.ptr), n.w)
}

// kids returns an inner node's children (nil for a leaf).
func (n *tnode) kids() []*tnode {
	if n.leaf {
		return nil
	}
	return unsafe.Slice((**tnode)(n.ptr), n.w)
}

// setElems makes n a leaf of the elements es (which n then owns).
func (n *tnode) setElems(es []*Element) {
	n.ptr, n.w, n.leaf = unsafe.Pointer(unsafe.SliceData(es)), int32(len(es)), true
}

// setKids makes n an inner node of the children ks (which n then owns).
func (n *tnode) setKids(ks []*tnode) {
	n.ptr, n.w, n.leaf = unsafe.Pointer(unsafe.SliceData(ks)), int32(len(ks)), false
}

// width is the number of entries of a leaf, of children of an inner node.
func (n *tnode) width() int { return int(n.w) }

// keys: each entry's key (leaves whose keys are not packed: not those
// of plain trees).
func (n *tnode) keys() []uint64 {
	w := len(n.elems())
	return n.buf[:w:w]
}

// packedKeys reports whether leaf n packs its keys, two to a word: entry
// i's key is the half i%2 (low first) of word i/2. Only leaves of plain
// trees do, and a leaf of one entry reads the same either way (its key is
// below 2³², the other half zero).
func (n *tnode) packedKeys() bool { return n.leaf && len(n.buf) < int(n.w) }

// lkey is the key of entry i of leaf n.
func (n *tnode) lkey(i int) uint64 {
	if n.packedKeys() {
		return n.buf[i>>1] >> (uint(i&1) * 32) & 0xffffffff
	}
	return n.buf[i]
}

// setLKey sets the key of entry i of leaf n (a key of a packing leaf
// fits 32 bits).
func (n *tnode) setLKey(i int, key uint64) {
	if n.packedKeys() {
		sh := uint(i&1) * 32
		w := &n.buf[i>>1]
		*w = *w&^(0xffffffff<<sh) | key<<sh
		return
	}
	n.buf[i] = key
}

// packedWords is the number of words of a packing leaf of m entries.
func packedWords(m int) int { return (m + 1) / 2 }

// packed reports whether inner node n packs keys and counts (byID).
func (n *tnode) packed() bool { return !n.leaf && len(n.buf) <= 2*int(n.w) }

// ikey is the first key below child i of inner node n.
func (n *tnode) ikey(i int) uint64 {
	if n.packed() {
		return n.buf[i] >> 32
	}
	return n.buf[i]
}

// iend is the number of entries below children 0 to i of inner node n.
func (n *tnode) iend(i int) uint64 {
	if n.packed() {
		return n.buf[i] & 0xffffffff
	}
	return n.buf[len(n.buf)-len(n.kids())+i]
}

// childSize is the number of entries below child i of inner node n.
func (n *tnode) childSize(i int) uint64 {
	if i == 0 {
		return n.iend(0)
	}
	return n.iend(i) - n.iend(i-1)
}

// firstKey is the first key below n.
func (n *tnode) firstKey() uint64 {
	if n.kids() != nil {
		return n.ikey(0)
	}
	return n.lkey(0)
}

// ties: as keys, the ties (byRank trees).
func (n *tnode) ties() []uint64 {
	w := n.width()
	return n.buf[w : 2*w : 2*w]
}

// wts: leaf: cumulative weight through each entry; inner: through each
// child (weighted trees).
func (n *tnode) wts() []uint64 {
	if n.kids() == nil {
		w := len(n.elems())
		return n.buf[len(n.buf)-w:]
	}
	w := len(n.kids())
	if n.packed() {
		return n.buf[w:]
	}
	return n.buf[len(n.buf)-2*w : len(n.buf)-w : len(n.buf)-w]
}

// size is the number of entries below the node.
func (n *tnode) size() int {
	if n.kids() == nil {
		return len(n.elems())
	}
	return int(n.iend(len(n.kids()) - 1))
}

// weight is the sum of the weights below the node (weighted trees).
func (n *tnode) weight() uint64 {
	w := n.wts()
	return w[len(w)-1]
}

// entryWeight is the weight of entry i of a leaf, or below child i of an
// inner node, of a weighted tree.
func (n *tnode) entryWeight(i int) uint64 {
	w := n.wts()
	if i == 0 {
		return w[0]
	}
	return w[i] - w[i-1]
}

// tent is an entry, as given to build and update: a deletion (del) names
// the entry by its key (and tie).
type tent struct {
	key uint64
	tie uint32
	del bool
	w   uint64 // weighted trees: the entry's weight, > 0
	e   *Element
}

// labelHash is a label's 32-bit hash; the label index keys each element by
// labelHash(label)<<32 | ID, so that it holds no pointers (the garbage
// collector skips it) and labels sharing long prefixes compare as fast as
// any. The same label hashes alike in every process.
func labelHash(l string) uint32 {
	h := uint64(len(l)) ^ 0x9e3779b97f4a7c15
	for len(l) >= 8 {
		w := uint64(l[0]) | uint64(l[1])<<8 | uint64(l[2])<<16 | uint64(l[3])<<24 |
			uint64(l[4])<<32 | uint64(l[5])<<40 | uint64(l[6])<<48 | uint64(l[7])<<56
		h = mix64(h ^ w)
		l = l[8:]
	}
	var w uint64
	for i := 0; i < len(l); i++ {
		w |= uint64(l[i]) << (8 * i)
	}
	return uint32(mix64(h^w^0xff) >> 32)
}

// labelKey is element e's key in the label index.
func labelKey(label string, id uint32) uint64 { return uint64(labelHash(label))<<32 | uint64(id) }

// cmpAt compares (key, tie) with entry i of leaf n.
func (t *tree) cmpAt(key uint64, tie uint32, n *tnode, i int) int {
	if c := cmp.Compare(key, n.lkey(i)); c != 0 || t.kind != byRank {
		return c
	}
	return cmp.Compare(uint64(tie), n.buf[len(n.elems())+i])
}

// cmpFirst compares (key, tie) with the first entry below child i of
// inner node n.
func (t *tree) cmpFirst(key uint64, tie uint32, n *tnode, i int) int {
	if c := cmp.Compare(key, n.ikey(i)); c != 0 || t.kind != byRank {
		return c
	}
	return cmp.Compare(uint64(tie), n.buf[len(n.kids())+i])
}

// child returns the child of inner node n whose range holds the key: the
// last one whose first entry is not after it (the first child if none).
func (t *tree) child(n *tnode, key uint64, tie uint32) int {
	lo, hi := 1, len(n.kids())
	if t.kind != byRank { // packed
		keys := n.buf[:len(n.kids())]
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if keys[m]>>32 <= key {
				lo = m + 1
			} else {
				hi = m
			}
		}
		return lo - 1
	}
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.cmpFirst(key, tie, n, m) >= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

// leafPos returns where the key is or would be in leaf n.
func (t *tree) leafPos(n *tnode, key uint64, tie uint32) (int, bool) {
	lo, hi := 0, len(n.elems())
	if n.packedKeys() {
		b := n.buf
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if b[m>>1]>>(uint(m&1)*32)&0xffffffff < key {
				lo = m + 1
			} else {
				hi = m
			}
		}
		return lo, lo < len(n.elems()) && n.lkey(lo) == key
	}
	if t.kind != byRank {
		keys := n.keys()
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if keys[m] < key {
				lo = m + 1
			} else {
				hi = m
			}
		}
		return lo, lo < len(keys) && keys[lo] == key
	}
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.cmpAt(key, tie, n, m) > 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(n.elems()) && t.cmpAt(key, tie, n, lo) == 0
}

// findID returns the element with the given ID of a byID tree, or nil.
func (t *tree) findID(id uint32) *Element {
	n := t.root
	if n == nil {
		return nil
	}
	key := uint64(id)
	for n.kids() != nil {
		n = n.kids()[t.child(n, key, 0)]
	}
	if i, ok := t.leafPos(n, key, 0); ok {
		return n.elems()[i]
	}
	return nil
}

// rankOf returns the number of entries before (key, tie).
func (t *tree) rankOf(key uint64, tie uint32) int {
	n := t.root
	if n == nil {
		return 0
	}
	r := 0
	for n.kids() != nil {
		i := t.child(n, key, tie)
		if i > 0 {
			r += int(n.iend(i - 1))
		}
		n = n.kids()[i]
	}
	i, _ := t.leafPos(n, key, tie)
	return r + i
}

// descend finds the child of inner node n that holds the entry of rank r,
// and r's rank below it.
func descend(n *tnode, r int) (int, int) {
	lo, hi := 0, len(n.kids())-1
	if n.packed() {
		b := n.buf
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if b[m]&0xffffffff > uint64(r) {
				hi = m
			} else {
				lo = m + 1
			}
		}
		if lo > 0 {
			r -= int(b[lo-1] & 0xffffffff)
		}
		return lo, r
	}
	e := n.buf[len(n.buf)-len(n.kids()):]
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if e[m] > uint64(r) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	if lo > 0 {
		r -= int(e[lo-1])
	}
	return lo, r
}

// at returns the leaf holding the entry of rank r (0 <= r < t.n) and the
// entry's index in it.
func (t *tree) at(r int) (*tnode, int) {
	n := t.root
	for n.kids() != nil {
		var i int
		i, r = descend(n, r)
		n = n.kids()[i]
	}
	return n, r
}

// keyAt returns the key of the entry of rank r.
func (t *tree) keyAt(r int) uint64 {
	l, i := t.at(r)
	return l.lkey(i)
}

// atWeight returns, for x below the total weight of a weighted tree, the
// entry whose interval of the weight line holds x: its leaf and index, its
// rank, and where its interval starts.
func (t *tree) atWeight(x uint64) (leaf *tnode, i, rank int, start uint64) {
	n := t.root
	for {
		w := n.wts()
		lo, hi := 0, len(w)-1
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if w[m] > x {
				hi = m
			} else {
				lo = m + 1
			}
		}
		if lo > 0 {
			x -= w[lo-1]
			start += w[lo-1]
		}
		if n.kids() == nil {
			return n, lo, rank + lo, start
		}
		if lo > 0 {
			rank += int(n.iend(lo - 1))
		}
		n = n.kids()[lo]
	}
}

// total is the sum of the weights of a weighted tree.
func (t *tree) total() uint64 {
	if t.root == nil {
		return 0
	}
	return t.root.weight()
}

// cursor walks a tree's entries in order from a rank, wrapping around at
// the end. Its zero value is unusable; seek places it.
type cursor struct {
	t     *tree
	path  [maxHeight]*tnode // path[0] is the root, the leaf's parent last
	pos   [maxHeight]int
	leaf  *tnode
	i     int
	depth int
}

// seek places c at the entry of rank r (0 <= r < t.n).
func (c *cursor) seek(t *tree, r int) {
	c.t, c.depth = t, int(t.height)
	n := t.root
	for d := 0; n.kids() != nil; d++ {
		var i int
		i, r = descend(n, r)
		c.path[d], c.pos[d] = n, i
		n = n.kids()[i]
	}
	c.leaf, c.i = n, r
}

// elem returns the element at the cursor.
func (c *cursor) elem() *Element { return c.leaf.elems()[c.i] }

// next moves to the following entry, wrapping from the last to the first.
func (c *cursor) next() {
	if c.i++; c.i < len(c.leaf.elems()) {
		return
	}
	d := c.depth - 2
	for ; d >= 0; d-- {
		if c.pos[d]++; c.pos[d] < len(c.path[d].kids()) {
			break
		}
	}
	if d < 0 {
		c.seek(c.t, 0)
		return
	}
	n := c.path[d].kids()[c.pos[d]]
	for d++; n.kids() != nil; d++ {
		c.path[d], c.pos[d] = n, 0
		n = n.kids()[0]
	}
	c.leaf, c.i = n, 0
}

// each calls f for every leaf in order, until f returns false.
func (t *tree) each(f func(leaf *tnode) bool) bool {
	if t.root == nil {
		return true
	}
	return eachLeaf(t.root, f)
}

func eachLeaf(n *tnode, f func(*tnode) bool) bool {
	if n.kids() == nil {
		return f(n)
	}
	for _, k := range n.kids() {
		if !eachLeaf(k, f) {
			return false
		}
	}
	return true
}

// appendElems appends the tree's elements in order.
func (t *tree) appendElems(dst []*Element) []*Element {
	t.each(func(l *tnode) bool { dst = append(dst, l.elems()...); return true })
	return dst
}

// tscratch is the reusable working memory of tree updates. Not safe for
// concurrent use; writers hold the handlespace's lock.
type tscratch struct {
	top   []*tnode
	res   [maxHeight + 1][]*tnode
	ents  []tent
	kids  [maxHeight + 1][]*tnode
	fresh [maxHeight + 1][]bool
}

// buildTree returns a tree of kind k holding ents, which are sorted and
// distinct. ents is not kept.
func buildTree(k tkind, weighted bool, ents []tent) tree {
	t := tree{kind: k, weighted: weighted, n: len(ents)}
	if len(ents) == 0 {
		return t
	}
	nodes := t.appendLeaves(nil, ents, bulkLeaf)
	t.height = 1
	for len(nodes) > 1 {
		nodes = t.appendInners(nil, nodes, bulkInner)
		t.height++
	}
	t.root = nodes[0]
	return t
}

// pieces returns into how many nodes of at most width entries (target
// fill fill) m entries go.
func pieces(m, fill, width int) int {
	p := max(1, (m+fill-1)/fill)
	for (m+p-1)/p > width {
		p++
	}
	return p
}

// appendLeaves appends leaves holding ents, split evenly.
func (t *tree) appendLeaves(out []*tnode, ents []tent, fill int) []*tnode {
	m := len(ents)
	if m == 0 {
		return out
	}
	p := pieces(m, fill, leafMax)
	for j := 0; j < p; j++ {
		lo, hi := j*m/p, (j+1)*m/p
		out = append(out, t.newLeaf(ents[lo:hi]))
	}
	return out
}

func (t *tree) newLeaf(ents []tent) *tnode {
	n := t.alloc(len(ents), false)
	var ties, wts []uint64
	if t.kind == byRank {
		ties = n.ties()
	}
	if t.weighted {
		wts = n.wts()
	}
	var sum uint64
	for i := range ents {
		x := &ents[i]
		n.setLKey(i, x.key)
		n.elems()[i] = x.e
		if ties != nil {
			ties[i] = uint64(x.tie)
		}
		if wts != nil {
			sum += x.w
			wts[i] = sum
		}
	}
	return n
}

// alloc returns a node of width m.
func (t *tree) alloc(m int, inner bool) *tnode {
	if t.kind == byID && !t.weighted {
		if inner {
			return newPlainInner(m)
		}
		return newPlainLeaf(m)
	}
	n := &tnode{}
	words := m
	if t.kind == byRank {
		words += m
	}
	if t.weighted {
		words += m
	}
	if inner {
		if t.kind == byRank {
			words += m // the counts; byID inner nodes pack them
		}
		n.setKids(make([]*tnode, m))
	} else {
		n.setElems(make([]*Element, m))
	}
	n.buf = make([]uint64, words)
	return n
}

// appendInners appends inner nodes over kids, split evenly.
func (t *tree) appendInners(out []*tnode, kids []*tnode, fill int) []*tnode {
	m := len(kids)
	if m == 0 {
		return out
	}
	p := pieces(m, fill, innerMax)
	for j := 0; j < p; j++ {
		lo, hi := j*m/p, (j+1)*m/p
		out = append(out, t.newInner(kids[lo:hi]))
	}
	return out
}

func (t *tree) newInner(kids []*tnode) *tnode {
	n := t.alloc(len(kids), true)
	copy(n.kids(), kids)
	var size, sum uint64
	var wts []uint64
	if t.weighted {
		wts = n.wts()
	}
	m := len(kids)
	for i, k := range kids {
		size += uint64(k.size())
		if t.kind == byID {
			n.buf[i] = k.firstKey()<<32 | size
		} else {
			n.buf[i] = k.firstKey()
			n.buf[m+i] = k.ties()[0]
			n.buf[len(n.buf)-m+i] = size
		}
		if wts != nil {
			sum += k.weight()
			wts[i] = sum
		}
	}
	return n
}

// entry returns entry i of leaf n.
func (t *tree) entry(n *tnode, i int) tent {
	x := tent{key: n.lkey(i), e: n.elems()[i]}
	if t.kind == byRank {
		x.tie = uint32(n.ties()[i])
	}
	if t.weighted {
		x.w = n.entryWeight(i)
	}
	return x
}

// update returns the tree with mods applied: a deletion removes the entry
// with its key (if there is one), anything else adds the entry or replaces
// the one with its key. mods are sorted by key and hold at most one
// modification per key (see sortMods).
func (t tree) update(mods []tent, sc *tscratch) tree {
	if len(mods) == 0 {
		return t
	}
	if t.root == nil {
		ents := sc.ents[:0]
		for _, m := range mods {
			if !m.del {
				ents = append(ents, m)
			}
		}
		nt := buildTree(t.kind, t.weighted, ents)
		clear(ents)
		sc.ents = ents[:0]
		return nt
	}
	nodes := t.upd(t.root, int(t.height), mods, sc.top[:0], sc)
	nt := tree{kind: t.kind, weighted: t.weighted, height: t.height}
	var r *tnode
	switch len(nodes) {
	case 0:
	case 1:
		r = nodes[0]
	default:
		ns := nodes
		for len(ns) > 1 {
			ns = t.appendInners(nil, ns, innerMax)
			nt.height++
		}
		r = ns[0]
	}
	clear(nodes)
	sc.top = nodes[:0]
	if r == nil {
		return tree{kind: t.kind, weighted: t.weighted}
	}
	for r.kids() != nil && len(r.kids()) == 1 {
		r = r.kids()[0]
		nt.height--
	}
	nt.root, nt.n = r, r.size()
	return nt
}

// upd applies mods to the subtree n of height h and appends the nodes (of
// height h) that replace it.
func (t *tree) upd(n *tnode, h int, mods []tent, out []*tnode, sc *tscratch) []*tnode {
	if h == 1 {
		if l, ok := t.patchLeaf(n, mods); ok {
			return append(out, l)
		}
		ents := t.mergeLeaf(n, mods, sc.ents[:0])
		out = t.appendLeaves(out, ents, leafMax)
		clear(ents)
		sc.ents = ents[:0]
		return out
	}
	// The common case: every mod falls in one child, which stays one
	// node of a good width.
	i := t.child(n, mods[0].key, mods[0].tie)
	last := &mods[len(mods)-1]
	if i+1 == len(n.kids()) || t.cmpFirst(last.key, last.tie, n, i+1) < 0 {
		res := t.upd(n.kids()[i], h-1, mods, sc.res[h][:0], sc)
		sc.res[h] = res[:0]
		if len(res) == 1 && (len(n.kids()) == 1 || res[0].width() >= minWidth(h-1)) {
			out = append(out, t.patchChild(n, i, res[0]))
		} else {
			out = t.updSlow(n, h, mods, i, res, out, sc)
		}
		clear(res)
		return out
	}
	return t.updSlow(n, h, mods, -1, nil, out, sc)
}

// patchChild returns inner node n with child i replaced by k: n's numbers
// copied, k's put in, and the counts and weights after it shifted.
func (t *tree) patchChild(n *tnode, i int, k *tnode) *tnode {
	nn := t.alloc(len(n.kids()), true)
	copy(nn.buf, n.buf)
	copy(nn.kids(), n.kids())
	nn.kids()[i] = k
	m := len(n.kids())
	dsize := uint64(k.size()) - n.childSize(i) // mod 2⁶⁴
	if t.kind == byID {
		nn.buf[i] = k.firstKey()<<32 | (n.buf[i] & 0xffffffff)
		for j := i; j < m; j++ {
			nn.buf[j] += dsize // the low half: counts stay below 2³²
		}
	} else {
		nn.buf[i], nn.buf[m+i] = k.firstKey(), k.ties()[0]
		ends := nn.buf[len(nn.buf)-m:]
		for j := i; j < m; j++ {
			ends[j] += dsize
		}
	}
	if t.weighted {
		wts, dw := nn.wts(), k.weight()-n.entryWeight(i)
		for j := i; j < m; j++ {
			wts[j] += dw
		}
	}
	return nn
}

// updSlow is upd of an inner node for mods that span children or change
// a child into several nodes or one too small: if done >= 0, child done
// was already updated into res (all the mods).
func (t *tree) updSlow(n *tnode, h int, mods []tent, done int, res []*tnode, out []*tnode, sc *tscratch) []*tnode {
	kids, fresh := sc.kids[h][:0], sc.fresh[h][:0]
	simple := true // every changed child became one node, not too small
	j := 0
	for i := 0; i < len(n.kids()); i++ {
		end := len(mods)
		if i+1 < len(n.kids()) {
			// The mods before child i+1's first entry.
			end = j
			for end < len(mods) && t.cmpFirst(mods[end].key, mods[end].tie, n, i+1) < 0 {
				end++
			}
		}
		if end == j {
			kids, fresh = append(kids, n.kids()[i]), append(fresh, false)
			continue
		}
		before := len(kids)
		if i == done {
			kids = append(kids, res...)
		} else {
			kids = t.upd(n.kids()[i], h-1, mods[j:end], kids, sc)
		}
		for range len(kids) - before {
			fresh = append(fresh, true)
		}
		if len(kids)-before != 1 || (len(n.kids()) > 1 && kids[before].width() < minWidth(h-1)) {
			simple = false
		}
		j = end
	}
	if simple {
		out = append(out, t.patchInner(n, kids, fresh))
	} else {
		kids, fresh = t.rebalance(kids, fresh, h-1, sc)
		out = t.appendInners(out, kids, innerMax)
	}
	clear(kids)
	sc.kids[h], sc.fresh[h] = kids[:0], fresh[:0]
	return out
}

func minWidth(h int) int {
	if h == 1 {
		return leafMin
	}
	return innerMin
}

// patchInner returns inner node n with its children replaced one for one
// by kids (the new ones marked fresh): n's numbers copied, those of the
// new children put in, and the counts and weights after them shifted,
// without reading the children that did not change.
func (t *tree) patchInner(n *tnode, kids []*tnode, fresh []bool) *tnode {
	nn := t.alloc(len(kids), true)
	copy(nn.buf, n.buf)
	copy(nn.kids(), kids)
	m := len(kids)
	var wts []uint64
	if t.weighted {
		wts = nn.wts()
	}
	var dsize, dw uint64 // how much the counts and weights shift, mod 2⁶⁴
	for i, k := range kids {
		if fresh[i] {
			dsize += uint64(k.size()) - n.childSize(i)
			if wts != nil {
				dw += k.weight() - n.entryWeight(i)
			}
		}
		if t.kind == byID {
			key := n.buf[i] >> 32
			if fresh[i] {
				key = k.firstKey()
			}
			nn.buf[i] = key<<32 | (n.buf[i]&0xffffffff + dsize)
		} else {
			if fresh[i] {
				nn.buf[i], nn.buf[m+i] = k.firstKey(), k.ties()[0]
			}
			nn.buf[len(nn.buf)-m+i] += dsize
		}
		if wts != nil {
			wts[i] += dw
		}
	}
	return nn
}

// rebalance merges each new node of height h that is under its minimum
// with a neighbour (splitting the two again evenly if they do not fit one
// node).
func (t *tree) rebalance(kids []*tnode, fresh []bool, h int, sc *tscratch) ([]*tnode, []bool) {
	min := minWidth(h)
	for p := 0; p < len(kids) && len(kids) > 1; p++ {
		if !fresh[p] || kids[p].width() >= min {
			continue
		}
		a := p
		if p+1 == len(kids) {
			a = p - 1
		}
		var merged []*tnode
		if h == 1 {
			ents := sc.ents[:0]
			for _, k := range kids[a : a+2] {
				for i := range k.width() {
					ents = append(ents, t.entry(k, i))
				}
			}
			merged = t.appendLeaves(nil, ents, leafMax)
			clear(ents)
			sc.ents = ents[:0]
		} else {
			var all []*tnode
			all = append(append(all, kids[a].kids()...), kids[a+1].kids()...)
			merged = t.appendInners(nil, all, innerMax)
		}
		kids = slices.Replace(kids, a, a+2, merged...)
		fs := make([]bool, len(merged))
		for i := range fs {
			fs[i] = true
		}
		fresh = slices.Replace(fresh, a, a+2, fs...)
		p = max(a-1, -1) // look at the merged nodes again
	}
	return kids, fresh
}

// patchLeaf returns leaf n with a few mods applied by copying the runs of
// entries between them, if the result is one non-empty leaf (ok); else
// the caller merges entry by entry.
func (t *tree) patchLeaf(n *tnode, mods []tent) (*tnode, bool) {
	const most = 8
	if len(mods) > most {
		return nil, false
	}
	var pos [most]int
	var hit [most]bool
	m := len(n.elems())
	for j := range mods {
		x := &mods[j]
		pos[j], hit[j] = t.leafPos(n, x.key, x.tie)
		switch {
		case hit[j] && x.del:
			m--
		case !hit[j] && !x.del:
			m++
		}
	}
	if m == 0 || m > leafMax {
		return nil, false
	}
	nl := t.alloc(m, false)
	var ties, oties, wts, owts []uint64
	if t.kind == byRank {
		ties, oties = nl.ties(), n.ties()
	}
	if t.weighted {
		wts, owts = nl.wts(), n.wts()
	}
	var sum uint64 // weight of the entries placed so far
	cur, o := 0, 0
	for j := 0; j <= len(mods); j++ {
		to := len(n.elems())
		if j < len(mods) {
			to = pos[j]
		}
		// The run of entries [cur, to) of n.
		copyKeys(nl, o, n, cur, to)
		copy(nl.elems()[o:], n.elems()[cur:to])
		if ties != nil {
			copy(ties[o:], oties[cur:to])
		}
		if wts != nil && to > cur {
			var base uint64
			if cur > 0 {
				base = owts[cur-1]
			}
			for i := cur; i < to; i++ {
				wts[o+i-cur] = owts[i] - base + sum
			}
			sum += owts[to-1] - base
		}
		o += to - cur
		cur = to
		if j == len(mods) {
			break
		}
		if hit[j] {
			cur++
		}
		if x := &mods[j]; !x.del {
			nl.setLKey(o, x.key)
			nl.elems()[o] = x.e
			if ties != nil {
				ties[o] = uint64(x.tie)
			}
			if wts != nil {
				sum += x.w
				wts[o] = sum
			}
			o++
		}
	}
	return nl, true
}

// copyKeys copies the keys of entries [from, to) of leaf src to dst's
// from entry o on.
func copyKeys(dst *tnode, o int, src *tnode, from, to int) {
	if !dst.packedKeys() && !src.packedKeys() {
		copy(dst.buf[o:], src.buf[from:to])
		return
	}
	if (o-from)&1 == 0 && to-from >= 4 {
		// Aligned alike: whole words, save the halves at the ends.
		if from&1 == 1 {
			dst.setLKey(o, src.lkey(from))
			o, from = o+1, from+1
		}
		w := (to - from) / 2
		copy(dst.buf[o>>1:o>>1+w], src.buf[from>>1:from>>1+w])
		o, from = o+2*w, from+2*w
	}
	for ; from < to; o, from = o+1, from+1 {
		dst.setLKey(o, src.lkey(from))
	}
}

// mergeLeaf appends to buf the entries of leaf n with mods applied.
func (t *tree) mergeLeaf(n *tnode, mods []tent, buf []tent) []tent {
	i, j, w := 0, 0, len(n.elems())
	for i < w || j < len(mods) {
		switch {
		case j == len(mods):
			buf = append(buf, t.entry(n, i))
			i++
		case i == w:
			if !mods[j].del {
				buf = append(buf, mods[j])
			}
			j++
		default:
			m := &mods[j]
			switch c := t.cmpAt(m.key, m.tie, n, i); {
			case c < 0:
				if !m.del {
					buf = append(buf, *m)
				}
				j++
			case c > 0:
				buf = append(buf, t.entry(n, i))
				i++
			default:
				if !m.del {
					buf = append(buf, *m)
				}
				i++
				j++
			}
		}
	}
	return buf
}

// sortMods sorts mods by key for update, and keeps one per key: the last
// addition or replacement, over any deletion.
func (t *tree) sortMods(mods []tent) []tent {
	if len(mods) < 2 {
		return mods
	}
	c := func(a, b tent) int {
		if x := cmp.Compare(a.key, b.key); x != 0 || t.kind != byRank {
			return x
		}
		return cmp.Compare(a.tie, b.tie)
	}
	if !slices.IsSortedFunc(mods, c) {
		slices.SortStableFunc(mods, c)
	}
	out := mods[:1]
	for _, m := range mods[1:] {
		if last := &out[len(out)-1]; c(*last, m) == 0 {
			if last.del || !m.del {
				*last = m
			}
			continue
		}
		out = append(out, m)
	}
	return out
}
