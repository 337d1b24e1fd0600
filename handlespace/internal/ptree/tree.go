package ptree

import (
	"cmp"
	"slices"
	"unsafe"
)

// Tree is an immutable B+tree of pointers to E (handlespace: a pool view's
// elements by identifier, and each served set in its policy's order). A
// change copies the path from the root to the leaves it touches (O(log n)
// nodes of at most LeafMax or innerMax entries) and shares every other
// node with the tree it was made from, so that one registration in a pool
// of 100 000 copies a few kilobytes, not the pool. Readers never see a
// node change. The zero Tree is empty, of kind ByID, unweighted.
//
// Entries are ordered by a 64-bit key and, in ByRank trees, a 32-bit tie
// (the element's ID, so that equal ranks keep identifier order). Each inner
// node counts the entries below each of its children, so the entry at a
// rank is found in O(log n); a weighted tree also sums the weights below
// each child, so the entry whose interval of the weight line holds a point
// is found in O(log n).
type Tree[E any] struct {
	root     *Node[E]
	n        int
	height   int8 // 0: empty; 1: the root is a leaf
	kind     Kind
	weighted bool
}

// Kind is how a Tree orders its entries.
type Kind uint8

const (
	ByID   Kind = iota // by key (an element's ID); ties are not kept
	ByRank             // by key (a policy's rank), then tie (the element's ID)
)

const (
	// LeafMax is the most entries a leaf holds.
	LeafMax  = 64
	innerMax = 32 // children of an inner node
	// A node left with fewer than these after a change is merged with a
	// neighbour, so the height stays O(log n).
	leafMin  = LeafMax / 4
	innerMin = innerMax / 4
	// bulkLeaf and bulkInner are the fill of trees built in one go: room
	// for some insertions before a node splits.
	bulkLeaf  = LeafMax * 3 / 4
	bulkInner = innerMax * 3 / 4
	// MaxHeight bounds the height (innerMin⁸·leafMin > 2³¹ entries).
	MaxHeight = 12
)

// Empty returns an empty tree of kind k, weighted or not.
func Empty[E any](k Kind, weighted bool) Tree[E] { return Tree[E]{kind: k, weighted: weighted} }

// Len returns the number of entries.
func (t *Tree[E]) Len() int { return t.n }

// Kind returns the tree's order.
func (t *Tree[E]) Kind() Kind { return t.kind }

// Weighted reports whether the tree sums its entries' weights.
func (t *Tree[E]) Weighted() bool { return t.weighted }

// Height returns the number of levels: 0 for an empty tree, 1 when the
// root is a leaf.
func (t *Tree[E]) Height() int { return int(t.height) }

// Root returns the root node (nil for an empty tree). A reader that keeps
// state per node (lud's tournaments) walks the tree from it with Kids,
// ChildIndex and LeafIndex; the nodes a new version of the tree shares
// with the old one are the same nodes.
func (t *Tree[E]) Root() *Node[E] { return t.root }

// Node is a leaf or an inner node of a Tree. Readers see a leaf as a run
// of entries (Width, Elem, Key, Tie, Weight), which versions of the tree
// share until a change touches it, with a reader's Memo; and an inner node
// as its children (Kids).
//
// Layout: a node's numbers share one allocation, buf, in sections as long
// as the node is wide: a leaf's keys, then (ByRank) the ties, then
// (weighted) the cumulative weights; an inner node of a ByRank tree the
// same, then the cumulative counts; an inner node of a ByID tree, whose
// keys (IDs) and counts fit 32 bits each, packs each child's first key and
// cumulative count into one word, then (weighted) the weights. A leaf of a
// plain tree (ByID, unweighted) packs its keys, IDs, two to a word (see
// Key), so that a copy of it is a quarter smaller. The header is 48 bytes:
// the entries' elements or the children are a pointer and a width (see
// Elems, Kids), not two slices.
type Node[E any] struct {
	ptr  unsafe.Pointer // the first element (leaf) or child (inner node)
	buf  []uint64
	cnt  int32 // the number of entries or children
	leaf bool
	memo Memo // a reader's material of a leaf (handlespace: Pick.PartMemo)
}

