package e2e

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

// wireConsts reads the exported integer constants of package enrp/wire
// from its source, by name: the message types, flags, parameter types,
// hand-off kinds and so on that the codec's corpus must cover. A constant
// whose value is not a plain literal fails the test, which then needs
// teaching.
func wireConsts(t *testing.T) map[string]uint64 {
	t.Helper()
	dir := filepath.Join("..", "..", "enrp", "wire")
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("the source of enrp/wire in %s: %v", dir, err)
	}
	fset := token.NewFileSet()
	out := map[string]uint64{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !n.IsExported() {
						continue
					}
					if i >= len(vs.Values) {
						t.Fatalf("%s: constant %s has no value of its own", fset.Position(n.Pos()), n.Name)
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.INT {
						// Not an integer the wire carries (NoLease is
						// -1, a registration life): named below.
						if n.Name == "NoLease" {
							continue
						}
						t.Fatalf("%s: constant %s is not an integer literal: teach TestWiresharkCodec", fset.Position(n.Pos()), n.Name)
					}
					v, err := strconv.ParseUint(lit.Value, 0, 64)
					if err != nil {
						t.Fatal(err)
					}
					out[n.Name] = v
				}
			}
		}
	}
	return out
}

// codecMsg is a message of the codec's corpus and what it shows.
type codecMsg struct {
	what string
	m    *wire.Message
}

