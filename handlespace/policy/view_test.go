package policy

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// Tests of the policies' state across the versions of a pool's views,
// through a handlespace.

// TestLUDAcrossChanges: lud's accounting carries through changes of a
// large pool as the policy says (an element keeps its charges across
// versions of its set unless its Load changed; one that leaves the set and
// comes back, or a new one, starts at zero), checked against the naive
// reference after every batch, while only the changed parts of the
// selector are built again.
func TestLUDAcrossChanges(t *testing.T) {
	r := rand.New(rand.NewPCG(polSeed(t), 3))
	spec := handlespace.DefaultPoolSpec()
	spec.Policy = spyOn(t, "lud")
	hs := handlespace.New(handlespace.Options{RegistrarID: 1, DefaultSpec: spec})
	if err := hs.ApplyZones([]handlespace.ZoneDef{zoneDef(t)}); err != nil {
		t.Fatal(err)
	}
	const span = 900
	mk := func(id int) *handlespace.Element {
		return &handlespace.Element{ID: uint32(id), Label: handlespace.LabelOf(fmt.Sprintf("e%d", id)), Port: 80, Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, 0, byte(id >> 8), byte(id)})),
			Load: uint32(r.IntN(3)) * 1000, LoadDeg: uint32(1+r.IntN(3)) * 500}
	}
	var groups [][]handlespace.Op
	for id := 1; id <= span; id += 2 {
		groups = append(groups, []handlespace.Op{{Pool: "web.z.test.", Elem: mk(id)}})
	}
	hs.Apply(groups, nil)
	type st struct{ count, last uint64 }
	model := map[uint32]st{}
	var seq uint64
	prev := map[uint32]*handlespace.Element{}
	pool := func() *handlespace.PoolView { return hs.View().Zone("z.test.").Pool("web") }
	for round := range 60 {
		pv := pool()
		elems := pv.All.Elements()
		// Carry the model's state over to this version of the set.
		next := map[uint32]st{}
		for _, e := range elems {
			if o, ok := prev[e.ID]; ok {
				s := model[e.ID]
				if o.Load != e.Load {
					s.count = 0
				}
				next[e.ID] = s
			}
		}
		model = next
		prev = map[uint32]*handlespace.Element{}
		for _, e := range elems {
			prev[e.ID] = e
		}
		ref := &naiveLUD{elems: elems, count: make([]uint64, len(elems)), last: make([]uint64, len(elems)), seq: seq}
		for i, e := range elems {
			ref.count[i], ref.last[i] = model[e.ID].count, model[e.ID].last
		}
		for step := range 20 {
			k := []int{1, 3, 8, 12}[step%4]
			var got []uint32
			for _, p := range pv.All.Select(nil, k, nil) {
				got = append(got, p.Elem().ID)
			}
			var want []uint32
			for _, i := range ref.selectK(k) {
				want = append(want, elems[i].ID)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("round %d step %d k=%d: got %v, want %v", round, step, k, got, want)
			}
		}
		seq = ref.seq
		for i, e := range elems {
			model[e.ID] = st{ref.count[i], ref.last[i]}
		}
		// Check the selector's own counts.
		ls := selectorOf(t, &pv.All).(*ludSel)
		for _, e := range elems {
			if c, l := ls.stateOf(e.ID); c != model[e.ID].count || l != model[e.ID].last {
				t.Fatalf("round %d: element %d has count %d last %d, model %+v", round, e.ID, c, l, model[e.ID])
			}
		}
		// A batch of changes: registrations, deregistrations, load
		// reports, new degradations, health.
		groups = groups[:0]
		updates := map[uint32]func(*handlespace.Element){}
		for range []int{1, 2, 5, 30}[r.IntN(4)] {
			id := 1 + r.IntN(span)
			switch r.IntN(5) {
			case 0:
				groups = append(groups, []handlespace.Op{{Pool: "web.z.test.", ID: uint32(id)}})
			case 1:
				groups = append(groups, []handlespace.Op{{Pool: "web.z.test.", Elem: mk(id)}})
			default:
				what, v := r.IntN(3), uint32(r.IntN(3))
				updates[uint32(id)] = func(e *handlespace.Element) {
					switch what {
					case 0:
						e.Load = v * 1000
					case 1:
						e.LoadDeg = 1 + v*300
					default:
						e.Health = []handlespace.Health{handlespace.HealthUp, handlespace.HealthDown}[v%2]
					}
				}
			}
		}
		if round%10 == 9 {
			// Take out and put back runs of neighbours: leaves merge
			// and split, and the mirror must follow.
			lo := 1 + r.IntN(span-120)
			for id := lo; id < lo+120; id++ {
				if r.IntN(4) > 0 {
					groups = append(groups, []handlespace.Op{{Pool: "web.z.test.", ID: uint32(id)}})
				} else {
					groups = append(groups, []handlespace.Op{{Pool: "web.z.test.", Elem: mk(id)}})
				}
			}
		}
		// Registrations and deregistrations in one view, then the
		// updates (UpdateMany) in the next.
		hs.Apply(groups, nil)
		if len(updates) > 0 {
			if err := hs.UpdateMany("web.z.test.", updates); err != nil && !errors.Is(err, handlespace.ErrNoElement) {
				t.Fatal(err)
			}
		}
		if nv := pool(); nv != pv {
			// Unchanged parts of the mirror are shared.
			shared := countShared(selectorOf(t, &pv.All).(*ludSel).root, selectorOf(t, &nv.All).(*ludSel).root)
			if len(groups)+len(updates) == 1 && shared == 0 {
				t.Fatalf("round %d: one change shared no mirror node", round)
			}
		}
	}
}

