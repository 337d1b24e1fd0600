package protect

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/cookie"
	"github.com/poolnsd/poolnsd/internal/ednsopt"
	"github.com/poolnsd/poolnsd/internal/identity"
	"github.com/poolnsd/poolnsd/internal/prefixset"
	"github.com/poolnsd/poolnsd/internal/rrl"
)

// The tests of what each exported function of the package promises, on
// its own: the parts (cookie, rrl, identity, prefixset) are real, the
// clock is the Query's Now, set by the test. dnsfront's tests check the
// same through the handler, on the wire.

// t0 is the fake clock's time.
var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

var (
	inside  = netip.MustParseAddrPort("192.0.2.7:5353")
	outside = netip.MustParseAddrPort("198.51.100.7:5353")
)

func jar(t *testing.T) *cookie.Jar {
	t.Helper()
	s, err := cookie.ParseSecret("000102030405060708090a0b0c0d0e0f")
	if err != nil {
		t.Fatal(err)
	}
	return cookie.NewJar(cookie.Secrets{Current: s})
}

var clientCookie = [cookie.ClientLen]byte{1, 2, 3, 4, 5, 6, 7, 8}

// serverCookie returns a COOKIE option's data with a server cookie that
// jar j made for client at time at.
func serverCookie(j *cookie.Jar, client netip.Addr, at time.Time) []byte {
	sc := j.ServerCookie(&clientCookie, client, at)
	return append(clientCookie[:], sc[:]...)
}

