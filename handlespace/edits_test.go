package handlespace

import (
	"errors"
	"testing"
	"time"
)

func TestApplyEdits(t *testing.T) {
	hs := New(Options{RegistrarID: 1, Probing: true})
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t, poolDef("web", "wrr", testElem("s", "10.0.0.9", 80)))}); err != nil {
		t.Fatal(err)
	}
	gen := hs.View().Zone("z.test.").Pool("web").Gen
	exp := time.Unix(2000000000, 0)
	var edits []Edit
	for i := 0; i < 100; i++ {
		e := testElem("p"+IDString(uint32(i)), "10.1.0.1", uint16(1000+i))
		e.Home, e.Health, e.Expires = 7, HealthDown, ExpiryOf(exp)
		edits = append(edits, Edit{Pool: "WEB.z.test", Put: e, Policy: "wrr"})
	}
	nw := testElem("n1", "10.2.0.1", 80)
	nw.Home, nw.Health = 7, HealthUp
	edits = append(edits,
		Edit{Pool: "new.z.test.", Put: nw, Policy: "lud"},
		Edit{Pool: "web.z.test.", Put: testElem("x", "10.3.0.1", 80), Policy: "rr"},           // inconsistent policy
		Edit{Pool: "web.z.test.", Put: testElem("s", "10.3.0.2", 80)},                         // label of a zone-file element
		Edit{Pool: "web.z.test.", Delete: true, ID: 12345},                                    // not there
		Edit{Pool: "web.z.test.", Put: testElem(edits[1].Put.Label.String(), "10.3.0.4", 80)}, // label of another element
		Edit{Pool: "nozone.example.", Put: testElem("y", "10.3.0.3", 80)},                     // no zone
		Edit{Pool: "web.z.test.", ID: edits[0].Put.ID, Update: func(e *Element) { e.Weight = 99 }},
	)
	errs := hs.ApplyEdits(edits)
	for i := 0; i < 101; i++ {
		if errs[i] != nil {
			t.Fatalf("edit %d: %v", i, errs[i])
		}
	}
	for i, want := range []error{ErrInconsistentPolicy, ErrStaticElement, ErrNoElement, ErrLabelInUse, ErrNoZone, nil} {
		if !errors.Is(errs[101+i], want) {
			t.Errorf("edit %d: %v, want %v", 101+i, errs[101+i], want)
		}
	}
	pv := hs.View().Zone("z.test.").Pool("web")
	if pv.Gen != gen+1 {
		t.Errorf("100 edits of one pool made %d views, want 1", pv.Gen-gen)
	}
	if pv.Len() != 101 {
		t.Fatalf("%d elements, want 101", pv.Len())
	}
	e := pv.Element(edits[0].Put.ID)
	if e.Home != 7 || e.Health != HealthDown || !e.Expires.Time().Equal(exp) || e.Weight != 99 {
		t.Errorf("put element = %+v: home, health, lease or update lost", e)
	}
	if edits[0].Put.Weight == 99 {
		t.Error("Update modified the element that Put handed over")
	}
	np := hs.View().Zone("z.test.").Pool("new")
	if np == nil || np.Spec.Policy != "lud" || np.Element(nw.ID).Health != HealthUp {
		t.Fatalf("pool made by a put: %+v", np)
	}
	// Deleting the last element of a pool no zone file defines removes it.
	errs = hs.ApplyEdits([]Edit{{Pool: "new.z.test.", Delete: true, ID: nw.ID}})
	if errs[0] != nil || hs.View().Zone("z.test.").Pool("new") != nil {
		t.Errorf("delete: %v; pool %+v", errs[0], hs.View().Zone("z.test.").Pool("new"))
	}
}

