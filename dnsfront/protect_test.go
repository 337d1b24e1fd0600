package dnsfront

import (
	"encoding/hex"
	"maps"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/cookie"
	"github.com/poolnsd/poolnsd/internal/identity"
	"github.com/poolnsd/poolnsd/internal/prefixset"
	"github.com/poolnsd/poolnsd/internal/rrl"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
)

// testProtections: cookies with a fixed secret, NSID "ns-test", version
// "test-1", queries allowed from 192.0.2.0/24 and 198.51.100.0/24.
func testProtections(t testing.TB) *Protections {
	t.Helper()
	sec, err := cookie.ParseSecret("e5e973e5a6b2a43f48e7dc849e37bfcf")
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.New(identity.Config{NSID: "ns-test", Version: "test-1"})
	if err != nil {
		t.Fatal(err)
	}
	return &Protections{Cookies: cookie.NewJar(cookie.Secrets{Current: sec}), Identity: id,
		Allow: prefixes(t, "192.0.2.0/24", "198.51.100.0/24")}
}

// prefixes is the set of list; an error fails the test.
func prefixes(t testing.TB, list ...string) *prefixset.Set {
	t.Helper()
	s, err := prefixset.Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// both sends m from client through the handler's dns.Msg path and through
// the UDP loop's byte path, and returns the two replies.
func both(t *testing.T, h *Handler, u *loopAnswerer, m *dns.Msg, client string) (msgPath, loopPath *dns.Msg) {
	t.Helper()
	w := newRecorder(false)
	w.raddr = udpAddr(client)
	h.ServeDNS(w, m)
	if w.err != nil || w.n != 1 {
		t.Fatalf("handler: %d replies, %v", w.n, w.err)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	out := u.serve(&udpbatch.Msg{Buf: b, Addr: udpbatch.AddrFrom(netip.MustParseAddrPort(client), false)}, nil)
	loop := new(dns.Msg)
	if err := loop.Unpack(out); err != nil {
		t.Fatalf("loop: reply does not unpack: %v", err)
	}
	return w.msg, loop
}

func udpAddr(s string) *net.UDPAddr { return net.UDPAddrFromAddrPort(netip.MustParseAddrPort(s)) }

// optionOf returns the reply's option of code, or nil.
func optionOf(m *dns.Msg, code uint16) dns.EDNS0 {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if o.Option() == code {
				return o
			}
		}
	}
	return nil
}

func withCookie(m *dns.Msg, hexCookie string) *dns.Msg {
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hexCookie})
	return m
}

