package enrp_test

import (
	"errors"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// adminEverywhere reports whether every running member shows element id
// of pool with administrative state a.
func adminEverywhere(c *enrptest.Cluster, pool string, id uint32, a handlespace.Admin) func() bool {
	return func() bool {
		for _, m := range c.Up() {
			if e := m.Find(pool, id); e == nil || e.Admin != a {
				return false
			}
		}
		return true
	}
}

func requireAdmin(t *testing.T, c *enrptest.Cluster, pool string, id uint32, a handlespace.Admin, within time.Duration) {
	t.Helper()
	if !c.RunUntil(adminEverywhere(c, pool, id, a), within) {
		for _, m := range c.Up() {
			if e := m.Find(pool, id); e != nil {
				t.Logf("%08x: %s %s admin %s", m.ID, pool, handlespace.IDString(id), e.Admin)
			}
		}
		t.Fatalf("%s %s not %s at every registrar within %v", pool, handlespace.IDString(id), a, within)
	}
}

// TestAdminAtNonHome: a drain made at B of an element homed at A goes to
// A, which applies it and announces it: A, B and C all show it drained;
// auto made at C brings it back everywhere; a zone-file element homed at A
// likewise. B changes nothing by itself. With A dead the request is
// refused, naming A; after the takeover the drain stays, and the new home
// takes requests.
func TestAdminAtNonHome(t *testing.T) {
	c, a, b, cm := cluster3(t, 11, 8)
	register(t, c, a, 0, 3)
	requireSettled(t, c, interval)
	pool, id := poolOf(0), uint32(1000)

	home, err := b.RequestAdmin(pool, id, handlespace.AdminDrain)
	if err != nil || home != idA {
		t.Fatalf("drain at B: home %08x, %v; want A, nil", home, err)
	}
	if e := b.Find(pool, id); e.Admin != handlespace.AdminAuto {
		t.Fatalf("B changed its own copy to %s before the home's word", e.Admin)
	}
	requireAdmin(t, c, pool, id, handlespace.AdminDrain, interval)
	if len(a.Admins) != 1 || a.Admins[0].From != idB || a.Admins[0].Admin != handlespace.AdminDrain {
		t.Fatalf("A applied %+v, want one drain from B", a.Admins)
	}
	if home, err := cm.RequestAdmin(pool, id, handlespace.AdminAuto); err != nil || home != idA {
		t.Fatalf("auto at C: home %08x, %v", home, err)
	}
	requireAdmin(t, c, pool, id, handlespace.AdminAuto, interval)

	// A zone-file element homed at A, forced down at C.
	var static *handlespace.Element
	for _, e := range a.Elements() {
		if e.Static && e.Home == idA {
			static = e.Element
			break
		}
	}
	if static == nil {
		t.Fatal("no zone-file element homed at A")
	}
	if _, err := cm.RequestAdmin("static.pool.test.", static.ID, handlespace.AdminForceDown); err != nil {
		t.Fatal(err)
	}
	requireAdmin(t, c, "static.pool.test.", static.ID, handlespace.AdminForceDown, interval)

	// Unknown elements are refused at once.
	if _, err := b.RequestAdmin(pool, 4242, handlespace.AdminDrain); !errors.Is(err, enrp.ErrNoSuchElement) {
		t.Fatalf("unknown element: %v", err)
	}

	// Drain another of A's elements, then kill A.
	id2 := uint32(1001)
	if _, err := b.RequestAdmin(poolOf(1), id2, handlespace.AdminDrain); err != nil {
		t.Fatal(err)
	}
	requireAdmin(t, c, poolOf(1), id2, handlespace.AdminDrain, interval)
	a.Stop()
	deadAtB := func() bool { return len(b.EventsOf(enrp.EventPeerDead)) > 0 }
	if !c.RunUntil(deadAtB, lastHeard+noResponse+interval) {
		t.Fatal("B did not find A dead")
	}
	if e := b.Find(pool, id); e == nil || e.Home != idA {
		t.Fatalf("element already re-homed when A was found dead: %+v", e)
	}
	_, err = b.RequestAdmin(pool, id, handlespace.AdminDrain)
	var hu *enrp.HomeUnavailableError
	if !errors.As(err, &hu) || hu.Home != idA {
		t.Fatalf("drain with the home dead: %v, want a HomeUnavailableError naming A", err)
	}
	t.Logf("refused: %v", err)
	if !c.RunUntil(func() bool { return homes(b)[idA] == 0 && homes(cm)[idA] == 0 }, lastHeard+noResponse+time.Second) {
		t.Fatal("no takeover")
	}
	requireSettled(t, c, 2*interval)
	if !adminEverywhere(c, poolOf(1), id2, handlespace.AdminDrain)() {
		t.Fatalf("the drain of %s did not survive the takeover", handlespace.IDString(id2))
	}
	if e := b.Find(pool, id); e.Admin != handlespace.AdminAuto {
		t.Fatalf("the refused drain took effect: %s", e.Admin)
	}
	// The new home takes the requests of the other.
	newHome := b.Find(poolOf(1), id2).Home
	asker := map[uint32]*enrptest.Member{idB: cm, idC: b}[newHome]
	if home, err := asker.RequestAdmin(poolOf(1), id2, handlespace.AdminAuto); err != nil || home != newHome {
		t.Fatalf("auto at %08x: home %08x, %v; want %08x", asker.ID, home, err, newHome)
	}
	requireAdmin(t, c, poolOf(1), id2, handlespace.AdminAuto, interval)
}

// TestAdminRequestRefusedOrIgnored: a request that reaches a registrar
// that is not the element's home is refused with an ERROR; one whose
// request parameter the home skips (as an older poolnsd does) is a
// non-home's copy of the home's own element, which changes nothing.
func TestAdminRequestRefusedOrIgnored(t *testing.T) {
	c, a, b, _ := cluster3(t, 12, 0)
	register(t, c, a, 0, 1)
	register(t, c, b, 1, 1)
	requireSettled(t, c, interval)
	_, r, err := b.Node.RequestAdmin(poolOf(0), 1000, handlespace.AdminDrain)
	if err != nil || len(r.Msgs) != 1 || r.Msgs[0].To != idA {
		t.Fatalf("request: %v, %+v", err, r.Msgs)
	}
	msg := r.Msgs[0].Msg
	if b, err := msg.Encode(); err != nil {
		t.Fatal(err)
	} else if back, err := wire.Decode(b); err != nil || !back.Entries[0].Elements[0].X.AdminReq ||
		back.Entries[0].Elements[0].X.ReqAdmin != uint8(handlespace.AdminDrain) {
		t.Fatalf("request does not survive the wire: %v", err)
	}

	// Skipped: as an older home sees it.
	old := *msg
	pe := old.Entries[0].Elements[0]
	x := *pe.X
	x.AdminReq, x.ReqAdmin = false, 0
	pe.X = &x
	old.Entries = []wire.Entry{{Handle: old.Entries[0].Handle, Elements: []wire.PE{pe}}}
	ra := a.Node.Step(&old)
	if len(ra.Ops) != 0 || len(ra.Admin) != 0 || len(ra.Msgs) != 0 {
		t.Fatalf("a home that skips the request acted on it: %+v", ra)
	}

	// The same request for B's own element, sent to A.
	_, rb, err := b.Node.RequestAdmin(poolOf(1), 1001, handlespace.AdminDrain)
	if !errors.Is(err, enrp.ErrHomeHere) || len(rb.Msgs) != 0 {
		t.Fatalf("B's own element: %v, %+v", err, rb.Msgs)
	}
	wrong := *msg
	pe = wrong.Entries[0].Elements[0]
	pe.ID = 1001
	wrong.Entries = []wire.Entry{{Handle: []byte(poolOf(1)), Elements: []wire.PE{pe}}}
	rw := a.Node.Step(&wrong)
	if len(rw.Admin) != 0 || len(rw.Ops) != 0 {
		t.Fatalf("A granted a request for B's element: %+v", rw)
	}
	if len(rw.Msgs) != 1 || rw.Msgs[0].To != idB || rw.Msgs[0].Msg.Type != wire.TypeError {
		t.Fatalf("A's answer: %+v, want one ERROR to B", rw.Msgs)
	}
	refused := false
	for _, ev := range rw.Events {
		refused = refused || ev.Kind == enrp.EventAdminRefused
	}
	if !refused {
		t.Fatalf("no admin-refused event: %v", rw.Events)
	}
}
