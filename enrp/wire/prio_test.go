package wire

import (
	"bytes"
	"encoding/binary"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// policyValue finds the Member Selection Policy parameter of the Priority
// policy in an encoded message and returns its value, as another
// implementation reads it off the wire.
func policyValue(t *testing.T, raw []byte) uint32 {
	t.Helper()
	var tlv [8]byte
	binary.BigEndian.PutUint16(tlv[0:], ParamPolicy)
	binary.BigEndian.PutUint16(tlv[2:], 12) // type, length, policy type, value
	binary.BigEndian.PutUint32(tlv[4:], PolicyPriority)
	i := bytes.Index(raw, tlv[:])
	if i < 0 || bytes.Contains(raw[i+1:], tlv[:]) {
		t.Fatalf("not one Priority policy parameter in % x", raw)
	}
	return binary.BigEndian.Uint32(raw[i+8:])
}

// TestPriorityOnTheWire: poolnsd's prio puts the lowest value first, RFC
// 5356's Priority policy the highest; on the wire an element poolnsd
// prefers carries the higher value, as RSPLIB reads it.
func TestPriorityOnTheWire(t *testing.T) {
	now := time.Now()
	wire := func(prio uint32) (uint32, []byte) {
		e := &handlespace.Element{ID: 1 + prio, Label: handlespace.LabelOf("p"), Addrs: handlespace.AddrsOf(netip.MustParseAddr("192.0.2.1")),
			Port: 80, Home: 1, Priority: prio}
		m := &Message{Type: TypeHandleUpdate, Sender: 1, Receiver: 2,
			Entries: []Entry{{Handle: []byte("web.pool.example."), Elements: []PE{ToPE(e, "prio", 0, now)}}}}
		raw, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return policyValue(t, raw), raw
	}
	first, _ := wire(0)
	second, _ := wire(1)
	tenth, _ := wire(10)
	last, _ := wire(math.MaxUint32)
	if !(first > second && second > tenth && tenth > last) {
		t.Errorf("wire priorities of prio 0, 1, 10, max: %d, %d, %d, %d; want decreasing (RFC 5356: higher preferred)", first, second, tenth, last)
	}
	if first != math.MaxUint32 || last != 0 {
		t.Errorf("prio 0 on the wire %d, prio max %d; want max and 0", first, last)
	}

	// Read back: by poolnsd (extension and policy), and as another
	// implementation sends it (the policy parameter alone).
	for _, prio := range []uint32{0, 1, 7, 1000, math.MaxUint32} {
		_, raw := wire(prio)
		m, err := Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		p := m.Entries[0].Elements[0]
		e, policy, _, err := FromPE(&p, now)
		if err != nil || policy != "prio" || e.Priority != prio {
			t.Errorf("prio %d from poolnsd: %d %q %v", prio, e.Priority, policy, err)
		}
		p.X = nil // as RSPLIB sends it
		e, _, _, err = FromPE(&p, now)
		if err != nil || e.Priority != prio {
			t.Errorf("prio %d without poolnsd's extension: %d %v", prio, e.Priority, err)
		}
	}
	// A foreign element whose priority is higher is preferred: lower prio.
	foreign := func(w uint32) uint32 {
		p := PE{ID: w, Home: 9, RegLife: NoLease, Transport: Transport{Proto: ParamTCP, Port: 80, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.9")}},
			Policy: Policy{Type: PolicyPriority, Priority: w}}
		e, _, _, err := FromPE(&p, now)
		if err != nil {
			t.Fatal(err)
		}
		return e.Priority
	}
	if hi, lo := foreign(20), foreign(10); hi >= lo {
		t.Errorf("RFC priority 20 became prio %d, 10 became %d; want 20's lower (preferred first)", hi, lo)
	}
}

// TestPriorityAcrossVersions: a poolnsd from before the conversion sent
// prio unchanged in the policy parameter; its extension carries the same
// value, which wins, so a converting poolnsd reads it right (and the
// other way round, the old one reads the extension over the converted
// parameter).
func TestPriorityAcrossVersions(t *testing.T) {
	now := time.Now()
	e := &handlespace.Element{ID: 5, Label: handlespace.LabelOf("p"), Addrs: handlespace.AddrsOf(netip.MustParseAddr("192.0.2.1")), Port: 80, Home: 1, Priority: 3}
	old := ToPE(e, "prio", 0, now)
	old.Policy.Priority = e.Priority // what an older poolnsd put on the wire
	if old.X == nil || !old.X.HasValues || old.X.Priority != 3 {
		t.Fatalf("the extension does not carry prio: %+v", old.X)
	}
	got, _, _, err := FromPE(&old, now)
	if err != nil || got.Priority != 3 {
		t.Errorf("an older poolnsd's element: prio %d %v, want 3", got.Priority, err)
	}
	// An older poolnsd reads Policy.Priority first and then the
	// extension's values over it: what it ends with is the extension's.
	cur := ToPE(e, "prio", 0, now)
	if cur.X.Priority != 3 || cur.Policy.Priority == 3 {
		t.Errorf("the extension carries %d, the policy %d; want 3 and the converted value", cur.X.Priority, cur.Policy.Priority)
	}
}
