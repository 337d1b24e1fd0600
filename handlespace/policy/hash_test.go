package policy

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

func hashClients(n int) []*handlespace.Client {
	cs := make([]*handlespace.Client, n)
	for i := range cs {
		if i%2 == 0 {
			cs[i] = &handlespace.Client{Addr: netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1})}
		} else {
			a := [16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i), 0x42}
			cs[i] = &handlespace.Client{Addr: netip.AddrFrom16(a)}
		}
	}
	return cs
}

// ids maps an answer to element IDs.
func ids(elems []*handlespace.Element, idx []int32) []uint32 {
	out := make([]uint32, len(idx))
	for i, j := range idx {
		out[i] = elems[j].ID
	}
	return out
}

func TestHashStable(t *testing.T) {
	p := mustPolicy(t, "hash", nil)
	elems := polElems(20, nil)
	rev := slices.Clone(elems)
	slices.Reverse(rev)
	a, b := build(p, elems, nil), build(p, rev, nil)
	for _, c := range hashClients(200) {
		first := ids(elems, a.Select(nil, 3, c))
		for rep := 0; rep < 3; rep++ {
			if got := ids(elems, a.Select(nil, 3, c)); !slices.Equal(got, first) {
				t.Fatalf("client %v: %v then %v", c.Addr, first, got)
			}
		}
		if got := ids(rev, b.Select(nil, 3, c)); !slices.Equal(got, first) {
			t.Fatalf("client %v: %v, with the elements in another order %v", c.Addr, first, got)
		}
		all := ids(elems, a.Select(nil, 0, c))
		if !slices.Equal(all[:3], first) {
			t.Fatalf("client %v: full order %v does not begin with %v", c.Addr, all, first)
		}
	}
}

func TestHashSubnets(t *testing.T) {
	sel := build(mustPolicy(t, "hash", nil), polElems(64, nil), nil)
	pick := func(c handlespace.Client) []int32 { return sel.Select(nil, 5, &c) }
	for _, tc := range []struct {
		name string
		a, b handlespace.Client
		same bool
	}{
		{"same /24", handlespace.Client{Addr: netip.MustParseAddr("192.0.2.1")}, handlespace.Client{Addr: netip.MustParseAddr("192.0.2.250")}, true},
		{"v4-mapped", handlespace.Client{Addr: netip.MustParseAddr("192.0.2.1")}, handlespace.Client{Addr: netip.MustParseAddr("::ffff:192.0.2.9")}, true},
		{"other /24", handlespace.Client{Addr: netip.MustParseAddr("192.0.2.1")}, handlespace.Client{Addr: netip.MustParseAddr("192.0.3.1")}, false},
		{"same /56", handlespace.Client{Addr: netip.MustParseAddr("2001:db8:1:200::1")}, handlespace.Client{Addr: netip.MustParseAddr("2001:db8:1:2ff:ffff::9")}, true},
		{"other /56", handlespace.Client{Addr: netip.MustParseAddr("2001:db8:1:200::1")}, handlespace.Client{Addr: netip.MustParseAddr("2001:db8:1:300::1")}, false},
		{"ECS wins", handlespace.Client{Addr: netip.MustParseAddr("198.51.100.53"), Subnet: netip.MustParsePrefix("203.0.113.0/24")},
			handlespace.Client{Addr: netip.MustParseAddr("203.0.113.77")}, true},
		{"ECS unmasked", handlespace.Client{Subnet: netip.MustParsePrefix("203.0.113.5/24")}, handlespace.Client{Subnet: netip.MustParsePrefix("203.0.113.0/24")}, true},
		{"ECS /0 is no ECS", handlespace.Client{Addr: netip.MustParseAddr("198.51.100.53"), Subnet: netip.MustParsePrefix("0.0.0.0/0")},
			handlespace.Client{Addr: netip.MustParseAddr("198.51.100.1")}, true},
		{"ECS /0 keeps clients apart", handlespace.Client{Addr: netip.MustParseAddr("198.51.100.53"), Subnet: netip.MustParsePrefix("0.0.0.0/0")},
			handlespace.Client{Addr: netip.MustParseAddr("203.0.113.1"), Subnet: netip.MustParsePrefix("0.0.0.0/0")}, false},
		{"ECS length counts", handlespace.Client{Subnet: netip.MustParsePrefix("203.0.113.0/24")}, handlespace.Client{Subnet: netip.MustParsePrefix("203.0.113.0/25")}, false},
	} {
		if got := slices.Equal(pick(tc.a), pick(tc.b)); got != tc.same {
			t.Errorf("%s: same answer %v, want %v", tc.name, got, tc.same)
		}
	}
}

