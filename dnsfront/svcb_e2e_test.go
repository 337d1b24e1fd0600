package dnsfront

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/nettest"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

// startSvcServer serves newSvcSpace plus a pool bs of 300 elements on a
// loopback port and returns its address.
func startSvcServer(t *testing.T) string {
	t.Helper()
	addr, _ := serveTest(t, Config{UDPSockets: 2}, newSvcSpace(t, bigSvcPool(300)))
	return addr
}

// svcDigCases are the answers both dig and kdig check: the question, and
// the answer and additional counts (without OPT), TC over UDP, and text
// the output must hold.
var svcDigCases = []struct {
	name, qtype   string
	answer, extra int
	tc            bool
	contains      []string
}{
	{"h.pool.test", "HTTPS", 3, 4, false, []string{`1 h1.h.pool.test. alpn="h2,h3" ipv4hint=10.0.5.1`, `2 h2.h.pool.test. alpn="h2,h3" port=8443 ipv4hint=10.0.5.2 ipv6hint=2001:db8::52`}},
	{"_8080._foo.h.pool.test", "SVCB", 3, 4, false, []string{`3 h3.h.pool.test. alpn="h2,h3" port=443 ipv6hint=2001:db8::53`}},
	{"_8443._https.hs.pool.test", "HTTPS", 3, 4, false, []string{`1 s1.hs.pool.test. alpn="h2" port=443`}},
	{"s.pool.test", "NAPTR", 2, 0, false, []string{`100 10 "S" "x-foo:http" "" _foo._tcp.s.pool.test.`}},
	{"u.pool.test", "NAPTR", 4, 0, false, []string{`100 0 "U" "x-foo:http" "!.*!http://u1.u.pool.test:80/!" .`}},
	{"hd.pool.test", "HTTPS", 0, 0, false, nil},
	// 300 elements do not fit UDP: TC, and the whole answer over TCP.
	{"bs.pool.test", "HTTPS", 300, 300, true, []string{`IN	HTTPS	300 pe`, `.bs.pool.test. alpn="h2,h3" port=8`}},
	{"_1._foo.bs.pool.test", "SVCB", 300, 300, true, nil},
	{"bs.pool.test", "NAPTR", 300, 0, true, []string{`"U" "x-foo:http" "!.*!http://pe0.bs.pool.test:8000/!" .`}},
}

// TestSvcEndToEndDig asks the real dig, which parses HTTPS and SVCB, over
// UDP (retrying over TCP when truncated, as users' resolvers do) and TCP.
func TestSvcEndToEndDig(t *testing.T) {
	dig := digPath(t)
	addr := startSvcServer(t)
	for _, tc := range svcDigCases {
		for _, tcp := range []bool{false, true} {
			args := []string{tc.name, tc.qtype}
			if tcp {
				args = append([]string{"+tcp"}, args...)
			}
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				r := runDig(t, dig, addr, args...)
				if r.status != "NOERROR" || r.answer != tc.answer || r.extra != tc.extra+1 || !strings.Contains(" "+r.flags+" ", " aa ") {
					t.Errorf("status %s flags %q answer %d additional %d; want NOERROR aa %d %d\n%s", r.status, r.flags, r.answer, r.extra, tc.answer, tc.extra+1, r.out)
				}
				if tc.answer == 0 && r.authority != 1 {
					t.Errorf("NODATA without the SOA:\n%s", r.out)
				}
				retried := strings.Contains(r.out, "Truncated, retrying in TCP mode")
				if retried != (tc.tc && !tcp) {
					t.Errorf("retried over TCP %v; want %v\n%s", retried, tc.tc && !tcp, r.out)
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
}

var kdigALPN = regexp.MustCompile(`alpn="([^"]*)"`)

var kdigCounts = regexp.MustCompile(`;; Flags: ([a-z ]*); QUERY: 1; ANSWER: (\d+); AUTHORITY: (\d+); ADDITIONAL: (\d+)`)

// TestSvcEndToEndKdig asks Knot's kdig, which parses HTTPS and SVCB too:
// a truncated UDP answer it asks again over TCP, saying so.
func TestSvcEndToEndKdig(t *testing.T) {
	kdig := proctest.LookTool(t, "kdig", "knot-dnsutils")
	addr := startSvcServer(t)
	host, port, _ := strings.Cut(addr, ":")
	for _, tc := range svcDigCases {
		for _, tcp := range []bool{false, true} {
			args := []string{"@" + host, "-p", port, "+norecurse", proctest.ToolTime, "+retry=0", "+edns=0", "+bufsize=1232", tc.name, tc.qtype}
			if tcp {
				args = append([]string{"+tcp"}, args...)
			}
			t.Run(strings.Join(args[len(args)-2:], " ")+map[bool]string{true: " tcp", false: " udp"}[tcp], func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), proctest.ToolLimit)
				defer cancel()
				out, err := exec.CommandContext(ctx, kdig, args...).CombinedOutput()
				if err != nil {
					t.Fatalf("kdig %v: %v\n%s", args, err, out)
				}
				m := kdigCounts.FindStringSubmatch(string(out))
				if m == nil {
					t.Fatalf("no counts in kdig's output:\n%s", out)
				}
				flags := " " + m[1] + " "
				// kdig retries a truncated UDP answer over TCP, and says so.
				retried := strings.Contains(string(out), "truncated reply from "+host+"@"+port+"(UDP), retrying over TCP")
				if retried != (tc.tc && !tcp) || strings.Contains(flags, " tc ") || !strings.Contains(flags, " aa ") ||
					m[2] != itoa(tc.answer) || m[4] != itoa(tc.extra+1) || !strings.Contains(string(out), "status: NOERROR") {
					t.Errorf("flags %q answer %s additional %s, retried %v; want aa, %d, %d, retried %v\n%s", m[1], m[2], m[4], retried, tc.answer, tc.extra+1, tc.tc && !tcp, out)
				}
				for _, s := range tc.contains {
					s = kdigALPN.ReplaceAllString(s, "alpn=$1") // kdig writes the list unquoted
					if !strings.Contains(string(out), s) {
						t.Errorf("output lacks %q:\n%s", s, out)
					}
				}
			})
		}
	}
}

// TestSvcEndToEndClient asks with miekg/dns's client: a truncated UDP
// answer and the same question over TCP, as a stub resolver would.
func TestSvcEndToEndClient(t *testing.T) {
	addr := startSvcServer(t)
	for _, q := range []struct {
		name string
		qt   uint16
		n    int
	}{{"h.pool.test.", dns.TypeHTTPS, 3}, {"bs.pool.test.", dns.TypeHTTPS, 300}, {"bs.pool.test.", dns.TypeNAPTR, 300}, {"s.pool.test.", dns.TypeNAPTR, 2}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qt)
		m.SetEdns0(1232, false)
		r, err := nettest.Exchange(nil, m, addr)
		if err != nil {
			t.Fatalf("%s over UDP: %v", q.name, err)
		}
		if r.Truncated {
			r, err = nettest.Exchange(&dns.Client{Net: "tcp"}, m, addr)
			if err != nil {
				t.Fatalf("%s over TCP: %v", q.name, err)
			}
		}
		if len(r.Answer) != q.n || r.Truncated || r.Rcode != dns.RcodeSuccess {
			t.Errorf("%s %s: %s, TC %v, %d answers; want %d", q.name, dns.TypeToString[q.qt], dns.RcodeToString[r.Rcode], r.Truncated, len(r.Answer), q.n)
		}
		checkRanks(t, r, q.qt)
	}
}
