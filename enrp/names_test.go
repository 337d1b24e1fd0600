package enrp_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/wire"
)

// TestPeerNamesAndAddresses: a peer's HANDLE_UPDATE of a pool whose name
// DNS cannot carry, or of an element with an address no element can have,
// is refused (an EventRejected naming why), not stored; loopback, which
// the home's configuration allowed, is taken.
func TestPeerNamesAndAddresses(t *testing.T) {
	c, a, b, _ := cluster3(t, 31, 0)
	register(t, c, a, 0, 1)
	requireSettled(t, c, 3*interval)
	pool, id := poolOf(0), uint32(1000)
	e := a.Find(pool, id)
	if e == nil {
		t.Fatal("no element")
	}
	update := func(handle string, edit func(*wire.PE)) *wire.Message {
		pe := wire.ToPE(e, "rr", 1, time.Now())
		pe.ID = 4242
		if edit != nil {
			edit(&pe)
		}
		return &wire.Message{Type: wire.TypeHandleUpdate, Action: wire.AddPE, Sender: idA, Receiver: idB,
			Entries: []wire.Entry{{Handle: []byte(handle), Elements: []wire.PE{pe}}}}
	}
	addr := func(s string) func(*wire.PE) {
		return func(pe *wire.PE) { pe.Transport.Addrs = []netip.Addr{netip.MustParseAddr(s)} }
	}
	for _, tc := range []struct {
		name, handle string
		edit         func(*wire.PE)
		why          string
	}{
		{"a space", "we b.pool.test.", nil, `label "we b" has a space`},
		{"a NUL", "we\x00b.pool.test.", nil, "NUL"},
		{"a wildcard", "*.pool.test.", nil, `label "*" has "*"`},
		{"a bare -", "-.pool.test.", nil, `begins or ends with '-'`},
		{"a label of 64", strings.Repeat("p", 64) + ".pool.test.", nil, "not a domain name"},
		{"a name over 255", strings.Repeat(strings.Repeat("q", 60)+".", 5), nil, "not a domain name"},
		{"0.0.0.0", pool, addr("0.0.0.0"), "unspecified"},
		{"::", pool, addr("::"), "unspecified"},
		{"multicast", pool, addr("239.1.2.3"), "multicast"},
		{"broadcast", pool, addr("255.255.255.255"), "broadcast"},
		{"a bad label", pool, func(pe *wire.PE) { pe.X.Label = "-x" }, "begins or ends with '-'"},
	} {
		r := b.Node.Step(wireTrip(t, update(tc.handle, tc.edit)))
		if len(r.Ops) != 0 {
			t.Errorf("%s: B applied %+v", tc.name, r.Ops)
		}
		var got []string
		for _, ev := range r.Events {
			if ev.Kind == enrp.EventRejected {
				got = append(got, ev.Detail)
			}
		}
		if len(got) != 1 || !strings.Contains(got[0], tc.why) {
			t.Errorf("%s: rejections %q, want one saying %q", tc.name, got, tc.why)
		}
	}
	// Loopback from a peer is taken (its home allowed it).
	r := b.Node.Step(wireTrip(t, update(pool, addr("127.0.0.1"))))
	if len(r.Ops) != 1 {
		t.Errorf("a loopback element from a peer: ops %+v, events %+v", r.Ops, r.Events)
	}
}
