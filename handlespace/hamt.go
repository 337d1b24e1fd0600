package handlespace

import (
	"math/bits"
	"slices"
)

// lindex is a pool view's label index: an immutable hash trie (a CHAMP:
// compressed hash-array mapped prefix tree) of label keys, each
// labelHash(label)<<32 | ID. It holds no pointers to elements (the garbage
// collector scans only its nodes' child pointers), a lookup follows the
// label's hash four bits at a time, and a change copies the nodes on one
// path: about log16 n of them, each at most 16 entries, each node one
// allocation.
//
// Canonical form: a node holds a key inline when it is the only one of
// its slot, and a child otherwise; removing a key pulls a child left with
// one key back up. The same keys make the same trie whatever the order of
// the changes.
type lindex struct {
	root *hnode
	n    int
}

// hnode is a trie node. Slot s (4 bits of the hash at the node's depth)
// holds an inline key if dmap has bit s, a child if nmap has it; ents
// holds them in slot order. At depth hashDepth every key of a node shares
// all 32 bits of its hash: a collision node, whose keys are sorted and
// whose maps are 0.
type hnode struct {
	dmap, nmap uint16
	ents       []hent
}

// hent is an inline key or a child.
type hent struct {
	key uint64
	sub *hnode
}

const (
	hashBits  = 4
	hashDepth = 32 / hashBits // depth of the collision nodes
)

func slotOf(h uint32, depth int) uint16 {
	return uint16(h>>(32-hashBits*(depth+1))) & (1<<hashBits - 1)
}

// pos returns the index in ents of slot s's entry.
func (n *hnode) pos(s uint16) int { return bits.OnesCount16((n.dmap | n.nmap) & (1<<s - 1)) }

func hashOf(key uint64) uint32 { return uint32(key >> 32) }

// newHnode returns a node with room for m entries, header and entries in
// one allocation.
func newHnode(m int) *hnode {
	switch {
	case m <= 1:
		b := new(struct {
			n hnode
			e [1]hent
		})
		b.n.ents = b.e[:m:m]
		return &b.n
	case m <= 2:
		b := new(struct {
			n hnode
			e [2]hent
		})
		b.n.ents = b.e[:m:m]
		return &b.n
	case m <= 4:
		b := new(struct {
			n hnode
			e [4]hent
		})
		b.n.ents = b.e[:m:m]
		return &b.n
	case m <= 8:
		b := new(struct {
			n hnode
			e [8]hent
		})
		b.n.ents = b.e[:m:m]
		return &b.n
	case m <= 16:
		b := new(struct {
			n hnode
			e [16]hent
		})
		b.n.ents = b.e[:m:m]
		return &b.n
	}
	return &hnode{ents: make([]hent, m)} // collision nodes of many keys
}

// withEnts returns a node with n's maps and ents, one entry replaced,
// inserted or deleted at i (op 0, 1, -1).
func (n *hnode) edited(dmap, nmap uint16, i, op int, e hent) *hnode {
	m := len(n.ents) + op
	nn := newHnode(m)
	nn.dmap, nn.nmap = dmap, nmap
	switch op {
	case 0:
		copy(nn.ents, n.ents)
		nn.ents[i] = e
	case 1:
		copy(nn.ents, n.ents[:i])
		nn.ents[i] = e
		copy(nn.ents[i+1:], n.ents[i:])
	default:
		copy(nn.ents, n.ents[:i])
		copy(nn.ents[i:], n.ents[i+1:])
	}
	return nn
}

// each calls f for every key with the given hash, until f returns false.
func (x *lindex) each(h uint32, f func(key uint64) bool) {
	n := x.root
	for d := 0; n != nil; d++ {
		if d == hashDepth {
			for _, e := range n.ents {
				if hashOf(e.key) == h && !f(e.key) {
					return
				}
			}
			return
		}
		s := slotOf(h, d)
		bit := uint16(1) << s
		switch {
		case n.dmap&bit != 0:
			if k := n.ents[n.pos(s)].key; hashOf(k) == h {
				f(k)
			}
			return
		case n.nmap&bit != 0:
			n = n.ents[n.pos(s)].sub
		default:
			return
		}
	}
}

// has reports whether the index holds key.
func (x *lindex) has(key uint64) bool {
	found := false
	x.each(hashOf(key), func(k uint64) bool { found = k == key; return !found })
	return found
}

// with returns the index with key added (if absent).
func (x lindex) with(key uint64) lindex {
	if x.root == nil {
		x.root = newHnode(0)
	}
	root, added := insertKey(x.root, key, 0)
	if added {
		x.n++
	}
	x.root = root
	return x
}

// without returns the index with key removed (if present).
func (x lindex) without(key uint64) lindex {
	if x.root == nil {
		return x
	}
	root, removed := deleteKey(x.root, key, 0)
	if removed {
		x.n--
		if len(root.ents) == 0 {
			root = nil
		}
	}
	x.root = root
	return x
}

