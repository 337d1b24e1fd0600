package table

import (
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

func elem(id, home uint32, expires time.Time) *handlespace.Element {
	return &handlespace.Element{ID: id, Home: home, Expires: handlespace.ExpiryOf(expires)}
}

// TestClaimFollowsChanges: after puts, a replacement that moves an
// element to another home and a deletion, each home's claim is what a
// table built from the final entries alone says, and SumWith with
// nothing added or taken is its checksum.
func TestClaimFollowsChanges(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	now := func() time.Time { return t0 }
	tab := New(now)
	tab.Put(NewEntry("a.example.", "rr", elem(1, 10, t0.Add(time.Hour)), 0))
	tab.Put(NewEntry("a.example.", "rr", elem(2, 10, t0.Add(time.Hour)), 0))
	tab.Put(NewEntry("b.example.", "rr", elem(3, 20, t0.Add(time.Hour)), 0))
	tab.Put(NewEntry("a.example.", "rr", elem(2, 20, t0.Add(time.Hour)), 1)) // moved to 20
	if old := tab.Del(Key{Pool: "b.example.", ID: 3}); old == nil || old.Home() != 20 {
		t.Fatalf("Del returned %v, want the entry of home 20", old)
	}
	want := New(now)
	want.Put(NewEntry("a.example.", "rr", elem(1, 10, t0.Add(time.Hour)), 0))
	want.Put(NewEntry("a.example.", "rr", elem(2, 20, t0.Add(time.Hour)), 1))
	for _, home := range []uint32{10, 20, 30} {
		gs, gd := tab.Claim(home)
		ws, wd := want.Claim(home)
		if gs != ws || gd != wd {
			t.Errorf("home %d: claim %04x %+v, want %04x %+v", home, gs, gd, ws, wd)
		}
		if s := tab.SumWith(home, nil, nil); s != gs {
			t.Errorf("home %d: SumWith %04x, claim %04x", home, s, gs)
		}
	}
	if s, d := tab.Claim(30); s != (wire.SumAcc{}).Checksum() || d != (wire.Digest{}) {
		t.Errorf("a home without elements claims %04x %+v", s, d)
	}
	if _, d := tab.Claim(20); d.Count != 1 {
		t.Errorf("home 20 claims %d elements, want 1", d.Count)
	}
	// Adding element 3's term to home 20's sum is what its claim was
	// before the deletion.
	sum3 := wire.ElementSum("b.example.", 3)
	with := New(now)
	with.Put(NewEntry("a.example.", "rr", elem(2, 20, t0.Add(time.Hour)), 1))
	with.Put(NewEntry("b.example.", "rr", elem(3, 20, t0.Add(time.Hour)), 0))
	if ws, _ := with.Claim(20); tab.SumWith(20, []uint16{sum3}, nil) != ws {
		t.Errorf("SumWith(20, +3) %04x, want %04x", tab.SumWith(20, []uint16{sum3}, nil), ws)
	}
	if got := tab.Registered(20); len(got) != 1 || !got[Key{Pool: "a.example.", ID: 2}] {
		t.Errorf("Registered(20) = %v", got)
	}
	if tab.OwnsRegistered(30) || !tab.OwnsRegistered(10) {
		t.Error("OwnsRegistered wrong for home 10 or 30")
	}
}

// TestChangedKept: a put of the same element, policy and generation
// keeps the entry's Changed; another generation stamps it anew.
func TestChangedKept(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	clock := t0
	tab := New(func() time.Time { return clock })
	e := elem(1, 10, t0.Add(time.Hour))
	tab.Put(NewEntry("a.example.", "rr", e, 0))
	clock = clock.Add(time.Minute)
	tab.Put(NewEntry("a.example.", "rr", e.Clone(), 0))
	k := Key{Pool: "a.example.", ID: 1}
	if got := tab.Get(k).Changed; !got.Equal(t0) {
		t.Errorf("the same put again: Changed %v, want %v", got, t0)
	}
	tab.Put(NewEntry("a.example.", "rr", e.Clone(), 1))
	if got := tab.Get(k).Changed; !got.Equal(clock) {
		t.Errorf("a new generation: Changed %v, want %v", got, clock)
	}
}

// TestTombs: a tomb lasts until the deleted lease's end (a day at most,
// and a day for a registration without a lease), a deletion made here
// is listed for the pushes after the time asked for, sorted, and Unbury
// forgets one.
func TestTombs(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	tab := New(func() time.Time { return t0 })
	ka, kb, kc := Key{Pool: "a.example.", ID: 1}, Key{Pool: "a.example.", ID: 2}, Key{Pool: "b.example.", ID: 1}
	tab.Bury(ka, t0.Add(time.Hour), t0)
	tab.Bury(kb, time.Time{}, t0)
	if _, ok := tab.TombOf(ka, t0.Add(59*time.Minute)); !ok {
		t.Error("a's tomb gone before its lease would have ended")
	}
	if _, ok := tab.TombOf(ka, t0.Add(time.Hour)); ok {
		t.Error("a's tomb still there at its lease's end")
	}
	if tb, ok := tab.TombOf(kb, t0.Add(23*time.Hour)); !ok || !tb.Expires.IsZero() {
		t.Errorf("b's tomb (no lease) after 23h: %v %v, want kept, no lease end", tb, ok)
	}
	tab.SweepTombs(t0.Add(24 * time.Hour))
	if _, ok := tab.TombOf(kb, t0.Add(time.Hour)); ok {
		t.Error("b's tomb not swept after a day")
	}
	enC := NewEntry(kc.Pool, "rr", elem(kc.ID, 10, t0.Add(time.Hour)), 0)
	enA := NewEntry(ka.Pool, "rr", elem(ka.ID, 10, t0.Add(time.Hour)), 0)
	tab.BuryHere(enC, t0.Add(time.Minute))
	tab.BuryHere(enA, t0.Add(2*time.Minute))
	tab.Bury(kb, t0.Add(time.Hour), t0.Add(3*time.Minute)) // heard of, not made here
	got := tab.DeletedHere(t0, t0.Add(5*time.Minute))
	if len(got) != 2 || got[0] != enA || got[1] != enC {
		t.Errorf("DeletedHere: %v, want a then c", got)
	}
	if got := tab.DeletedHere(t0.Add(90*time.Second), t0.Add(5*time.Minute)); len(got) != 1 || got[0] != enA {
		t.Errorf("DeletedHere since 1m30s: %v, want a", got)
	}
	tab.Unbury(ka)
	if _, ok := tab.TombOf(ka, t0.Add(5*time.Minute)); ok {
		t.Error("a's tomb still there after Unbury")
	}
}
