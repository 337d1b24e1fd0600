package ednsopt

import (
	"bytes"
	"testing"

	"github.com/miekg/dns"
)

// The info codes are RFC 8914's, as miekg/dns numbers them.
func TestCodes(t *testing.T) {
	for got, want := range map[uint16]uint16{
		Other:            dns.ExtendedErrorCodeOther,
		NotReady:         dns.ExtendedErrorCodeNotReady,
		Prohibited:       dns.ExtendedErrorCodeProhibited,
		NotAuthoritative: dns.ExtendedErrorCodeNotAuthoritative,
		NotSupported:     dns.ExtendedErrorCodeNotSupported,
		InvalidData:      dns.ExtendedErrorCodeInvalidData,
		InvalidQueryType: dns.ExtendedErrorCodeInvalidQueryType,
	} {
		if got != want {
			t.Errorf("code %d, miekg/dns says %d (%s)", got, want, dns.ExtendedErrorCodeToString[want])
		}
	}
	if CodeEDE != dns.EDNS0EDE || CodeNSID != dns.EDNS0NSID || CodeCookie != dns.EDNS0COOKIE {
		t.Error("option codes differ from miekg/dns's")
	}
}

// refused is a REFUSED reply to example.com. A from a query with EDNS,
// packed by miekg/dns: the OPT is its last record.
func refused(t *testing.T, edns bool) []byte {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion("www.example.com.", dns.TypeA)
	if edns {
		q.SetEdns0(1232, true)
	}
	m := new(dns.Msg)
	m.SetRcode(q, dns.RcodeRefused)
	if edns {
		m.SetEdns0(1232, true)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAppendEDE: the raw reply with EDE 18 unpacks with miekg/dns to the
// same reply with the option, and keeps its other fields.
func TestAppendEDE(t *testing.T) {
	b := refused(t, true)
	off, ok := FindOPT(b)
	if !ok {
		t.Fatal("FindOPT found no OPT in a reply with one")
	}
	if off != len(b)-2 {
		t.Errorf("RDLENGTH at %d, want %d (the OPT has no options yet)", off, len(b)-2)
	}
	b, err := AppendEDE(b, off, Prohibited, "not in allow_query")
	if err != nil {
		t.Fatal(err)
	}
	b, err = AppendOption(b, off, CodeNSID, []byte("reg-1"))
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("reply does not unpack: %v", err)
	}
	opt := m.IsEdns0()
	if m.Rcode != dns.RcodeRefused || opt == nil || opt.UDPSize() != 1232 || !opt.Do() || len(opt.Option) != 2 {
		t.Fatalf("reply %v", m)
	}
	ede, ok := opt.Option[0].(*dns.EDNS0_EDE)
	if !ok || ede.InfoCode != dns.ExtendedErrorCodeProhibited || ede.ExtraText != "not in allow_query" {
		t.Errorf("first option %v, want EDE 18 with its text", opt.Option[0])
	}
	if n, ok := opt.Option[1].(*dns.EDNS0_NSID); !ok || n.Nsid != "7265672d31" {
		t.Errorf("second option %v, want NSID reg-1", opt.Option[1])
	}
	if again, ok := FindOPT(b); !ok || again != off {
		t.Errorf("FindOPT after appending: %d %v, want %d", again, ok, off)
	}
}

func TestAppendErrors(t *testing.T) {
	b := refused(t, true)
	off, _ := FindOPT(b)
	for _, bad := range []int{0, 8, off - 1, off + 1, len(b)} {
		if _, err := AppendEDE(bytes.Clone(b), bad, Prohibited, ""); err == nil {
			t.Errorf("AppendEDE at offset %d (the RDLENGTH is at %d): no error", bad, off)
		}
	}
	if _, ok := FindOPT(refused(t, false)); ok {
		t.Error("FindOPT found an OPT in a reply without one")
	}
	long := bytes.Repeat([]byte("x"), 300)
	b, err := AppendEDE(b, off, Other, string(long))
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	if ede := m.IsEdns0().Option[0].(*dns.EDNS0_EDE); len(ede.ExtraText) != maxExtraText {
		t.Errorf("EXTRA-TEXT of %d bytes, want it cut to %d", len(ede.ExtraText), maxExtraText)
	}
}

// TestFindOPTSections: the OPT after answer and authority records with
// compressed names, and OPTs that are not last or not at the root.
func TestFindOPTSections(t *testing.T) {
	m := new(dns.Msg)
	m.SetQuestion("web.pool.example.", dns.TypeA)
	m.Response = true
	for _, s := range []string{"web.pool.example. 5 IN A 10.0.0.1", "web.pool.example. 5 IN A 10.0.0.2"} {
		rr, _ := dns.NewRR(s)
		m.Answer = append(m.Answer, rr)
	}
	ns, _ := dns.NewRR("pool.example. 300 IN NS ns1.pool.example.")
	glue, _ := dns.NewRR("ns1.pool.example. 300 IN A 192.0.2.53")
	m.Ns = []dns.RR{ns}
	m.Extra = []dns.RR{glue}
	m.SetEdns0(1232, false)
	m.Compress = true
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := FindOPT(b); !ok {
		t.Fatal("no OPT found after answer, authority and glue")
	}
	// The OPT before the glue: not last.
	m.Extra = []dns.RR{m.Extra[1], glue}
	b, _ = m.Pack()
	if _, ok := FindOPT(b); ok {
		t.Error("found an OPT that is not the last record")
	}
}

func TestAddEDE(t *testing.T) {
	m := new(dns.Msg)
	m.SetQuestion("x.example.", dns.TypeA)
	if AddEDE(m, NotAuthoritative, "") {
		t.Error("added an EDE to a message without OPT")
	}
	m.SetEdns0(1232, false)
	if !AddEDE(m, NotAuthoritative, "") {
		t.Fatal("AddEDE with an OPT: false")
	}
	b, _ := m.Pack()
	r := new(dns.Msg)
	if err := r.Unpack(b); err != nil {
		t.Fatal(err)
	}
	if e, ok := r.IsEdns0().Option[0].(*dns.EDNS0_EDE); !ok || e.InfoCode != 20 {
		t.Errorf("options %v, want EDE 20", r.IsEdns0().Option)
	}
}

// FuzzFindOPT: any bytes; FindOPT does not panic, and where it finds an
// OPT, appending an EDE gives a message whose last record is an OPT that
// grew by the option.
func FuzzFindOPT(f *testing.F) {
	f.Add([]byte{0, 1, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 1, 1, 'x', 0, 0, 1, 0, 1, 0xc0, 12, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, msg []byte) {
		off, ok := FindOPT(msg)
		if !ok {
			return
		}
		rdlen := int(msg[off])<<8 | int(msg[off+1])
		out, err := AppendEDE(bytes.Clone(msg), off, Prohibited, "x")
		if err != nil {
			t.Fatalf("FindOPT gave %d but AppendEDE: %v", off, err)
		}
		if got := int(out[off])<<8 | int(out[off+1]); got != rdlen+7 || len(out) != len(msg)+7 {
			t.Fatalf("RDLENGTH %d → %d, length %d → %d", rdlen, got, len(msg), len(out))
		}
		if again, ok := FindOPT(out); !ok || again != off {
			t.Fatalf("after appending, FindOPT %d %v, want %d", again, ok, off)
		}
	})
}

func BenchmarkAppendEDE(b *testing.B) {
	q := new(dns.Msg)
	q.SetQuestion("www.example.com.", dns.TypeA)
	q.SetEdns0(1232, false)
	m := new(dns.Msg)
	m.SetRcode(q, dns.RcodeRefused)
	m.SetEdns0(1232, false)
	base, _ := m.Pack()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = append(buf[:0], base...)
		off, _ := FindOPT(buf)
		buf, _ = AppendEDE(buf, off, Prohibited, "")
	}
}