// TestHashRendezvous checks the point of rendezvous hashing: removing an
// element moves only its clients (each to its second choice), adding one
// moves clients only to it; and the clients spread evenly.
func TestHashRendezvous(t *testing.T) {
	p := mustPolicy(t, "hash", nil)
	clients := hashClients(6000)
	for _, n := range []int{2, 10, 50} {
		elems := polElems(n, nil)
		sel := build(p, elems, nil)
		before := make([][]uint32, len(clients))
		load := make([]int, n)
		for i, c := range clients {
			idx := sel.Select(nil, 2, c)
			before[i] = ids(elems, idx)
			load[idx[0]]++
		}
		probs := make([]float64, n)
		for i := range probs {
			probs[i] = 1 / float64(n)
		}
		chiSquare(t, fmt.Sprintf("hash n=%d clients per element", n), load, probs)

		for _, gone := range []int{0, n / 2, n - 1} {
			rest := slices.Delete(slices.Clone(elems), gone, gone+1)
			after := build(p, rest, sel)
			moved := 0
			for i, c := range clients {
				got := rest[after.Select(nil, 1, c)[0]].ID
				switch {
				case before[i][0] != elems[gone].ID && got != before[i][0]:
					t.Fatalf("n=%d: removing %d moved client %v from %d to %d", n, elems[gone].ID, c.Addr, before[i][0], got)
				case before[i][0] == elems[gone].ID:
					moved++
					if got != before[i][1] {
						t.Fatalf("n=%d: client %v of removed %d went to %d, not its second choice %d", n, c.Addr, elems[gone].ID, got, before[i][1])
					}
				}
			}
			if moved == 0 {
				t.Errorf("n=%d: element %d had no clients", n, elems[gone].ID)
			}
		}

		added := append(slices.Clone(elems), &handlespace.Element{ID: 424242})
		grown := build(p, added, sel)
		for i, c := range clients {
			if got := added[grown.Select(nil, 1, c)[0]].ID; got != before[i][0] && got != 424242 {
				t.Fatalf("n=%d: adding an element moved client %v from %d to %d", n, c.Addr, before[i][0], got)
			}
		}
	}
}

func TestHashWithoutClient(t *testing.T) {
	sel := build(mustPolicy(t, "hash", nil), polElems(4, nil), nil)
	var firsts []int32
	for _, c := range []*handlespace.Client{nil, {}, nil, {}, nil} {
		firsts = append(firsts, sel.Select(nil, 2, c)[0])
	}
	if want := []int32{0, 1, 2, 3, 0}; !slices.Equal(firsts, want) {
		t.Errorf("without a client address: first picks %v, want round robin %v", firsts, want)
	}
}

