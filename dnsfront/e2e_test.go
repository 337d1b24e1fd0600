package dnsfront

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/nettest"

	"github.com/poolnsd/poolnsd/internal/hstest"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

// startServer serves the test handlespace plus a 1000-element pool on a
// loopback port and returns its address.
func startServer(t *testing.T) string {
	t.Helper()
	srv, err := Start(Config{Listen: []string{"127.0.0.1:0"}, UDPSockets: 2}, newTestSpace(t, bigPool(1000, 5)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv.Addrs()[0].String()
}

// TestEndToEndClient queries a real server over loopback UDP and TCP with
// miekg/dns's client.
func TestEndToEndClient(t *testing.T) {
	addr := startServer(t)
	udp := &dns.Client{Net: "udp"}
	tcp := &dns.Client{Net: "tcp"}
	ask := func(c *dns.Client, name string, qt uint16, edns bool) *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, qt)
		if edns {
			m.SetEdns0(1232, false)
		}
		r, err := nettest.Exchange(c, m, addr)
		if err != nil {
			t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qt], c.Net, err)
		}
		return r
	}
	for _, c := range []*dns.Client{udp, tcp} {
		for _, tc := range []struct {
			name    string
			qt      uint16
			rcode   int
			answers int
			extra   int // without OPT
		}{
			{"web.pool.test.", dns.TypeA, dns.RcodeSuccess, 3, 0},
			{"web.pool.test.", dns.TypeAAAA, dns.RcodeSuccess, 1, 0},
			{"_http._tcp.web.pool.test.", dns.TypeSRV, dns.RcodeSuccess, 4, 5},
			{"_http._tcp.web.pool.test.", dns.TypeURI, dns.RcodeSuccess, 4, 0},
			{"pool.test.", dns.TypeSOA, dns.RcodeSuccess, 1, 0},
			{"pool.test.", dns.TypeNS, dns.RcodeSuccess, 1, 2},
			{"nothing.pool.test.", dns.TypeA, dns.RcodeNameError, 0, 0},
			{"txt.pool.test.", dns.TypeA, dns.RcodeSuccess, 0, 0},
			{"example.org.", dns.TypeA, dns.RcodeRefused, 0, 0},
			{"WeB.PoOl.TeSt.", dns.TypeA, dns.RcodeSuccess, 3, 0},
		} {
			r := ask(c, tc.name, tc.qt, true)
			extra := 0
			for _, rr := range r.Extra {
				if rr.Header().Rrtype != dns.TypeOPT {
					extra++
				}
			}
			if r.Rcode != tc.rcode || len(r.Answer) != tc.answers || extra != tc.extra {
				t.Errorf("%s %s %s: %s, %d answers, %d additional; want %s, %d, %d", c.Net, tc.name, dns.TypeToString[tc.qt],
					dns.RcodeToString[r.Rcode], len(r.Answer), extra, dns.RcodeToString[tc.rcode], tc.answers, tc.extra)
			}
		}
	}
	// Truncation, then the retry over TCP.
	r := ask(udp, "big.pool.test.", dns.TypeSRV, true)
	if !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("UDP 1000-element SRV: TC %v, %d answers; want TC and none", r.Truncated, len(r.Answer))
	}
	r = ask(tcp, "big.pool.test.", dns.TypeSRV, true)
	if r.Truncated || len(r.Answer) != 1000 {
		t.Errorf("TCP 1000-element SRV: TC %v, %d answers; want 1000", r.Truncated, len(r.Answer))
	}
	// Malformed packets: FORMERR or nothing, and the server still answers.
	conn, err := dns.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, junk := range [][]byte{{0x12}, {0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x3f}, []byte("\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01")} {
		if _, err := conn.Write(junk); err != nil {
			t.Fatal(err)
		}
	}
	if r := ask(udp, "pool.test.", dns.TypeSOA, false); r.Rcode != dns.RcodeSuccess {
		t.Errorf("after junk: %s", dns.RcodeToString[r.Rcode])
	}
}

// digPath finds dig: make test installs it (bind9-dnsutils), so without it
// the test fails, except under -short.
func digPath(t *testing.T) string { return proctest.LookTool(t, "dig", "bind9-dnsutils") }

var digStatus = regexp.MustCompile(`status: (\w+)`)
var digFlags = regexp.MustCompile(`;; flags: ([a-z ]+);.*ANSWER: (\d+), AUTHORITY: (\d+), ADDITIONAL: (\d+)`)

type digResult struct {
	out                      string
	status, flags            string
	answer, authority, extra int
}

