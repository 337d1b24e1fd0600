package enrptest

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// Zones is the zone every registrar of the engine's and the driver's tests
// serves: pool.test. with a pool "static" of n zone-file elements.
// Registrations go to other pools of the zone, which they create.
func Zones(t testing.TB, n int) []handlespace.ZoneDef {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	z := handlespace.ZoneDef{Origin: "pool.test.", File: "pool.test.zone", Records: []dns.RR{
		rr("pool.test. 60 IN SOA ns.pool.test. h.pool.test. 1 60 60 60 5"),
		rr("pool.test. 60 IN NS ns.pool.test."),
		rr("ns.pool.test. 60 IN A 192.0.2.53"),
	}}
	spec := handlespace.DefaultPoolSpec()
	pd := handlespace.PoolDef{Handle: "static", Spec: spec, Line: 1}
	for i := 0; i < n; i++ {
		a := netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)})
		pd.Elements = append(pd.Elements, &handlespace.Element{ID: handlespace.ElementID(a, 80), Label: handlespace.LabelOf(fmt.Sprintf("s%d", i)),
			Addrs: handlespace.AddrsOf(a), Port: 80, Weight: 1})
	}
	z.Pools = []handlespace.PoolDef{pd}
	return []handlespace.ZoneDef{z}
}

// ConfirmRequest is from's request to to to confirm that element e of pool
// is down.
func ConfirmRequest(from, to uint32, pool string, e *handlespace.Element, nonce uint32) *wire.Message {
	pe := wire.ToPE(e, "rr", 0, Epoch)
	pe.X.ConfirmReq = &wire.ConfirmReq{Nonce: nonce, Budget: 50, Proposed: uint8(handlespace.HealthDown)}
	return &wire.Message{Type: wire.TypeHandleUpdate, Sender: from, Receiver: to, Action: wire.AddPE,
		Entries: []wire.Entry{{Handle: []byte(pool), Elements: []wire.PE{pe}}}}
}
