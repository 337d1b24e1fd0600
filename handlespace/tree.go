package handlespace

import (
	"cmp"
	"slices"
	"strings"
)

// tree is an immutable B+tree of elements, the storage of a pool view: its
// elements by identifier, its label index, and each served set in its
// policy's order. A change copies the path from the root to the leaves it
// touches (O(log n) nodes of at most leafMax or innerMax entries) and shares
// every other node with the tree it was made from, so that one registration
// in a pool of 100 000 copies a few kilobytes, not the pool. Readers never
// see a node change.
//
// Entries are ordered by a 64-bit key and, by kind, a 32-bit tie (byRank:
// the element's ID, so that equal ranks keep identifier order) or the label
// (byLabel: the key is a hash of it). Each inner node counts the entries
// below each of its children, so the entry at a rank is found in O(log n);
// a weighted tree also sums the weights below each child, so the entry
// whose interval of the weight line holds a point is found in O(log n).
type tree struct {
	root     *tnode
	n        int
	height   int // 0: empty; 1: the root is a leaf
	kind     tkind
	weighted bool
}

type tkind uint8

const (
	byID    tkind = iota // key: the element's ID
	byRank               // key: a policy's rank; tie: the element's ID
	byLabel              // key: labelHash; ties between equal hashes by label
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

// tnode is a leaf (kids == nil) or an inner node.
type tnode struct {
	keys  []uint64   // leaf: each entry's key; inner: the first key below each child
	ties  []uint32   // byRank: as keys, the ties; nil otherwise
	wts   []uint64   // weighted: leaf: cumulative weight through each entry; inner: through each child
	elems []*Element // leaf: the entries' elements
	kids  []*tnode   // inner: the children
	ends  []int32    // inner: cumulative number of entries through each child
}

// width is the number of entries (leaf) or children (inner node).
func (n *tnode) width() int { return len(n.keys) }

// size is the number of entries below the node.
func (n *tnode) size() int {
	if n.kids == nil {
		return len(n.elems)
	}
	return int(n.ends[len(n.ends)-1])
}

// weight is the sum of the weights below the node (weighted trees).
func (n *tnode) weight() uint64 {
	if len(n.wts) == 0 {
		return 0
	}
	return n.wts[len(n.wts)-1]
}

// entryWeight is the weight of entry i of a leaf of a weighted tree.
func (n *tnode) entryWeight(i int) uint64 {
	if i == 0 {
		return n.wts[0]
	}
	return n.wts[i] - n.wts[i-1]
}

// first returns the first element below n.
func (n *tnode) first() *Element {
	for n.kids != nil {
		n = n.kids[0]
	}
	return n.elems[0]
}

// tent is an entry, as given to build and update: a deletion (del) names
// the entry by its key, tie and element (whose label a byLabel tree needs).
type tent struct {
	key uint64
	tie uint32
	del bool
	w   uint64 // weighted trees: the entry's weight, > 0
	e   *Element
}

// label is the label a byLabel tree orders the entry by.
func (x *tent) label(k tkind) string {
	if k == byLabel {
		return x.e.Label
	}
	return ""
}

// labelHash is the key of a label in a byLabel tree: a 64-bit hash, so
// that labels sharing long prefixes do not make searches compare strings.
// The same label hashes alike in every process.
func labelHash(l string) uint64 {
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
	return mix64(h ^ w ^ 0xff)
}

// cmpKey compares (key, tie, label) with entry i of leaf n.
func (t *tree) cmpKey(key uint64, tie uint32, label string, n *tnode, i int) int {
	if c := cmp.Compare(key, n.keys[i]); c != 0 || t.kind == byID {
		return c
	}
	if t.kind == byRank {
		return cmp.Compare(tie, n.ties[i])
	}
	return strings.Compare(label, n.elems[i].Label)
}

// cmpFirst compares (key, tie, label) with the first entry below child i
// of inner node n.
func (t *tree) cmpFirst(key uint64, tie uint32, label string, n *tnode, i int) int {
	if c := cmp.Compare(key, n.keys[i]); c != 0 || t.kind == byID {
		return c
	}
	if t.kind == byRank {
		return cmp.Compare(tie, n.ties[i])
	}
	return strings.Compare(label, n.kids[i].first().Label)
}

// child returns the child of inner node n whose range holds the key: the
// last one whose first entry is not after it (the first child if none).
func (t *tree) child(n *tnode, key uint64, tie uint32, label string) int {
	lo, hi := 1, len(n.keys)
	if t.kind == byID {
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if n.keys[m] <= key {
				lo = m + 1
			} else {
				hi = m
			}
		}
		return lo - 1
	}
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.cmpFirst(key, tie, label, n, m) >= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

// leafPos returns where the key is or would be in leaf n.
func (t *tree) leafPos(n *tnode, key uint64, tie uint32, label string) (int, bool) {
	lo, hi := 0, len(n.keys)
	if t.kind == byID {
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if n.keys[m] < key {
				lo = m + 1
			} else {
				hi = m
			}
		}
		return lo, lo < len(n.keys) && n.keys[lo] == key
	}
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.cmpKey(key, tie, label, n, m) > 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(n.keys) && t.cmpKey(key, tie, label, n, lo) == 0
}

