package ptree

import (
	mrand "math/rand"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/quick"
)

// The label index against a map, and its canonical form: the same keys
// make the same trie, however they came in.

// has reports whether the index holds key.
func (x *Index) has(key uint64) bool {
	found := false
	x.Each(hashOf(key), func(k uint64) bool { found = k == key; return !found })
	return found
}

// all appends every key, in no particular order .
func (x *Index) all(dst []uint64) []uint64 {
	if x.root == nil {
		return dst
	}
	return x.root.appendKeys(dst)
}

func checkIndex(t *testing.T, x Index, model map[uint64]bool) {
	t.Helper()
	if x.n != len(model) {
		t.Fatalf("index holds %d keys, model %d", x.n, len(model))
	}
	got := x.all(nil)
	slices.Sort(got)
	want := make([]uint64, 0, len(model))
	for k := range model {
		want = append(want, k)
		if !x.has(k) {
			t.Fatalf("key %x not found", k)
		}
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("index holds %d keys, not the model's %d", len(got), len(want))
	}
	// Canonical: equal to the trie built in one go.
	if !sameTrie(x.root, BuildIndex(want).root) {
		t.Fatal("the trie differs from the one built in one go from the same keys")
	}
	var walk func(n *hnode, d int) int
	walk = func(n *hnode, d int) int {
		if n.bucket {
			if !slices.IsSorted(n.keys()) || int(n.n) != len(n.keys()) || (len(n.keys()) > bucketMax && d < hashDepth) {
				t.Fatalf("bucket at depth %d: %d keys, count %d, sorted %v", d, len(n.keys()), n.n, slices.IsSorted(n.keys()))
			}
			return len(n.keys())
		}
		if n.mask == 0 || n.p == nil || n.n <= bucketMax {
			t.Fatalf("inner node at depth %d: mask %016b for %d children, %d keys", d, n.mask, len(n.subs()), n.n)
		}
		sum := 0
		for _, c := range n.subs() {
			sum += walk(c, d+1)
		}
		if sum != int(n.n) {
			t.Fatalf("inner node at depth %d counts %d keys, holds %d", d, n.n, sum)
		}
		return sum
	}
	if x.root != nil {
		walk(x.root, 0)
	}
}

func sameTrie(a, b *hnode) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.mask != b.mask || a.n != b.n || !slices.Equal(a.keys(), b.keys()) || len(a.subs()) != len(b.subs()) || a.bucket != b.bucket {
		return false
	}
	for i := range a.subs() {
		if !sameTrie(a.subs()[i], b.subs()[i]) {
			return false
		}
	}
	return true
}

func TestQuickLabelIndex(t *testing.T) {
	cfg := &quick.Config{MaxCount: 40, Rand: mrand.New(mrand.NewSource(int64(treeSeed(t))))}
	f := func(seed uint64) bool {
		r := rand.New(rand.NewPCG(seed, 9))
		model := map[uint64]bool{}
		var x Index
		// Keys with few distinct hashes (collisions down to the bottom)
		// or many.
		hashes := []uint32{0, 1, 0xffffffff, 0x80000000}
		for range r.IntN(2000) {
			hashes = append(hashes, r.Uint32())
		}
		key := func() uint64 {
			return uint64(hashes[r.IntN(len(hashes))])<<32 | uint64(r.IntN(50))
		}
		for round := range 600 {
			k := key()
			// Grow for a while, then shrink through the bucket size.
			del := r.IntN(3) == 0
			if round >= 300 {
				del = r.IntN(4) > 0
				if r.IntN(2) == 0 && len(model) > 0 {
					for mk := range model {
						k = mk
						break
					}
				}
			}
			// A change that changes nothing returns x itself (==), any
			// other a different index (handlespace's tests count on it).
			var y Index
			if del {
				y = x.Without(k)
			} else {
				y = x.With(k)
			}
			if (y == x) != (model[k] != del) {
				t.Fatalf("round %d: delete %v of key %x (held %v) returned the same index %v", round, del, k, model[k], y == x)
			}
			x = y
			if del {
				delete(model, k)
			} else {
				model[k] = true
			}
			if round%37 == 0 || len(model) < 3*bucketMax {
				checkIndex(t, x, model)
			}
			if t.Failed() {
				return false
			}
		}
		checkIndex(t, x, model)
		// Removing every key, in random order, empties it; on the way
		// each subtree turns back into a bucket.
		keys := make([]uint64, 0, len(model))
		for k := range model {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		for _, k := range keys {
			x = x.Without(k)
			delete(model, k)
			if len(model) < 3*bucketMax {
				checkIndex(t, x, model)
			}
		}
		if x != (Index{}) {
			t.Fatalf("emptied index: %d keys, root %v", x.n, x.root)
		}
		return true
	}
	if err := quick.Check(f, cfg); err != nil {
		t.Fatal(err)
	}
}

// TestLabelIndexSharing: a change copies one path of the trie only.
func TestLabelIndexSharing(t *testing.T) {
	var keys []uint64
	key := func(id uint32) uint64 { return uint64(uint32(id*0x9e3779b1)^0x5bd1e995)<<32 | uint64(id) }
	for id := range uint32(100_000) {
		keys = append(keys, key(id))
	}
	slices.Sort(keys)
	x := BuildIndex(keys)
	y := x.With(key(1 << 31))
	nodes := func(x Index) map[*hnode]bool {
		m := map[*hnode]bool{}
		var walk func(n *hnode)
		walk = func(n *hnode) {
			m[n] = true
			for _, c := range n.subs() {
				walk(c)
			}
		}
		walk(x.root)
		return m
	}
	a, b := nodes(x), nodes(y)
	fresh := 0
	for n := range b {
		if !a[n] {
			fresh++
		}
	}
	if fresh > hashDepth+2 {
		t.Errorf("one insertion made %d new nodes of %d", fresh, len(b))
	}
}