func insertKey(n *hnode, key uint64, d int) (*hnode, bool) {
	if d == hashDepth {
		i, found := slices.BinarySearchFunc(n.ents, key, func(e hent, k uint64) int {
			switch {
			case e.key < k:
				return -1
			case e.key > k:
				return 1
			}
			return 0
		})
		if found {
			return n, false
		}
		return n.edited(0, 0, i, 1, hent{key: key}), true
	}
	s := slotOf(hashOf(key), d)
	bit := uint16(1) << s
	i := n.pos(s)
	switch {
	case n.nmap&bit != 0:
		sub, added := insertKey(n.ents[i].sub, key, d+1)
		if !added {
			return n, false
		}
		return n.edited(n.dmap, n.nmap, i, 0, hent{sub: sub}), true
	case n.dmap&bit != 0:
		old := n.ents[i].key
		if old == key {
			return n, false
		}
		// Two keys in one slot: a child holds both.
		return n.edited(n.dmap&^bit, n.nmap|bit, i, 0, hent{sub: pairNode(old, key, d+1)}), true
	default:
		return n.edited(n.dmap|bit, n.nmap, i, 1, hent{key: key}), true
	}
}

// pairNode returns the subtree at depth d holding keys a and b.
func pairNode(a, b uint64, d int) *hnode {
	if d == hashDepth {
		if b < a {
			a, b = b, a
		}
		n := newHnode(2)
		n.ents[0].key, n.ents[1].key = a, b
		return n
	}
	sa, sb := slotOf(hashOf(a), d), slotOf(hashOf(b), d)
	if sa == sb {
		n := newHnode(1)
		n.nmap, n.ents[0].sub = 1<<sa, pairNode(a, b, d+1)
		return n
	}
	if sb < sa {
		a, b = b, a
		sa, sb = sb, sa
	}
	n := newHnode(2)
	n.dmap = 1<<sa | 1<<sb
	n.ents[0].key, n.ents[1].key = a, b
	return n
}

// single returns the key of a node that holds exactly one key and no
// child, or false.
func single(n *hnode) (uint64, bool) {
	if n.nmap == 0 && len(n.ents) == 1 {
		return n.ents[0].key, true
	}
	return 0, false
}

func deleteKey(n *hnode, key uint64, d int) (*hnode, bool) {
	if d == hashDepth {
		for i, e := range n.ents {
			if e.key == key {
				return n.edited(0, 0, i, -1, hent{}), true
			}
		}
		return n, false
	}
	s := slotOf(hashOf(key), d)
	bit := uint16(1) << s
	i := n.pos(s)
	switch {
	case n.dmap&bit != 0:
		if n.ents[i].key != key {
			return n, false
		}
		return n.edited(n.dmap&^bit, n.nmap, i, -1, hent{}), true
	case n.nmap&bit != 0:
		sub, removed := deleteKey(n.ents[i].sub, key, d+1)
		if !removed {
			return n, false
		}
		if k, ok := single(sub); ok {
			// Pull the last key of the child up into this node.
			return n.edited(n.dmap|bit, n.nmap&^bit, i, 0, hent{key: k}), true
		}
		return n.edited(n.dmap, n.nmap, i, 0, hent{sub: sub}), true
	}
	return n, false
}

// all appends every key, in no particular order (testing, checks).
func (x *lindex) all(dst []uint64) []uint64 {
	var walk func(n *hnode)
	walk = func(n *hnode) {
		if n == nil {
			return
		}
		for _, e := range n.ents {
			if e.sub != nil {
				walk(e.sub)
			} else {
				dst = append(dst, e.key)
			}
		}
	}
	walk(x.root)
	return dst
}

// buildIndex returns the index of keys (sorted, distinct) in one go.
func buildIndex(keys []uint64) lindex {
	if len(keys) == 0 {
		return lindex{}
	}
	return lindex{root: buildNode(keys, 0), n: len(keys)}
}

func buildNode(keys []uint64, d int) *hnode {
	if d == hashDepth {
		n := newHnode(len(keys))
		for i, k := range keys {
			n.ents[i].key = k
		}
		return n
	}
	var ents [1 << hashBits]hent
	var dmap, nmap uint16
	m := 0
	for i := 0; i < len(keys); {
		s := slotOf(hashOf(keys[i]), d)
		j := i + 1
		for j < len(keys) && slotOf(hashOf(keys[j]), d) == s {
			j++
		}
		if j-i == 1 {
			dmap |= 1 << s
			ents[m] = hent{key: keys[i]}
		} else {
			nmap |= 1 << s
			ents[m] = hent{sub: buildNode(keys[i:j], d+1)}
		}
		m++
		i = j
	}
	n := newHnode(m)
	n.dmap, n.nmap = dmap, nmap
	copy(n.ents, ents[:m])
	return n
}
