package msgcheck

import (
	"encoding/binary"
	"testing"

	"github.com/miekg/dns"

	"github.com/poolnsd/poolnsd/internal/hstest"
)

// rawMsg packs m and then lets fix change the bytes (header bits, counts,
// records that miekg/dns would not pack).
func rawMsg(t testing.TB, m *dns.Msg, fix func([]byte) []byte) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if fix != nil {
		b = fix(b)
	}
	return b
}

func setBits(b []byte, bits uint16) []byte { binary.BigEndian.PutUint16(b[2:], bits); return b }
func setCount(b []byte, i int, n uint16) []byte {
	binary.BigEndian.PutUint16(b[4+2*i:], n)
	return b
}

// optRR is an OPT record: root owner, UDP size 1232, version 0, DO, with
// the given raw options.
func optRR(owner []byte, options []byte) []byte {
	b := append([]byte(nil), owner...)
	b = binary.BigEndian.AppendUint16(b, dns.TypeOPT)
	b = binary.BigEndian.AppendUint16(b, 1232)
	b = append(b, 0, 0, 0x80, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(options)))
	return append(b, options...)
}

func option(code uint16, v ...byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, code)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// TestCheckMsg: the verdicts on raw messages, and the error replies in
// DNS terms: rcode, flags, question, OPT.
func TestCheckMsg(t *testing.T) {
	q := func() *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("WeB.pool.test.", dns.TypeA)
		m.Id = 0x1234
		return m
	}
	plain := func(fix func([]byte) []byte) []byte { return rawMsg(t, q(), fix) }
	allFlags := uint16(BitQR | BitAA | BitTC | BitRD | BitRA | BitAD | BitCD | 1<<6)
	root := []byte{0}
	for _, tc := range []struct {
		name     string
		msg      []byte
		want     Verdict
		flags    string // the reply's header flags as dig writes them (error replies)
		question bool   // the reply repeats the question
		opt      bool   // the reply has an OPT record
	}{
		{"query", plain(nil), Serve, "", false, false},
		{"query with OPT and ECS", plain(func(b []byte) []byte {
			return append(setCount(b, 3, 1), optRR(root, option(dns.EDNS0SUBNET, 0, 1, 24, 0, 192, 0, 2))...)
		}), Serve, "", false, false},
		{"short", []byte{0x12, 0x34, 0}, Drop, "", false, false},
		{"response", plain(func(b []byte) []byte { return setBits(b, BitQR) }), Drop, "", false, false},
		// Opcode 15 with every other header flag set: NOTIMP, nothing but
		// QR (and the opcode, which a reply repeats), the question repeated.
		{"opcode 15 all flags", plain(func(b []byte) []byte { return setBits(b, allFlags&^BitQR|15<<11) }),
			NotImp, "qr", true, false},
		{"IQUERY", plain(func(b []byte) []byte { return setBits(b, 1<<11|BitRD) }), NotImp, "qr", true, false},
		{"STATUS", plain(func(b []byte) []byte { return setBits(b, 2<<11|BitCD) }), NotImp, "qr", true, false},
		{"NOTIFY with OPT", plain(func(b []byte) []byte {
			return append(setCount(setBits(b, 4<<11|BitAA), 3, 1), optRR(root, nil)...)
		}), NotImp, "qr", true, true},
		{"NOTIFY, question cut short", plain(func(b []byte) []byte { return setBits(b, 4<<11)[:len(b)-3] }),
			NotImp, "qr", false, false},
		// QUERY errors: RD and CD copied, AA TC RA AD cleared.
		{"no question", plain(func(b []byte) []byte { return setCount(setBits(b, allFlags&^BitQR), 0, 0)[:headerLen] }),
			FormErr, "qr rd cd", false, false},
		{"two questions", plain(func(b []byte) []byte {
			return append(setCount(setBits(b, allFlags&^BitQR), 0, 2), b[headerLen:]...)
		}), FormErr, "qr rd cd", true, false},
		{"question count a lie", plain(func(b []byte) []byte { return setCount(b, 0, 2) }), FormErr, "qr rd", true, false},
		{"record in answer", plain(func(b []byte) []byte {
			return append(setCount(b, 1, 1), 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1)
		}), FormErr, "qr rd", true, false},
		{"two OPT", plain(func(b []byte) []byte {
			b = append(setCount(b, 3, 2), optRR(root, nil)...)
			return append(b, optRR(root, nil)...)
		}), FormErr, "qr rd", true, false},
		{"OPT in authority", plain(func(b []byte) []byte { return append(setCount(b, 2, 1), optRR(root, nil)...) }),
			FormErr, "qr rd", true, false},
		{"OPT with an owner", plain(func(b []byte) []byte { return append(setCount(b, 3, 1), optRR([]byte{0xC0, 12}, nil)...) }),
			FormErr, "qr rd", true, false},
		{"OPT option cut short", plain(func(b []byte) []byte {
			return append(setCount(b, 3, 1), optRR(root, []byte{0, 10, 0, 8, 1, 2})...)
		}), FormErr, "qr rd", true, false},
		{"ECS of family 3", plain(func(b []byte) []byte {
			return append(setCount(b, 3, 1), optRR(root, option(dns.EDNS0SUBNET, 0, 3, 24, 0, 1, 2, 3))...)
		}), FormErr, "qr rd", true, false},
		{"additional count a lie", plain(func(b []byte) []byte { return append(setCount(b, 3, 2), optRR(root, nil)...) }),
			FormErr, "qr rd", true, false},
		{"pointer loop in the question", []byte{0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1},
			FormErr, "qr", false, false},
		{"reserved label type", []byte{0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 1, 0, 1},
			FormErr, "qr", false, false},
		// UPDATE: the zone section repeated when it is one record, else
		// none (RFC 2136 §3.8: the count copied with its section, or 0).
		{"UPDATE, one zone record", plain(func(b []byte) []byte { return setCount(setBits(b, 5<<11), 3, 1) }),
			FormErr, "qr", true, false},
		{"UPDATE, two zone records", plain(func(b []byte) []byte {
			b = append(setCount(setBits(b, 5<<11), 0, 2), b[headerLen:]...)
			return setCount(b, 3, 1)
		}), FormErr, "qr", false, false},
		{"FORMERR keeps a good OPT", plain(func(b []byte) []byte {
			b = append(setCount(setCount(b, 0, 2), 3, 1), b[headerLen:]...)
			return append(b, optRR(root, nil)...)
		}), FormErr, "qr rd", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m Msg
			v := Check(tc.msg, &m)
			if v != tc.want {
				t.Fatalf("Verdict %d, want %d", v, tc.want)
			}
			if v == Serve {
				if err := new(dns.Msg).Unpack(tc.msg); err != nil {
					t.Fatalf("served a message that does not unpack: %v", err)
				}
			}
			if v != FormErr && v != NotImp {
				return
			}
			rcode := dns.RcodeFormatError
			if v == NotImp {
				rcode = dns.RcodeNotImplemented
			}
			b := AppendErrorReply(nil, tc.msg, &m, rcode, 1232)
			r := new(dns.Msg)
			if err := r.Unpack(b); err != nil {
				t.Fatalf("reply does not unpack: %v", err)
			}
			if r.Id != 0x1234 || r.Rcode != rcode || r.Opcode != int(binary.BigEndian.Uint16(tc.msg[2:])>>11&0xF) {
				t.Errorf("reply ID %#x rcode %s opcode %d; want 0x1234, %s, the query's", r.Id, dns.RcodeToString[r.Rcode], r.Opcode, dns.RcodeToString[rcode])
			}
			if got := hstest.FlagText(r); got != tc.flags {
				t.Errorf("flags %q, want %q", got, tc.flags)
			}
			if tc.question != (len(r.Question) == 1) {
				t.Errorf("question %v, want repeated: %v", r.Question, tc.question)
			} else if tc.question && (r.Question[0].Name != "WeB.pool.test." || r.Question[0].Qtype != dns.TypeA) {
				t.Errorf("question %v, want the query's, as written", r.Question[0])
			}
			if opt := r.IsEdns0(); (opt != nil) != tc.opt {
				t.Errorf("OPT %v, want one: %v", opt, tc.opt)
			} else if opt != nil && (!opt.Do() || opt.UDPSize() != 1232) {
				t.Errorf("OPT %v: want DO copied and our UDP size", opt)
			}
		})
	}
}