// findID returns the element with the given ID of a byID tree, or nil.
func (t *tree) findID(id uint32) *Element {
	n := t.root
	if n == nil {
		return nil
	}
	key := uint64(id)
	for n.kids != nil {
		n = n.kids[t.child(n, key, 0, "")]
	}
	if i, ok := t.leafPos(n, key, 0, ""); ok {
		return n.elems[i]
	}
	return nil
}

// findLabel returns the element with the given label of a byLabel tree,
// or nil.
func (t *tree) findLabel(label string) *Element {
	n := t.root
	if n == nil {
		return nil
	}
	key := labelHash(label)
	for n.kids != nil {
		n = n.kids[t.child(n, key, 0, label)]
	}
	if i, ok := t.leafPos(n, key, 0, label); ok {
		return n.elems[i]
	}
	return nil
}

// rankOf returns the number of entries before (key, tie) in a byID or
// byRank tree.
func (t *tree) rankOf(key uint64, tie uint32) int {
	n := t.root
	if n == nil {
		return 0
	}
	r := 0
	for n.kids != nil {
		i := t.child(n, key, tie, "")
		if i > 0 {
			r += int(n.ends[i-1])
		}
		n = n.kids[i]
	}
	i, _ := t.leafPos(n, key, tie, "")
	return r + i
}

// at returns the leaf holding the entry of rank r (0 <= r < t.n) and the
// entry's index in it.
func (t *tree) at(r int) (*tnode, int) {
	n := t.root
	for n.kids != nil {
		e := n.ends
		lo, hi := 0, len(e)-1
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if int(e[m]) > r {
				hi = m
			} else {
				lo = m + 1
			}
		}
		if lo > 0 {
			r -= int(e[lo-1])
		}
		n = n.kids[lo]
	}
	return n, r
}

// atWeight returns, for x below the total weight of a weighted tree, the
// entry whose interval of the weight line holds x: its leaf and index, its
// rank, and where its interval starts.
func (t *tree) atWeight(x uint64) (leaf *tnode, i, rank int, start uint64) {
	n := t.root
	for n.kids != nil {
		w := n.wts
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
			rank += int(n.ends[lo-1])
		}
		n = n.kids[lo]
	}
	w := n.wts
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
		start += w[lo-1]
	}
	return n, lo, rank + lo, start
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
	path  [maxHeight]*tnode // path[0] is the root, path[h-1] the leaf
	pos   [maxHeight]int
	leaf  *tnode
	i     int
	depth int
}

// seek places c at the entry of rank r (0 <= r < t.n).
func (c *cursor) seek(t *tree, r int) {
	c.t, c.depth = t, t.height
	n := t.root
	for d := 0; n.kids != nil; d++ {
		e := n.ends
		lo, hi := 0, len(e)-1
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if int(e[m]) > r {
				hi = m
			} else {
				lo = m + 1
			}
		}
		if lo > 0 {
			r -= int(e[lo-1])
		}
		c.path[d], c.pos[d] = n, lo
		n = n.kids[lo]
	}
	c.leaf, c.i = n, r
}

