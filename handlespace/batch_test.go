package handlespace

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/internal/testrand"
)

func dyn(id uint32, label, addr string) *Element {
	return &Element{ID: id, Label: LabelOf(label), Addrs: AddrsOf(netip.MustParseAddr(addr)), Port: 80, Weight: 1}
}

func labelsOf(pv *PoolView) []string {
	if pv == nil {
		return nil
	}
	var out []string
	for _, e := range pv.Elements() {
		out = append(out, fmt.Sprintf("%s=%d", e.Label.String(), e.ID))
	}
	return out
}

func TestApplyGroups(t *testing.T) {
	hs := New(Options{RegistrarID: 3})
	static := testElem("s", "10.0.0.1", 80)
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t, poolDef("web", "rr", static))}); err != nil {
		t.Fatal(err)
	}
	gen := hs.View().Zone("z.test.").Pool("web").Gen
	groups := [][]Op{
		{{Pool: "web.z.test.", Elem: dyn(10, "a", "10.0.1.1")}, {Pool: "web.z.test.", Elem: dyn(11, "b", "10.0.1.2")}},
		// Fails at its second operation: its first is undone.
		{{Pool: "web.z.test.", Elem: dyn(12, "c", "10.0.1.3")}, {Pool: "web.z.test.", Elem: dyn(13, "a", "10.0.1.4")}},
		{{Pool: "web.z.test.", ID: 11}},                                                          // sees group 0's b
		{{Pool: "web.z.test.", Elem: dyn(static.ID, "s", "10.0.9.9")}},                           // a zone file's element
		{{Pool: "web.z.test.", Elem: dyn(10, "renamed", "10.0.1.1")}},                            // another label, same ID
		{{Pool: "new.z.test.", Elem: dyn(20, "n", "10.0.2.1"), Policy: "lu"}},                    // creates a pool
		{{Pool: "gone.z.test.", Elem: dyn(30, "g", "10.0.3.1")}, {Pool: "gone.z.test.", ID: 99}}, // creates, then fails: no pool
		{{Pool: "x.y.z.test.", Elem: dyn(40, "x", "10.0.4.1")}},
	}
	var committed []bool
	errs := hs.Apply(groups, func(ok []bool) error { committed = slices.Clone(ok); return nil })
	want := []error{nil, ErrLabelInUse, nil, ErrStaticElement, ErrIDInUse, nil, ErrNoElement, ErrNoZone}
	for i, w := range want {
		if (w == nil) != (errs[i] == nil) || (w != nil && !errors.Is(errs[i], w)) {
			t.Errorf("group %d: %v, want %v", i, errs[i], w)
		}
	}
	if !slices.Equal(committed, []bool{true, false, true, false, false, true, false, false}) {
		t.Errorf("commit saw %v", committed)
	}
	z := hs.View().Zone("z.test.")
	web := z.Pool("web")
	if got, w := labelsOf(web), []string{"a=10", fmt.Sprintf("s=%d", static.ID)}; !slices.Equal(got, w) {
		t.Errorf("web = %v, want %v", got, w)
	}
	if web.Gen != gen+1 {
		t.Errorf("web went from generation %d to %d: a batch publishes one view per pool", gen, web.Gen)
	}
	if web.Label("a") == nil || web.Label("b") != nil || web.Label("c") != nil || web.Element(10).Home != 3 {
		t.Errorf("web labels: a %v b %v c %v", web.Label("a"), web.Label("b"), web.Label("c"))
	}
	if nw := z.Pool("new"); nw == nil || nw.Spec.Policy != "lu" || nw.Len() != 1 {
		t.Errorf("new pool %+v", nw)
	}
	if z.Pool("gone") != nil {
		t.Error("the pool of a failed group exists")
	}
}

func TestApplyCommitFailure(t *testing.T) {
	hs := New(Options{})
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t, poolDef("web", "rr"))}); err != nil {
		t.Fatal(err)
	}
	before := hs.View()
	errs := hs.Apply([][]Op{{{Pool: "web.z.test.", Elem: dyn(1, "a", "10.0.0.1")}}, {{Pool: "new.z.test.", Elem: dyn(2, "b", "10.0.0.2")}}},
		func([]bool) error { return errors.New("disk full") })
	for i, err := range errs {
		if !errors.Is(err, ErrCommit) {
			t.Errorf("group %d: %v, want ErrCommit", i, err)
		}
	}
	if hs.View() != before || hs.View().Zone("z.test.").Pool("web").Len() != 0 {
		t.Error("a batch whose commit failed was published")
	}
}