// LeafOf returns a leaf of the elements es (which it then owns) that
// belongs to no tree: a reader that selects from a slice (hash) hands out
// positions in it as in a tree's leaf.
func LeafOf[E any](es []*E) *Node[E] {
	n := &Node[E]{}
	n.setElems(es)
	return n
}

// Memo returns the leaf's memo, for a reader's material aligned with its
// entries.
func (n *Node[E]) Memo() *Memo { return &n.memo }

// Elem returns the element of entry i of a leaf.
func (n *Node[E]) Elem(i int) *E { return n.Elems()[i] }

// Tie returns the tie of entry i of a leaf of a ByRank tree.
func (n *Node[E]) Tie(i int) uint32 { return uint32(n.ties()[i]) }

// Elems returns a leaf's elements, one per entry (nil for an inner node).
func (n *Node[E]) Elems() []*E {
	if !n.leaf {
		return nil
	}
	return unsafe.Slice((**E)(n.ptr), n.cnt)
}

// Kids returns an inner node's children (nil for a leaf).
func (n *Node[E]) Kids() []*Node[E] {
	if n.leaf {
		return nil
	}
	return unsafe.Slice((**Node[E])(n.ptr), n.cnt)
}

// setElems makes n a leaf of the elements es (which n then owns).
func (n *Node[E]) setElems(es []*E) {
	n.ptr, n.cnt, n.leaf = unsafe.Pointer(unsafe.SliceData(es)), int32(len(es)), true
}

// setKids makes n an inner node of the children ks (which n then owns).
func (n *Node[E]) setKids(ks []*Node[E]) {
	n.ptr, n.cnt, n.leaf = unsafe.Pointer(unsafe.SliceData(ks)), int32(len(ks)), false
}

// Width is the number of entries of a leaf, of children of an inner node.
func (n *Node[E]) Width() int { return int(n.cnt) }

// Keys returns each entry's key, for leaves whose keys are not packed:
// those of ByRank or weighted trees.
func (n *Node[E]) Keys() []uint64 {
	w := len(n.Elems())
	return n.buf[:w:w]
}

// packedKeys reports whether leaf n packs its keys, two to a word: entry
// i's key is the half i%2 (low first) of word i/2. Only leaves of plain
// trees do, and a leaf of one entry reads the same either way (its key is
// below 2³², the other half zero).
func (n *Node[E]) packedKeys() bool { return n.leaf && len(n.buf) < int(n.cnt) }

// Key is the key of entry i of leaf n.
func (n *Node[E]) Key(i int) uint64 {
	if n.packedKeys() {
		return n.buf[i>>1] >> (uint(i&1) * 32) & 0xffffffff
	}
	return n.buf[i]
}