// TestProtections: the query ACL, DNS Cookies, NSID and the CHAOS names,
// in DNS terms, through the dns.Msg path and the UDP loop's byte path
// alike.
func TestProtections(t *testing.T) {
	h := NewHandler(newTestSpace(t), Config{Protect: testProtections(t)})
	u := loopFor(t, h)
	const client = "192.0.2.200:40000"
	const cc = "0102030405060708" // a client cookie
	q := func(name string, qtype uint16) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		return m
	}

	// A server cookie of ours for cc, from a first exchange.
	first, _ := both(t, h, u, withCookie(q("web.pool.test.", dns.TypeA), cc), client)
	ck, _ := optionOf(first, dns.EDNS0COOKIE).(*dns.EDNS0_COOKIE)
	if first.Rcode != dns.RcodeSuccess || len(first.Answer) != 3 || ck == nil || len(ck.Cookie) != 2*(8+16) || ck.Cookie[:16] != cc {
		t.Fatalf("client cookie only: %v; want the answer and a server cookie for %s", first, cc)
	}
	good := ck.Cookie
	bad := cc + "0100000000000000" + hex.EncodeToString(make([]byte, 8)) // version 1, a hash of zeros

	for _, c := range []struct {
		name   string
		m      *dns.Msg
		client string
		rcode  int
		answer int
		cookie string // "echo": good back; "fresh": a new one for cc; "": none
		ede    int    // -1: none
	}{
		{"no cookie", q("web.pool.test.", dns.TypeA).SetEdns0(1232, false), client, dns.RcodeSuccess, 3, "", -1},
		{"client cookie", withCookie(q("web.pool.test.", dns.TypeSRV), cc), client, dns.RcodeSuccess, 4, "fresh", -1},
		{"valid server cookie", withCookie(q("web.pool.test.", dns.TypeA), good), client, dns.RcodeSuccess, 3, "echo", -1},
		{"valid cookie, static answer", withCookie(q("ns1.pool.test.", dns.TypeA), good), client, dns.RcodeSuccess, 1, "echo", -1},
		{"invalid server cookie", withCookie(q("web.pool.test.", dns.TypeA), bad), client, dns.RcodeBadCookie, 0, "fresh", -1},
		{"another client's address", withCookie(q("web.pool.test.", dns.TypeA), good), "192.0.2.201:40000", dns.RcodeBadCookie, 0, "fresh", -1},
		{"malformed cookie", withCookie(q("web.pool.test.", dns.TypeA), "0102030405"), client, dns.RcodeFormatError, 0, "", -1},
		{"outside allow_query", withCookie(q("web.pool.test.", dns.TypeA), cc), "203.0.113.9:53", dns.RcodeRefused, 0, "", 18},
		{"outside every zone", withCookie(q("example.org.", dns.TypeA), good), client, dns.RcodeRefused, 0, "echo", 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			for i, r := range func() []*dns.Msg { a, b := both(t, h, u, c.m, c.client); return []*dns.Msg{a, b} }() {
				path := []string{"dns.Msg", "loop"}[i]
				if r.Rcode != c.rcode || len(r.Answer) != c.answer {
					t.Errorf("%s: %s with %d answers, want %s with %d", path, dns.RcodeToString[r.Rcode], len(r.Answer), dns.RcodeToString[c.rcode], c.answer)
				}
				got, _ := optionOf(r, dns.EDNS0COOKIE).(*dns.EDNS0_COOKIE)
				switch c.cookie {
				case "":
					if got != nil {
						t.Errorf("%s: COOKIE %s, want none", path, got.Cookie)
					}
				case "echo":
					if got == nil || got.Cookie != good {
						t.Errorf("%s: COOKIE %v, want %s echoed", path, got, good)
					}
				case "fresh":
					if got == nil || len(got.Cookie) != 48 || got.Cookie[:16] != cc {
						t.Errorf("%s: COOKIE %v, want a fresh one for %s", path, got, cc)
					}
				}
				ede, _ := optionOf(r, dns.EDNS0EDE).(*dns.EDNS0_EDE)
				if (ede != nil) != (c.ede >= 0) || (ede != nil && int(ede.InfoCode) != c.ede) {
					t.Errorf("%s: EDE %v, want %d", path, ede, c.ede)
				}
				if len(r.Question) != 1 || r.Question[0].Name != c.m.Question[0].Name {
					t.Errorf("%s: question %v, want the query's", path, r.Question)
				}
			}
		})
	}

	// Every query above with a COOKIE went through both paths: counted
	// twice by status, except the one the ACL refused before its cookie.
	want := map[string]uint64{"client-only": 4, "valid": 6, "invalid": 4, "malformed": 2, "valid-renew": 0}
	if got := h.CookieCounts(); !maps.Equal(got, want) {
		t.Errorf("CookieCounts() = %v, want %v", got, want)
	}

	// NSID, when asked for; the CHAOS names.
	m := q("web.pool.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
	for i, r := range func() []*dns.Msg { a, b := both(t, h, u, m, client); return []*dns.Msg{a, b} }() {
		if n, _ := optionOf(r, dns.EDNS0NSID).(*dns.EDNS0_NSID); n == nil || n.Nsid != hex.EncodeToString([]byte("ns-test")) {
			t.Errorf("%d: NSID %v, want ns-test", i, n)
		}
	}
	for _, c := range []struct {
		name  string
		rcode int
		txt   string
	}{{"id.server.", dns.RcodeSuccess, "ns-test"}, {"hostname.bind.", dns.RcodeSuccess, "ns-test"},
		{"version.bind.", dns.RcodeSuccess, "test-1"}, {"authors.bind.", dns.RcodeRefused, ""}} {
		m := new(dns.Msg)
		m.Question = []dns.Question{{Name: c.name, Qtype: dns.TypeTXT, Qclass: dns.ClassCHAOS}}
		for i, r := range func() []*dns.Msg { a, b := both(t, h, u, m, client); return []*dns.Msg{a, b} }() {
			txt := ""
			if len(r.Answer) == 1 {
				txt = r.Answer[0].(*dns.TXT).Txt[0]
			}
			if r.Rcode != c.rcode || txt != c.txt {
				t.Errorf("%d: CH TXT %s: %s %q, want %s %q", i, c.name, dns.RcodeToString[r.Rcode], txt, dns.RcodeToString[c.rcode], c.txt)
			}
		}
	}
}