func runDig(t *testing.T, dig, addr string, args ...string) digResult {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), proctest.ToolLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, dig, append([]string{"@" + host, "-p", port, "+norecurse", proctest.ToolTime, "+tries=1"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dig %v: %v\n%s", args, err, out)
	}
	res := digResult{out: string(out)}
	if m := digStatus.FindStringSubmatch(res.out); m != nil {
		res.status = m[1]
	}
	if m := digFlags.FindStringSubmatch(res.out); m != nil {
		res.flags = m[1]
		res.answer, _ = strconv.Atoi(m[2])
		res.authority, _ = strconv.Atoi(m[3])
		res.extra, _ = strconv.Atoi(m[4])
	}
	return res
}

// TestEndToEndDig checks the answers with the real dig, as users will.
func TestEndToEndDig(t *testing.T) {
	dig := digPath(t)
	addr := startServer(t)
	for _, tc := range []struct {
		args      []string
		status    string
		answer    int
		authority int
		extra     int // dig counts the OPT record
		contains  []string
	}{
		{[]string{"web.pool.test", "A"}, "NOERROR", 3, 0, 1, []string{"web.pool.test.\t\t5\tIN\tA\t10.0.0."}},
		{[]string{"web.pool.test", "AAAA"}, "NOERROR", 1, 0, 1, []string{"2001:db8::4"}},
		{[]string{"_http._tcp.web.pool.test", "SRV"}, "NOERROR", 4, 0, 6, []string{"IN\tSRV\t0 0 8080 w", "w4.web.pool.test.\t5\tIN\tAAAA\t2001:db8::4"}},
		{[]string{"_http._tcp.web.pool.test", "URI"}, "NOERROR", 4, 0, 1, []string{`IN	URI	0 0 "http://w1.web.pool.test:8080/"`}},
		{[]string{"pool.test", "SOA"}, "NOERROR", 1, 0, 1, []string{"hostmaster.pool.test. 1 3600 600 86400 30"}},
		{[]string{"pool.test", "NS"}, "NOERROR", 1, 0, 3, []string{"ns1.pool.test.\t\t3600\tIN\tA\t192.0.2.53"}},
		{[]string{"nothing.pool.test", "A"}, "NXDOMAIN", 0, 1, 1, []string{"pool.test.\t\t30\tIN\tSOA"}},
		{[]string{"web.pool.test", "TXT"}, "NOERROR", 0, 1, 1, nil},
		{[]string{"example.org", "A"}, "REFUSED", 0, 0, 1, nil},
		{[]string{"wEb.PoOl.TeSt", "A"}, "NOERROR", 3, 0, 1, []string{"wEb.PoOl.TeSt.\t\t5\tIN\tA"}},
		{[]string{"+noedns", "pool.test", "SOA"}, "NOERROR", 1, 0, 0, nil},
		// 1000 elements do not fit UDP: dig sees TC=1 and retries over TCP.
		{[]string{"big.pool.test", "SRV"}, "NOERROR", 1000, 0, 1001, []string{"Truncated, retrying in TCP mode"}},
		{[]string{"+tcp", "big.pool.test", "SRV"}, "NOERROR", 1000, 0, 1001, nil},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runDig(t, dig, addr, tc.args...)
			if r.status != tc.status || r.answer != tc.answer || r.authority != tc.authority || r.extra != tc.extra {
				t.Errorf("status %s answer %d authority %d additional %d; want %s %d %d %d\n%s",
					r.status, r.answer, r.authority, r.extra, tc.status, tc.answer, tc.authority, tc.extra, r.out)
			}
			wantAA := tc.status != "REFUSED"
			if strings.Contains(" "+r.flags+" ", " aa ") != wantAA || strings.Contains(" "+r.flags+" ", " ra ") {
				t.Errorf("flags %q: want aa %v and no ra", r.flags, wantAA)
			}
			for _, s := range tc.contains {
				if !strings.Contains(r.out, s) {
					t.Errorf("output lacks %q:\n%s", s, r.out)
				}
			}
			if strings.Contains(r.out, "WARNING") || strings.Contains(r.out, "malformed") {
				t.Errorf("dig warns:\n%s", r.out)
			}
		})
	}
}

