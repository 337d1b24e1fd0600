package identity

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		nsid, version string
		payload, text string // "" payload: off
		err           string
	}{
		{"", "", "", "", ""},
		{"auto", "", "1a2b3c4d", "1a2b3c4d", ""},
		{"ns1.fra", "poolnsd 1.2", "ns1.fra", "ns1.fra", ""},
		{"0x00FF10", "", "\x00\xff\x10", "00ff10", ""},
		{"0x0", "", "", "", `dns.nsid: "0x0" is not 0x and an even number of hex digits`},
		{"0x", "", "", "", `dns.nsid: "0x" is not 0x and an even number`},
		{"bad\nname", "", "", "", `dns.nsid: "bad\nname" has a control character`},
		{strings.Repeat("x", 129), "", "", "", "dns.nsid: 129 bytes, want at most 128"},
		{"", "v\x00", "", "", `dns.version: "v\x00" has a control character`},
		{"", "\xff", "", "", "dns.version: not valid UTF-8"},
	} {
		id, err := New(Config{NSID: tc.nsid, Version: tc.version, AutoID: "1a2b3c4d"})
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("New(%q, %q): %v, want %q", tc.nsid, tc.version, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("New(%q, %q): %v", tc.nsid, tc.version, err)
			continue
		}
		if string(id.NSID()) != tc.payload || (tc.payload == "") != (id.NSID() == nil) {
			t.Errorf("%q: NSID %q, want %q", tc.nsid, id.NSID(), tc.payload)
		}
		if txt, _ := id.Chaos("id.server.", dns.TypeTXT); txt != tc.text {
			t.Errorf("%q: id.server. %q, want %q", tc.nsid, txt, tc.text)
		}
	}
	if _, err := New(Config{NSID: "auto"}); err == nil {
		t.Error(`"auto" without a registrar ID: no error`)
	}
	if err := Validate("dns.nsid", "auto"); err != nil {
		t.Errorf("Validate auto: %v", err)
	}
}

// TestChaos is the table of CHAOS queries, answered from the text and the
// wire form alike.
func TestChaos(t *testing.T) {
	id, err := New(Config{NSID: "auto", Version: "poolnsd 1.2", AutoID: "0000beef"})
	if err != nil {
		t.Fatal(err)
	}
	off, _ := New(Config{})
	for _, tc := range []struct {
		id    *Identity
		qname string
		qtype uint16
		text  string
		res   Result
	}{
		{id, "id.server.", dns.TypeTXT, "0000beef", Answer},
		{id, "ID.Server.", dns.TypeTXT, "0000beef", Answer},
		{id, "hostname.bind.", dns.TypeANY, "0000beef", Answer},
		{id, "hostname.bind.", dns.TypeA, "0000beef", NoData},
		{id, "version.bind.", dns.TypeTXT, "poolnsd 1.2", Answer},
		{id, "version.server.", dns.TypeTXT, "poolnsd 1.2", Answer},
		{id, "authors.bind.", dns.TypeTXT, "", Refused},
		{id, "id.server.example.", dns.TypeTXT, "", Refused},
		{off, "id.server.", dns.TypeTXT, "", Refused},
		{off, "version.bind.", dns.TypeTXT, "", Refused},
		{nil, "id.server.", dns.TypeTXT, "", Refused},
	} {
		text, res := tc.id.Chaos(tc.qname, tc.qtype)
		if text != tc.text || res != tc.res {
			t.Errorf("Chaos(%s %s) = %q %v, want %q %v", tc.qname, dns.TypeToString[tc.qtype], text, res, tc.text, tc.res)
		}
		wire := make([]byte, 256)
		n, err := dns.PackDomainName(tc.qname, wire, 0, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		rr, wres := tc.id.ChaosWire(wire[:n], tc.qtype)
		if wres != tc.res || (rr != nil) != (tc.res == Answer) {
			t.Errorf("ChaosWire(%s %s) = %v %v, want %v", tc.qname, dns.TypeToString[tc.qtype], rr != nil, wres, tc.res)
		}
		if rr != nil {
			checkWireAnswer(t, tc.qname, tc.qtype, rr, tc.text)
		}
		if r, rres := tc.id.ChaosRR(dns.Question{Name: tc.qname, Qtype: tc.qtype, Qclass: dns.ClassCHAOS}); rres == Answer {
			if txt := r.(*dns.TXT); txt.Txt[0] != tc.text || txt.Hdr.Class != dns.ClassCHAOS || txt.Hdr.Name != tc.qname {
				t.Errorf("ChaosRR(%s) = %v", tc.qname, r)
			}
		}
	}
}

// checkWireAnswer builds the reply as the raw path would (the query's
// header and question, ANCOUNT 1, rr) and unpacks it with miekg/dns.
func checkWireAnswer(t *testing.T, qname string, qtype uint16, rr []byte, text string) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(qname, qtype)
	q.Question[0].Qclass = dns.ClassCHAOS
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	b[2] |= 0x80 | 0x04 // QR, AA
	binary.BigEndian.PutUint16(b[6:], 1)
	b = append(b, rr...)
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("%s: reply does not unpack: %v", qname, err)
	}
	txt, ok := m.Answer[0].(*dns.TXT)
	if !ok || len(txt.Txt) != 1 || txt.Txt[0] != text || txt.Hdr.Class != dns.ClassCHAOS || txt.Hdr.Ttl != 0 || !strings.EqualFold(txt.Hdr.Name, qname) {
		t.Errorf("%s: answer %v, want CH TXT %q with TTL 0", qname, m.Answer[0], text)
	}
}

func TestNSIDRequested(t *testing.T) {
	for _, tc := range []struct {
		rdata []byte
		want  bool
	}{
		{nil, false},
		{[]byte{0, 3, 0, 0}, true},
		{[]byte{0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 3, 0, 0}, true},
		{[]byte{0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}, false},
		{[]byte{0, 10, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 0, 3, 0, 0}, false}, // the cookie's length swallows it
		{[]byte{0, 3, 0, 4, 'a', 'b'}, false},                            // cut short
	} {
		if got := NSIDRequested(tc.rdata); got != tc.want {
			t.Errorf("NSIDRequested(%x) = %v, want %v", tc.rdata, got, tc.want)
		}
	}
}

func BenchmarkChaosWire(b *testing.B) {
	id, _ := New(Config{NSID: "auto", Version: "1", AutoID: "0000beef"})
	name := []byte("\x07VERSION\x04bind\x00")
	b.ReportAllocs()
	for b.Loop() {
		if _, res := id.ChaosWire(name, dns.TypeTXT); res != Answer {
			b.Fatal(res)
		}
	}
}