// TestHashMaglev: pools larger than hashExactMax use a Maglev table. The
// same client keeps its element, answers are distinct and complete, clients
// spread evenly, and removing an element moves its clients and only a few
// others.
func TestHashMaglev(t *testing.T) {
	p := mustPolicy(t, "hash", nil)
	n := 1000
	elems := polElems(n, nil)
	sel := build(p, elems, nil)
	clients := hashClients(50000)
	first := make([]int32, len(clients))
	load := make([]int, n)
	for i, c := range clients {
		idx := sel.Select(nil, 3, c)
		if len(idx) != 3 || idx[0] == idx[1] || idx[1] == idx[2] || idx[0] == idx[2] {
			t.Fatalf("answer %v: want 3 distinct elements", idx)
		}
		if again := sel.Select(nil, 1, c); again[0] != idx[0] {
			t.Fatalf("client %v: first %d, then %d", c.Addr, idx[0], again[0])
		}
		first[i] = idx[0]
		load[idx[0]]++
	}
	// Balance: every element gets clients, none more than 2.5× the mean.
	mean := float64(len(clients)) / float64(n)
	for i, l := range load {
		if l == 0 || float64(l) > 2.5*mean {
			t.Fatalf("element %d has %d clients, mean %.0f", i, l, mean)
		}
	}
	all := sel.Select(nil, 0, clients[0])
	if len(all) != n || len(slices.Compact(slices.Sorted(slices.Values(all)))) != n {
		t.Fatalf("full ordering: %d elements, want %d distinct", len(all), n)
	}
	// Remove one element: its clients move; of the others, under 5 %.
	gone := int32(n / 2)
	rest := slices.Delete(slices.Clone(elems), int(gone), int(gone)+1)
	after := build(p, rest, sel)
	moved, others := 0, 0
	for i, c := range clients {
		got := rest[after.Select(nil, 1, c)[0]].ID
		if first[i] == gone {
			continue
		}
		others++
		if got != elems[first[i]].ID {
			moved++
		}
	}
	if frac := float64(moved) / float64(others); frac > 0.05 {
		t.Errorf("removing one of %d elements moved %.1f %% of the other clients", n, 100*frac)
	} else {
		t.Logf("removing one of %d elements moved %.2f %% of the other clients", n, 100*frac)
	}
}

// TestHashStaleTable: a selector of a large set whose own table is not
// built yet answers from an older one, and never with an element that
// left the set; once its table is built (in the background) it answers
// exactly as a selector built at once for the same set.
func TestHashStaleTable(t *testing.T) {
	p := mustPolicy(t, "hash", nil)
	const n = 1000
	elems := polElems(n, nil)
	old := build(p, elems, nil)
	// The next version: every third element gone, 50 new ones.
	var next []*handlespace.Element
	gone := map[uint32]bool{}
	for i, e := range elems {
		if i%3 == 0 {
			gone[e.ID] = true
			continue
		}
		next = append(next, e)
	}
	for i := range 50 {
		next = append(next, &handlespace.Element{ID: uint32(900_000 + i)})
	}
	o := p.Order()
	set := o.NewSet(sortedByID(next))
	in := map[*handlespace.Element]bool{}
	for _, e := range next {
		in[e] = true
	}
	clients := hashClients(3000)

	// A stale selector: the old table.
	ob := old.sel.(*hashBig)
	stale := &hashBig{t: *set.Tree(), seq: old.seq, b: ob.b}
	for _, c := range clients {
		for _, k := range []int{1, 3, 8, 20} {
			got := stale.Select(nil, k, c)
			if len(got) != k {
				t.Fatalf("stale table: %d of %d elements", len(got), k)
			}
			seen := map[*handlespace.Element]bool{}
			for _, pk := range got {
				e := pk.Elem()
				if !in[e] || gone[e.ID] || seen[e] {
					t.Fatalf("stale table answered element %d (in the set %v, gone %v, twice %v)", e.ID, in[e], gone[e.ID], seen[e])
				}
				seen[e] = true
			}
		}
	}

	// The real thing: built in the background, then exact.
	sel := p.Build(&set, old.seq, old.sel, false).(*hashBig)
	select {
	case <-sel.ready:
	case <-time.After(20 * time.Second):
		t.Fatal("the table was not built in 20 s")
	}
	fresh := p.Build(&set, old.seq, nil, true).(*hashBig)
	for _, c := range clients {
		a, b := sel.Select(nil, 3, c), fresh.Select(nil, 3, c)
		if !slices.Equal(a, b) {
			t.Fatalf("client %v: %v from the background table, %v from one built at once", c.Addr, a, b)
		}
	}
	if sel.b.latest.Load() != sel.cur.Load() {
		t.Error("the builder's newest table is not the one it built last")
	}
}

func sortedByID(es []*handlespace.Element) []*handlespace.Element {
	out := slices.Clone(es)
	sortByID(out)
	return out
}
