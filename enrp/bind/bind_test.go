package bind_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/bind"
	"github.com/poolnsd/poolnsd/handlespace"
)

// zones is a zone, pool.test., without pools: registrations make theirs.
func zones(t *testing.T) []handlespace.ZoneDef {
	var rrs []dns.RR
	for _, s := range []string{
		"pool.test. 60 IN SOA ns.pool.test. h.pool.test. 1 60 60 60 5",
		"pool.test. 60 IN NS ns.pool.test.",
		"ns.pool.test. 60 IN A 192.0.2.53",
	} {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		rrs = append(rrs, rr)
	}
	return []handlespace.ZoneDef{{Origin: "pool.test.", File: "pool.test.zone", Records: rrs}}
}

// TestBindingSeesPutThenDeleted: an element that the Node put into the
// handlespace and that a local change removed before the Node's next look
// shows in no view diff (it was in neither view), yet the Node believes
// it there: Changes reports it gone.
func TestBindingSeesPutThenDeleted(t *testing.T) {
	hs := handlespace.New(handlespace.Options{RegistrarID: 0xa})
	if err := hs.ApplyZones(zones(t)); err != nil {
		t.Fatal(err)
	}
	b := bind.New(hs, 0xa)
	b.Changes()
	pool := "r0.pool.test."
	e := &handlespace.Element{ID: 1000, Label: "pe0", Addrs: []netip.Addr{netip.MustParseAddr("10.1.0.0")}, Port: 8080,
		Weight: 1, Home: 0xb, Expires: time.Now().Add(time.Hour)}
	if errs := b.Apply([]enrp.Op{{Kind: enrp.OpPut, Pool: pool, ID: e.ID, Policy: "wrr", Elem: e}}); len(errs) > 0 {
		t.Fatal(errs)
	}
	if err := hs.Do(handlespace.Op{Pool: pool, ID: e.ID}); err != nil {
		t.Fatal(err)
	}
	cs := b.Changes()
	if !slices.ContainsFunc(cs, func(c enrp.Change) bool { return c.Pool == pool && c.ID == e.ID && c.Elem == nil }) {
		t.Errorf("changes %+v: the deletion of the element put is missing", cs)
	}
}
