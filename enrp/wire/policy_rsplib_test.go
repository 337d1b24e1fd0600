package wire

import (
	"encoding/hex"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	_ "github.com/poolnsd/poolnsd/handlespace/policy" // the policies register themselves
)

// RSPLIB's policy types beyond RFC 5356, as rserpool-policytypes.h
// defines them, and the values each carries (rserpoolmessage.h).
var rsplibTypes = []struct {
	name string
	typ  uint32
	pol  Policy // what a decoded parameter of the type holds, given all values set
}{
	{"rplu", 0xb0001001, Policy{Load: 11, LoadDeg: 12}},
	{"rlud", 0xb0001002, Policy{Load: 11, LoadDeg: 12}},
	{"plud", 0xb0001003, Policy{Load: 11, LoadDeg: 12}},
	{"rplud", 0xb0001004, Policy{Load: 11, LoadDeg: 12}},
	{"wrand-dpf", 0xb0002001, Policy{Weight: 10, DPF: 13, Distance: 14}},
	{"lu-dpf", 0xb0002002, Policy{Load: 11, DPF: 13, Distance: 14}},
	{"lud-dpf", 0xb0002003, Policy{Load: 11, LoadDeg: 12, DPF: 13, Distance: 14}},
	{"plu-dpf", 0xb0002004, Policy{Load: 11, LoadDeg: 12, DPF: 13, Distance: 14}},
	{"plud-dpf", 0xb0002005, Policy{Load: 11, LoadDeg: 12, DPF: 13, Distance: 14}},
}

// TestPolicyTypesCoverPolicies: every policy poolnsd has travels under
// its own type.
func TestPolicyTypesCoverPolicies(t *testing.T) {
	seen := map[uint32]string{}
	for _, name := range handlespace.PolicyNames() {
		typ, ok := PolicyType(name)
		if !ok {
			t.Errorf("policy %s has no wire type", name)
			continue
		}
		if other, dup := seen[typ]; dup {
			t.Errorf("policies %s and %s share type 0x%08x", name, other, typ)
		}
		seen[typ] = name
		if got := PolicyName(typ); got != name {
			t.Errorf("PolicyName(0x%08x) = %q, want %s", typ, got, name)
		}
	}
}

func TestRSPLIBPolicyWire(t *testing.T) {
	for _, tc := range rsplibTypes {
		if typ, ok := PolicyType(tc.name); !ok || typ != tc.typ {
			t.Errorf("PolicyType(%s) = 0x%08x, %v; want RSPLIB's 0x%08x", tc.name, typ, ok, tc.typ)
		}
		// Every value set: the encoder writes those of the type, the
		// decoder reads them back.
		in := Policy{Type: tc.typ, Weight: 10, Priority: 99, Load: 11, LoadDeg: 12, DPF: 13, Distance: 14}
		want := tc.pol
		want.Type = tc.typ
		m := &Message{Type: TypeHandleUpdate, Sender: 1, Receiver: 2, Action: AddPE, Entries: []Entry{{Handle: []byte("web.pool.example."), Elements: []PE{{
			ID: 7, Home: 1, RegLife: NoLease,
			Transport: Transport{Proto: ParamTCP, Port: 80, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}},
			Policy:    in}}}}}
		b, err := m.Encode()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: decode: %v\n%s", tc.name, err, hex.Dump(b))
		}
		if p := got.Entries[0].Elements[0].Policy; !reflect.DeepEqual(p, want) {
			t.Errorf("%s: decoded %+v, want %+v", tc.name, p, want)
		}
		// The parameter's length is the type's: RSPLIB's structures.
		n := policyFields(tc.typ)
		if !strings.Contains(hex.EncodeToString(b), hex.EncodeToString([]byte{0, 8, 0, byte(8 + 4*n)})+hex.EncodeToString([]byte{byte(tc.typ >> 24), byte(tc.typ >> 16), byte(tc.typ >> 8), byte(tc.typ)})) {
			t.Errorf("%s: no policy parameter of %d values in %x", tc.name, n, b)
		}
	}
	// lud-dpf's layout by hand: type, load, load degradation, load DPF,
	// distance.
	var e enc
	e.policy(&Policy{Type: PolicyLeastUsedDegDPF, Load: 0x01020304, LoadDeg: 5, DPF: 6, Distance: 50})
	if want := "00080018" + "b0002003" + "01020304" + "00000005" + "00000006" + "00000032"; hex.EncodeToString(e.b) != want {
		t.Errorf("lud-dpf parameter = %x, want %s", e.b, want)
	}
	// A -dpf type with a value missing is malformed.
	m := &Message{Type: TypeHandleUpdate, Sender: 1, Receiver: 2, Action: AddPE, Entries: []Entry{{Handle: []byte("a."), Elements: []PE{{
		ID: 7, Home: 1, RegLife: NoLease,
		Transport: Transport{Proto: ParamTCP, Port: 80, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}},
		Policy:    Policy{Type: PolicyLeastUsedDPF}}}}}}
	b, _ := m.Encode()
	// Pretend the type is lud-dpf (4 values) while 3 are there.
	s := strings.Replace(hex.EncodeToString(b), "b0002002", "b0002003", 1)
	bad, _ := hex.DecodeString(s)
	if _, err := Decode(bad); err == nil || !strings.Contains(err.Error(), "policy 0xb0002003 has 12 bytes of values, want 16") {
		t.Errorf("decoding lud-dpf with 3 values: %v", err)
	}
}