func TestStaticHome(t *testing.T) {
	hs := New(Options{RegistrarID: 1})
	a, b := testElem("a", "10.0.0.1", 80), testElem("b", "10.0.0.2", 80)
	def := []ZoneDef{zoneDef(t, poolDef("web", "rr", a, b))}
	if err := hs.ApplyZones(def); err != nil {
		t.Fatal(err)
	}
	if e := hs.View().Zone("z.test.").Pool("web").Element(a.ID); e.Home != 1 {
		t.Errorf("without a StaticHomeFunc, home %d, want 1", e.Home)
	}
	hs.SetStaticHome(func(pool string, id uint32) uint32 {
		if pool != "web.z.test." {
			t.Errorf("pool %q", pool)
		}
		if id == a.ID {
			return 5
		}
		return 0 // this registrar
	})
	if err := hs.ApplyZones(def); err != nil {
		t.Fatal(err)
	}
	pv := hs.View().Zone("z.test.").Pool("web")
	if pv.Element(a.ID).Home != 5 || pv.Element(b.ID).Home != 1 {
		t.Errorf("homes %d, %d, want 5, 1", pv.Element(a.ID).Home, pv.Element(b.ID).Home)
	}
}

// TestApplyEditsIf: a conditional edit sees the element as the batch has
// it at that point (earlier edits included, nil when there is none) and
// fails with ErrConflict, changing nothing, when its condition does not
// hold.
func TestApplyEditsIf(t *testing.T) {
	hs := New(Options{RegistrarID: 1})
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t, poolDef("web", "wrr", testElem("s", "10.0.0.9", 80)))}); err != nil {
		t.Fatal(err)
	}
	e := testElem("p", "10.1.0.1", 80)
	e.Home = 7
	absent := func(cur *Element) bool { return cur == nil }
	homedAt := func(h uint32) func(*Element) bool {
		return func(cur *Element) bool { return cur != nil && cur.Home == h }
	}
	put := func(home uint32, w uint32) *Element {
		c := e.Clone()
		c.Home, c.Weight = home, w
		return c
	}
	var seen []*Element
	errs := hs.ApplyEdits([]Edit{
		{Pool: "web.z.test.", Put: put(7, 1), If: func(cur *Element) bool { seen = append(seen, cur); return cur == nil }},
		{Pool: "web.z.test.", Put: put(8, 2), If: absent},                                          // there now: conflict
		{Pool: "web.z.test.", ID: e.ID, Update: func(x *Element) { x.Weight = 3 }, If: homedAt(8)}, // conflict
		{Pool: "web.z.test.", ID: e.ID, Update: func(x *Element) { x.Weight = 4 }, If: homedAt(7)},
		{Pool: "web.z.test.", ID: e.ID, Delete: true, If: homedAt(8)}, // conflict
		{Pool: "nopool.z.test.", Put: put(7, 5), If: func(cur *Element) bool { seen = append(seen, cur); return false }},
	})
	for i, want := range []error{nil, ErrConflict, ErrConflict, nil, ErrConflict, ErrConflict} {
		if !errors.Is(errs[i], want) {
			t.Errorf("edit %d: %v, want %v", i, errs[i], want)
		}
	}
	if len(seen) != 2 || seen[0] != nil || seen[1] != nil {
		t.Errorf("If saw %v, want nil twice (no element yet, no pool)", seen)
	}
	pv := hs.View().Zone("z.test.").Pool("web")
	if got := pv.Element(e.ID); got == nil || got.Home != 7 || got.Weight != 4 {
		t.Errorf("element %+v, want home 7 weight 4", got)
	}
	if hs.View().Zone("z.test.").Pool("nopool") != nil {
		t.Error("a put that failed its condition made its pool")
	}
	errs = hs.ApplyEdits([]Edit{{Pool: "web.z.test.", ID: e.ID, Delete: true, If: homedAt(7)}})
	if errs[0] != nil || pv.Len() != 2 || hs.View().Zone("z.test.").Pool("web").Element(e.ID) != nil {
		t.Errorf("conditional delete: %v", errs[0])
	}
}
