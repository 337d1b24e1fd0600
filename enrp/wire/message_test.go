package wire

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// samples are one message of every type, with every parameter poolnsd
// knows: the round-trip and fuzz seeds.
func samples() []*Message {
	pe1 := PE{ID: 0xabcd0001, Home: 0x11111111, RegLife: 60000,
		Transport: Transport{Proto: ParamTCP, Port: 8080, Addrs: []netip.Addr{addr("192.0.2.1")}},
		Policy:    Policy{Type: PolicyLeastUsedDeg, Load: 0x40000000, LoadDeg: 0x01000000},
		X: &ElementX{Label: "web1", Site: "fra", HasState: true, Health: 1, Admin: 0, Flags: XReported, Gen: 3, RTT: 1500,
			HasValues: true, Weight: 10, Priority: 2, Load: 0x40000000, LoadDeg: 0x01000000,
			Probe: &ProbeX{Kind: "http", Target: "/healthz", Interval: 1000, Timeout: 300, Rise: 2, Fall: 3},
			Owner: "tsig:pe-key.", Lease: 60, LeaseEnd: 1796543210987,
			Addrs: []netip.Addr{addr("2001:db8::1")}}}
	pe2 := PE{ID: 2, Home: 0x22222222, RegLife: NoLease,
		Transport: Transport{Proto: ParamSCTP, Port: 9, Use: UseDataAndControl, Addrs: []netip.Addr{addr("192.0.2.2"), addr("2001:db8::2")}},
		Policy:    Policy{Type: PolicyWeightedRoundRobin, Weight: 7},
		ASAP:      &Transport{Proto: ParamSCTP, Port: 3863, Addrs: []netip.Addr{addr("192.0.2.2")}}}
	pe3 := PE{ID: 3, Home: 1, RegLife: 5,
		Transport: Transport{Proto: ParamUDP, Port: 53, Addrs: []netip.Addr{addr("2001:db8::3")}},
		Policy:    Policy{Type: 0x12345678, Value: []byte{1, 2, 3, 4, 5}}}
	pe4 := PE{ID: 4, Home: 1, RegLife: 0,
		Transport: Transport{Proto: ParamDCCP, Port: 5004, ServiceCode: 42, Addrs: []netip.Addr{addr("192.0.2.4")}},
		Policy:    Policy{Type: PolicyPriority, Priority: 5}}
	pe5 := pe1
	x5 := *pe1.X
	x5.AdminReq, x5.ReqAdmin = true, 2
	pe5.X = &x5
	pe6 := pe1
	x6 := *pe1.X
	x6.ConfirmReq = &ConfirmReq{Nonce: 0xdeadbeef, Budget: 300, Proposed: 2}
	x6.Vantage = []VantageX{{Registrar: 0x11111111, Health: 2}, {Registrar: 0x22222222, Health: 1}}
	pe6.X = &x6
	pe7 := pe1
	x7 := *pe1.X
	x7.ConfirmAns = &ConfirmAns{Nonce: 0xdeadbeef, Health: 1, RTT: 1234}
	pe7.X = &x7
	pe8 := pe1
	x8 := *pe1.X
	x8.Reports = 2
	pe8.X = &x8
	srv := ServerInfo{ID: 0x11111111, Transport: Transport{Proto: ParamTCP, Port: 9901, Addrs: []netip.Addr{addr("127.0.0.1")}}}
	srv2 := ServerInfo{ID: 0x22222222, Transport: Transport{Proto: ParamSCTP, Port: 9901, Addrs: []netip.Addr{addr("127.0.0.2"), addr("::1")}}}
	return []*Message{
		{Type: TypePresence, Flags: FlagReplyRequired, Sender: 0x11111111, Receiver: 0x22222222, Checksum: 0xbeef,
			Server: &srv, Digest: &Digest{Count: 3, Hash: 0x0123456789abcdef}},
		{Type: TypePresence, Sender: 1, Checksum: 0xffff},
		{Type: TypeHandleTableRequest, Flags: FlagOwnChildrenOnly, Sender: 1, Receiver: 2},
		{Type: TypeHandleTableResp, Flags: FlagMoreToSend, Sender: 2, Receiver: 1, Entries: []Entry{
			{Handle: []byte("web.pool.example."), Elements: []PE{pe1, pe2}},
			{Handle: []byte("dns.pool.example."), Elements: []PE{pe3, pe4}},
		}},
		{Type: TypeHandleTableResp, Flags: FlagReject, Sender: 2, Receiver: 1},
		{Type: TypeHandleUpdate, Sender: 1, Receiver: 2, Action: AddPE, Entries: []Entry{{Handle: []byte("web.pool.example."), Elements: []PE{pe1}}}},
		{Type: TypeHandleUpdate, Sender: 1, Receiver: 2, Action: DelPE, Entries: []Entry{{Handle: []byte("a."), Elements: []PE{pe3}}}},
		{Type: TypeListRequest, Sender: 1, Receiver: 2},
		{Type: TypeListResponse, Sender: 2, Receiver: 1, Servers: []ServerInfo{srv, srv2}},
		{Type: TypeInitTakeover, Sender: 1, Receiver: 2, Target: 3},
		{Type: TypeInitTakeoverAck, Sender: 2, Receiver: 1, Target: 3},
		{Type: TypeTakeoverServer, Sender: 1, Receiver: 2, Target: 3},
		{Type: TypeError, Sender: 1, Receiver: 2, Causes: []Cause{
			{Code: CauseInvalidValues, Info: DiagParam("parameter at byte 24: length 3, below 4")},
			{Code: CauseLackOfResources},
		}},
		// RSPLIB's policy types beyond RFC 5356, one of each layout.
		{Type: TypeHandleTableResp, Sender: 2, Receiver: 1, Entries: []Entry{{Handle: []byte("dpf.pool.example."), Elements: []PE{
			{ID: 6, Home: 1, RegLife: NoLease, Transport: pe3.Transport, Policy: Policy{Type: PolicyRandomLeastUsedDeg, Load: 1, LoadDeg: 2}},
			{ID: 7, Home: 1, RegLife: NoLease, Transport: pe3.Transport, Policy: Policy{Type: PolicyWeightedRandomDPF, Weight: 3, DPF: 4, Distance: 50}},
			{ID: 8, Home: 1, RegLife: NoLease, Transport: pe3.Transport, Policy: Policy{Type: PolicyPriorityLeastUsedDegDPF, Load: 5, LoadDeg: 6, DPF: 7, Distance: 100}},
		}}}},
		// An administrative request to the element's home.
		{Type: TypeHandleUpdate, Sender: 2, Receiver: 0x11111111, Action: AddPE, Entries: []Entry{{Handle: []byte("web.pool.example."), Elements: []PE{pe5}}}},
		// A confirmation request from the home (with the vantage points
		// of its last, disputed, confirmation) and its answer.
		{Type: TypeHandleUpdate, Sender: 0x11111111, Receiver: 2, Action: AddPE, Entries: []Entry{{Handle: []byte("web.pool.example."), Elements: []PE{pe6}}}},
		{Type: TypeHandleUpdate, Sender: 2, Receiver: 0x11111111, Action: AddPE, Entries: []Entry{{Handle: []byte("web.pool.example."), Elements: []PE{pe7}}}},
		// A hand-off: a page, the last page (empty), its acknowledgement,
		// and a hand-back page.
		{Type: TypeHandleTableResp, Sender: 0x11111111, Receiver: 2, Handoff: &Handoff{Kind: HandoffPage, Live: 3, Seq: 7},
			Entries: []Entry{{Handle: []byte("web.pool.example."), Elements: []PE{pe8, pe2}}}},
		{Type: TypeHandleTableResp, Sender: 0x11111111, Receiver: 2, Handoff: &Handoff{Kind: HandoffLast, Live: 3, Seq: 7}},
		{Type: TypePresence, Sender: 2, Receiver: 0x11111111, Checksum: 0x1234, Handoff: &Handoff{Kind: HandoffAck, Seq: 7}},
		{Type: TypeHandleTableResp, Sender: 2, Receiver: 3, Handoff: &Handoff{Kind: HandbackPage, Live: 2, Seq: 1},
			Entries: []Entry{{Handle: []byte("dns.pool.example."), Elements: []PE{pe3}}}},
		// A push of the sender's own elements on meeting again: a page
		// and the last page (empty).
		{Type: TypeHandleTableResp, Sender: 3, Receiver: 2, Handoff: &Handoff{Kind: SyncPage, Live: 3, Seq: 9},
			Entries: []Entry{{Handle: []byte("dns.pool.example."), Elements: []PE{pe3, {ID: 8, Home: 3, RegLife: NoLease,
				Transport: pe3.Transport, Policy: Policy{Type: PolicyRoundRobin},
				X: &ElementX{HasState: true, Health: 2, Flags: XStatic | XTrimmed, Strength: 4, RTT: 900,
					HasValues: true, Weight: 1}}}}}},
		{Type: TypeHandleTableResp, Sender: 3, Receiver: 2, Handoff: &Handoff{Kind: SyncLast, Live: 3, Seq: 9}},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, m := range samples() {
		b, err := m.Encode()
		if err != nil {
			t.Fatalf("%v: encode: %v", m, err)
		}
		if len(b)%4 != 0 {
			t.Errorf("%v: %d bytes, not a multiple of 4", m, len(b))
		}
		if n, ok := MessageLen(b); !ok || n != len(b) {
			t.Errorf("%v: length field %d, encoded %d", m, n, len(b))
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%v: decode: %v\n%s", m, err, hex.Dump(b))
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip of %v:\n got %+v\nwant %+v", m, got, m)
		}
	}
}

// TestWireLayout pins the bytes of a few messages against RFC 5353/5354 as
// read by hand, so that a change of the encoder shows.
func TestWireLayout(t *testing.T) {
	m := &Message{Type: TypeInitTakeover, Sender: 0x01020304, Receiver: 0x05060708, Target: 0x0a0b0c0d}
	b, _ := m.Encode()
	if want := "07000010" + "01020304" + "05060708" + "0a0b0c0d"; hex.EncodeToString(b) != want {
		t.Errorf("INIT_TAKEOVER = %x", b)
	}
	m = &Message{Type: TypePresence, Flags: FlagReplyRequired, Sender: 1, Receiver: 2, Checksum: 0xabcd}
	b, _ = m.Encode()
	// header (type 1, flags R, length 20), IDs, PE checksum (type 0x0f,
	// length 6, value, 2 bytes of padding).
	if want := "01010014" + "00000001" + "00000002" + "000f0006abcd0000"; hex.EncodeToString(b) != want {
		t.Errorf("PRESENCE = %x, want %s", b, want)
	}
	u := &Message{Type: TypeHandleUpdate, Sender: 1, Receiver: 2, Action: DelPE, Entries: []Entry{{Handle: []byte("ab."), Elements: []PE{{
		ID: 7, Home: 1, RegLife: -1,
		Transport: Transport{Proto: ParamTCP, Port: 80, Addrs: []netip.Addr{addr("10.0.0.1")}},
		Policy:    Policy{Type: PolicyRoundRobin}}}}}}
	b, _ = u.Encode()
	want := "04000040" + "00000001" + "00000002" + "0001" + "0000" +
		"00090007" + "61622e00" + // pool handle "ab." padded
		"000a0028" + "00000007" + "00000001" + "ffffffff" + // PE: id, home, reg life -1
		"00050010" + "0050" + "0000" + "00010008" + "0a000001" + // TCP transport with IPv4
		"00080008" + "00000001" // round robin policy
	if hex.EncodeToString(b) != want {
		t.Errorf("HANDLE_UPDATE =\n%x, want\n%s", b, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	good, _ := samples()[0].Encode()
	withLen := func(b []byte) []byte { binary.BigEndian.PutUint16(b[2:], uint16(len(b))); return b }
	cases := []struct {
		name string
		b    []byte
		kind error
		what string
	}{
		{"empty", nil, ErrMalformed, "shorter than a message header"},
		{"short", []byte{1, 0, 0}, ErrMalformed, "shorter"},
		{"length mismatch", append(clone(good), 0, 0, 0, 0), ErrMalformed, "message length"},
		{"unknown type", withLen([]byte{0x55, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2}), ErrUnknownType, "message type 85"},
		{"too short for IDs", withLen([]byte{1, 0, 0, 0, 0, 0, 0, 1}), ErrMalformed, "want at least 12"},
		{"presence without checksum", withLen([]byte{1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2}), ErrMalformed, "without a PE checksum"},
		{"param length below 4", withLen([]byte{1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0x0f, 0, 3}), ErrMalformed, "below 4"},
		{"param beyond end", withLen([]byte{1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0x0f, 0, 9, 0, 0, 0, 0}), ErrMalformed, "beyond"},
		{"bad checksum size", withLen([]byte{1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0x0f, 0, 8, 0, 0, 0, 0}), ErrMalformed, "PE checksum"},
		{"stray bytes", withLen([]byte{1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0x0f, 0, 6, 0, 0, 0, 0, 1, 2}), ErrMalformed, "stray"},
		{"unknown param 00", withLen([]byte{5, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0x12, 0x34, 0, 4}), ErrDiscarded, "0x1234"},
		{"unknown param 01", withLen([]byte{5, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0x52, 0x34, 0, 4}), ErrDiscarded, "0x5234"},
		{"update without element", withLen([]byte{4, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0}), ErrMalformed, "HANDLE_UPDATE with 0"},
		{"bad action", withLen([]byte{4, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 7, 0, 0}), ErrMalformed, "update action"},
		{"error without cause", withLen([]byte{10, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0x0c, 0, 4}), ErrMalformed, "without a cause"},
		{"element before handle", withLen(append([]byte{3, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2}, peBytes(t)...)), ErrMalformed, "before any pool handle"},
	}
	for _, c := range cases {
		_, err := Decode(c.b)
		var de *DecodeError
		if !errors.As(err, &de) || !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.what) {
			t.Errorf("%s: Decode = %v, want %v containing %q", c.name, err, c.kind, c.what)
			continue
		}
		em := ErrorFor(err, 1, 2)
		if errors.Is(err, ErrDiscarded) && len(de.Report) == 0 {
			if em != nil {
				t.Errorf("%s: ERROR %v for a silent discard", c.name, em)
			}
			continue
		}
		b, err := em.Encode()
		if err != nil {
			t.Fatalf("%s: encode ERROR: %v", c.name, err)
		}
		if _, err := Decode(b); err != nil {
			t.Errorf("%s: the ERROR in answer does not decode: %v", c.name, err)
		}
	}
}

func peBytes(t *testing.T) []byte {
	e := &enc{}
	p := samples()[5].Entries[0].Elements[0]
	e.pe(&p)
	return e.b
}

// TestUnknownParamSkip: top bits 10 skip silently, 11 skip and report.
func TestUnknownParamSkip(t *testing.T) {
	base, _ := (&Message{Type: TypePresence, Sender: 1, Checksum: 7}).Encode()
	for _, c := range []struct {
		typ    uint16
		report bool
	}{{0x8abc, false}, {0xcabc, true}} {
		b := append(clone(base), byte(c.typ>>8), byte(c.typ), 0, 5, 0xee, 0, 0, 0)
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		m, err := Decode(b)
		if err != nil {
			t.Fatalf("type %04x: %v", c.typ, err)
		}
		if m.Checksum != 7 {
			t.Errorf("type %04x: checksum %x", c.typ, m.Checksum)
		}
		if got := len(m.Unrecognized) == 1; got != c.report {
			t.Errorf("type %04x: reported %v, want %v", c.typ, m.Unrecognized, c.report)
		}
		if c.report {
			e := ReportUnrecognized(m, 2)
			if e == nil || e.Causes[0].Code != CauseUnrecognizedParam || e.Causes[0].Info[4] != 0xee {
				t.Errorf("report = %+v", e)
			}
		}
	}
	// Inside a pool element: the element survives a skipped parameter.
	m := samples()[5]
	b, _ := m.Encode()
	// Append an unknown 10-type parameter at the end of the PE parameter:
	// find the PE parameter (after the pool handle) and grow it.
	peOff := 16 + 4 + Pad4(len("web.pool.example."))
	peLen := int(binary.BigEndian.Uint16(b[peOff+2:]))
	extra := []byte{0x8f, 0x7f, 0, 4}
	b = append(b[:peOff+peLen], append(extra, b[peOff+peLen:]...)...)
	binary.BigEndian.PutUint16(b[peOff+2:], uint16(peLen+4))
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Entries, m.Entries) {
		t.Errorf("element changed by a skipped parameter: %+v", got.Entries)
	}
}

// TestAdminReqSkippable: the administrative request parameter has top bits
// 10, so a peer that does not know it skips it silently (RFC 5354 §3).
func TestAdminReqSkippable(t *testing.T) {
	if ParamXAdminReq&actionMask != actionSkip {
		t.Fatalf("ParamXAdminReq 0x%04x: top bits not 10", ParamXAdminReq)
	}
	var m *Message
	for _, sm := range samples() {
		if sm.Type == TypeHandleUpdate && sm.Entries[0].Elements[0].X != nil && sm.Entries[0].Elements[0].X.AdminReq {
			m = sm
		}
	}
	b, _ := m.Encode()
	w := &walker{}
	ps, err := splitParams(b[16:], 16)
	if err != nil {
		t.Fatal(err)
	}
	// Walk down to the extension's sub-parameters and filter them as a
	// decoder that knows none of poolnsd's extensions would.
	pe, _ := splitParams(ps[1].val[12:], 0)
	var x []param
	for _, q := range pe {
		if q.typ == ParamXElement {
			x, _ = splitParams(q.val, 0)
		}
	}
	if len(x) == 0 {
		t.Fatal("no extension in the sample")
	}
	kept, err := w.filter(x, is(ParamIPv4, ParamIPv6))
	if err != nil || len(w.report) != 0 || len(kept) != 1 {
		t.Fatalf("an unaware decoder: kept %d, reported %d, %v", len(kept), len(w.report), err)
	}
}

func TestEncodeLimits(t *testing.T) {
	m := &Message{Type: TypeHandleUpdate, Entries: []Entry{{Handle: []byte("x."), Elements: nil}}}
	if _, err := m.Encode(); err == nil {
		t.Error("HANDLE_UPDATE without an element encoded")
	}
	big := &Message{Type: TypeHandleTableResp}
	p := samples()[5].Entries[0].Elements[0]
	for i := 0; i < 1000; i++ {
		big.Entries = append(big.Entries, Entry{Handle: []byte("web.pool.example."), Elements: []PE{p}})
	}
	if _, err := big.Encode(); err == nil || !strings.Contains(err.Error(), "65535") {
		t.Errorf("a message of 1000 elements: %v, want a length error", err)
	}
}

func TestStrings(t *testing.T) {
	m := samples()[3]
	if s := m.String(); !strings.Contains(s, "HANDLE_TABLE_RESPONSE") || !strings.Contains(s, "elements=4") {
		t.Errorf("String = %q", s)
	}
	if Type(99).String() != "TYPE_99" || UpdateAction(5).String() != "ACTION_5" {
		t.Error("unknown type and action names")
	}
}

// TestExtensionsSkippable: every poolnsd extension parameter has top bits
// 10, so that a decoder that does not know it (another implementation,
// Wireshark, an older poolnsd) skips it silently (RFC 5354 §3).
func TestExtensionsSkippable(t *testing.T) {
	for _, p := range []uint16{ParamXElement, ParamXDigest, ParamXDiag, ParamXRefused, ParamXLabel, ParamXSite, ParamXState,
		ParamXValues, ParamXProbe, ParamXOwner, ParamXLease, ParamXAdminReq, ParamXReportReq,
		ParamXConfirmReq, ParamXConfirmAns, ParamXVantage, ParamXHandoff, ParamXReports, ParamXLeaseEnd} {
		if p&actionMask != actionSkip {
			t.Errorf("parameter 0x%04x: top bits not 10", p)
		}
	}
	// A decoder that knows no extension reads a hand-off page as a table
	// response, and its acknowledgement as a PRESENCE.
	for _, m := range samples() {
		if m.Handoff == nil {
			continue
		}
		b, _ := m.Encode()
		ps, err := splitParams(b[12:], 12)
		if err != nil {
			t.Fatal(err)
		}
		w := &walker{}
		kept, err := w.filter(ps, is(ParamPoolHandle, ParamPoolElement, ParamPEChecksum))
		if err != nil || len(w.report) != 0 || len(kept) != len(ps)-1 {
			t.Errorf("%v: an unaware decoder kept %d of %d, reported %d, %v", m, len(kept), len(ps), len(w.report), err)
		}
	}
}

// TestNewParamErrors: the new parameters' sizes and kinds are checked.
func TestNewParamErrors(t *testing.T) {
	// x returns an ADD_PE whose element's extension holds one extra
	// sub-parameter of type typ with value v.
	x := func(typ uint16, v []byte) []byte {
		pe := samples()[5].Entries[0].Elements[0]
		xx := *pe.X
		if typ == ParamXLeaseEnd {
			xx.LeaseEnd = 0 // the sample's own, else twice
		}
		pe.X = &xx
		m := &Message{Type: TypeHandleUpdate, Sender: 1, Receiver: 2, Entries: []Entry{{Handle: []byte("a."), Elements: []PE{pe}}}}
		b, _ := m.Encode()
		// The extension is the PE's last parameter, the PE the message's:
		// append to both and fix the lengths.
		e := &enc{}
		e.bytesParam(typ, v)
		peOff := 16 + 4 + Pad4(len("a."))
		ps, _ := splitParams(b[peOff+16:], peOff+16)
		var xoff int
		for _, q := range ps {
			if q.typ == ParamXElement {
				xoff = q.off
			}
		}
		b = append(b, e.b...)
		for _, off := range []int{2, peOff + 2, xoff + 2} {
			binary.BigEndian.PutUint16(b[off:], binary.BigEndian.Uint16(b[off:])+uint16(len(e.b)))
		}
		return b
	}
	hand := func(typ Type, kind uint8, extra ...byte) []byte {
		b := []byte{byte(typ), 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2}
		if typ == TypePresence {
			b = append(b, 0, 0x0f, 0, 6, 0, 0, 0, 0)
		}
		b = append(b, 0x8f, 0x1c, 0, byte(12+len(extra)), kind, 0, 0, 3, 0, 0, 0, 1)
		b = append(b, extra...)
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		return b
	}
	good := x(ParamXConfirmReq, []byte{0, 0, 0, 1, 0, 100, 2, 0})
	if m, err := Decode(good); err != nil || m.Entries[0].Elements[0].X.ConfirmReq == nil {
		t.Fatalf("a good confirmation request: %v", err)
	}
	for _, c := range []struct {
		name string
		b    []byte
		what string
	}{
		{"short request", x(ParamXConfirmReq, []byte{0, 0, 0, 1}), "confirmation request has 4 bytes"},
		{"long answer", x(ParamXConfirmAns, make([]byte, 16)), "confirmation answer has 16 bytes"},
		{"empty vantage", x(ParamXVantage, nil), "vantage list has 0 bytes"},
		{"odd vantage", x(ParamXVantage, make([]byte, 12)), "vantage list has 12 bytes"},
		{"huge vantage", x(ParamXVantage, make([]byte, 8*65)), "vantage list has 520 bytes"},
		{"zero reports", x(ParamXReports, make([]byte, 4)), "report count"},
		{"zero lease end", x(ParamXLeaseEnd, make([]byte, 8)), "lease end"},
		{"short lease end", x(ParamXLeaseEnd, []byte{0, 0, 1, 2}), "lease end"},
		{"ack in a table response", hand(TypeHandleTableResp, HandoffAck), "hand-off kind 3"},
		{"page in a presence", hand(TypePresence, HandoffPage), "hand-off kind 1"},
		{"unknown kind", hand(TypeHandleTableResp, 9), "hand-off kind 9"},
		{"long hand-off", hand(TypeHandleTableResp, HandoffPage, 0, 0, 0, 0), "hand-off parameter has 12 bytes"},
	} {
		_, err := Decode(c.b)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.what) {
			t.Errorf("%s: Decode = %v, want malformed: %q", c.name, err, c.what)
		}
	}
}