// TestAdmitACL: a client outside dns.allow_query is REFUSED with EDE
// Prohibited, before anything else; inside, or without an ACL, it goes
// on; an NSID option is granted only when there is an NSID.
func TestAdmitACL(t *testing.T) {
	allow, err := prefixset.Parse([]string{"192.0.2.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.New(identity.Config{NSID: "ns-a"})
	if err != nil {
		t.Fatal(err)
	}
	var counts CookieCounts
	p := &Protections{Allow: allow, Identity: id, Cookies: jar(t)}
	for _, c := range []struct {
		name   string
		p      *Protections
		client netip.AddrPort
		rcode  int
		nsid   bool
	}{
		{"inside", p, inside, -1, true},
		{"outside", p, outside, dns.RcodeRefused, false},
		{"no ACL", &Protections{}, outside, -1, false},
		{"all", &Protections{Allow: mustParse(t, "0.0.0.0/0", "::/0")}, outside, -1, false},
	} {
		q := Query{Prot: c.p, Now: t0}
		client := c.client
		// The cookie is malformed: the ACL's refusal comes first.
		qo := QueryOpts{NSID: true, HasCookie: c.rcode >= 0, Cookie: clientCookie[:]}
		if got := q.Admit(&client, false, &qo, &counts); got != c.rcode {
			t.Errorf("%s: Admit = %d, want %d", c.name, got, c.rcode)
		}
		if refused := c.rcode == dns.RcodeRefused; q.EDESet != refused || (refused && q.EDE != ednsopt.Prohibited) {
			t.Errorf("%s: EDE %d set %v; want Prohibited %v", c.name, q.EDE, q.EDESet, refused)
		}
		if q.NSID != c.nsid {
			t.Errorf("%s: NSID %v, want %v", c.name, q.NSID, c.nsid)
		}
	}
}

func mustParse(t *testing.T, list ...string) *prefixset.Set {
	t.Helper()
	s, err := prefixset.Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAdmitCookies: each cookie status's decision (RFC 7873 §5.2), with
// the clock the test gives (a server cookie past its lifetime is
// invalid), counted by status; a malformed option's reply carries no
// COOKIE; cookies off ignores the option.
func TestAdmitCookies(t *testing.T) {
	j := jar(t)
	p := &Protections{Cookies: j}
	fresh := serverCookie(j, inside.Addr(), t0)
	for _, c := range []struct {
		name    string
		p       *Protections
		cookie  []byte // nil: no option
		now     time.Time
		tcp     bool
		rcode   int
		st      cookie.Status
		counted cookie.Status // cookie.None: nothing counted
		replyCk bool          // the reply carries a COOKIE option
	}{
		{"no option", p, nil, t0, false, -1, cookie.None, cookie.None, false},
		{"client only", p, clientCookie[:], t0, false, -1, cookie.ClientOnly, cookie.ClientOnly, true},
		{"malformed", p, clientCookie[:5], t0, false, dns.RcodeFormatError, cookie.None, cookie.Malformed, false},
		{"valid", p, fresh, t0.Add(time.Minute), false, -1, cookie.Valid, cookie.Valid, true},
		{"valid, to renew", p, fresh, t0.Add(cookie.Renew + time.Minute), false, -1, cookie.ValidRenew, cookie.ValidRenew, true},
		{"expired over UDP", p, fresh, t0.Add(cookie.Lifetime + time.Minute), false, dns.RcodeBadCookie, cookie.Invalid, cookie.Invalid, true},
		{"expired over TCP", p, fresh, t0.Add(cookie.Lifetime + time.Minute), true, -1, cookie.Invalid, cookie.Invalid, true},
		{"another client's", p, serverCookie(j, outside.Addr(), t0), t0, false, dns.RcodeBadCookie, cookie.Invalid, cookie.Invalid, true},
		{"cookies off", &Protections{}, fresh, t0, false, -1, cookie.None, cookie.None, false},
	} {
		var counts CookieCounts
		q := Query{Prot: c.p, Now: c.now}
		client := inside
		qo := QueryOpts{Cookie: c.cookie, HasCookie: c.cookie != nil}
		if got := q.Admit(&client, c.tcp, &qo, &counts); got != c.rcode {
			t.Errorf("%s: Admit = %d, want %d", c.name, got, c.rcode)
		}
		if q.CkSt != c.st {
			t.Errorf("%s: status %v, want %v", c.name, q.CkSt, c.st)
		}
		if !q.Now.Equal(c.now) {
			t.Errorf("%s: Now %v; the query's clock was %v", c.name, q.Now, c.now)
		}
		m := counts.Map()
		for st, n := range m {
			want := uint64(0)
			if c.counted != cookie.None && st == c.counted.String() {
				want = 1
			}
			if n != want {
				t.Errorf("%s: counts %v; want one %q", c.name, m, c.counted)
				break
			}
		}
		if got := q.CookieLen() > 0; got != c.replyCk {
			t.Errorf("%s: CookieLen %d; want a COOKIE in the reply: %v", c.name, q.CookieLen(), c.replyCk)
		}
	}
	// Without a clock of its own, Admit reads the time once a cookie
	// needs it.
	q := Query{Prot: p}
	client := inside
	qo := QueryOpts{Cookie: clientCookie[:], HasCookie: true}
	if q.Admit(&client, false, &qo, new(CookieCounts)); q.Now.IsZero() {
		t.Error("Admit with a cookie left Now zero")
	}
	q = Query{Prot: p}
	if q.Admit(&client, false, &QueryOpts{}, new(CookieCounts)); !q.Now.IsZero() {
		t.Error("Admit without a cookie read the clock")
	}
}

// TestLimit: the rate limiter's verdict for UDP replies; TCP and a valid
// cookie are never limited; a slip to a client with a client cookie is
// BADCOOKIE, to one without TC=1.
func TestLimit(t *testing.T) {
	l, err := rrl.New(rrl.Config{ResponsesPerSecond: 1, Slip: 1, SlipSet: true})
	if err != nil {
		t.Fatal(err)
	}
	p := &Protections{RRL: l}
	// The limiter counts from when it was made: the fake clock starts
	// after that.
	t0 := time.Now().Add(time.Hour)
	verdicts := func(st cookie.Status, tcp bool, client netip.AddrPort, name string) (out []rrl.Verdict, badCookie bool) {
		for range 3 {
			q := Query{Prot: p, Now: t0, CkSt: st}
			out = append(out, q.Limit(&client, tcp, dns.TypeA, rrl.Answer, name))
			badCookie = badCookie || q.SlipBadCookie
		}
		return out, badCookie
	}
	slipped := []rrl.Verdict{rrl.Send, rrl.Slip, rrl.Slip}
	sent := []rrl.Verdict{rrl.Send, rrl.Send, rrl.Send}
	for _, c := range []struct {
		name      string
		st        cookie.Status
		tcp       bool
		client    string
		want      []rrl.Verdict
		badCookie bool
	}{
		{"UDP, no cookie", cookie.None, false, "192.0.2.1:53", slipped, false},
		{"UDP, client cookie", cookie.ClientOnly, false, "192.0.2.2:53", slipped, true},
		{"UDP, invalid cookie", cookie.Invalid, false, "192.0.2.3:53", slipped, true},
		{"UDP, valid cookie", cookie.Valid, false, "192.0.2.4:53", sent, false},
		{"TCP", cookie.None, true, "192.0.2.5:53", sent, false},
	} {
		// Each case its own /24 and name: its own bucket.
		got, bad := verdicts(c.st, c.tcp, netip.MustParseAddrPort(c.client), c.name+".pool.test.")
		if !slices.Equal(got, c.want) || bad != c.badCookie {
			t.Errorf("%s: %v, BADCOOKIE slip %v; want %v, %v", c.name, got, bad, c.want, c.badCookie)
		}
	}
	// The clock is the query's: three replies at one a second are paid
	// for three seconds later, not before (two buckets of the cases
	// above: a cut reply counts too).
	for _, c := range []struct {
		client, name string
		after        time.Duration
		want         rrl.Verdict
	}{
		{"192.0.2.1:53", "UDP, no cookie", 3 * time.Second, rrl.Send},
		{"192.0.2.2:53", "UDP, client cookie", 2900 * time.Millisecond, rrl.Slip},
	} {
		client := netip.MustParseAddrPort(c.client)
		q := Query{Prot: p, Now: t0.Add(c.after)}
		if v := q.Limit(&client, false, dns.TypeA, rrl.Answer, c.name+".pool.test."); v != c.want {
			t.Errorf("%s, %v later: %v, want %v", c.name, c.after, v, c.want)
		}
	}
	client := netip.MustParseAddrPort("192.0.2.1:53")
	q := Query{Prot: &Protections{}}
	if v := q.Limit(&client, false, dns.TypeA, rrl.Answer, "x."); v != rrl.Send || !q.Now.IsZero() {
		t.Errorf("no limiter: %v, Now %v; want send without reading the clock", v, q.Now)
	}
}

// TestOptions: the packed reply's options (AppendOptions) and the
// dns.Msg reply's (AddOptions) are the same COOKIE and NSID options, of
// the lengths CookieLen and NSIDLen say; the COOKIE echoes the client
// cookie with a server cookie of ours for that client and time (the
// jar checks it valid); AddOptions adds the EDE too, and nothing to a
// reply without an OPT record.
func TestOptions(t *testing.T) {
	j := jar(t)
	id, err := identity.New(identity.Config{NSID: "ns-a"})
	if err != nil {
		t.Fatal(err)
	}
	p := &Protections{Cookies: j, Identity: id}
	for _, c := range []struct {
		name   string
		cookie []byte
		nsid   bool
	}{
		{"cookie and NSID", clientCookie[:], true},
		{"cookie", clientCookie[:], false},
		{"NSID", nil, true},
		{"none", nil, false},
	} {
		q := Query{Prot: p, Now: t0}
		client := inside
		qo := QueryOpts{Cookie: c.cookie, HasCookie: c.cookie != nil, NSID: c.nsid}
		if rc := q.Admit(&client, false, &qo, new(CookieCounts)); rc != -1 {
			t.Fatalf("%s: Admit %d", c.name, rc)
		}
		q.SetEDEText(dns.ExtendedErrorCodeStaleAnswer, "why")
		packed := q.AppendOptions([]byte{0xff}, client.Addr())
		if packed[0] != 0xff {
			t.Fatalf("%s: AppendOptions changed what was there", c.name)
		}
		packed = packed[1:]
		if len(packed) != q.CookieLen()+q.NSIDLen() {
			t.Errorf("%s: %d bytes of options; CookieLen %d + NSIDLen %d", c.name, len(packed), q.CookieLen(), q.NSIDLen())
		}
		m := new(dns.Msg)
		m.SetEdns0(1232, false)
		q.AddOptions(m, client.Addr())
		var ede *dns.EDNS0_EDE
		for _, o := range m.IsEdns0().Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				ede = e
			}
		}
		// The OPT record's RDATA, packed: after the header (12 bytes), the
		// root name, type, class, TTL and RDLENGTH (11).
		wire, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		var fromMsg []byte
		for b := wire[12+11:]; len(b) >= 4; {
			n := 4 + int(binary.BigEndian.Uint16(b[2:]))
			if binary.BigEndian.Uint16(b) != dns.EDNS0EDE {
				fromMsg = append(fromMsg, b[:n]...)
			}
			b = b[n:]
		}
		if !bytes.Equal(packed, fromMsg) {
			t.Errorf("%s: AppendOptions %x, AddOptions %x", c.name, packed, fromMsg)
		}
		if ede == nil || ede.InfoCode != dns.ExtendedErrorCodeStaleAnswer || ede.ExtraText != "why" {
			t.Errorf("%s: EDE %v", c.name, ede)
		}
		// Read the options back.
		var gotCookie, gotNSID []byte
		for b := packed; len(b) >= 4; {
			code, n := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
			switch code {
			case dns.EDNS0COOKIE:
				gotCookie = b[4 : 4+n]
			case dns.EDNS0NSID:
				gotNSID = b[4 : 4+n]
			}
			b = b[4+n:]
		}
		if c.nsid != (gotNSID != nil) || (c.nsid && !bytes.Equal(gotNSID, id.NSID())) {
			t.Errorf("%s: NSID %q; want %v, %q", c.name, gotNSID, c.nsid, id.NSID())
		}
		if c.cookie == nil {
			if gotCookie != nil {
				t.Errorf("%s: a COOKIE %x without one in the query", c.name, gotCookie)
			}
			continue
		}
		if !bytes.HasPrefix(gotCookie, clientCookie[:]) || len(gotCookie) != cookie.ClientLen+cookie.ServerLen {
			t.Errorf("%s: COOKIE %x; want the client cookie %x and a server cookie", c.name, gotCookie, clientCookie)
		}
		var o cookie.Option
		if st := j.Check(gotCookie, client.Addr(), t0, &o); st != cookie.Valid {
			t.Errorf("%s: the reply's cookie checks %v for its client, want valid", c.name, st)
		}
		if st := j.Check(gotCookie, outside.Addr(), t0, &o); st != cookie.Invalid {
			t.Errorf("%s: the reply's cookie checks %v for another client, want invalid", c.name, st)
		}
	}
	// No OPT record: nothing added.
	q := Query{Prot: p, Now: t0, NSID: true}
	q.SetEDE(ednsopt.Prohibited)
	m := new(dns.Msg)
	if q.AddOptions(m, inside.Addr()); len(m.Extra) != 0 {
		t.Errorf("AddOptions without an OPT record: %v", m.Extra)
	}
}

// TestMsgQueryOpts: the first COOKIE option and an NSID option of a
// miekg/dns OPT record; nothing from no record.
func TestMsgQueryOpts(t *testing.T) {
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.Option = []dns.EDNS0{
		&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"},
		&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "1112131415161718"},
		&dns.EDNS0_NSID{Code: dns.EDNS0NSID},
	}
	var qo QueryOpts
	MsgQueryOpts(opt, &qo)
	if !qo.HasCookie || !bytes.Equal(qo.Cookie, clientCookie[:]) || !qo.NSID {
		t.Errorf("MsgQueryOpts: %+v; want the first cookie %x and NSID", qo, clientCookie)
	}
	qo = QueryOpts{}
	MsgQueryOpts(nil, &qo)
	opt.Option = nil
	MsgQueryOpts(opt, &qo)
	if qo.HasCookie || qo.NSID || qo.Cookie != nil {
		t.Errorf("MsgQueryOpts of nothing: %+v", qo)
	}
}