func TestApplyExpiredBy(t *testing.T) {
	hs := New(Options{})
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t)}); err != nil {
		t.Fatal(err)
	}
	e := dyn(1, "a", "10.0.0.1")
	e.Expires = ExpiryOf(time.Unix(1000, 0))
	if errs := hs.Apply([][]Op{{{Pool: "p.z.test.", Elem: e}}}, nil); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if errs := hs.Apply([][]Op{{{Pool: "p.z.test.", ID: 1, ExpiredBy: time.Unix(999, 0)}}}, nil); !errors.Is(errs[0], ErrNoElement) {
		t.Errorf("expiry before the lease's end: %v", errs[0])
	}
	if errs := hs.Apply([][]Op{{{Pool: "p.z.test.", ID: 1, ExpiredBy: time.Unix(1000, 0)}}}, nil); errs[0] != nil {
		t.Errorf("expiry at the lease's end: %v", errs[0])
	}
	if hs.View().Zone("z.test.").Pool("p") != nil {
		t.Error("the pool of the expired element is still there")
	}
}

// TestApplyMatchesOneByOne: many random batches give the same pool as the
// same operations one at a time (Do).
func TestApplyMatchesOneByOne(t *testing.T) {
	a, b := New(Options{}), New(Options{})
	for _, hs := range []*Handlespace{a, b} {
		if err := hs.ApplyZones([]ZoneDef{zoneDef(t, poolDef("web", "rr"))}); err != nil {
			t.Fatal(err)
		}
	}
	r := testrand.New(7)
	for round := 0; round < 200; round++ {
		var groups [][]Op
		for g := 0; g < 1+int(r.Uint64()%8); g++ {
			id := uint32(1 + r.Uint64()%40)
			// Labels of every length around the 8-byte label keys, with
			// shared prefixes.
			label := []string{"e", "ab", "abcdefg", "abcdefgh", "abcdefghi", "abcdefghij", "abcdefgz"}[id%7] + fmt.Sprint(id/7)
			if r.Uint64()%3 == 0 {
				groups = append(groups, []Op{{Pool: "web.z.test.", ID: id}})
			} else {
				groups = append(groups, []Op{{Pool: "web.z.test.", Elem: dyn(id, label, fmt.Sprintf("10.0.%d.%d", round, g))}})
			}
		}
		errs := a.Apply(groups, nil)
		for i, g := range groups {
			op := g[0]
			if op.Elem != nil {
				op.Elem = op.Elem.Clone()
			}
			err := b.Do(op)
			if (err == nil) != (errs[i] == nil) {
				t.Fatalf("round %d group %d: Apply %v, one at a time %v", round, i, errs[i], err)
			}
		}
		pa, pb := a.View().Zone("z.test.").Pool("web"), b.View().Zone("z.test.").Pool("web")
		if !slices.Equal(labelsOf(pa), labelsOf(pb)) || pa.All.Len() != pb.All.Len() {
			t.Fatalf("round %d: batched %v, one at a time %v", round, labelsOf(pa), labelsOf(pb))
		}
		checkLabelIndex(t, pa)
		checkLabelIndex(t, pb)
		for _, e := range pa.Elements() {
			if pb.Label(e.Label.String()) == nil || pb.Label(e.Label.String()).ID != e.ID || pa.Label(e.Label.String()) != e {
				t.Fatalf("round %d: Label(%s) differs", round, e.Label.String())
			}
		}
	}
}

// checkLabelIndex checks a view's invariants: the element tree holds the
// elements sorted by ID, the label index holds each by its label and no
// other key, the counts are the elements' and the served sets hold what
// they should.
func checkLabelIndex(t *testing.T, pv *PoolView) {
	t.Helper()
	checkView(t, pv, 0)
}