// elem returns the element at the cursor.
func (c *cursor) elem() *Element { return c.leaf.elems[c.i] }

// next moves to the following entry, wrapping from the last to the first.
func (c *cursor) next() {
	if c.i++; c.i < len(c.leaf.elems) {
		return
	}
	d := c.depth - 2
	for ; d >= 0; d-- {
		if c.pos[d]++; c.pos[d] < len(c.path[d].kids) {
			break
		}
	}
	if d < 0 {
		c.seek(c.t, 0)
		return
	}
	n := c.path[d].kids[c.pos[d]]
	for d++; n.kids != nil; d++ {
		c.path[d], c.pos[d] = n, 0
		n = n.kids[0]
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
	if n.kids == nil {
		return f(n)
	}
	for _, k := range n.kids {
		if !eachLeaf(k, f) {
			return false
		}
	}
	return true
}

// appendElems appends the tree's elements in order.
func (t *tree) appendElems(dst []*Element) []*Element {
	t.each(func(l *tnode) bool { dst = append(dst, l.elems...); return true })
	return dst
}

// tscratch is the reusable working memory of tree updates. Not safe for
// concurrent use; writers hold the handlespace's lock.
type tscratch struct {
	ents  []tent
	kids  [maxHeight][]*tnode
	fresh [maxHeight][]bool
}

// build returns a tree of kind k holding ents, which are sorted and
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

// pieces returns into how many nodes of at most max entries (target fill
// fill) m entries go.
func pieces(m, fill, max int) int {
	p := (m + fill - 1) / fill
	for (m+p-1)/p > max {
		p++
	}
	return max1(p)
}

func max1(p int) int {
	if p < 1 {
		return 1
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
	m := len(ents)
	n := &tnode{elems: make([]*Element, m)}
	words := m
	if t.weighted {
		words += m
	}
	buf := make([]uint64, words)
	n.keys = buf[:m:m]
	if t.weighted {
		n.wts = buf[m : 2*m : 2*m]
	}
	if t.kind == byRank {
		n.ties = make([]uint32, m)
	}
	var sum uint64
	for i := range ents {
		x := &ents[i]
		n.keys[i], n.elems[i] = x.key, x.e
		if n.ties != nil {
			n.ties[i] = x.tie
		}
		if t.weighted {
			sum += x.w
			n.wts[i] = sum
		}
	}
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
	m := len(kids)
	n := &tnode{kids: slices.Clone(kids), ends: make([]int32, m)}
	words := m
	if t.weighted {
		words += m
	}
	buf := make([]uint64, words)
	n.keys = buf[:m:m]
	if t.weighted {
		n.wts = buf[m : 2*m : 2*m]
	}
	if t.kind == byRank {
		n.ties = make([]uint32, m)
	}
	var size int32
	var sum uint64
	for i, k := range kids {
		n.keys[i] = k.keys[0]
		if n.ties != nil {
			n.ties[i] = k.ties[0]
		}
		size += int32(k.size())
		n.ends[i] = size
		if t.weighted {
			sum += k.weight()
			n.wts[i] = sum
		}
	}
	return n
}

// entry returns entry i of leaf n.
func (t *tree) entry(n *tnode, i int) tent {
	x := tent{key: n.keys[i], e: n.elems[i]}
	if n.ties != nil {
		x.tie = n.ties[i]
	}
	if t.weighted {
		x.w = n.entryWeight(i)
	}
	return x
}

// update returns the tree with mods applied: a deletion removes the entry
// with its key (if there is one), anything else adds the entry or replaces
// the one with its key. mods are sorted by key and hold at most one
// modification per key.
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
		sc.ents = ents[:0]
		return buildTree(t.kind, t.weighted, ents)
	}
	nodes := t.upd(t.root, t.height, mods, nil, sc)
	nt := tree{kind: t.kind, weighted: t.weighted, height: t.height}
	if len(nodes) == 0 {
		return tree{kind: t.kind, weighted: t.weighted}
	}
	for len(nodes) > 1 {
		nodes = t.appendInners(nil, nodes, innerMax)
		nt.height++
	}
	r := nodes[0]
	for r.kids != nil && len(r.kids) == 1 {
		r = r.kids[0]
		nt.height--
	}
	nt.root, nt.n = r, r.size()
	return nt
}