// FuzzCheckMsg: Check never panics; a query it serves unpacks with
// miekg/dns; every error reply unpacks, carries the query's ID and QR,
// none of AA, TC, RA, AD and Z, and repeats the query's first question
// when it has one (an UPDATE's only when its zone section is that one).
func FuzzCheckMsg(f *testing.F) {
	m := new(dns.Msg)
	m.SetQuestion("web.pool.test.", dns.TypeA)
	m.SetEdns0(1232, true)
	b, _ := m.Pack()
	f.Add(b)
	f.Add(setBits(append([]byte(nil), b...), 15<<11|BitTC|BitRA))
	f.Add([]byte{0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Msg
		v := Check(b, &m)
		switch v {
		case Serve:
			if m.Opcode() == dns.OpcodeUpdate {
				return // its reader's to check: dnsupdate's FuzzRead
			}
			if err := new(dns.Msg).Unpack(b); err != nil {
				t.Fatalf("served a message that does not unpack: %v", err)
			}
			return
		case Drop:
			return
		}
		out := AppendErrorReply(nil, b, &m, dns.RcodeFormatError, 1232)
		r := new(dns.Msg)
		if err := r.Unpack(out); err != nil {
			t.Fatalf("reply does not unpack: %v", err)
		}
		if r.Id != binary.BigEndian.Uint16(b) || !r.Response || r.Authoritative || r.Truncated ||
			r.RecursionAvailable || r.AuthenticatedData || r.Zero {
			t.Fatalf("reply header %+v", r.MsgHdr)
		}
		if m.Opcode() == dns.OpcodeUpdate && binary.BigEndian.Uint16(b[4:]) != 1 && len(r.Question) != 0 {
			t.Fatalf("reply to an UPDATE of %d zone records repeats %v", binary.BigEndian.Uint16(b[4:]), r.Question)
		}
		if len(r.Question) == 1 {
			q, _, err := unpackFirstQuestion(b)
			if err != nil || !dns.IsFqdn(q.Name) || q != r.Question[0] {
				t.Fatalf("question %v, the query's %v (%v)", r.Question[0], q, err)
			}
		}
	})
}

