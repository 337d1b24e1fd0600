package ptree

import (
	"math/bits"
	"slices"
	"unsafe"
)

// Index is an immutable hash trie of 64-bit keys whose top 32 bits are a
// hash (handlespace: a pool view's label index, each key a label's hash,
// then the element's ID). Its leaves are buckets: sorted arrays of up to
// bucketMax keys, without pointers (the garbage collector does not scan
// them). An inner node has a child for each 4-bit slot of the hash at its
// depth that any of its keys has. A lookup follows the hash to a bucket
// and searches it; a change copies one path: about log16(n/bucketMax)
// inner nodes of at most 16 pointers, and a bucket. Each node is one
// allocation. The zero Index is empty.
//
// Indexes compare with ==: equal ones are the same trie. With and Without
// return x itself when they change nothing (the key was there, or was
// not), and Without of the last key returns the zero Index.
//
// Canonical form: a subtree is a bucket exactly when it holds at most
// bucketMax keys (or when all its keys share their whole hash, at depth
// hashDepth), so the same keys make the same trie whatever the order of
// the changes.
type Index struct {
	root *hnode
	n    int
}

// hnode is a bucket or an inner node, a 16-byte header in front of its
// keys or children (one allocation: see allocBucket, newInner), so that a
// path copy is small.
type hnode struct {
	mask   uint16         // inner: the slots that have a child
	bucket bool           // a bucket, else an inner node
	n      int32          // keys below: a bucket's length
	p      unsafe.Pointer // the first key or child, in the node's allocation
}

// keys returns a bucket's keys, sorted (nil for an inner node).
func (n *hnode) keys() []uint64 {
	if !n.bucket {
		return nil
	}
	return unsafe.Slice((*uint64)(n.p), n.n)
}

// subs returns an inner node's children, by slot (nil for a bucket).
func (n *hnode) subs() []*hnode {
	if n.bucket {
		return nil
	}
	return unsafe.Slice((**hnode)(n.p), bits.OnesCount16(n.mask))
}

const (
	hashBits  = 4
	hashDepth = 32 / hashBits // below this depth, keys differ in their hash
	bucketMax = 32
)

func slotOf(h uint32, depth int) uint16 {
	return uint16(h>>(32-hashBits*(depth+1))) & (1<<hashBits - 1)
}

func hashOf(key uint64) uint32 { return uint32(key >> 32) }

// pos returns the index in subs of slot s's child.
func (n *hnode) pos(s uint16) int { return bits.OnesCount16(n.mask & (1<<s - 1)) }

// Each calls f for every key with the given hash, until f returns false.
func (x *Index) Each(h uint32, f func(key uint64) bool) {
	n := x.root
	for d := 0; n != nil; d++ {
		if n.bucket {
			lo := uint64(h) << 32
			keys := n.keys()
			i, _ := slices.BinarySearch(keys, lo)
			for ; i < len(keys) && hashOf(keys[i]) == h; i++ {
				if !f(keys[i]) {
					return
				}
			}
			return
		}
		s := slotOf(h, d)
		if n.mask&(1<<s) == 0 {
			return
		}
		n = n.subs()[n.pos(s)]
	}
}

// With returns the index with key added (if absent).
func (x Index) With(key uint64) Index {
	if x.root == nil {
		x.root, x.n = newBucket([]uint64{key}), 1
		return x
	}
	if root, added := insertKey(x.root, key, 0); added {
		x.root, x.n = root, x.n+1
	}
	return x
}

// Without returns the index with key removed (if present).
func (x Index) Without(key uint64) Index {
	if x.root == nil {
		return x
	}
	if root, removed := deleteKey(x.root, key, 0); removed {
		x.root, x.n = root, x.n-1
		if x.n == 0 {
			x.root = nil
		}
	}
	return x
}

func insertKey(n *hnode, key uint64, d int) (*hnode, bool) {
	if n.bucket {
		old := n.keys()
		i, found := slices.BinarySearch(old, key)
		if found {
			return n, false
		}
		if len(old) < bucketMax || d == hashDepth {
			b := allocBucket(len(old) + 1)
			keys := b.keys()
			copy(keys, old[:i])
			keys[i] = key
			copy(keys[i+1:], old[i:])
			return b, true
		}
		keys := make([]uint64, 0, len(old)+1)
		keys = append(append(append(keys, old[:i]...), key), old[i:]...)
		return buildNode(keys, d), true
	}
	s := slotOf(hashOf(key), d)
	bit := uint16(1) << s
	i := n.pos(s)
	var sub *hnode
	if n.mask&bit != 0 {
		var added bool
		if sub, added = insertKey(n.subs()[i], key, d+1); !added {
			return n, false
		}
		return n.replaced(i, sub, n.mask, 1), true
	}
	sub = newBucket([]uint64{key})
	old := n.subs()
	nn := newInner(len(old) + 1)
	nn.mask, nn.n = n.mask|bit, n.n+1
	subs := nn.subs()
	copy(subs, old[:i])
	subs[i] = sub
	copy(subs[i+1:], old[i:])
	return nn, true
}