// TestCloneCopiesEverything: Clone copies every exported field (set here to
// non-zero values by reflection), so that a field added to Element is not
// silently dropped by writers.
func TestCloneCopiesEverything(t *testing.T) {
	e := &Element{}
	v := reflect.ValueOf(e).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if !v.Type().Field(i).IsExported() {
			continue
		}
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			f.SetUint(1)
		case reflect.Int64:
			f.SetInt(1)
		case reflect.Slice:
			if f.Type() == reflect.TypeFor[[]netip.Addr]() {
				f.Set(reflect.ValueOf([]netip.Addr{netip.MustParseAddr("192.0.2.1")}))
			} else {
				f.Set(reflect.MakeSlice(f.Type(), 1, 1))
			}
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		case reflect.Struct:
			switch f.Type() {
			case reflect.TypeFor[time.Time]():
				f.Set(reflect.ValueOf(time.Unix(1, 0)))
			case reflect.TypeFor[Label]():
				f.Set(reflect.ValueOf(LabelOf("x")))
			}
		default:
			t.Fatalf("field %s of kind %s: extend this test", v.Type().Field(i).Name, f.Kind())
		}
	}
	c := e.Clone()
	cv := reflect.ValueOf(c).Elem()
	for i := 0; i < v.NumField(); i++ {
		if !v.Type().Field(i).IsExported() {
			continue
		}
		if !reflect.DeepEqual(v.Field(i).Interface(), cv.Field(i).Interface()) {
			t.Errorf("Clone drops field %s", v.Type().Field(i).Name)
		}
	}
}

// TestLabelIndex: Label finds every label, long or short, sharing prefixes
// or not, and no other, as a naive search does.
func TestLabelIndex(t *testing.T) {
	var elems []*Element
	labels := []string{"a", "ab", "abc", "abcdefg", "abcdefgh", "abcdefgha", "abcdefghb", "abcdefghij", "abcdefgi", "b", "zzzzzzzzzzzzzz", "_x", "0"}
	for i, l := range labels {
		elems = append(elems, dyn(uint32(i+1), l, "10.0.0.1"))
	}
	pol, _ := NewPolicy("rr", nil)
	pv := buildPoolView("p.z.test.", "p", "z.test.", DefaultPoolSpec(), false, elems, nil, pol, 0)
	checkLabelIndex(t, pv)
	for _, l := range append(slices.Clone(labels), "", "abcd", "abcdefghi", "abcdefgh0", "c", "abcdefg\x00") {
		var want *Element
		for _, e := range elems {
			if e.Label.String() == l {
				want = e
			}
		}
		if got := pv.Label(l); got != want {
			t.Errorf("Label(%q) = %v, want %v", l, got, want)
		}
	}
}

// TestQuickBatchRollback applies random batches of groups of several
// operations on few identifiers and labels, so that groups touch the same
// elements again and fail half way (their earlier operations undone),
// and compares each new view with a model applying the groups all or
// nothing: the elements, the label index, the served sets' sizes.
func TestQuickBatchRollback(t *testing.T) {
	r := rand.New(rand.NewPCG(polSeed(t), 11))
	for _, policy := range []string{"rr", "wrr", "lu"} {
		spec := DefaultPoolSpec()
		spec.Policy = policy
		hs := New(Options{RegistrarID: 1, DefaultSpec: spec})
		if err := hs.ApplyZones([]ZoneDef{zoneDef(t)}); err != nil {
			t.Fatal(err)
		}
		model := map[uint32]string{} // ID → label
		const pool = "web.z.test."
		for round := range 300 {
			var groups [][]Op
			for range 1 + r.IntN(12) {
				var g []Op
				for range 1 + r.IntN(4) {
					id := uint32(1 + r.IntN(40))
					if r.IntN(3) == 0 {
						g = append(g, Op{Pool: pool, ID: id})
					} else {
						e := dyn(id, fmt.Sprintf("l%d", r.IntN(45)), "10.0.0.1")
						e.Weight = uint32(r.IntN(3))
						g = append(g, Op{Pool: pool, Elem: e})
					}
				}
				groups = append(groups, g)
			}
			// The model: each group on a copy, kept if every operation
			// succeeds.
			want := make([]bool, len(groups))
			for gi, g := range groups {
				m := maps.Clone(model)
				ok := true
				for _, op := range g {
					if op.Elem == nil {
						if _, had := m[op.ID]; !had {
							ok = false
							break
						}
						delete(m, op.ID)
						continue
					}
					if l, had := m[op.Elem.ID]; had && l != op.Elem.Label.String() {
						ok = false // ErrIDInUse
						break
					}
					for id, l := range m {
						if l == op.Elem.Label.String() && id != op.Elem.ID {
							ok = false // ErrLabelInUse
						}
					}
					if !ok {
						break
					}
					m[op.Elem.ID] = op.Elem.Label.String()
				}
				if want[gi] = ok; ok {
					model = m
				}
			}
			errs := hs.Apply(groups, nil)
			for gi, err := range errs {
				if (err == nil) != want[gi] {
					t.Fatalf("%s round %d group %d: %v, model says ok %v", policy, round, gi, err, want[gi])
				}
			}
			pv := hs.View().Zone("z.test.").Pool("web")
			if len(model) == 0 {
				if pv != nil {
					t.Fatalf("%s round %d: pool of %d elements, model empty", policy, round, pv.Len())
				}
				continue
			}
			if pv == nil || pv.Len() != len(model) {
				t.Fatalf("%s round %d: view %v, model has %d elements", policy, round, pv != nil, len(model))
			}
			var lkeys []uint64
			for id, l := range model {
				lkeys = append(lkeys, labelKey(l, id))
			}
			if !labelIndexHolds(pv, lkeys) {
				t.Fatalf("%s round %d: the label index holds other keys than the model's %d", policy, round, len(model))
			}
			served := 0
			for id, l := range model {
				e := pv.Element(id)
				if e == nil || e.Label.String() != l || pv.Label(l) != e || !hasLabelKey(pv, labelKey(l, id)) {
					t.Fatalf("%s round %d: element %d (%q) is %v", policy, round, id, l, e)
				}
				if e.Served() {
					served++
				}
			}
			if pv.All.Len() != served {
				t.Fatalf("%s round %d: served set of %d, want %d", policy, round, pv.All.Len(), served)
			}
		}
	}
}