// TestRateLimit: a flood from one prefix gets only slipped (TC=1) and
// dropped replies past the rate; a client with a valid server cookie, and
// TCP, are never limited; another prefix is answered.
func TestRateLimit(t *testing.T) {
	p := testProtections(t)
	p.Allow = nil
	lim, err := rrl.New(rrl.Config{ResponsesPerSecond: 5, Slip: 2})
	if err != nil {
		t.Fatal(err)
	}
	p.RRL = lim
	h := NewHandler(newTestSpace(t), Config{Protect: p})
	u := loopFor(t, h)
	u.now = time.Now() // one batch: the limiter sees no time pass
	m := new(dns.Msg)
	m.SetQuestion("web.pool.test.", dns.TypeA)
	b, _ := m.Pack()
	count := func(client string, q []byte, n int) (full, tc, none int) {
		for i := 0; i < n; i++ {
			out := u.serve(&udpbatch.Msg{Buf: q, Addr: udpbatch.AddrFrom(netip.MustParseAddrPort(client), false)}, nil)
			r := new(dns.Msg)
			switch {
			case out == nil:
				none++
			case r.Unpack(out) != nil:
				t.Fatalf("reply does not unpack")
			case r.Truncated && len(r.Answer) == 0:
				tc++
			case len(r.Answer) > 0:
				full++
			}
		}
		return
	}
	full, tc, none := count("192.0.2.7:1000", b, 40)
	if full != 5 || tc+none != 35 || tc == 0 || none == 0 {
		t.Errorf("flood of 40 at 5/s: %d full, %d truncated, %d dropped; want 5 full, the rest slipped and dropped", full, tc, none)
	}
	if f, _, _ := count("198.51.100.7:1000", b, 5); f != 5 {
		t.Errorf("another prefix: %d of 5 answered", f)
	}
	// A valid cookie is never limited.
	w := newRecorder(true) // over TCP: not limited
	w.raddr = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 1000}
	h.ServeDNS(w, withCookie(m.Copy(), "0102030405060708"))
	first := w.msg
	ck, _ := optionOf(first, dns.EDNS0COOKIE).(*dns.EDNS0_COOKIE)
	if ck == nil {
		t.Fatalf("no server cookie: %v", first)
	}
	withGood, _ := withCookie(m.Copy(), ck.Cookie).Pack()
	if f, _, _ := count("192.0.2.7:1000", withGood, 20); f != 20 {
		t.Errorf("valid cookie in the flooded prefix: %d of 20 answered", f)
	}
	// TCP is never limited.
	for i := 0; i < 20; i++ {
		w := newRecorder(true)
		h.ServeDNS(w, m)
		if w.msg == nil || len(w.msg.Answer) == 0 {
			t.Fatalf("TCP query %d not answered: %v", i, w.msg)
		}
	}
	st := lim.Stats()
	t.Logf("limiter: %+v", st)
}
