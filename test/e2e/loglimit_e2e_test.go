package e2e

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/loglimit"
)

// floodUpdates sends n unsigned UPDATEs over TCP from sources different
// loopback addresses (127.1.0.1, 127.1.0.2, ...), each source a connection
// of n/sources updates, and returns how many came back REFUSED.
func floodUpdates(t *testing.T, addr string, sources, n int) int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	for s := 0; s < sources; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 1, byte(s>>8), byte(1+s&0xff))}}
			c, err := d.Dial("tcp", addr)
			if err != nil {
				t.Errorf("dial from source %d: %v", s, err)
				return
			}
			defer c.Close()
			co := &dns.Conn{Conn: c}
			for i := 0; i < n/sources; i++ {
				m := new(dns.Msg)
				m.SetUpdate("pool.example.")
				rr, _ := dns.NewRR(fmt.Sprintf("pe%d.web.pool.example. 60 IN A 10.9.%d.%d", i, s&0xff, i&0xff))
				m.Insert([]dns.RR{rr})
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if err := co.WriteMsg(m); err != nil {
					t.Errorf("write: %v", err)
					return
				}
				r, err := co.ReadMsg()
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				if r.Rcode == dns.RcodeRefused {
					mu.Lock()
					refused++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return refused
}

// floodHTTP sends n admin-state writes without a token and returns how
// many got 401.
func floodHTTP(t *testing.T, base string, n int) int {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	denied := 0
	for i := 0; i < n; i++ {
		req, err := http.NewRequest(http.MethodPut, base+"/v1/pools/web.pool.example./elements/0a000001/admin", strings.NewReader(`{"state":"drain"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized {
			denied++
		}
	}
	return denied
}

// TestLogFloodBounded floods a real poolnsd with unsigned UPDATEs from 50
// loopback sources and with token-less HTTP writes, then stops it: with
// the default log.repeat_limit (20 per message per interval) each message
// is written 20 times and one summary line counts the rest, so that the
// lines written plus the lines summarised are the refusals; with the limit
// off, every refusal is a line.
func TestLogFloodBounded(t *testing.T) {
	const updates, writes = 2000, 600
	for _, tc := range []struct {
		name  string
		limit string
	}{
		{"limited", "20"},
		{"off", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := daemonDir(t, goodZone)
			// One window for the whole test: the summaries come at the stop.
			p := startDaemonEnv(t, dir, []string{"POOLNSD_LOG_REPEAT_LIMIT=" + tc.limit, "POOLNSD_LOG_REPEAT_INTERVAL=1h"},
				"--http.token", "flood-test-token")
			dnsAddr, _ := p.ready()
			api, _ := p.waitLog(0, "the HTTP line", msgIs("serving HTTP API"))
			refused := floodUpdates(t, dnsAddr, 50, updates)
			denied := floodHTTP(t, "http://"+api.Str("addr"), writes)
			if refused != updates || denied != writes {
				t.Fatalf("%d of %d updates refused, %d of %d writes denied; want all", refused, updates, denied, writes)
			}
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code := p.waitExit(20 * time.Second); code != 0 {
				t.Fatalf("exit code %d", code)
			}
			recs := p.Records(0, p.Cursor())
			count := func(msg, level string) (lines, summarised int) {
				for _, r := range recs {
					switch {
					case r.Str("msg") == msg && r.Str("level") == level:
						lines++
					case r.Str("msg") == loglimit.SummaryMsg && r.Str("like") == msg && r.Str("level") == level:
						n, _ := r["suppressed"].(float64)
						summarised += int(n)
					}
				}
				return
			}
			for _, c := range []struct {
				msg, level string
				events     int
			}{
				{"update refused", "INFO", updates},
				{"http api: write refused: no bearer token", "WARN", writes},
			} {
				lines, summarised := count(c.msg, c.level)
				t.Logf("%s %q: %d lines, %d summarised", c.level, c.msg, lines, summarised)
				if lines+summarised != c.events {
					t.Errorf("%q: %d lines + %d summarised, want %d refusals", c.msg, lines, summarised, c.events)
				}
				want := c.events
				if tc.limit != "0" {
					want = 20
				}
				if lines != want {
					t.Errorf("%q: %d lines, want %d", c.msg, lines, want)
				}
			}
			t.Logf("%d log lines in all", len(recs))
			if tc.limit != "0" && len(recs) > 200 {
				t.Errorf("%d log lines in all; the flood was %d refusals", len(recs), updates+writes)
			}
		})
	}
}