// unpackFirstQuestion reads the first question of b with miekg/dns.
func unpackFirstQuestion(b []byte) (dns.Question, int, error) {
	name, off, err := dns.UnpackDomainName(b, headerLen)
	if err != nil || off+4 > len(b) {
		return dns.Question{}, 0, err
	}
	return dns.Question{Name: name, Qtype: binary.BigEndian.Uint16(b[off:]), Qclass: binary.BigEndian.Uint16(b[off+2:])}, off + 4, nil
}

// TestAppendPlainName: names of plain characters are taken, in lower
// case, after what dst held; the ones presentation form escapes, and
// compressed ones, are not. Presentation writes a taken one as written.
func TestAppendPlainName(t *testing.T) {
	wire := func(s string) []byte {
		b := make([]byte, 256)
		n, err := dns.PackDomainName(s, b, 0, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		return b[:n]
	}
	for _, c := range []struct {
		name, want string
		ok         bool
	}{
		{".", ".", true}, {"WeB.Pool.TEST.", "web.pool.test.", true}, {"_http._tcp.x-1.test.", "_http._tcp.x-1.test.", true},
		{`a\.b.test.`, "", false}, {`a\ b.test.`, "", false}, {`a\$.test.`, "", false}, {`a\@.test.`, "", false},
		{`a\000.test.`, "", false}, {`a\255.test.`, "", false}, {`a\"b.test.`, "", false}, {`a\;.test.`, "", false},
	} {
		got, ok := AppendPlainName([]byte("x:"), wire(c.name))
		if ok != c.ok || (ok && string(got) != "x:"+c.want) {
			t.Errorf("AppendPlainName(%q) = %q, %v; want %q, %v", c.name, got, ok, "x:"+c.want, c.ok)
		}
		if ok {
			if p := Presentation(wire(c.name)); p != c.name {
				t.Errorf("Presentation(%q) = %q", c.name, p)
			}
		}
	}
	if _, ok := AppendPlainName(nil, []byte{0xC0, 12}); ok {
		t.Errorf("a compressed name taken")
	}
}

// TestCheckUnpacked: a query with records other than an OPT (a signed
// query) is handed on unpacked, as miekg/dns unpacks its bytes, with the
// offset of its last record; a plain query, an update (read from its
// bytes by package dnsupdate), or a message Check refuses, has none.
func TestCheckUnpacked(t *testing.T) {
	upd := hstest.Update(t, "pool.test.", "+ x.dyn.pool.test. 30 IN A 192.0.2.1")
	upd.SetEdns0(1232, false)
	signed := new(dns.Msg)
	signed.SetQuestion("web.pool.test.", dns.TypeA)
	signed.SetTsig("k.", dns.HmacSHA256, 300, 1)
	plain := new(dns.Msg)
	plain.SetQuestion("web.pool.test.", dns.TypeA)
	plain.SetEdns0(1232, true)
	for _, c := range []struct {
		name     string
		b        []byte
		want     Verdict
		unpacked bool
	}{
		{"update", rawMsg(t, upd, nil), Serve, false},
		{"signed query", rawMsg(t, signed, nil), Serve, true},
		{"plain query", rawMsg(t, plain, nil), Serve, false},
		{"update, an RDATA cut short", rawMsg(t, upd, func(b []byte) []byte {
			// The A record's RDLENGTH 3, the OPT record after it read from
			// its last byte: the walk fails, or the unpack.
			i := len(b) - 11 - 4 - 2
			binary.BigEndian.PutUint16(b[i:], 3)
			return b
		}), FormErr, false},
	} {
		var m Msg
		if v := Check(c.b, &m); v != c.want {
			t.Errorf("%s: verdict %d, want %d", c.name, v, c.want)
		}
		if (m.Unpacked != nil) != c.unpacked {
			t.Errorf("%s: unpacked %v, want %v", c.name, m.Unpacked != nil, c.unpacked)
			continue
		}
		if m.Unpacked != nil && c.want == Serve {
			// The last record: the TSIG of the signed query, the OPT of
			// the update (its last 11 bytes).
			if tsig := m.Unpacked.IsTsig(); tsig != nil {
				if m.LastRR != len(c.b)-dns.Len(tsig) {
					t.Errorf("%s: last record at %d, want %d", c.name, m.LastRR, len(c.b)-dns.Len(tsig))
				}
			} else if m.LastRR != len(c.b)-11 {
				t.Errorf("%s: last record at %d, want %d", c.name, m.LastRR, len(c.b)-11)
			}
		}
		if m.Unpacked != nil {
			want := new(dns.Msg)
			if err := want.Unpack(c.b); err != nil {
				t.Fatal(err)
			}
			if m.Unpacked.String() != want.String() {
				t.Errorf("%s: unpacked\n%v\nwant\n%v", c.name, m.Unpacked, want)
			}
		}
	}
}
