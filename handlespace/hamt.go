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
// path: about log16 n of them, each at most 16 words.
//
// Canonical form: a node holds an entry inline when it is the only one of
// its slot, and a subtree otherwise; removing an entry pulls a subtree
// left with one entry back up. The same keys make the same trie whatever
// the order of the changes.
type lindex struct {
	root *hnode
	n    int
}

// hnode is a trie node. Slot s (4 bits of the hash at the node's depth)
// holds an inline key if dmap has bit s, a child if nmap has it. Below
// depth hashDepth every key of a node shares all 32 bits of its hash: a
// collision node, whose keys are sorted and whose maps are 0.
type hnode struct {
	dmap, nmap uint16
	keys       []uint64 // inline keys, by slot; a collision node's keys
	subs       []*hnode // children, by slot
}

const (
	hashBits  = 4
	hashDepth = 32 / hashBits // depth of the collision nodes
)

func slotOf(h uint32, depth int) uint16 {
	return uint16(h>>(32-hashBits*(depth+1))) & (1<<hashBits - 1)
}

// index of slot s's entry among the set bits of m below it.
func index(m uint16, s uint16) int { return bits.OnesCount16(m & (1<<s - 1)) }

func hashOf(key uint64) uint32 { return uint32(key >> 32) }

// each calls f for every key with the given hash.
func (x *lindex) each(h uint32, f func(key uint64) bool) {
	n := x.root
	for d := 0; n != nil; d++ {
		if d == hashDepth {
			for _, k := range n.keys {
				if hashOf(k) == h && !f(k) {
					return
				}
			}
			return
		}
		s := slotOf(h, d)
		bit := uint16(1) << s
		switch {
		case n.dmap&bit != 0:
			if k := n.keys[index(n.dmap, s)]; hashOf(k) == h {
				f(k)
			}
			return
		case n.nmap&bit != 0:
			n = n.subs[index(n.nmap, s)]
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
		if root != nil && root.nmap == 0 && len(root.keys) == 0 {
			root = nil
		}
	}
	x.root = root
	return x
}

func insertKey(n *hnode, key uint64, d int) (*hnode, bool) {
	if n == nil {
		n = &hnode{}
	}
	if d == hashDepth {
		i, found := slices.BinarySearch(n.keys, key)
		if found {
			return n, false
		}
		return &hnode{keys: slices.Insert(slices.Clone(n.keys), i, key)}, true
	}
	s := slotOf(hashOf(key), d)
	bit := uint16(1) << s
	switch {
	case n.nmap&bit != 0:
		i := index(n.nmap, s)
		sub, added := insertKey(n.subs[i], key, d+1)
		if !added {
			return n, false
		}
		nn := &hnode{dmap: n.dmap, nmap: n.nmap, keys: n.keys, subs: slices.Clone(n.subs)}
		nn.subs[i] = sub
		return nn, true
	case n.dmap&bit != 0:
		i := index(n.dmap, s)
		old := n.keys[i]
		if old == key {
			return n, false
		}
		// Two keys in one slot: a child holds both.
		sub := pairNode(old, key, d+1)
		nn := &hnode{dmap: n.dmap &^ bit, nmap: n.nmap | bit}
		nn.keys = slices.Delete(slices.Clone(n.keys), i, i+1)
		if len(nn.keys) == 0 {
			nn.keys = nil
		}
		nn.subs = slices.Insert(slices.Clone(n.subs), index(nn.nmap, s), sub)
		return nn, true
	default:
		nn := &hnode{dmap: n.dmap | bit, nmap: n.nmap, subs: n.subs}
		nn.keys = slices.Insert(slices.Clone(n.keys), index(nn.dmap, s), key)
		return nn, true
	}
}

// pairNode returns the subtree at depth d holding keys a and b.
func pairNode(a, b uint64, d int) *hnode {
	if d == hashDepth {
		if b < a {
			a, b = b, a
		}
		return &hnode{keys: []uint64{a, b}}
	}
	sa, sb := slotOf(hashOf(a), d), slotOf(hashOf(b), d)
	if sa == sb {
		return &hnode{nmap: 1 << sa, subs: []*hnode{pairNode(a, b, d+1)}}
	}
	if sb < sa {
		a, b = b, a
		sa, sb = sb, sa
	}
	return &hnode{dmap: 1<<sa | 1<<sb, keys: []uint64{a, b}}
}

// single returns the key of a node that holds exactly one key and no
// child, or false.
func single(n *hnode) (uint64, bool) {
	if n.nmap == 0 && len(n.keys) == 1 {
		return n.keys[0], true
	}
	return 0, false
}

func deleteKey(n *hnode, key uint64, d int) (*hnode, bool) {
	if d == hashDepth {
		i, found := slices.BinarySearch(n.keys, key)
		if !found {
			return n, false
		}
		return &hnode{keys: slices.Delete(slices.Clone(n.keys), i, i+1)}, true
	}
	s := slotOf(hashOf(key), d)
	bit := uint16(1) << s
	switch {
	case n.dmap&bit != 0:
		i := index(n.dmap, s)
		if n.keys[i] != key {
			return n, false
		}
		nn := &hnode{dmap: n.dmap &^ bit, nmap: n.nmap, subs: n.subs}
		if len(n.keys) > 1 {
			nn.keys = slices.Delete(slices.Clone(n.keys), i, i+1)
		}
		return nn, true
	case n.nmap&bit != 0:
		i := index(n.nmap, s)
		sub, removed := deleteKey(n.subs[i], key, d+1)
		if !removed {
			return n, false
		}
		if k, ok := single(sub); ok {
			// Pull the last key of the child up into this node.
			nn := &hnode{dmap: n.dmap | bit, nmap: n.nmap &^ bit}
			nn.keys = slices.Insert(slices.Clone(n.keys), index(nn.dmap, s), k)
			if len(n.subs) > 1 {
				nn.subs = slices.Delete(slices.Clone(n.subs), i, i+1)
			}
			return nn, true
		}
		nn := &hnode{dmap: n.dmap, nmap: n.nmap, keys: n.keys, subs: slices.Clone(n.subs)}
		nn.subs[i] = sub
		return nn, true
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
		dst = append(dst, n.keys...)
		for _, s := range n.subs {
			walk(s)
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
		return &hnode{keys: slices.Clone(keys)}
	}
	n := &hnode{}
	for i := 0; i < len(keys); {
		s := slotOf(hashOf(keys[i]), d)
		j := i + 1
		for j < len(keys) && slotOf(hashOf(keys[j]), d) == s {
			j++
		}
		if j-i == 1 {
			n.dmap |= 1 << s
			n.keys = append(n.keys, keys[i])
		} else {
			n.nmap |= 1 << s
			n.subs = append(n.subs, buildNode(keys[i:j], d+1))
		}
		i = j
	}
	return n
}
