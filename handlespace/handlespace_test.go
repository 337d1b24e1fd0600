package handlespace

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/internal/zonetext"
)

const apex = `z.test. 60 IN SOA ns.z.test. h.z.test. 1 60 60 60 10
z.test. 60 IN NS ns.z.test.
ns.z.test. 60 IN A 192.0.2.1
`

func testElem(label, addr string, port uint16) *Element {
	a := netip.MustParseAddr(addr)
	return &Element{ID: ElementID(a, port), Label: LabelOf(label), Addrs: AddrsOf(a), Port: port, Weight: 1}
}

func zoneDef(t testing.TB, pools ...PoolDef) ZoneDef {
	return ZoneDef{Origin: "z.test.", File: "z.zone", Records: zonetext.RRs(t, apex), Pools: pools}
}

func poolDef(handle, policy string, elems ...*Element) PoolDef {
	s := DefaultPoolSpec()
	s.Policy = policy
	return PoolDef{Handle: handle, Spec: s, Elements: elems, Line: 7}
}

func TestApplyZonesErrorsChangeNothing(t *testing.T) {
	hs := New(Options{})
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t, poolDef("web", "rr", testElem("a", "10.0.0.1", 80)))}); err != nil {
		t.Fatal(err)
	}
	before := hs.View()
	for _, c := range []struct {
		defs []ZoneDef
		want string
	}{
		{[]ZoneDef{zoneDef(t), zoneDef(t)}, "z.zone: zone z.test. is already defined in z.zone"},
		{[]ZoneDef{zoneDef(t, poolDef("web", "lru"))}, `z.zone:7: unknown policy "lru"`},
		{[]ZoneDef{zoneDef(t, poolDef("web", "rr"), poolDef("web", "rr"))}, "z.zone:7: pool web is defined twice"},
		{[]ZoneDef{zoneDef(t, poolDef("ns", "rr"))}, "z.zone:7: pool ns: the name ns.z.test. also has static records"},
		{[]ZoneDef{zoneDef(t, poolDef("web", "rr", testElem("a", "10.0.0.1", 80), testElem("a", "10.0.0.2", 80)))}, "element name a is used twice"},
		{[]ZoneDef{{Origin: "y.test.", File: "y.zone", Records: zonetext.RRs(t, "y.test. 60 IN NS ns.y.test.")}}, "y.zone: zone y.test. has no SOA record"},
		{[]ZoneDef{{Origin: "y.test.", File: "y.zone", Records: zonetext.RRs(t, apex)}}, "y.zone: record z.test. is outside zone y.test."},
	} {
		err := hs.ApplyZones(c.defs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ApplyZones: error %v, want %q", err, c.want)
		}
		if hs.View() != before || hs.View().Zone("z.test.").Pool("web").Gen != 0 {
			t.Errorf("a failed ApplyZones (%q) changed the view", c.want)
		}
	}
}

// TestReloadKeepsState: elements defined again keep their health and load,
// registered elements stay, the pool's round-robin sequence carries on, and
// a pool the file drops lives on while it has registered elements.
func TestReloadKeepsState(t *testing.T) {
	hs := New(Options{RegistrarID: 9, Probing: true})
	a, b := testElem("a", "10.0.0.1", 80), testElem("b", "10.0.0.2", 80)
	probed := poolDef("web", "rr", a, b)
	probed.Spec.Probe = ProbeSpec{Kind: "tcp", Interval: time.Second, Timeout: time.Second / 2, Rise: 2, Fall: 2}
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t, probed, poolDef("gone", "rr", testElem("g", "10.0.9.1", 80)))}); err != nil {
		t.Fatal(err)
	}
	pv := hs.View().Zone("z.test.").Pool("web")
	if pv.Elements()[0].Health != HealthUnknown || pv.All.Len() != 0 {
		t.Fatalf("probed elements must start unknown and unserved: %v, %d served", pv.Elements()[0].Health, pv.All.Len())
	}
	if err := hs.Update("web.z.test.", a.ID, func(e *Element) { e.Health = HealthUp }); err != nil {
		t.Fatal(err)
	}
	load := uint32(1234)
	if err := hs.Update("web.z.test.", a.ID, func(e *Element) { e.Load = load }); err != nil {
		t.Fatal(err)
	}
	dyn := testElem("d", "10.0.0.9", 80)
	if err := hs.Do(Op{Pool: "web.z.test.", Elem: dyn}); err != nil {
		t.Fatal(err)
	}
	if err := hs.Do(Op{Pool: "gone.z.test.", Elem: testElem("r", "10.0.9.2", 80)}); err != nil {
		t.Fatal(err)
	}
	// Reload with the same pool (b removed, c added) and without "gone".
	cc := testElem("c", "10.0.0.3", 80)
	probed.Elements = []*Element{a, cc}
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t, probed)}); err != nil {
		t.Fatal(err)
	}
	z := hs.View().Zone("z.test.")
	pv = z.Pool("web")
	if got := pv.Element(a.ID); got == nil || got.Health != HealthUp || got.Load != load {
		t.Errorf("element a after reload: %+v, want up with load %d", got, load)
	}
	if pv.Element(b.ID) != nil || pv.Element(cc.ID) == nil || pv.Element(cc.ID).Health != HealthUnknown {
		t.Errorf("after reload: b present %v, c %+v", pv.Element(b.ID) != nil, pv.Element(cc.ID))
	}
	if got := pv.Element(dyn.ID); got == nil || got.Static || got.Home != 9 {
		t.Errorf("registered element after reload: %+v", got)
	}
	// served now: a (up) and d (registered into a probed pool: unknown until probed).
	if pv.All.Len() != 1 {
		t.Fatalf("served %d, want 1", pv.All.Len())
	}
	gone := z.Pool("gone")
	if gone == nil || gone.Static || gone.Len() != 1 || gone.Elements()[0].Label.String() != "r" {
		t.Fatalf("dropped pool with a registered element: %+v", gone)
	}
}

