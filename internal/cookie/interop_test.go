package cookie

import (
	"encoding/hex"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

// cookieServer is a test-only authoritative server for www.example. A that
// applies Decide with a Jar, as the DNS front does: it lets real dig and
// kdig check the cookies this package makes and the BADCOOKIE it asks for.
type cookieServer struct {
	jar  *Jar
	now  func() time.Time
	mu   sync.Mutex
	seen []Status // the status of every query, in order
}

func (s *cookieServer) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	var ip netip.Addr
	_, tcp := w.RemoteAddr().(*net.TCPAddr)
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	}
	var o Option
	st := None
	if opt := r.IsEdns0(); opt != nil {
		for _, e := range opt.Option {
			if c, ok := e.(*dns.EDNS0_COOKIE); ok {
				data, err := hex.DecodeString(c.Cookie)
				if err != nil {
					data = nil // a malformed option as miekg/dns hands it on
				}
				st = s.jar.Check(data, ip, s.now(), &o)
				break
			}
		}
	}
	s.mu.Lock()
	s.seen = append(s.seen, st)
	s.mu.Unlock()
	switch Decide(st, tcp) {
	case FormErr:
		m.Rcode = dns.RcodeFormatError
	case BadCookie:
		m.Rcode = dns.RcodeBadCookie
	case Answer:
		a, _ := dns.NewRR("www.example. 60 IN A 192.0.2.34")
		m.Answer = append(m.Answer, a)
	}
	if r.IsEdns0() != nil {
		m.SetEdns0(1232, false)
		if h := s.jar.ReplyHex(&o, st, ip, s.now()); h != "" {
			opt := m.IsEdns0()
			opt.Option = append(opt.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: h})
		}
	}
	w.WriteMsg(m)
}

func (s *cookieServer) statuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Status(nil), s.seen...)
}

// startCookieServer serves on UDP and TCP of one port of 127.0.0.1.
func startCookieServer(t *testing.T) (*cookieServer, string) {
	t.Helper()
	s := &cookieServer{jar: NewJar(Secrets{Current: secret(t, "e5e973e5a6b2a43f48e7dc849e37bfcf")}), now: time.Now}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", tl.Addr().String())
	if err != nil {
		tl.Close()
		t.Fatal(err)
	}
	for _, srv := range []*dns.Server{{Listener: tl, Handler: s}, {PacketConn: pc, Handler: s}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return s, tl.Addr().String()
}

func runTool(t *testing.T, tool string, args ...string) string {
	t.Helper()
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", tool, args, err, out)
	}
	return string(out)
}

// cookieOf returns the hex of the COOKIE that dig printed last.
func cookieOf(out string) string {
	i := strings.LastIndex(out, "; COOKIE: ")
	if i < 0 {
		return ""
	}
	f := strings.Fields(out[i+len("; COOKIE: "):])
	return f[0]
}

// TestDigCookies: dig sends a client cookie and gets a server cookie that
// it calls good; sent back, it is Valid; a stale one gets BADCOOKIE, which
// dig retries with the fresh cookie and then gets its answer.
func TestDigCookies(t *testing.T) {
	dig := proctest.LookTool(t, "dig", "bind9-dnsutils")
	s, addr := startCookieServer(t)
	host, port, _ := net.SplitHostPort(addr)
	base := []string{"@" + host, "-p", port, "+norec", "+tries=1", proctest.ToolTime, "www.example.", "A"}

	out := runTool(t, dig, append(base, "+cookie=0102030405060708")...)
	if !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, "(good)") {
		t.Fatalf("client cookie only: dig did not get a good cookie:\n%s", out)
	}
	full := cookieOf(out)
	if len(full) != 48 || !strings.HasPrefix(full, "0102030405060708") {
		t.Fatalf("reply cookie %q, want our client cookie and a 16-byte server cookie", full)
	}
	out = runTool(t, dig, append(base, "+cookie="+full)...)
	if !strings.Contains(out, "status: NOERROR") || cookieOf(out) != full {
		t.Fatalf("valid server cookie: want NOERROR and the cookie echoed (%s):\n%s", full, out)
	}

	// A cookie made two hours ago.
	var cc [8]byte
	copy(cc[:], []byte{1, 2, 3, 4, 5, 6, 7, 8})
	old := s.jar.ServerCookie(&cc, netip.MustParseAddr(host), time.Now().Add(-2*time.Hour))
	stale := "0102030405060708" + hex.EncodeToString(old[:])
	out = runTool(t, dig, append(base, "+cookie="+stale, "+showbadcookie")...)
	if !strings.Contains(out, "status: BADCOOKIE") || !strings.Contains(out, "status: NOERROR") {
		t.Fatalf("stale cookie: want dig to show BADCOOKIE, retry and get NOERROR:\n%s", out)
	}
	got := s.statuses()
	want := []Status{ClientOnly, Valid, Invalid, Valid}
	if len(got) != len(want) {
		t.Fatalf("server saw %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("server saw %v, want %v", got, want)
		}
	}
}

// TestKdigCookies: kdig's view of the same exchanges, over UDP and TCP: a
// stale cookie over TCP is answered, not refused.
func TestKdigCookies(t *testing.T) {
	kdig := proctest.LookTool(t, "kdig", "knot-dnsutils")
	s, addr := startCookieServer(t)
	host, port, _ := net.SplitHostPort(addr)
	base := []string{"@" + host, "-p", port, "+norec", "+retry=0", proctest.ToolTime, "www.example.", "A"}

	out := runTool(t, kdig, append(base, "+cookie")...)
	if !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, "COOKIE:") {
		t.Fatalf("kdig +cookie: want NOERROR with a COOKIE:\n%s", out)
	}
	var cc [8]byte
	copy(cc[:], []byte{1, 2, 3, 4, 5, 6, 7, 8})
	old := s.jar.ServerCookie(&cc, netip.MustParseAddr(host), time.Now().Add(-2*time.Hour))
	stale := "0102030405060708" + hex.EncodeToString(old[:])
	out = runTool(t, kdig, append(base, "+cookie="+stale, "+nobadcookie")...)
	if !strings.Contains(out, "status: BADCOOKIE") {
		t.Fatalf("kdig, stale cookie over UDP: want BADCOOKIE:\n%s", out)
	}
	out = runTool(t, kdig, append(base, "+cookie="+stale)...)
	if !strings.Contains(out, "status: NOERROR") {
		t.Fatalf("kdig, stale cookie over UDP with +badcookie: want the retry's NOERROR:\n%s", out)
	}
	out = runTool(t, kdig, append(base, "+tcp", "+cookie="+stale, "+nobadcookie")...)
	if !strings.Contains(out, "status: NOERROR") {
		t.Fatalf("kdig, stale cookie over TCP: want NOERROR:\n%s", out)
	}
	// kdig and dig refuse to send a malformed cookie: a Go client does.
	for _, h := range []string{"01020304050607", "010203040506070809"} {
		q := new(dns.Msg)
		q.SetQuestion("www.example.", dns.TypeA)
		q.SetEdns0(1232, false)
		q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: h})
		r, err := dns.Exchange(q, addr)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rcode != dns.RcodeFormatError || r.IsEdns0() == nil || len(r.IsEdns0().Option) != 0 {
			t.Errorf("%d-byte cookie: %s with OPT %v, want FORMERR with an OPT without COOKIE", len(h)/2, dns.RcodeToString[r.Rcode], r.IsEdns0())
		}
	}
}
