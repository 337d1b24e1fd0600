package metrics_test

import (
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/hstest"
)

func el(label, addr string) *handlespace.Element { return hstest.Elem(label, addr, 80, 1) }

// newSpace: zone t. with pools web (3 up, 1 drained: 2 served... see
// below) and dead (1 down), and a registered pool reg (1 up, homed at 9).
func newSpace(t *testing.T) *handlespace.Handlespace {
	t.Helper()
	hs := handlespace.New(handlespace.Options{RegistrarID: 7, Now: func() time.Time { return time.Unix(1e9, 0) }})
	rrs := hstest.RRs(t, "t. 3600 IN SOA ns.t. h.t. 1 3600 600 86400 30\nt. 3600 IN NS ns.t.\nns.t. 3600 IN A 192.0.2.1\n")
	web := []*handlespace.Element{el("a", "10.0.0.1"), el("b", "10.0.0.2"), el("c", "10.0.0.3"), el("d", "10.0.0.4")}
	dead := []*handlespace.Element{el("x", "10.0.1.1")}
	if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "t.", File: "t.zone", Records: rrs, Pools: []handlespace.PoolDef{
		{Handle: "web", Spec: handlespace.DefaultPoolSpec(), Elements: web},
		{Handle: "dead", Spec: handlespace.DefaultPoolSpec(), Elements: dead},
	}}}); err != nil {
		t.Fatal(err)
	}
	if err := hs.Update("web.t.", web[3].ID, func(e *handlespace.Element) { e.Admin = handlespace.AdminDrain }); err != nil {
		t.Fatal(err)
	}
	if err := hs.Update("dead.t.", dead[0].ID, func(x *handlespace.Element) { x.Health = handlespace.HealthDown }); err != nil {
		t.Fatal(err)
	}
	r := el("r", "10.0.2.1")
	r.Home, r.Health, r.Expires = 9, handlespace.HealthUp, handlespace.ExpiryOf(time.Unix(1e9+60, 0))
	if err := hs.Do(handlespace.Op{Pool: "reg.t.", Elem: r}); err != nil {
		t.Fatal(err)
	}
	return hs
}