// TestChaos: the identity names answer with their TXT record, other
// CHAOS names are REFUSED, and without an identity every name is.
func TestChaos(t *testing.T) {
	id, err := identity.New(identity.Config{NSID: "ns-a", Version: "poolnsd test"})
	if err != nil {
		t.Fatal(err)
	}
	q := Query{Prot: &Protections{Identity: id}}
	ch := func(name string, qtype uint16) dns.Question {
		return dns.Question{Name: name, Qtype: qtype, Qclass: dns.ClassCHAOS}
	}
	rcode, rr := q.Chaos(ch("version.bind.", dns.TypeTXT))
	if txt, ok := rr.(*dns.TXT); rcode != dns.RcodeSuccess || !ok || len(txt.Txt) != 1 || txt.Txt[0] != "poolnsd test" {
		t.Errorf("version.bind. TXT: %d %v", rcode, rr)
	}
	rcode, rr = q.Chaos(ch("id.server.", dns.TypeTXT))
	if txt, ok := rr.(*dns.TXT); rcode != dns.RcodeSuccess || !ok || len(txt.Txt) != 1 || txt.Txt[0] != "ns-a" {
		t.Errorf("id.server. TXT: %d %v", rcode, rr)
	}
	if rcode, rr := q.Chaos(ch("version.bind.", dns.TypeA)); rcode != dns.RcodeSuccess || rr != nil {
		t.Errorf("version.bind. A: %d %v; want NODATA", rcode, rr)
	}
	if rcode, rr := q.Chaos(ch("authors.bind.", dns.TypeTXT)); rcode != dns.RcodeRefused || rr != nil {
		t.Errorf("authors.bind. TXT: %d %v; want REFUSED", rcode, rr)
	}
	q = Query{Prot: &Protections{}}
	if rcode, rr := q.Chaos(ch("version.bind.", dns.TypeTXT)); rcode != dns.RcodeRefused || rr != nil {
		t.Errorf("no identity: version.bind. TXT: %d %v; want REFUSED", rcode, rr)
	}
}