// codecCorpus returns messages built with enrp/wire's encoder (and
// poolnsd's own conversions, ToPE and ErrorFor, where poolnsd uses them)
// that between them hold every message type, flag, parameter, policy,
// hand-off kind, element flag, error cause and refusal reason the codec
// can encode. TestWiresharkCodec checks that they do.
func codecCorpus(t *testing.T) []codecMsg {
	t.Helper()
	now := time.Unix(1_700_000_000, 0)
	a4, b4, a6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("2001:db8::1")
	const home, peer = 0x11111111, 0x22222222
	// Elements as poolnsd sends them: converted from the handlespace.
	full := &handlespace.Element{ID: 0xabcd0001, Label: handlespace.LabelOf("web1"), Addrs: handlespace.AddrsOf(a4, a6), Port: 8080,
		Weight: 10, Priority: 2, Load: 0x40000000, LoadDeg: 0x01000000, Site: handlespace.SiteNameOf("fra"),
		Expires: handlespace.ExpiryOf(now.Add(time.Minute)), Health: handlespace.HealthUp, Home: home, Owner: handlespace.OwnerOf("tsig:pe-key."), Lease: time.Minute,
		Admin: handlespace.AdminDrain, Reported: true, RTT: 1500 * time.Microsecond,
		Probe:   handlespace.ProbeRefOf(&handlespace.ProbeSpec{Kind: "http", Target: "/healthz", Interval: time.Second, Timeout: 300 * time.Millisecond, Rise: 2, Fall: 3}),
		Vantage: handlespace.VantagesOf([]handlespace.Vantage{{Registrar: home, Health: handlespace.HealthDown}, {Registrar: peer, Health: handlespace.HealthUp}})}
	static := &handlespace.Element{ID: 2, Label: handlespace.LabelOf("s2"), Addrs: handlespace.AddrsOf(b4), Port: 80, Weight: 1, Health: handlespace.HealthDown,
		Home: home, Static: true}
	udp := &handlespace.Element{ID: 3, Label: handlespace.LabelOf("dns3"), Addrs: handlespace.AddrsOf(a6), Port: 53, Transport: handlespace.TransportUDP, Home: home,
		Expires: handlespace.ExpiryOf(now.Add(time.Hour))}
	sctp := &handlespace.Element{ID: 4, Label: handlespace.LabelOf("sctp4"), Addrs: handlespace.AddrsOf(a4, a6), Port: 9, Transport: handlespace.TransportSCTP, Home: home,
		Expires: handlespace.ExpiryOf(now.Add(time.Hour))}
	pe := func(e *handlespace.Element, policy string) wire.PE {
		p := wire.ToPE(e, policy, 3, now)
		return p
	}
	// What the codec can encode beyond what ToPE makes.
	dccp := wire.PE{ID: 5, Home: home, RegLife: 0,
		Transport: wire.Transport{Proto: wire.ParamDCCP, Port: 5004, ServiceCode: 42, Addrs: []netip.Addr{a4}},
		Policy:    wire.Policy{Type: wire.PolicyRoundRobin}}
	udpLite := wire.PE{ID: 6, Home: home, RegLife: wire.NoLease,
		Transport: wire.Transport{Proto: wire.ParamUDPLite, Port: 5005, Addrs: []netip.Addr{a6}},
		Policy:    wire.Policy{Type: wire.PolicyRoundRobin},
		ASAP:      &wire.Transport{Proto: wire.ParamSCTP, Port: 3863, Use: wire.UseDataAndControl, Addrs: []netip.Addr{a4, a6}}}
	unknownPolicy := wire.PE{ID: 7, Home: home, RegLife: 1000,
		Transport: wire.Transport{Proto: wire.ParamTCP, Port: 80, Addrs: []netip.Addr{a4}},
		Policy:    wire.Policy{Type: 0x12345678, Value: []byte{0, 0, 0, 9}}}
	dpf := wire.PE{ID: 8, Home: home, RegLife: wire.NoLease,
		Transport: wire.Transport{Proto: wire.ParamTCP, Port: 80, Addrs: []netip.Addr{b4}},
		Policy:    wire.Policy{Type: wire.PolicyPriorityLeastUsedDegDPF, Load: 5, LoadDeg: 6, DPF: 7, Distance: 100}}

	// One element of every policy type, as ToPE makes it.
	var policies []wire.PE
	for _, name := range []string{"rr", "wrr", "rand", "wrand", "prio", "lu", "lud", "plu", "rlu", "hash", "nearest",
		"rplu", "rlud", "plud", "rplud", "wrand-dpf", "lu-dpf", "lud-dpf", "plu-dpf", "plud-dpf"} {
		if _, ok := wire.PolicyType(name); !ok {
			t.Fatalf("policy %q has no wire type", name)
		}
		e := *full
		e.ID = uint32(len(policies) + 100)
		policies = append(policies, pe(&e, name))
	}

	update := func(from, to uint32, action wire.UpdateAction, p wire.PE) *wire.Message {
		return &wire.Message{Type: wire.TypeHandleUpdate, Sender: from, Receiver: to, Action: action,
			Entries: []wire.Entry{{Handle: []byte("web.pool.example."), Elements: []wire.PE{p}}}}
	}
	withX := func(p wire.PE, f func(x *wire.ElementX)) wire.PE {
		x := *p.X
		f(&x)
		p.X = &x
		return p
	}
	page := func(kind uint8, flags uint8, es ...wire.PE) *wire.Message {
		m := &wire.Message{Type: wire.TypeHandleTableResp, Flags: flags, Sender: home, Receiver: peer,
			Handoff: &wire.Handoff{Kind: kind, Live: 3, Seq: 7}}
		if len(es) > 0 {
			m.Entries = []wire.Entry{{Handle: []byte("web.pool.example."), Elements: es}}
		}
		return m
	}
	delta := func(m *wire.Message) *wire.Message {
		m.Handoff.Flags = wire.HandoffDelta
		return m
	}
	trimmed := withX(pe(static, "rr"), func(x *wire.ElementX) {
		x.Label, x.Site, x.Probe, x.Addrs, x.Owner, x.Lease = "", "", nil, nil, "", 0
		x.Flags |= wire.XTrimmed
		x.Strength = 4
	})
	srv := wire.ServerInfo{ID: home, Transport: wire.Transport{Proto: wire.ParamTCP, Port: wire.Port, Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}}
	srv6 := wire.ServerInfo{ID: peer, Transport: wire.Transport{Proto: wire.ParamSCTP, Port: wire.Port, Use: wire.UseDataAndControl,
		Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("::1")}}}

	// ERRORs as poolnsd makes them: for a malformed message, an unknown
	// message type and a parameter that asks to be reported.
	var errs []codecMsg
	for _, c := range []struct {
		what string
		b    []byte
	}{
		{"ERROR for a malformed message", []byte{1, 0, 0, 12, 0, 0, 0, 0xe, 0, 0, 0, 0}},
		{"ERROR for an unknown message type", []byte{0x7f, 0, 0, 12, 0, 0, 0, 0xe, 0, 0, 0, 0}},
		{"ERROR for a parameter that asks to be reported (top bits 01)",
			[]byte{1, 0, 0, 24, 0, 0, 0, 0xe, 0, 0, 0, 0, 0, 0xf, 0, 6, 0, 0, 0, 0, 0x40, 0x77, 0, 4}},
	} {
		_, err := wire.Decode(c.b)
		if err == nil {
			t.Fatalf("%s: the message decodes", c.what)
		}
		m := wire.ErrorFor(err, home, 0xe)
		if m == nil {
			t.Fatalf("%s: no ERROR for %v", c.what, err)
		}
		errs = append(errs, codecMsg{c.what, m})
	}
	skipReport, err := wire.Decode([]byte{1, 0, 0, 24, 0, 0, 0, 0xe, 0, 0, 0, 0, 0, 0xf, 0, 6, 0, 0, 0, 0, 0xc0, 0x77, 0, 4})
	if err != nil {
		t.Fatal(err)
	}
	errs = append(errs, codecMsg{"ERROR reporting a skipped parameter (top bits 11)", wire.ReportUnrecognized(skipReport, home)})
	// The other causes, each as RFC 5354 lays it out.
	var causes []wire.Cause
	for _, code := range []uint16{wire.CauseNonUniquePEID, wire.CauseLackOfResources, wire.CauseUnknownPoolHandle, wire.CauseSecurity} {
		causes = append(causes, wire.Cause{Code: code})
	}
	polParam, _ := (&wire.Message{Type: wire.TypeHandleUpdate, Action: wire.AddPE, Entries: []wire.Entry{{Handle: []byte("a."), Elements: []wire.PE{pe(udp, "rr")}}}}).Encode()
	// A cause whose information is a parameter: the update's pool element.
	peParam := polParam[wire.HeaderLen+wire.IDsLen+4+wire.ParamHeaderLen+4:]
	for _, code := range []uint16{wire.CausePolicyInconsistent, wire.CauseTransportMismatch, wire.CauseDataControlMismatch} {
		causes = append(causes, wire.Cause{Code: code, Info: peParam})
	}
	errs = append(errs, codecMsg{"ERROR with the other causes", &wire.Message{Type: wire.TypeError, Sender: home, Receiver: peer, Causes: causes}})
	// Refusals of requests, one for each reason.
	for i, r := range []struct {
		req    uint16
		reason uint8
	}{
		{wire.ParamXAdminReq, wire.RefusedNotHome},
		{wire.ParamXReportReq, wire.RefusedNoElement},
		{wire.ParamXAdminReq, wire.RefusedBadRequest},
		{wire.ParamXReportReq, wire.RefusedFailed},
		{wire.ParamXConfirmReq, wire.RefusedNotHome},
	} {
		errs = append(errs, codecMsg{"ERROR refusing a request, reason " + strconv.Itoa(int(r.reason)), &wire.Message{Type: wire.TypeError, Sender: home, Receiver: peer,
			Causes:  []wire.Cause{{Code: wire.CauseInvalidValues, Info: wire.DiagParam("refused")}},
			Refused: &wire.Refused{Request: r.req, Reason: r.reason, ID: uint32(i + 1), Handle: []byte("web.pool.example.")}}})
	}

	out := []codecMsg{
		{"PRESENCE asking for a reply, with server information and digest", &wire.Message{Type: wire.TypePresence, Flags: wire.FlagReplyRequired,
			Sender: home, Receiver: peer, Checksum: 0xbeef, Server: &srv, Digest: &wire.Digest{Count: 3, Hash: 0x0123456789abcdef}}},
		{"PRESENCE of a registrar that knows no peer yet", &wire.Message{Type: wire.TypePresence, Sender: home, Checksum: 0xffff}},
		{"PRESENCE acknowledging a hand-off", &wire.Message{Type: wire.TypePresence, Sender: peer, Receiver: home, Checksum: 0x1234,
			Handoff: &wire.Handoff{Kind: wire.HandoffAck, Live: 2, Seq: 7}}},
		{"HANDLE_TABLE_REQUEST", &wire.Message{Type: wire.TypeHandleTableRequest, Sender: peer, Receiver: home}},
		{"HANDLE_TABLE_REQUEST for own children only", &wire.Message{Type: wire.TypeHandleTableRequest, Flags: wire.FlagOwnChildrenOnly, Sender: peer, Receiver: home}},
		{"HANDLE_TABLE_RESPONSE, more to send, every policy", &wire.Message{Type: wire.TypeHandleTableResp, Flags: wire.FlagMoreToSend,
			Sender: home, Receiver: peer, Entries: []wire.Entry{{Handle: []byte("web.pool.example."), Elements: policies}}}},
		{"HANDLE_TABLE_RESPONSE, every transport", &wire.Message{Type: wire.TypeHandleTableResp, Sender: home, Receiver: peer, Entries: []wire.Entry{
			{Handle: []byte("web.pool.example."), Elements: []wire.PE{pe(full, "lud"), pe(static, "rr")}},
			{Handle: []byte("dns.pool.example."), Elements: []wire.PE{pe(udp, "rr"), pe(sctp, "wrr"), dccp, udpLite, unknownPolicy, dpf}},
		}}},
		{"HANDLE_TABLE_RESPONSE rejecting the request", &wire.Message{Type: wire.TypeHandleTableResp, Flags: wire.FlagReject, Sender: home, Receiver: peer}},
		{"HANDLE_UPDATE ADD_PE", update(home, peer, wire.AddPE, pe(full, "lud"))},
		{"HANDLE_UPDATE DEL_PE", update(home, peer, wire.DelPE, pe(udp, "rr"))},
		{"HANDLE_UPDATE: an administrative request", update(peer, home, wire.AddPE, withX(pe(full, "lud"), func(x *wire.ElementX) {
			x.AdminReq, x.ReqAdmin = true, uint8(handlespace.AdminForceDown)
		}))},
		{"HANDLE_UPDATE: a failure report from an IPv4 pool user", update(peer, home, wire.AddPE, withX(pe(full, "lud"), func(x *wire.ElementX) {
			x.ReportReq, x.Reporter = true, netip.MustParseAddr("198.51.100.7")
		}))},
		{"HANDLE_UPDATE: a failure report from an IPv6 pool user", update(peer, home, wire.AddPE, withX(pe(full, "lud"), func(x *wire.ElementX) {
			x.ReportReq, x.Reporter = true, netip.MustParseAddr("2001:db8::7")
		}))},
		{"HANDLE_UPDATE: a failure report from an unknown pool user", update(peer, home, wire.AddPE, withX(pe(full, "lud"), func(x *wire.ElementX) {
			x.ReportReq = true
		}))},
		{"HANDLE_UPDATE: a confirmation request", update(home, peer, wire.AddPE, withX(pe(full, "lud"), func(x *wire.ElementX) {
			x.ConfirmReq = &wire.ConfirmReq{Nonce: 0xdeadbeef, Budget: 300, Proposed: uint8(handlespace.HealthDown)}
		}))},
		{"HANDLE_UPDATE: a confirmation answer", update(peer, home, wire.AddPE, withX(pe(full, "lud"), func(x *wire.ElementX) {
			x.ConfirmAns = &wire.ConfirmAns{Nonce: 0xdeadbeef, Health: uint8(handlespace.HealthUp), RTT: 1234}
		}))},
		{"HANDLE_TABLE_RESPONSE: a hand-off page with report counts", page(wire.HandoffPage, 0, withX(pe(full, "lud"), func(x *wire.ElementX) { x.Reports = 2 }), pe(static, "rr"))},
		{"HANDLE_TABLE_RESPONSE: the last hand-off page, empty", page(wire.HandoffLast, 0)},
		{"HANDLE_TABLE_RESPONSE: the last hand-off page", page(wire.HandoffLast, 0, pe(udp, "rr"))},
		{"HANDLE_TABLE_RESPONSE: a hand-back page", page(wire.HandbackPage, 0, pe(static, "rr"))},
		{"HANDLE_TABLE_RESPONSE: a push page, zone-file elements trimmed", page(wire.SyncPage, 0, pe(full, "lud"), trimmed)},
		{"HANDLE_TABLE_RESPONSE: the last push page, empty", page(wire.SyncLast, 0)},
		{"HANDLE_TABLE_RESPONSE: the last push page", page(wire.SyncLast, 0, trimmed)},
		{"HANDLE_TABLE_RESPONSE: the last page of a push of the changes alone", delta(page(wire.SyncLast, 0, trimmed))},
		{"LIST_REQUEST", &wire.Message{Type: wire.TypeListRequest, Sender: peer, Receiver: home}},
		{"LIST_RESPONSE", &wire.Message{Type: wire.TypeListResponse, Sender: home, Receiver: peer, Servers: []wire.ServerInfo{srv, srv6}}},
		{"LIST_RESPONSE rejecting the request", &wire.Message{Type: wire.TypeListResponse, Flags: wire.FlagReject, Sender: home, Receiver: peer}},
		{"INIT_TAKEOVER", &wire.Message{Type: wire.TypeInitTakeover, Sender: home, Receiver: peer, Target: 0x33333333}},
		{"INIT_TAKEOVER_ACK", &wire.Message{Type: wire.TypeInitTakeoverAck, Sender: peer, Receiver: home, Target: 0x33333333}},
		{"TAKEOVER_SERVER", &wire.Message{Type: wire.TypeTakeoverServer, Sender: home, Receiver: peer, Target: 0x33333333}},
	}
	return append(out, errs...)
}