// TestDisputed: a disputed element is served whatever the verdict of its
// confirmation, and goes last at the registrars that saw it down (or, not
// asked, when the verdict is down); an agreed one is served by its health
// alone.
func TestDisputed(t *testing.T) {
	split := []Vantage{{1, HealthUp}, {2, HealthDown}}
	for _, c := range []struct {
		health  Health
		vantage []Vantage
		admin   Admin
		served  bool
		last    [3]bool // at registrars 1, 2 and 3 (3 not asked)
	}{
		{HealthUp, nil, AdminAuto, true, [3]bool{}},
		{HealthDown, nil, AdminAuto, false, [3]bool{}},
		{HealthUp, split, AdminAuto, true, [3]bool{false, true, false}},
		{HealthDown, split, AdminAuto, true, [3]bool{false, true, true}},
		{HealthDown, split, AdminDrain, false, [3]bool{false, true, true}},
		{HealthUp, []Vantage{{1, HealthDown}, {2, HealthDown}, {3, HealthUp}}, AdminAuto, true, [3]bool{true, true, false}},
	} {
		e := &Element{ID: 1, Health: c.health, Vantage: VantagesOf(c.vantage), Admin: c.admin}
		if e.Served() != c.served || e.Disputed() != (c.vantage != nil) {
			t.Errorf("%v %v %v: served %v disputed %v, want %v", c.health, c.vantage, c.admin, e.Served(), e.Disputed(), c.served)
		}
		for i, want := range c.last {
			if got := LastAt(e, uint32(i+1)); got != want {
				t.Errorf("%v %v: last at %d = %v, want %v", c.health, c.vantage, i+1, got, want)
			}
		}
	}
	// In a pool: the disputed element that goes last here is answered
	// after the others, and not at all when the others fill the answer.
	hs := New(Options{RegistrarID: 2, DefaultSpec: DefaultPoolSpec()})
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t)}); err != nil {
		t.Fatal(err)
	}
	for i := uint32(1); i <= 4; i++ {
		e := dyn(i, fmt.Sprintf("e%d", i), fmt.Sprintf("10.0.0.%d", i))
		if i == 1 {
			e.Health, e.Vantage = HealthDown, VantagesOf(split)
			e.Last = LastAt(e, 2)
		}
		if err := hs.Do(Op{Pool: "web.z.test.", Elem: e, Policy: "rr"}); err != nil {
			t.Fatal(err)
		}
	}
	pv := hs.View().Pool("web.z.test.")
	for q := 0; q < 8; q++ {
		all := pv.V4.Select(nil, 0, nil)
		if len(all) != 4 || all[3].Elem().ID != 1 {
			t.Fatalf("query %d: full answer %v, want 4 elements, element 1 last", q, picked(all))
		}
		if three := pv.V4.Select(nil, 3, nil); len(three) != 3 || slices.Contains(picked(three), 1) {
			t.Fatalf("query %d: answer of 3 %v, want three without element 1", q, picked(three))
		}
	}
}

func picked(ps []Pick) []uint32 {
	var out []uint32
	for _, p := range ps {
		out = append(out, p.Elem().ID)
	}
	return out
}
