package handlespace

import "github.com/poolnsd/poolnsd/handlespace/internal/ptree"

// The storage of a pool view is package ptree's: immutable B+trees of
// elements (the elements by ID, each served set in its policy's order) and
// a hash trie of label keys. This package and its policies use them
// through ptree's API only; the nodes' layout is ptree's own.
type (
	tree  = ptree.Tree[Element]
	tnode = ptree.Node[Element]
	tent  = ptree.Entry[Element]
)

// The orders of trees.
const (
	byID   = ptree.ByID
	byRank = ptree.ByRank
)

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

// mix64 is the splitmix64 finalizer: a bijection of uint64 that scatters
// every input bit over the whole output.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