func TestRegisterDeregister(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hs := New(Options{RegistrarID: 5, Now: func() time.Time { return now }})
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t, poolDef("web", "rr", testElem("a", "10.0.0.1", 80)), poolDef("empty", "rr"))}); err != nil {
		t.Fatal(err)
	}
	e := testElem("x", "10.0.1.1", 80)
	e.Expires = ExpiryOf(now.Add(time.Minute))
	if err := hs.Do(Op{Pool: "new.z.test.", Elem: e, Policy: "lu"}); err != nil {
		t.Fatal(err)
	}
	pv := hs.View().Zone("z.test.").Pool("new")
	if pv == nil || pv.Spec.Policy != "lu" || pv.Static || pv.All.Len() != 1 || pv.Elements()[0].Home != 5 {
		t.Fatalf("pool created by a registration: %+v", pv)
	}
	for _, c := range []struct {
		pool   string
		e      *Element
		policy string
		want   error
	}{
		{"new.z.test.", testElem("y", "10.0.1.2", 80), "rr", ErrInconsistentPolicy},
		{"web.z.test.", testElem("y", "10.0.1.2", 80), "lu", ErrInconsistentPolicy},
		{"new.z.test.", testElem("x", "10.0.1.3", 80), "", ErrLabelInUse},
		{"a.b.z.test.", testElem("y", "10.0.1.2", 80), "", ErrNoZone},
		{"web.other.test.", testElem("y", "10.0.1.2", 80), "", ErrNoZone},
		{"ns.z.test.", testElem("y", "10.0.1.2", 80), "", ErrNameTaken},
		{"new.z.test.", &Element{ID: 1, Label: LabelOf("q"), Port: 80}, "", ErrBadElement},
	} {
		if err := hs.Do(Op{Pool: c.pool, Elem: c.e, Policy: c.policy}); !errors.Is(err, c.want) {
			t.Errorf("registration of %s in %s, policy %q: %v, want %v", c.e.Label.String(), c.pool, c.policy, err, c.want)
		}
	}
	// Same ID again: an update, not a second element.
	e2 := testElem("x", "10.0.1.1", 80)
	e2.Weight = 7
	if err := hs.Do(Op{Pool: "NEW.z.test", Elem: e2}); err != nil {
		t.Fatal(err)
	}
	pv = hs.View().Zone("z.test.").Pool("new")
	if pv.Len() != 1 || pv.Elements()[0].Weight != 7 {
		t.Fatalf("re-registration: %d elements, weight %d", pv.Len(), pv.Elements()[0].Weight)
	}
	// Expiry: the element goes, and with it the pool no file defines.
	expire := func(at time.Time) error { return hs.Do(Op{Pool: "new.z.test.", ID: e.ID, ExpiredBy: at}) }
	if err := expire(now.Add(30 * time.Second)); !errors.Is(err, ErrNoElement) {
		t.Fatalf("expiry before the lease's end: %v, want ErrNoElement", err)
	}
	if err := hs.Update("new.z.test.", e.ID, func(e *Element) { e.Expires = ExpiryOf(now.Add(2 * time.Minute)) }); err != nil {
		t.Fatal(err)
	}
	if err := expire(now.Add(90 * time.Second)); !errors.Is(err, ErrNoElement) {
		t.Fatalf("expiry despite the refresh: %v, want ErrNoElement", err)
	}
	if err := expire(now.Add(2 * time.Minute)); err != nil {
		t.Fatalf("expiry at the lease's end: %v", err)
	}
	if hs.View().Zone("z.test.").Pool("new") != nil {
		t.Error("pool with no element left, defined by no file, still exists")
	}
	// A pool a zone file defines stays when its last element goes.
	d := testElem("d", "10.0.2.1", 80)
	if err := hs.Do(Op{Pool: "empty.z.test.", Elem: d}); err != nil {
		t.Fatal(err)
	}
	if err := hs.Do(Op{Pool: "empty.z.test.", ID: d.ID}); err != nil {
		t.Fatal(err)
	}
	if pv := hs.View().Zone("z.test.").Pool("empty"); pv == nil || pv.Len() != 0 {
		t.Errorf("zone-file pool after its last element left: %+v", pv)
	}
	if err := hs.Do(Op{Pool: "web.z.test.", ID: 42}); !errors.Is(err, ErrNoElement) {
		t.Errorf("deregistering a missing element: %v", err)
	}
	// A zone file's element changes only with its file.
	web := hs.View().Zone("z.test.").Pool("web")
	if err := hs.Do(Op{Pool: "web.z.test.", ID: web.Elements()[0].ID}); !errors.Is(err, ErrStaticElement) {
		t.Errorf("deregistering a zone file's element: %v, want ErrStaticElement", err)
	}
}