// nonZeroFields records, for every struct type reachable from v, which
// exported fields are non-zero somewhere.
func nonZeroFields(v reflect.Value, seen map[string]bool) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			nonZeroFields(v.Elem(), seen)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := 0; i < v.Len(); i++ {
			nonZeroFields(v.Index(i), seen)
		}
	case reflect.Struct:
		if v.Type().PkgPath() != reflect.TypeFor[wire.Message]().PkgPath() {
			return // netip.Addr and the like
		}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			k := v.Type().Name() + "." + f.Name
			if _, ok := seen[k]; !ok {
				seen[k] = false
			}
			if !v.Field(i).IsZero() {
				seen[k] = true
			}
			nonZeroFields(v.Field(i), seen)
		}
	}
}

// TestWiresharkCodec has Wireshark's ENRP dissector decode a corpus of
// messages built with enrp/wire's encoder that holds everything the codec
// can encode: each message type and flag, each parameter type of RFC 5354
// and poolnsd's extension parameters, each policy type, each hand-off kind
// (hand-off, hand-back, push), each element flag, each error cause and
// refusal reason. What "everything" is comes from the codec itself: the
// constants of enrp/wire's source and the fields of its types, so that a
// new kind cannot be left out. TestWireshark checks what real registrars
// send.
func TestWiresharkCodec(t *testing.T) {
	proctest.LookTool(t, "tshark", "tshark")
	corpus := codecCorpus(t)
	consts := wireConsts(t)
	var msgs [][]byte
	var names []string
	seen := map[string]bool{} // constants seen, by name
	mark := func(prefixes []string, v uint64) {
		for name, c := range consts {
			for _, p := range prefixes {
				if strings.HasPrefix(name, p) && c == v {
					seen[name] = true
				}
			}
		}
	}
	byName := func(names ...string) func(uint64) {
		return func(v uint64) {
			for _, n := range names {
				if consts[n] == v {
					seen[n] = true
				}
			}
		}
	}
	handoffKind := byName("HandoffPage", "HandoffLast", "HandoffAck", "HandbackPage", "SyncPage", "SyncLast")
	refusal := byName("RefusedNotHome", "RefusedNoElement", "RefusedBadRequest", "RefusedFailed")
	// Which message types each flag belongs to (wire.go says so in
	// words); a new flag fails the test below until it is listed here.
	flagTypes := map[string][]wire.Type{
		"FlagReplyRequired":   {wire.TypePresence},
		"FlagOwnChildrenOnly": {wire.TypeHandleTableRequest},
		"FlagReject":          {wire.TypeHandleTableResp, wire.TypeListResponse},
		"FlagMoreToSend":      {wire.TypeHandleTableResp},
	}
	fields := map[string]bool{}
	for _, c := range corpus {
		b, err := c.m.Encode()
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		d, err := wire.Decode(b)
		if err != nil {
			t.Fatalf("%s: the codec does not decode its own message: %v", c.what, err)
		}
		if db, err := d.Encode(); err != nil || !bytes.Equal(db, b) {
			t.Errorf("%s: decoded as %v, not %v", c.what, d, c.m)
		}
		msgs, names = append(msgs, b), append(names, c.what)
		nonZeroFields(reflect.ValueOf(c.m), fields)

		mark([]string{"Type"}, uint64(b[0]))
		for name, types := range flagTypes {
			if slices.Contains(types, d.Type) && d.Has(uint8(consts[name])) {
				seen[name] = true
			}
		}
		for _, p := range paramTypes(t, b, true) {
			mark([]string{"Param"}, uint64(p))
		}
		if d.Type == wire.TypeHandleUpdate {
			byName("AddPE", "DelPE")(uint64(d.Action))
		}
		if d.Handoff != nil {
			handoffKind(uint64(d.Handoff.Kind))
			if d.Handoff.Flags&wire.HandoffDelta != 0 {
				seen["HandoffDelta"] = true
			}
		}
		for _, c := range d.Causes {
			mark([]string{"Cause"}, uint64(c.Code))
			if len(c.Info) >= wire.ParamHeaderLen {
				// The information of a cause is a parameter (the
				// diagnostic, an unrecognized parameter) or a message.
				mark([]string{"Param"}, uint64(uint16(c.Info[0])<<8|uint16(c.Info[1])))
			}
		}
		if r := d.Refused; r != nil {
			refusal(uint64(r.Reason))
		}
		for _, s := range d.Servers {
			byName("UseDataOnly", "UseDataAndControl")(uint64(s.Transport.Use))
		}
		for _, en := range d.Entries {
			for _, p := range en.Elements {
				mark([]string{"Policy"}, uint64(p.Policy.Type))
				if p.Transport.Proto == wire.ParamTCP || p.Transport.Proto == wire.ParamSCTP {
					byName("UseDataOnly", "UseDataAndControl")(uint64(p.Transport.Use))
				}
				if p.ASAP != nil {
					byName("UseDataOnly", "UseDataAndControl")(uint64(p.ASAP.Use))
				}
				if p.RegLife == wire.NoLease {
					seen["NoLease"] = true
				}
				if x := p.X; x != nil {
					for _, f := range []string{"XStatic", "XReported", "XTrimmed"} {
						if x.Flags&uint8(consts[f]) != 0 {
							seen[f] = true
						}
					}
				}
			}
		}
	}
	// What the wire carries but no message must hold: sizes, the port.
	notCarried := map[string]string{
		"Port":           "the ENRP port, where the datagrams go",
		"HeaderLen":      "a size",
		"IDsLen":         "a size",
		"ParamHeaderLen": "a size",
		"ParamCookie":    "RFC 5354's cookie: the codec has no field for it, poolnsd sends none",
		"ParamPEIdentifier": "RFC 5354's PE identifier parameter (ASAP's deregistration): " +
			"the codec has no field for it, poolnsd sends none",
	}
	var missing []string
	for name := range consts {
		if _, ok := notCarried[name]; !ok && !seen[name] {
			missing = append(missing, name)
		}
	}
	for name := range notCarried {
		if _, ok := consts[name]; !ok {
			t.Errorf("the test exempts %s, which enrp/wire no longer has", name)
		}
	}
	if !seen["NoLease"] {
		missing = append(missing, "NoLease")
	}
	for _, name := range []string{"FlagReplyRequired", "FlagOwnChildrenOnly", "FlagReject", "FlagMoreToSend"} {
		if _, ok := consts[name]; !ok {
			t.Errorf("flag %s is gone from enrp/wire: update the test's flag table", name)
		}
	}
	for name := range consts {
		if strings.HasPrefix(name, "Flag") && flagTypes[name] == nil {
			t.Errorf("flag %s: say in the test's flag table which message types it belongs to", name)
		}
	}
	// Unrecognized is what Decode skipped, never encoded; Value is an
	// unknown policy's value, which the corpus has.
	for f, ok := range fields {
		if !ok && f != "Message.Unrecognized" {
			missing = append(missing, "field "+f)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Fatalf("the corpus lacks what enrp/wire can encode: %s; add messages that hold them", strings.Join(missing, ", "))
	}

	counts := checkDissected(t, msgs, names)
	if keep := os.Getenv("POOLNSD_KEEP_CAPTURE"); keep != "" {
		os.WriteFile(keep+".codec.pcap", mustRead(t, writeENRPPcap(t, msgs)), 0o644)
	}
	t.Logf("%d messages covering %d constants of enrp/wire, as Wireshark's ENRP dissector names them (no malformed packets, no expert warnings):\n%s",
		len(msgs), len(seen), infoSummary(counts))
}

func mustRead(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