// countShared counts the mirror nodes of b that are a's.
func countShared(a, b *ludNode) int {
	have := map[*ludNode]bool{}
	var walk func(n *ludNode, f func(*ludNode))
	walk = func(n *ludNode, f func(*ludNode)) {
		f(n)
		for _, k := range n.kids {
			walk(k, f)
		}
	}
	walk(a, func(n *ludNode) { have[n] = true })
	c := 0
	walk(b, func(n *ludNode) {
		if have[n] {
			c++
		}
	})
	return c
}

// TestHashPoolAcrossChanges: a hash pool of more than hashExactMax
// elements under changes never answers with an element that left it, and
// once the background table of its newest view is built answers as a
// pool built from scratch with the same elements does.
func TestHashPoolAcrossChanges(t *testing.T) {
	r := rand.New(rand.NewPCG(polSeed(t), 4))
	spec := handlespace.DefaultPoolSpec()
	spec.Policy = spyOn(t, "hash")
	hs := handlespace.New(handlespace.Options{RegistrarID: 1, DefaultSpec: spec})
	if err := hs.ApplyZones([]handlespace.ZoneDef{zoneDef(t)}); err != nil {
		t.Fatal(err)
	}
	mk := func(id int) *handlespace.Element {
		return &handlespace.Element{ID: uint32(id), Label: handlespace.LabelOf(fmt.Sprintf("h%d", id)), Port: 80, Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, 1, byte(id >> 8), byte(id)}))}
	}
	var groups [][]handlespace.Op
	for id := 1; id <= 800; id++ {
		groups = append(groups, []handlespace.Op{{Pool: "web.z.test.", Elem: mk(id)}})
	}
	hs.Apply(groups, nil)
	clients := hashClients(500)
	for round := range 20 {
		groups = groups[:0]
		for range 1 + r.IntN(20) {
			id := 1 + r.IntN(1000)
			if r.IntN(2) == 0 {
				groups = append(groups, []handlespace.Op{{Pool: "web.z.test.", ID: uint32(id)}})
			} else {
				groups = append(groups, []handlespace.Op{{Pool: "web.z.test.", Elem: mk(id)}})
			}
		}
		hs.Apply(groups, nil)
		pv := hs.View().Zone("z.test.").Pool("web")
		in := map[*handlespace.Element]bool{}
		for _, e := range pv.All.Elements() {
			in[e] = true
		}
		for _, c := range clients {
			for _, p := range pv.All.Select(nil, 3, c) {
				if !in[p.Elem()] {
					t.Fatalf("round %d: answered element %d, not in the pool", round, p.Elem().ID)
				}
			}
		}
		waitTable(t, round, pv)
		// The pool built from scratch: a new handlespace with copies of
		// the elements.
		var copies []*handlespace.Element
		for _, e := range pv.Elements() {
			copies = append(copies, e.Clone())
		}
		fresh := handlespace.New(handlespace.Options{RegistrarID: 1})
		if err := fresh.ApplyZones([]handlespace.ZoneDef{zoneDef(t, poolDef("web", spec.Policy, copies...))}); err != nil {
			t.Fatal(err)
		}
		fpv := fresh.View().Zone("z.test.").Pool("web")
		waitTable(t, round, fpv)
		for _, c := range clients {
			a, b := pv.All.Select(nil, 3, c), fpv.All.Select(nil, 3, c)
			for i := range a {
				if a[i].Elem().ID != b[i].Elem().ID {
					t.Fatalf("round %d client %v: %d, from scratch %d", round, c.Addr, a[i].Elem().ID, b[i].Elem().ID)
				}
			}
		}
	}
}

// waitTable waits (at most 20 s) for the Maglev table of the hash pool
// view pv's All set.
func waitTable(t *testing.T, round int, pv *handlespace.PoolView) {
	t.Helper()
	hb := selectorOf(t, &pv.All).(*hashBig)
	if hb.ready != nil {
		select {
		case <-hb.ready:
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: no table after 20 s", round)
		}
	}
}

// TestSelectorsUseTheSetsSequence: the selector of a pool view's set that
// has a sequence uses the set's (which the set carries across its
// versions), for every policy, in a pool of one leaf and in one of many.
func TestSelectorsUseTheSetsSequence(t *testing.T) {
	checked := 0
	for _, name := range policyNames() {
		for _, n := range []int{5, 300} {
			var elems []*handlespace.Element
			for i := range n {
				e := testElem(fmt.Sprintf("e%d", i), fmt.Sprintf("10.2.%d.%d", i/200, i%200), 80)
				e.Health, e.Weight, e.Load = handlespace.HealthUp, uint32(i%4), uint32(i%3)*1000
				elems = append(elems, e)
			}
			hs := handlespace.New(handlespace.Options{RegistrarID: 1})
			if err := hs.ApplyZones([]handlespace.ZoneDef{zoneDef(t, poolDef("web", spyOn(t, name), elems...))}); err != nil {
				t.Fatal(err)
			}
			all := &hs.View().Zone("z.test.").Pool("web").All
			_, seq := all.Set()
			if sh, ok := selectorOf(t, all).(seqHolder); ok {
				checked++
				if sh.poolSeq() != seq {
					t.Errorf("%s, %d elements: the selector has another sequence than its set", name, n)
				}
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d selectors have a sequence", checked)
	}
}