// TestEndToEndErrorReplies: error replies through the real server, over
// UDP and TCP. An opcode poolnsd does not implement, asked by the real dig
// with every header flag set, gets NOTIMP with nothing but QR and the
// question repeated; messages that miekg/dns would answer itself (two
// OPT records, no question) get FORMERR with RD copied, AA TC RA AD
// cleared, and the question whenever it parsed.
func TestEndToEndErrorReplies(t *testing.T) {
	dig := digPath(t)
	addr := startServer(t)
	for _, tcp := range []string{"+notcp", "+tcp"} {
		for _, op := range []string{"15", "1", "2", "4"} {
			r := runDig(t, dig, addr, tcp, "+opcode="+op, "+aaflag", "+adflag", "+cdflag", "+rec", "+raflag", "+tcflag", "+zflag", "web.pool.test", "SOA")
			if r.status != "NOTIMP" || r.flags != "qr" || !strings.Contains(r.out, "QUERY: 1,") || !strings.Contains(r.out, ";web.pool.test.\t\t\tIN\tSOA") {
				t.Errorf("dig %s opcode %s: status %s flags %q; want NOTIMP, flags qr, the question\n%s", tcp, op, r.status, r.flags, r.out)
			}
		}
	}
	q := new(dns.Msg)
	q.SetQuestion("Web.Pool.Test.", dns.TypeA)
	q.CheckingDisabled, q.AuthenticatedData = true, true
	q.SetEdns0(1232, false)
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	opt := b[len(b)-11:]
	twoOPT := append(append([]byte(nil), b...), opt...)
	twoOPT[11] = 2
	noQuestion := append([]byte(nil), b[:headerLen]...)
	noQuestion[5] = 0
	noQuestion[11] = 0
	for _, network := range []string{"udp", "tcp"} {
		for _, c := range []struct {
			name     string
			msg      []byte
			question bool
		}{{"two OPT", twoOPT, true}, {"no question", noQuestion, false}} {
			conn, err := dns.Dial(network, addr)
			if err != nil {
				t.Fatal(err)
			}
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := conn.Write(c.msg); err != nil {
				t.Fatal(err)
			}
			r, err := conn.ReadMsg()
			conn.Close()
			if err != nil {
				t.Fatalf("%s %s: %v", network, c.name, err)
			}
			if r.Rcode != dns.RcodeFormatError || hstest.FlagText(r) != "qr rd cd" || (len(r.Question) == 1) != c.question {
				t.Errorf("%s %s: %s flags %q question %v; want FORMERR, qr rd cd, question %v", network, c.name,
					dns.RcodeToString[r.Rcode], hstest.FlagText(r), r.Question, c.question)
			}
			if c.question && r.Question[0].Name != "Web.Pool.Test." {
				t.Errorf("%s %s: question %v, want the query's as written", network, c.name, r.Question[0])
			}
		}
	}
	// The server still answers, on TCP over the same connection too.
	conn, err := dns.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	for _, msg := range [][]byte{twoOPT, b} {
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		r, err := conn.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: dns.RcodeFormatError, false: dns.RcodeSuccess}[len(msg) == len(twoOPT)]; r.Rcode != want {
			t.Errorf("pipelined on one TCP connection: %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[want])
		}
	}
}

// TestEndToEndProtections: DNS Cookies, NSID and the CHAOS names with the
// real dig and kdig, over UDP and TCP: a client cookie gets a server
// cookie that dig calls good; a stale server cookie gets BADCOOKIE, and
// dig retries with the fresh one; NSID and version.bind. as configured.
func TestEndToEndProtections(t *testing.T) {
	dig := digPath(t)
	kdig := proctest.LookTool(t, "kdig", "knot-dnsutils")
	p := testProtections(t)
	p.Allow = nil
	addr, _ := serveTest(t, Config{Protect: p, UDPSockets: 2}, newTestSpace(t))
	for _, tcp := range []string{"+notcp", "+tcp"} {
		r := runDig(t, dig, addr, tcp, "+cookie", "+nsid", "web.pool.test", "A")
		if r.status != "NOERROR" || r.answer != 3 || !regexp.MustCompile(`; COOKIE: [0-9a-f]{48} \(good\)`).MatchString(r.out) ||
			!strings.Contains(r.out, `("ns-test")`) {
			t.Errorf("dig %s +cookie +nsid: want 3 answers, a good cookie, NSID ns-test:\n%s", tcp, r.out)
		}
	}
	// A server cookie of the right form that is not ours.
	r := runDig(t, dig, addr, "+cookie=0102030405060708010000006b155b2011223344556677aa", "web.pool.test", "A")
	if !strings.Contains(r.out, "BADCOOKIE, retrying") || r.status != "NOERROR" || r.answer != 3 || !strings.Contains(r.out, "(good)") {
		t.Errorf("dig with a stale server cookie: want BADCOOKIE, a retry and the answer:\n%s", r.out)
	}
	host, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command(kdig, "@"+host, "-p", port, "+cookie", "+nsid", proctest.ToolTime, "+retry=0", "web.pool.test", "A").CombinedOutput()
	if err != nil || !regexp.MustCompile(`(?i);; COOKIE: [0-9a-f]{48}`).Match(out) || !strings.Contains(string(out), `"ns-test"`) ||
		!strings.Contains(string(out), "status: NOERROR") {
		t.Errorf("kdig +cookie +nsid: %v\n%s", err, out)
	}
	for _, c := range []struct{ name, want string }{{"version.bind", `"test-1"`}, {"id.server", `"ns-test"`}, {"hostname.bind", `"ns-test"`}} {
		r := runDig(t, dig, addr, "+short", "CH", "TXT", c.name)
		if strings.TrimSpace(r.out) != c.want {
			t.Errorf("dig CH TXT %s: %q, want %s", c.name, r.out, c.want)
		}
	}
}
