package handlespace

import (
	"math/bits"
	mrand "math/rand"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/quick"
)

// The label index against a map, and its canonical form: the same keys
// make the same trie, however they came in.

func checkIndex(t *testing.T, x lindex, model map[uint64]bool) {
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
	if !sameTrie(x.root, buildIndex(want).root) {
		t.Fatal("the trie differs from the one built in one go from the same keys")
	}
	var walk func(n *hnode, d int)
	walk = func(n *hnode, d int) {
		if n == nil {
			return
		}
		if d > 0 && d < hashDepth && n.nmap == 0 && len(n.ents) < 2 {
			t.Fatalf("node at depth %d holds %d keys and no child", d, len(n.ents))
		}
		if d < hashDepth && bits.OnesCount16(n.dmap|n.nmap) != len(n.ents) || n.dmap&n.nmap != 0 {
			t.Fatalf("node at depth %d: maps %016b %016b for %d entries", d, n.dmap, n.nmap, len(n.ents))
		}
		for i, e := range n.ents {
			if (e.sub != nil) != (d < hashDepth && n.nmap&(1<<nthSlot(n.dmap|n.nmap, i)) != 0) {
				t.Fatalf("node at depth %d: entry %d is a child %v against the maps", d, i, e.sub != nil)
			}
			if e.sub != nil {
				walk(e.sub, d+1)
			}
		}
	}
	walk(x.root, 0)
}

func sameTrie(a, b *hnode) bool {
	if a == nil || b == nil {
		return (a == nil || len(a.ents) == 0) && (b == nil || len(b.ents) == 0)
	}
	if a.dmap != b.dmap || a.nmap != b.nmap || len(a.ents) != len(b.ents) {
		return false
	}
	for i := range a.ents {
		ea, eb := a.ents[i], b.ents[i]
		if (ea.sub == nil) != (eb.sub == nil) || (ea.sub == nil && ea.key != eb.key) || !sameTrie(ea.sub, eb.sub) {
			return false
		}
	}
	return true
}

// nthSlot returns the slot of the i-th set bit of m.
func nthSlot(m uint16, i int) int {
	for s := 0; s < 16; s++ {
		if m&(1<<s) != 0 {
			if i == 0 {
				return s
			}
			i--
		}
	}
	return -1
}

func TestQuickLabelIndex(t *testing.T) {
	cfg := &quick.Config{MaxCount: 40, Rand: mrand.New(mrand.NewSource(int64(polSeed(t))))}
	f := func(seed uint64) bool {
		r := rand.New(rand.NewPCG(seed, 9))
		model := map[uint64]bool{}
		var x lindex
		// Keys with few distinct hashes (collisions down to the bottom)
		// or many.
		hashes := []uint32{0, 1, 0xffffffff, 0x80000000}
		for range r.IntN(2000) {
			hashes = append(hashes, r.Uint32())
		}
		key := func() uint64 {
			return uint64(hashes[r.IntN(len(hashes))])<<32 | uint64(r.IntN(50))
		}
		for round := range 300 {
			k := key()
			if r.IntN(3) == 0 {
				x = x.without(k)
				delete(model, k)
			} else {
				x = x.with(k)
				model[k] = true
			}
			if round%37 == 0 || len(model) < 5 {
				checkIndex(t, x, model)
			}
			if t.Failed() {
				return false
			}
		}
		checkIndex(t, x, model)
		// Removing every key empties it.
		for k := range model {
			x = x.without(k)
		}
		if x.n != 0 || x.root != nil {
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
	for id := range uint32(100_000) {
		keys = append(keys, labelKey(IDString(id), id))
	}
	slices.Sort(keys)
	x := buildIndex(keys)
	y := x.with(labelKey("new", 1<<31))
	nodes := func(x lindex) map[*hnode]bool {
		m := map[*hnode]bool{}
		var walk func(n *hnode)
		walk = func(n *hnode) {
			m[n] = true
			for _, e := range n.ents {
				if e.sub != nil {
					walk(e.sub)
				}
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
	if fresh > hashDepth+1 {
		t.Errorf("one insertion made %d new nodes of %d", fresh, len(b))
	}
}