// setLKey sets the key of entry i of leaf n (a key of a packing leaf
// fits 32 bits).
func (n *Node[E]) setLKey(i int, key uint64) {
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

// packed reports whether inner node n packs keys and counts (ByID).
func (n *Node[E]) packed() bool { return !n.leaf && len(n.buf) <= 2*int(n.cnt) }

// ikey is the first key below child i of inner node n.
func (n *Node[E]) ikey(i int) uint64 {
	if n.packed() {
		return n.buf[i] >> 32
	}
	return n.buf[i]
}

// iend is the number of entries below children 0 to i of inner node n.
func (n *Node[E]) iend(i int) uint64 {
	if n.packed() {
		return n.buf[i] & 0xffffffff
	}
	return n.buf[len(n.buf)-len(n.Kids())+i]
}

// childSize is the number of entries below child i of inner node n.
func (n *Node[E]) childSize(i int) uint64 {
	if i == 0 {
		return n.iend(0)
	}
	return n.iend(i) - n.iend(i-1)
}

// FirstKey is the first key below n.
func (n *Node[E]) FirstKey() uint64 {
	if n.Kids() != nil {
		return n.ikey(0)
	}
	return n.Key(0)
}

// ties: as keys, the ties (ByRank trees).
func (n *Node[E]) ties() []uint64 {
	w := n.Width()
	return n.buf[w : 2*w : 2*w]
}

// wts: leaf: cumulative weight through each entry; inner: through each
// child (weighted trees).
func (n *Node[E]) wts() []uint64 {
	if n.Kids() == nil {
		w := len(n.Elems())
		return n.buf[len(n.buf)-w:]
	}
	w := len(n.Kids())
	if n.packed() {
		return n.buf[w:]
	}
	return n.buf[len(n.buf)-2*w : len(n.buf)-w : len(n.buf)-w]
}

// size is the number of entries below the node.
func (n *Node[E]) size() int {
	if n.Kids() == nil {
		return len(n.Elems())
	}
	return int(n.iend(len(n.Kids()) - 1))
}

// weight is the sum of the weights below the node (weighted trees).
func (n *Node[E]) weight() uint64 {
	w := n.wts()
	return w[len(w)-1]
}

// Weight is the weight of entry i of a leaf, or below child i of an inner
// node, of a weighted tree.
func (n *Node[E]) Weight(i int) uint64 {
	w := n.wts()
	if i == 0 {
		return w[0]
	}
	return w[i] - w[i-1]
}

// Entry is an entry, as given to Build and Update: a deletion (Del) names
// the entry by its key (and tie).
type Entry[E any] struct {
	Key  uint64
	Tie  uint32 // ByRank trees
	Del  bool
	W    uint64 // weighted trees: the entry's weight, > 0
	Elem *E
}

// cmpAt compares (key, tie) with entry i of leaf n.
func (t *Tree[E]) cmpAt(key uint64, tie uint32, n *Node[E], i int) int {
	if c := cmp.Compare(key, n.Key(i)); c != 0 || t.kind != ByRank {
		return c
	}
	return cmp.Compare(uint64(tie), n.buf[len(n.Elems())+i])
}

// cmpFirst compares (key, tie) with the first entry below child i of
// inner node n.
func (t *Tree[E]) cmpFirst(key uint64, tie uint32, n *Node[E], i int) int {
	if c := cmp.Compare(key, n.ikey(i)); c != 0 || t.kind != ByRank {
		return c
	}
	return cmp.Compare(uint64(tie), n.buf[len(n.Kids())+i])
}

// ChildIndex returns the child of inner node n whose range holds the key:
// the last one whose first entry is not after it (the first child if
// none).
func (t *Tree[E]) ChildIndex(n *Node[E], key uint64, tie uint32) int {
	lo, hi := 1, len(n.Kids())
	if t.kind != ByRank { // packed
		keys := n.buf[:len(n.Kids())]
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

// LeafIndex returns where the key is or would be in leaf n, and whether
// it is there.
func (t *Tree[E]) LeafIndex(n *Node[E], key uint64, tie uint32) (int, bool) {
	lo, hi := 0, len(n.Elems())
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
		return lo, lo < len(n.Elems()) && n.Key(lo) == key
	}
	if t.kind != ByRank {
		keys := n.Keys()
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
	return lo, lo < len(n.Elems()) && t.cmpAt(key, tie, n, lo) == 0
}

// Find returns the leaf where (key, tie) is or would be, its index there,
// and whether it is there (a non-empty tree).
func (t *Tree[E]) Find(key uint64, tie uint32) (*Node[E], int, bool) {
	n := t.root
	for n.Kids() != nil {
		n = n.Kids()[t.ChildIndex(n, key, tie)]
	}
	i, ok := t.LeafIndex(n, key, tie)
	return n, i, ok
}

// Get returns the element with key of a ByID tree, or nil.
func (t *Tree[E]) Get(key uint64) *E {
	n := t.root
	if n == nil {
		return nil
	}
	for n.Kids() != nil {
		n = n.Kids()[t.ChildIndex(n, key, 0)]
	}
	if i, ok := t.LeafIndex(n, key, 0); ok {
		return n.Elems()[i]
	}
	return nil
}

// RankOf returns the number of entries before (key, tie).
func (t *Tree[E]) RankOf(key uint64, tie uint32) int {
	n := t.root
	if n == nil {
		return 0
	}
	r := 0
	for n.Kids() != nil {
		i := t.ChildIndex(n, key, tie)
		if i > 0 {
			r += int(n.iend(i - 1))
		}
		n = n.Kids()[i]
	}
	i, _ := t.LeafIndex(n, key, tie)
	return r + i
}

// descend finds the child of inner node n that holds the entry of rank r,
// and r's rank below it.
func descend[E any](n *Node[E], r int) (int, int) {
	lo, hi := 0, len(n.Kids())-1
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
	e := n.buf[len(n.buf)-len(n.Kids()):]
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

// At returns the leaf holding the entry of rank r (0 <= r < Len) and the
// entry's index in it.
func (t *Tree[E]) At(r int) (*Node[E], int) {
	n := t.root
	for n.Kids() != nil {
		var i int
		i, r = descend(n, r)
		n = n.Kids()[i]
	}
	return n, r
}

// KeyAt returns the key of the entry of rank r.
func (t *Tree[E]) KeyAt(r int) uint64 {
	l, i := t.At(r)
	return l.Key(i)
}

// AtWeight returns, for x below the total weight of a weighted tree, the
// entry whose interval of the weight line holds x: its leaf and index, its
// rank, and where its interval starts.
func (t *Tree[E]) AtWeight(x uint64) (leaf *Node[E], i, rank int, start uint64) {
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
		if n.Kids() == nil {
			return n, lo, rank + lo, start
		}
		if lo > 0 {
			rank += int(n.iend(lo - 1))
		}
		n = n.Kids()[lo]
	}
}

// Total is the sum of the weights of a weighted tree (0 when empty).
func (t *Tree[E]) Total() uint64 {
	if t.root == nil {
		return 0
	}
	return t.root.weight()
}

// EachLeaf calls f for every leaf in order, until f returns false, and
// reports whether it got through.
func (t *Tree[E]) EachLeaf(f func(leaf *Node[E]) bool) bool {
	if t.root == nil {
		return true
	}
	return eachLeaf(t.root, f)
}

func eachLeaf[E any](n *Node[E], f func(*Node[E]) bool) bool {
	if n.Kids() == nil {
		return f(n)
	}
	for _, k := range n.Kids() {
		if !eachLeaf(k, f) {
			return false
		}
	}
	return true
}

// AppendElems appends the tree's elements in order.
func (t *Tree[E]) AppendElems(dst []*E) []*E {
	t.EachLeaf(func(l *Node[E]) bool { dst = append(dst, l.Elems()...); return true })
	return dst
}

// Scratch is the reusable working memory of tree updates. Not safe for
// concurrent use: handlespace's writers hold its lock.
type Scratch[E any] struct {
	top   []*Node[E]
	res   [MaxHeight + 1][]*Node[E]
	ents  []Entry[E]
	kids  [MaxHeight + 1][]*Node[E]
	fresh [MaxHeight + 1][]bool
}

// Build returns a tree of kind k holding ents, which are sorted and
// distinct. ents is not kept.
func Build[E any](k Kind, weighted bool, ents []Entry[E]) Tree[E] {
	t := Tree[E]{kind: k, weighted: weighted, n: len(ents)}
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
func (t *Tree[E]) appendLeaves(out []*Node[E], ents []Entry[E], fill int) []*Node[E] {
	m := len(ents)
	if m == 0 {
		return out
	}
	p := pieces(m, fill, LeafMax)
	for j := 0; j < p; j++ {
		lo, hi := j*m/p, (j+1)*m/p
		out = append(out, t.newLeaf(ents[lo:hi]))
	}
	return out
}

func (t *Tree[E]) newLeaf(ents []Entry[E]) *Node[E] {
	n := t.alloc(len(ents), false)
	var ties, wts []uint64
	if t.kind == ByRank {
		ties = n.ties()
	}
	if t.weighted {
		wts = n.wts()
	}
	var sum uint64
	for i := range ents {
		x := &ents[i]
		n.setLKey(i, x.Key)
		n.Elems()[i] = x.Elem
		if ties != nil {
			ties[i] = uint64(x.Tie)
		}
		if wts != nil {
			sum += x.W
			wts[i] = sum
		}
	}
	return n
}

// alloc returns a node of width m.
func (t *Tree[E]) alloc(m int, inner bool) *Node[E] {
	if t.kind == ByID && !t.weighted {
		if inner {
			return newPlainInner[E](m)
		}
		return newPlainLeaf[E](m)
	}
	n := &Node[E]{}
	words := m
	if t.kind == ByRank {
		words += m
	}
	if t.weighted {
		words += m
	}
	if inner {
		if t.kind == ByRank {
			words += m // the counts; ByID inner nodes pack them
		}
		n.setKids(make([]*Node[E], m))
	} else {
		n.setElems(make([]*E, m))
	}
	n.buf = make([]uint64, words)
	return n
}

// appendInners appends inner nodes over kids, split evenly.
func (t *Tree[E]) appendInners(out []*Node[E], kids []*Node[E], fill int) []*Node[E] {
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

func (t *Tree[E]) newInner(kids []*Node[E]) *Node[E] {
	n := t.alloc(len(kids), true)
	copy(n.Kids(), kids)
	var size, sum uint64
	var wts []uint64
	if t.weighted {
		wts = n.wts()
	}
	m := len(kids)
	for i, k := range kids {
		size += uint64(k.size())
		if t.kind == ByID {
			n.buf[i] = k.FirstKey()<<32 | size
		} else {
			n.buf[i] = k.FirstKey()
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
func (t *Tree[E]) entry(n *Node[E], i int) Entry[E] {
	x := Entry[E]{Key: n.Key(i), Elem: n.Elems()[i]}
	if t.kind == ByRank {
		x.Tie = uint32(n.ties()[i])
	}
	if t.weighted {
		x.W = n.Weight(i)
	}
	return x
}

// Update returns the tree with mods applied: a deletion removes the entry
// with its key (if there is one), anything else adds the entry or replaces
// the one with its key. mods are sorted by key and hold at most one
// modification per key (see SortMods).
func (t Tree[E]) Update(mods []Entry[E], sc *Scratch[E]) Tree[E] {
	if len(mods) == 0 {
		return t
	}
	if t.root == nil {
		ents := sc.ents[:0]
		for _, m := range mods {
			if !m.Del {
				ents = append(ents, m)
			}
		}
		nt := Build(t.kind, t.weighted, ents)
		clear(ents)
		sc.ents = ents[:0]
		return nt
	}
	nodes := t.upd(t.root, int(t.height), mods, sc.top[:0], sc)
	nt := Tree[E]{kind: t.kind, weighted: t.weighted, height: t.height}
	var r *Node[E]
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
		return Tree[E]{kind: t.kind, weighted: t.weighted}
	}
	for r.Kids() != nil && len(r.Kids()) == 1 {
		r = r.Kids()[0]
		nt.height--
	}
	nt.root, nt.n = r, r.size()
	return nt
}

// upd applies mods to the subtree n of height h and appends the nodes (of
// height h) that replace it.
func (t *Tree[E]) upd(n *Node[E], h int, mods []Entry[E], out []*Node[E], sc *Scratch[E]) []*Node[E] {
	if h == 1 {
		if l, ok := t.patchLeaf(n, mods); ok {
			return append(out, l)
		}
		ents := t.mergeLeaf(n, mods, sc.ents[:0])
		out = t.appendLeaves(out, ents, LeafMax)
		clear(ents)
		sc.ents = ents[:0]
		return out
	}
	// The common case: every mod falls in one child, which stays one
	// node of a good width.
	i := t.ChildIndex(n, mods[0].Key, mods[0].Tie)
	last := &mods[len(mods)-1]
	if i+1 == len(n.Kids()) || t.cmpFirst(last.Key, last.Tie, n, i+1) < 0 {
		res := t.upd(n.Kids()[i], h-1, mods, sc.res[h][:0], sc)
		sc.res[h] = res[:0]
		if len(res) == 1 && (len(n.Kids()) == 1 || res[0].Width() >= minWidth(h-1)) {
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
func (t *Tree[E]) patchChild(n *Node[E], i int, k *Node[E]) *Node[E] {
	nn := t.alloc(len(n.Kids()), true)
	copy(nn.buf, n.buf)
	copy(nn.Kids(), n.Kids())
	nn.Kids()[i] = k
	m := len(n.Kids())
	dsize := uint64(k.size()) - n.childSize(i) // mod 2⁶⁴
	if t.kind == ByID {
		nn.buf[i] = k.FirstKey()<<32 | (n.buf[i] & 0xffffffff)
		for j := i; j < m; j++ {
			nn.buf[j] += dsize // the low half: counts stay below 2³²
		}
	} else {
		nn.buf[i], nn.buf[m+i] = k.FirstKey(), k.ties()[0]
		ends := nn.buf[len(nn.buf)-m:]
		for j := i; j < m; j++ {
			ends[j] += dsize
		}
	}
	if t.weighted {
		wts, dw := nn.wts(), k.weight()-n.Weight(i)
		for j := i; j < m; j++ {
			wts[j] += dw
		}
	}
	return nn
}

// updSlow is upd of an inner node for mods that span children or change
// a child into several nodes or one too small: if done >= 0, child done
// was already updated into res (all the mods).
func (t *Tree[E]) updSlow(n *Node[E], h int, mods []Entry[E], done int, res []*Node[E], out []*Node[E], sc *Scratch[E]) []*Node[E] {
	kids, fresh := sc.kids[h][:0], sc.fresh[h][:0]
	simple := true // every changed child became one node, not too small
	j := 0
	for i := 0; i < len(n.Kids()); i++ {
		end := len(mods)
		if i+1 < len(n.Kids()) {
			// The mods before child i+1's first entry.
			end = j
			for end < len(mods) && t.cmpFirst(mods[end].Key, mods[end].Tie, n, i+1) < 0 {
				end++
			}
		}
		if end == j {
			kids, fresh = append(kids, n.Kids()[i]), append(fresh, false)
			continue
		}
		before := len(kids)
		if i == done {
			kids = append(kids, res...)
		} else {
			kids = t.upd(n.Kids()[i], h-1, mods[j:end], kids, sc)
		}
		for range len(kids) - before {
			fresh = append(fresh, true)
		}
		if len(kids)-before != 1 || (len(n.Kids()) > 1 && kids[before].Width() < minWidth(h-1)) {
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
func (t *Tree[E]) patchInner(n *Node[E], kids []*Node[E], fresh []bool) *Node[E] {
	nn := t.alloc(len(kids), true)
	copy(nn.buf, n.buf)
	copy(nn.Kids(), kids)
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
				dw += k.weight() - n.Weight(i)
			}
		}
		if t.kind == ByID {
			key := n.buf[i] >> 32
			if fresh[i] {
				key = k.FirstKey()
			}
			nn.buf[i] = key<<32 | (n.buf[i]&0xffffffff + dsize)
		} else {
			if fresh[i] {
				nn.buf[i], nn.buf[m+i] = k.FirstKey(), k.ties()[0]
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
func (t *Tree[E]) rebalance(kids []*Node[E], fresh []bool, h int, sc *Scratch[E]) ([]*Node[E], []bool) {
	min := minWidth(h)
	for p := 0; p < len(kids) && len(kids) > 1; p++ {
		if !fresh[p] || kids[p].Width() >= min {
			continue
		}
		a := p
		if p+1 == len(kids) {
			a = p - 1
		}
		var merged []*Node[E]
		if h == 1 {
			ents := sc.ents[:0]
			for _, k := range kids[a : a+2] {
				for i := range k.Width() {
					ents = append(ents, t.entry(k, i))
				}
			}
			merged = t.appendLeaves(nil, ents, LeafMax)
			clear(ents)
			sc.ents = ents[:0]
		} else {
			var all []*Node[E]
			all = append(append(all, kids[a].Kids()...), kids[a+1].Kids()...)
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
func (t *Tree[E]) patchLeaf(n *Node[E], mods []Entry[E]) (*Node[E], bool) {
	const most = 8
	if len(mods) > most {
		return nil, false
	}
	var pos [most]int
	var hit [most]bool
	m := len(n.Elems())
	for j := range mods {
		x := &mods[j]
		pos[j], hit[j] = t.LeafIndex(n, x.Key, x.Tie)
		switch {
		case hit[j] && x.Del:
			m--
		case !hit[j] && !x.Del:
			m++
		}
	}
	if m == 0 || m > LeafMax {
		return nil, false
	}
	nl := t.alloc(m, false)
	var ties, oties, wts, owts []uint64
	if t.kind == ByRank {
		ties, oties = nl.ties(), n.ties()
	}
	if t.weighted {
		wts, owts = nl.wts(), n.wts()
	}
	var sum uint64 // weight of the entries placed so far
	cur, o := 0, 0
	for j := 0; j <= len(mods); j++ {
		to := len(n.Elems())
		if j < len(mods) {
			to = pos[j]
		}
		// The run of entries [cur, to) of n.
		copyKeys(nl, o, n, cur, to)
		copy(nl.Elems()[o:], n.Elems()[cur:to])
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
		if x := &mods[j]; !x.Del {
			nl.setLKey(o, x.Key)
			nl.Elems()[o] = x.Elem
			if ties != nil {
				ties[o] = uint64(x.Tie)
			}
			if wts != nil {
				sum += x.W
				wts[o] = sum
			}
			o++
		}
	}
	return nl, true
}

// copyKeys copies the keys of entries [from, to) of leaf src to dst's
// from entry o on.
func copyKeys[E any](dst *Node[E], o int, src *Node[E], from, to int) {
	if !dst.packedKeys() && !src.packedKeys() {
		copy(dst.buf[o:], src.buf[from:to])
		return
	}
	if (o-from)&1 == 0 && to-from >= 4 {
		// Aligned alike: whole words, save the halves at the ends.
		if from&1 == 1 {
			dst.setLKey(o, src.Key(from))
			o, from = o+1, from+1
		}
		w := (to - from) / 2
		copy(dst.buf[o>>1:o>>1+w], src.buf[from>>1:from>>1+w])
		o, from = o+2*w, from+2*w
	}
	for ; from < to; o, from = o+1, from+1 {
		dst.setLKey(o, src.Key(from))
	}
}

// mergeLeaf appends to buf the entries of leaf n with mods applied.
func (t *Tree[E]) mergeLeaf(n *Node[E], mods []Entry[E], buf []Entry[E]) []Entry[E] {
	i, j, w := 0, 0, len(n.Elems())
	for i < w || j < len(mods) {
		switch {
		case j == len(mods):
			buf = append(buf, t.entry(n, i))
			i++
		case i == w:
			if !mods[j].Del {
				buf = append(buf, mods[j])
			}
			j++
		default:
			m := &mods[j]
			switch c := t.cmpAt(m.Key, m.Tie, n, i); {
			case c < 0:
				if !m.Del {
					buf = append(buf, *m)
				}
				j++
			case c > 0:
				buf = append(buf, t.entry(n, i))
				i++
			default:
				if !m.Del {
					buf = append(buf, *m)
				}
				i++
				j++
			}
		}
	}
	return buf
}

// SortMods sorts mods by key for Update, and keeps one per key: the last
// addition or replacement, over any deletion.
func (t *Tree[E]) SortMods(mods []Entry[E]) []Entry[E] {
	if len(mods) < 2 {
		return mods
	}
	c := func(a, b Entry[E]) int {
		if x := cmp.Compare(a.Key, b.Key); x != 0 || t.kind != ByRank {
			return x
		}
		return cmp.Compare(a.Tie, b.Tie)
	}
	if !slices.IsSortedFunc(mods, c) {
		slices.SortStableFunc(mods, c)
	}
	out := mods[:1]
	for _, m := range mods[1:] {
		if last := &out[len(out)-1]; c(*last, m) == 0 {
			if last.Del || !m.Del {
				*last = m
			}
			continue
		}
		out = append(out, m)
	}
	return out
}