// replaced returns n with child i replaced by sub (nil: removed), the
// mask mask and the count changed by dn.
func (n *hnode) replaced(i int, sub *hnode, mask uint16, dn int32) *hnode {
	old := n.subs()
	m := len(old)
	if sub == nil {
		m--
	}
	nn := newInner(m)
	nn.mask, nn.n = mask, n.n+dn
	subs := nn.subs()
	if sub == nil {
		copy(subs, old[:i])
		copy(subs[i:], old[i+1:])
	} else {
		copy(subs, old)
		subs[i] = sub
	}
	return nn
}

func deleteKey(n *hnode, key uint64, d int) (*hnode, bool) {
	if n.bucket {
		old := n.keys()
		i, found := slices.BinarySearch(old, key)
		if !found {
			return n, false
		}
		b := allocBucket(len(old) - 1)
		keys := b.keys()
		copy(keys, old[:i])
		copy(keys[i:], old[i+1:])
		return b, true
	}
	s := slotOf(hashOf(key), d)
	bit := uint16(1) << s
	if n.mask&bit == 0 {
		return n, false
	}
	i := n.pos(s)
	sub, removed := deleteKey(n.subs()[i], key, d+1)
	if !removed {
		return n, false
	}
	if n.n-1 <= bucketMax {
		// Few enough keys for one bucket again.
		keys := make([]uint64, 0, n.n-1)
		for j, c := range n.subs() {
			if j == i {
				c = sub
			}
			keys = c.appendKeys(keys)
		}
		slices.Sort(keys)
		return newBucket(keys), true
	}
	if sub.n == 0 {
		return n.replaced(i, nil, n.mask&^bit, -1), true
	}
	return n.replaced(i, sub, n.mask, -1), true
}

// appendKeys appends the keys below n, in no particular order.
func (n *hnode) appendKeys(dst []uint64) []uint64 {
	if n.bucket {
		return append(dst, n.keys()...)
	}
	for _, c := range n.subs() {
		dst = c.appendKeys(dst)
	}
	return dst
}

// BuildIndex returns the index of keys (sorted, distinct) in one go.
func BuildIndex(keys []uint64) Index {
	if len(keys) == 0 {
		return Index{}
	}
	return Index{root: buildNode(keys, 0), n: len(keys)}
}

// buildNode returns the subtree at depth d of keys (sorted, distinct).
// keys may be kept.
func buildNode(keys []uint64, d int) *hnode {
	if len(keys) <= bucketMax || d == hashDepth {
		return newBucket(keys)
	}
	var subs [1 << hashBits]*hnode
	var mask uint16
	m := 0
	for i := 0; i < len(keys); {
		s := slotOf(hashOf(keys[i]), d)
		j := i + 1
		for j < len(keys) && slotOf(hashOf(keys[j]), d) == s {
			j++
		}
		mask |= 1 << s
		subs[m] = buildNode(keys[i:j], d+1)
		m++
		i = j
	}
	n := newInner(m)
	n.mask, n.n = mask, int32(len(keys))
	copy(n.subs(), subs[:m])
	return n
}

// newBucket returns a bucket of a copy of keys.
func newBucket(keys []uint64) *hnode {
	n := allocBucket(len(keys))
	copy(n.keys(), keys)
	return n
}

// allocBucket returns a bucket of m keys to fill, in one allocation.
func allocBucket(m int) *hnode {
	var n *hnode
	switch {
	case m <= 4:
		n = hnodeOf[[4]uint64]()
	case m <= 8:
		n = hnodeOf[[8]uint64]()
	case m <= 16:
		n = hnodeOf[[16]uint64]()
	case m <= 20:
		n = hnodeOf[[20]uint64]()
	case m <= 24:
		n = hnodeOf[[24]uint64]()
	case m <= 28:
		n = hnodeOf[[28]uint64]()
	case m <= 32:
		n = hnodeOf[[32]uint64]()
	default: // a bucket of keys that share their whole hash
		n = &hnode{p: unsafe.Pointer(unsafe.SliceData(make([]uint64, m)))}
	}
	n.n, n.bucket = int32(m), true
	return n
}

// newInner returns an inner node with room for m children, in one
// allocation.
func newInner(m int) *hnode {
	switch {
	case m <= 2:
		return hnodeOf[[2]*hnode]()
	case m <= 4:
		return hnodeOf[[4]*hnode]()
	case m <= 8:
		return hnodeOf[[8]*hnode]()
	}
	return hnodeOf[[16]*hnode]()
}

// hnodeOf returns a node whose keys or children are A (an array of them),
// in one allocation with its header.
func hnodeOf[A any]() *hnode {
	b := new(struct {
		n hnode
		a A
	})
	b.n.p = unsafe.Pointer(&b.a)
	return &b.n
}
