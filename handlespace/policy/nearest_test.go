package handlespace

import (
	"net/netip"
	"testing"
	"time"
)

func TestNearest(t *testing.T) {
	p := mustPolicy(t, "nearest", nil)
	elems := polElems(5, nil)
	for i, rtt := range []time.Duration{3 * time.Millisecond, 0, 1 * time.Millisecond, 1*time.Millisecond + 20*time.Microsecond, 7 * time.Millisecond} {
		elems[i].RTT = rtt
	}
	sel := build(p, elems, nil)
	// 2 and 3 are equally near (same 100 µs unit): they take turns first;
	// then 0 (3 ms), 4 (7 ms), and 1 (unknown) last.
	want := [][]int32{{2, 3, 0, 4, 1}, {3, 2, 0, 4, 1}, {2, 3, 0, 4, 1}}
	for q, w := range want {
		got := sel.Select(nil, 0, nil)
		for i := range w {
			if got[i] != w[i] {
				t.Fatalf("query %d: order %v, want %v", q, got, w)
			}
		}
	}
	if got := sel.Select(nil, 1, nil); len(got) != 1 || (got[0] != 2 && got[0] != 3) {
		t.Errorf("k=1: %v", got)
	}
}

// TestNearestLocalRTT: an element's own RTT at this registrar (LocalRTT)
// orders it where it is known, else the home's RTT; a peer's new version
// of the element (a Put) keeps the LocalRTT while its address stays, a
// reload of a zone file keeps it, and an Update or a registration of the
// same address too.
func TestNearestLocalRTT(t *testing.T) {
	p := mustPolicy(t, "nearest", nil)
	elems := polElems(3, nil)
	// The home measured 1, 2, 3 ms; this registrar 9 ms, nothing, 4 ms.
	for i, rtt := range []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond} {
		elems[i].RTT = rtt
	}
	elems[0].LocalRTT, elems[2].LocalRTT = 9*time.Millisecond, 4*time.Millisecond
	if got := build(p, elems, nil).Select(nil, 0, nil); len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 0 {
		t.Errorf("order %v, want [1 2 0]: 1 by the home's 2 ms, 2 by its own 4 ms, 0 by its own 9 ms", got)
	}
	for _, tt := range []struct {
		e    Element
		want time.Duration
	}{
		{Element{}, 0},
		{Element{RTT: time.Millisecond}, time.Millisecond},
		{Element{RTT: time.Millisecond, LocalRTT: 5 * time.Millisecond}, 5 * time.Millisecond},
		{Element{LocalRTT: 5 * time.Millisecond}, 5 * time.Millisecond},
	} {
		if got := NearestRTT(&tt.e); got != tt.want {
			t.Errorf("NearestRTT(RTT %v, LocalRTT %v) = %v, want %v", tt.e.RTT, tt.e.LocalRTT, got, tt.want)
		}
	}

	hs := New(Options{RegistrarID: 1, Probing: true})
	z := testElem("z", "10.0.0.9", 80)
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t, poolDef("near", "nearest", z))}); err != nil {
		t.Fatal(err)
	}
	pool := "near.z.test."
	peer := testElem("p", "10.1.0.1", 80)
	peer.Home, peer.Health, peer.RTT = 7, HealthUp, 3*time.Millisecond
	if errs := hs.ApplyEdits([]Edit{{Pool: pool, Put: peer}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	local := 8 * time.Millisecond
	for _, id := range []uint32{z.ID, peer.ID} {
		if err := hs.Update(pool, id, func(e *Element) { e.LocalRTT = local }); err != nil {
			t.Fatal(err)
		}
	}
	localOf := func(id uint32) time.Duration { return hs.View().Pool(pool).Element(id).LocalRTT }
	// The peer's next version (its home's new RTT): this registrar's own
	// stays, and the handed-over element is not modified.
	next := peer.Clone()
	next.RTT = 4 * time.Millisecond
	if errs := hs.ApplyEdits([]Edit{{Pool: pool, Put: next}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if got := localOf(peer.ID); got != local || hs.View().Pool(pool).Element(peer.ID).RTT != 4*time.Millisecond || next.LocalRTT != 0 {
		t.Errorf("after a peer's put: LocalRTT %v, element %+v", got, hs.View().Pool(pool).Element(peer.ID))
	}
	if err := hs.Update(pool, peer.ID, func(e *Element) { e.Weight = 5 }); err != nil || localOf(peer.ID) != local {
		t.Errorf("after an update: LocalRTT %v, %v", localOf(peer.ID), err)
	}
	if err := hs.ApplyZones([]ZoneDef{zoneDef(t, poolDef("near", "nearest", z))}); err != nil || localOf(z.ID) != local {
		t.Errorf("zone-file element after a reload: LocalRTT %v, %v", localOf(z.ID), err)
	}
	// A new address is another place: its distance is not known.
	moved := next.Clone()
	moved.LocalRTT = 0
	moved.Addrs = []netip.Addr{netip.MustParseAddr("10.1.0.2")}
	if errs := hs.ApplyEdits([]Edit{{Pool: pool, Put: moved}}); errs[0] != nil || localOf(peer.ID) != 0 {
		t.Errorf("after a put with another address: LocalRTT %v, %v", localOf(peer.ID), errs[0])
	}
}