// upd applies mods to the subtree n of height h and appends the nodes (of
// height h) that replace it.
func (t *tree) upd(n *tnode, h int, mods []tent, out []*tnode, sc *tscratch) []*tnode {
	if h == 1 {
		ents := t.mergeLeaf(n, mods, sc.ents[:0])
		out = t.appendLeaves(out, ents, leafMax)
		sc.ents = ents[:0]
		return out
	}
	kids, fresh := sc.kids[h][:0], sc.fresh[h][:0]
	j := 0
	for i := 0; i < len(n.kids); i++ {
		end := len(mods)
		if i+1 < len(n.kids) {
			// The mods before child i+1's first entry.
			end = j
			for end < len(mods) && t.cmpFirst(mods[end].key, mods[end].tie, mods[end].label(t.kind), n, i+1) < 0 {
				end++
			}
		}
		if end == j {
			kids, fresh = append(kids, n.kids[i]), append(fresh, false)
			continue
		}
		before := len(kids)
		kids = t.upd(n.kids[i], h-1, mods[j:end], kids, sc)
		for range len(kids) - before {
			fresh = append(fresh, true)
		}
		j = end
	}
	kids, fresh = t.rebalance(kids, fresh, h-1, sc)
	out = t.appendInners(out, kids, innerMax)
	sc.kids[h], sc.fresh[h] = kids[:0], fresh[:0]
	return out
}

// rebalance merges each new node of height h that is under its minimum
// with a neighbour (splitting the two again evenly if they do not fit one
// node).
func (t *tree) rebalance(kids []*tnode, fresh []bool, h int, sc *tscratch) ([]*tnode, []bool) {
	min := innerMin
	if h == 1 {
		min = leafMin
	}
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
				for i := range k.elems {
					ents = append(ents, t.entry(k, i))
				}
			}
			merged = t.appendLeaves(nil, ents, leafMax)
			sc.ents = ents[:0]
		} else {
			var all []*tnode
			all = append(append(all, kids[a].kids...), kids[a+1].kids...)
			merged = t.appendInners(nil, all, innerMax)
		}
		kids = slices.Replace(kids, a, a+2, merged...)
		fs := make([]bool, len(merged))
		for i := range fs {
			fs[i] = true
		}
		fresh = slices.Replace(fresh, a, a+2, fs...)
		p = a - 1 // look at the merged nodes again
		if p < -1 {
			p = -1
		}
	}
	return kids, fresh
}

// mergeLeaf appends to buf the entries of leaf n with mods applied.
func (t *tree) mergeLeaf(n *tnode, mods []tent, buf []tent) []tent {
	i, j := 0, 0
	for i < len(n.elems) || j < len(mods) {
		switch {
		case j == len(mods):
			buf = append(buf, t.entry(n, i))
			i++
		case i == len(n.elems):
			if !mods[j].del {
				buf = append(buf, mods[j])
			}
			j++
		default:
			m := &mods[j]
			switch c := t.cmpKey(m.key, m.tie, m.label(t.kind), n, i); {
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
// addition or replacement, over any deletion (a label that one element
// gives up and another takes in the same change).
func (t *tree) sortMods(mods []tent) []tent {
	if len(mods) < 2 {
		return mods
	}
	c := func(a, b tent) int {
		if x := cmp.Compare(a.key, b.key); x != 0 || t.kind == byID {
			return x
		}
		if t.kind == byRank {
			return cmp.Compare(a.tie, b.tie)
		}
		return strings.Compare(a.e.Label, b.e.Label)
	}
	slices.SortStableFunc(mods, c)
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