// TestRSPLIBPolicyConvert: an element of a pool of each of RSPLIB's
// policies survives ToPE, the wire and FromPE, with its pool's policy.
func TestRSPLIBPolicyConvert(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range rsplibTypes {
		e := &handlespace.Element{ID: 9, Label: handlespace.LabelOf("pe9"), Addrs: handlespace.AddrsOf(netip.MustParseAddr("192.0.2.9")), Port: 443,
			Weight: 30, Priority: 2, Load: 0x40000000, LoadDeg: 0x00100000, Health: handlespace.HealthUp, Home: 5,
			RTT: 40 * time.Millisecond}
		pe := ToPE(e, tc.name, 3, now)
		if pe.Policy.Type != tc.typ || pe.Policy.DPF != 0 || pe.Policy.Distance != 0 {
			t.Errorf("%s: policy parameter %+v", tc.name, pe.Policy)
		}
		if tc.pol.Load != 0 && pe.Policy.Load != e.Load || tc.pol.LoadDeg != 0 && pe.Policy.LoadDeg != e.LoadDeg || tc.pol.Weight != 0 && pe.Policy.Weight != e.Weight {
			t.Errorf("%s: policy parameter %+v lacks the element's values", tc.name, pe.Policy)
		}
		m := &Message{Type: TypeHandleUpdate, Sender: 5, Receiver: 6, Action: AddPE, Entries: []Entry{{Handle: []byte("web.pool.example."), Elements: []PE{pe}}}}
		b, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		d, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		got, policy, gen, err := FromPE(&d.Entries[0].Elements[0], now)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if policy != tc.name || gen != 3 {
			t.Errorf("%s: FromPE says policy %q gen %d", tc.name, policy, gen)
		}
		if got.Weight != e.Weight || got.Load != e.Load || got.LoadDeg != e.LoadDeg || got.Priority != e.Priority || got.RTT != e.RTT {
			t.Errorf("%s: element %+v, want the values of %+v", tc.name, got, e)
		}
		// Without poolnsd's extension (another implementation), the
		// values come from the policy parameter alone.
		pe.X = nil
		got, policy, _, err = FromPE(&pe, now)
		if err != nil || policy != tc.name {
			t.Fatalf("%s without extension: %v, policy %q", tc.name, err, policy)
		}
		if got.Load != pe.Policy.Load || got.LoadDeg != pe.Policy.LoadDeg || got.Weight != pe.Policy.Weight {
			t.Errorf("%s without extension: element load %d deg %d weight %d, policy parameter %+v", tc.name, got.Load, got.LoadDeg, got.Weight, pe.Policy)
		}
	}
}