// TestViewsAreImmutable: what a reader holds never changes; a change to one
// pool publishes a new view of that pool only.
func TestViewsAreImmutable(t *testing.T) {
	hs := New(Options{})
	a := testElem("a", "10.0.0.1", 80)
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t, poolDef("web", "rr", a), poolDef("api", "rr", testElem("b", "10.0.0.2", 80)))}); err != nil {
		t.Fatal(err)
	}
	v0 := hs.View()
	z := v0.Zone("z.test.")
	web, api := z.Pool("web"), z.Pool("api")
	snapshot := fmt.Sprintf("%+v", *web.Elements()[0])
	if err := hs.Update("web.z.test.", a.ID, func(e *Element) { e.Weight = 99 }); err != nil {
		t.Fatal(err)
	}
	if err := hs.Update("web.z.test.", a.ID, func(e *Element) { e.Health = HealthDown }); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%+v", *web.Elements()[0]); got != snapshot || web.All.Len() != 1 {
		t.Errorf("a reader's element changed under it:\n%s\n%s", snapshot, got)
	}
	if hs.View() != v0 || hs.View().Zone("z.test.") != z {
		t.Error("an element change replaced the zone (should publish only the pool's view)")
	}
	if z.Pool("api") != api {
		t.Error("a change of pool web replaced pool api's view")
	}
	if nw := z.Pool("web"); nw == web || nw.Elements()[0].Weight != 99 || nw.Gen != web.Gen+2 {
		t.Errorf("new view of web: %+v", nw)
	}
}

// TestConcurrentReadersAndWriters runs selections while writers flap health,
// register and deregister; with -race it checks that readers never see a
// torn view and that no lock is shared.
func TestConcurrentReadersAndWriters(t *testing.T) {
	hs := New(Options{})
	var elems []*Element
	for i := 0; i < 8; i++ {
		elems = append(elems, testElem(fmt.Sprintf("e%d", i), fmt.Sprintf("10.0.0.%d", i+1), 80))
	}
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t, poolDef("web", "rr", elems...))}); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var selections atomic.Int64
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var idx []Pick
			var c Client
			for i := 0; i < 20000 && !stop.Load(); i++ {
				pv := hs.View().Zone("z.test.").Pool("web")
				idx = pv.All.Select(idx, 3, &c)
				for _, p := range idx {
					e := p.Elem()
					if e.Health != HealthUp {
						t.Errorf("selected an element that is %v", e.Health)
						return
					}
				}
				selections.Add(1)
			}
		}()
	}
	for i := 0; i < 2000; i++ {
		e := elems[i%len(elems)]
		h := HealthDown
		if i%2 == 1 {
			h = HealthUp
		}
		if err := hs.Update("web.z.test.", e.ID, func(e *Element) { e.Health = h }); err != nil {
			t.Fatal(err)
		}
		x := testElem("x", "10.0.1.1", 80)
		if err := hs.Do(Op{Pool: "web.z.test.", Elem: x}); err != nil {
			t.Fatal(err)
		}
		if err := hs.Do(Op{Pool: "web.z.test.", ID: x.ID}); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if selections.Load() == 0 {
		t.Fatal("no selection ran")
	}
}

func TestFindZone(t *testing.T) {
	hs := New(Options{})
	sub := ZoneDef{Origin: "sub.z.test.", File: "s", Records: zonetext.RRs(t, `sub.z.test. 60 IN SOA ns.z.test. h.z.test. 1 60 60 60 10
sub.z.test. 60 IN NS ns.z.test.`)}
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t), sub}); err != nil {
		t.Fatal(err)
	}
	v := hs.View()
	for name, want := range map[string]string{
		"z.test.": "z.test.", "a.z.test.": "z.test.", "a.b.c.z.test.": "z.test.",
		"sub.z.test.": "sub.z.test.", "x.sub.z.test.": "sub.z.test.", "test.": "", "other.": "", ".": "",
		"a\\.b.z.test.": "z.test.",
	} {
		got := ""
		if z := v.FindZone(name); z != nil {
			got = z.Origin
		}
		if got != want {
			t.Errorf("FindZone(%q) = %q, want %q", name, got, want)
		}
	}
}
