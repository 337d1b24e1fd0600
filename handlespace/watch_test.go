package handlespace

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func watchNames(t *testing.T, w *Watch) ([]string, bool) {
	t.Helper()
	names, all := w.Changed()
	slices.Sort(names)
	return names, all
}

// TestWatch: a new Watch says all; then it names the pools each batch
// changed (created, changed, removed), once however many changes; a zone
// reload says all again; a requeue comes back; a closed Watch hears
// nothing more.
func TestWatch(t *testing.T) {
	hs := New(Options{RegistrarID: 1})
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t, poolDef("web", "rr", testElem("a", "10.0.0.1", 80)))}); err != nil {
		t.Fatal(err)
	}
	w := hs.Watch()
	select {
	case <-w.C():
	default:
		t.Fatal("a new Watch has no value pending")
	}
	if names, all := watchNames(t, w); !all || names != nil {
		t.Fatalf("first Changed: %v, all %v; want all", names, all)
	}
	if names, all := watchNames(t, w); all || names != nil {
		t.Fatalf("Changed with no change: %v, all %v", names, all)
	}
	reg := func(pool string, i int) Op {
		return Op{Pool: pool, Elem: testElem(fmt.Sprintf("e%d", i), fmt.Sprintf("10.1.0.%d", i), 80)}
	}
	if errs := hs.Apply([][]Op{{reg("A.z.test", 1)}, {reg("a.z.test.", 2)}, {reg("b.z.test.", 1)}}, nil); errs[0] != nil || errs[1] != nil || errs[2] != nil {
		t.Fatal(errs)
	}
	select {
	case <-w.C():
	default:
		t.Fatal("no value after a change")
	}
	if names, all := watchNames(t, w); all || !slices.Equal(names, []string{"a.z.test.", "b.z.test."}) {
		t.Fatalf("after creating a and b: %v, all %v", names, all)
	}
	// A failed batch changes nothing and names nothing.
	if errs := hs.Apply([][]Op{{{Pool: "a.z.test.", ID: 12345}}}, nil); errs[0] == nil {
		t.Fatal("removing a missing element succeeded")
	}
	if names, all := watchNames(t, w); all || names != nil {
		t.Fatalf("after a failed batch: %v, all %v", names, all)
	}
	a := hs.View().Pool("a.z.test.")
	var id uint32
	for e := range a.Range() {
		id = e.ID
		break
	}
	if err := hs.Update("a.z.test.", id, func(e *Element) { e.Load = 7 }); err != nil {
		t.Fatal(err)
	}
	if err := hs.Do(Op{Pool: "b.z.test.", ID: ElementID(testElem("e1", "10.1.0.1", 80).Addrs.At(0), 80)}); err != nil {
		t.Fatal(err)
	}
	if hs.View().Pool("b.z.test.") != nil {
		t.Fatal("pool b still there without elements")
	}
	if names, all := watchNames(t, w); all || !slices.Equal(names, []string{"a.z.test.", "b.z.test."}) {
		t.Fatalf("after an update of a and the removal of b: %v, all %v", names, all)
	}
	w.Requeue([]string{"x.z.test."}, false)
	if names, all := watchNames(t, w); all || !slices.Equal(names, []string{"x.z.test."}) {
		t.Fatalf("after a requeue: %v, all %v", names, all)
	}
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t, poolDef("web", "rr", testElem("a", "10.0.0.2", 80)))}); err != nil {
		t.Fatal(err)
	}
	if names, all := watchNames(t, w); !all || names != nil {
		t.Fatalf("after a zone reload: %v, all %v; want all", names, all)
	}
	w.Close()
	w.Close() // twice: nothing
	<-w.C()   // the reload's value
	if errs := hs.Apply([][]Op{{reg("c.z.test.", 1)}}, nil); errs[0] != nil {
		t.Fatal(errs)
	}
	if names, all := watchNames(t, w); all || names != nil {
		t.Fatalf("a closed Watch heard %v, all %v", names, all)
	}
	select {
	case <-w.C():
		t.Fatal("a closed Watch got a value")
	default:
	}
}

// TestWatchFollows: a reader that, whenever its Watch says so, takes the
// current view of the pools named (all of them when it says all) ends
// with the views of the handlespace, whatever the interleaving with the
// writers (run with -race).
func TestWatchFollows(t *testing.T) {
	hs := New(Options{RegistrarID: 1})
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t)}); err != nil {
		t.Fatal(err)
	}
	w := hs.Watch()
	defer w.Close()
	seen := map[string]*PoolView{}
	look := func() {
		names, all := w.Changed()
		v := hs.View()
		if all {
			clear(seen)
			for _, z := range v.Zones() {
				for _, h := range z.PoolHandles() {
					seen[z.Pool(h).Name] = z.Pool(h)
				}
			}
			return
		}
		for _, n := range names {
			if pv := v.Pool(n); pv != nil {
				seen[n] = pv
			} else {
				delete(seen, n)
			}
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-w.C():
				look()
			}
		}
	}()
	rng := rand.New(rand.NewPCG(5, 7))
	for i := range 3000 {
		pool := fmt.Sprintf("p%d.z.test.", rng.IntN(20))
		e := rng.IntN(4)
		op := Op{Pool: pool, Elem: testElem(fmt.Sprintf("e%d", e), fmt.Sprintf("10.2.0.%d", e), 80)}
		if rng.IntN(3) == 0 {
			op = Op{Pool: pool, ID: ElementID(op.Elem.Addrs.At(0), 80)}
		}
		hs.Do(op) // a removal of a missing element fails: fine
		if i%1000 == 999 {
			if err := hs.ApplyZones([]ZoneDef{zoneDef(t)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	look()
	v := hs.View()
	n := 0
	for _, z := range v.Zones() {
		for _, h := range z.PoolHandles() {
			pv := z.Pool(h)
			n++
			if seen[pv.Name] != pv {
				t.Errorf("pool %s: the reader has %p, the handlespace %p", pv.Name, seen[pv.Name], pv)
			}
		}
	}
	if len(seen) != n {
		t.Errorf("the reader has %d pools, the handlespace %d", len(seen), n)
	}
}
