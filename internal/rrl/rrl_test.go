package rrl

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/internal/prefixset"
)

func newLimiter(t testing.TB, c Config) *Limiter {
	t.Helper()
	l, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func resp(client string, class Class, name string, qtype uint16) *Response {
	return &Response{Client: netip.MustParseAddr(client), Class: class, Name: name, Type: qtype}
}

// verdicts returns the verdicts of n replies r at now, as one letter each:
// S(end), D(rop), s(lip).
func verdicts(l *Limiter, r *Response, now time.Time, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteByte("SDs"[l.Decide(r, now)])
	}
	return b.String()
}

// TestRate: five replies per second: a burst of five, then every other cut
// reply slips; the bucket refills at one reply per 200 ms once its debt
// is paid.
func TestRate(t *testing.T) {
	l := newLimiter(t, Config{ResponsesPerSecond: 5})
	t0 := l.start.Add(time.Hour)
	r := resp("192.0.2.1", Answer, "web.pool.example.", 1)
	if got := verdicts(l, r, t0, 9); got != "SSSSSDsDs" {
		t.Fatalf("burst at t0: %s, want SSSSSDsDs", got)
	}
	// Nine replies counted: paid off at t0 + 9*200ms - 800ms (the burst).
	if got := verdicts(l, r, t0.Add(999*time.Millisecond), 1); got != "D" {
		t.Errorf("at +999ms: %s, want D (in debt until +1s)", got)
	}
	// That cut reply counted too: one more interval.
	if got := verdicts(l, r, t0.Add(1200*time.Millisecond), 2); got != "Ss" {
		t.Errorf("at +1.2s: %s, want Ss", got)
	}
}

// TestWindow: a flood's debt is capped at the window, so the bucket answers
// again at window minus the burst after the flood stops, not later.
func TestWindow(t *testing.T) {
	l := newLimiter(t, Config{ResponsesPerSecond: 5, Window: 15 * time.Second, Slip: 0, SlipSet: true})
	t0 := l.start.Add(time.Hour)
	r := resp("198.51.100.9", NXDomain, "pool.example.", 0)
	got := verdicts(l, r, t0, 10000)
	if got[:5] != "SSSSS" || strings.Count(got, "S") != 5 || strings.Contains(got, "s") {
		t.Fatalf("flood of 10000: %d sent, %d slipped; want 5 sent, none slipped (Slip 0)", strings.Count(got, "S"), strings.Count(got, "s"))
	}
	if v := l.Decide(r, t0.Add(14199*time.Millisecond)); v != Drop {
		t.Errorf("14.199s after: %v, want drop", v)
	}
	if v := l.Decide(r, t0.Add(15*time.Second+time.Millisecond)); v != Send {
		t.Errorf("just after the window: %v, want send", v)
	}
}

// TestFloodAboveRate: a flood that stays above the rate gets only slips
// (BIND's behaviour): 1000 q/s for 10 s at 5 per second and slip 2.
func TestFloodAboveRate(t *testing.T) {
	l := newLimiter(t, Config{ResponsesPerSecond: 5})
	t0 := l.start.Add(time.Hour)
	r := resp("203.0.113.5", Answer, "web.pool.example.", 1)
	var n [3]int
	for ms := 0; ms < 10000; ms++ {
		n[l.Decide(r, t0.Add(time.Duration(ms)*time.Millisecond))]++
	}
	if n[Send] != 5 || n[Slip] != (10000-5)/2 {
		t.Errorf("sent %d, slipped %d, dropped %d; want 5 sent (the first burst), half the rest slipped", n[Send], n[Slip], n[Drop])
	}
}

// TestKeys: which replies share a bucket (rate 1: the second reply of a
// bucket is cut).
func TestKeys(t *testing.T) {
	for _, tc := range []struct {
		name   string
		a, b   *Response
		shared bool
	}{
		{"same /24", resp("192.0.2.1", Answer, "a.example.", 1), resp("192.0.2.200", Answer, "a.example.", 1), true},
		{"other /24", resp("192.0.2.1", Answer, "a.example.", 1), resp("192.0.3.1", Answer, "a.example.", 1), false},
		{"IPv4-mapped is IPv4", resp("192.0.2.1", Answer, "a.example.", 1), resp("::ffff:192.0.2.7", Answer, "a.example.", 1), true},
		{"same /56", resp("2001:db8:0:1200::1", Answer, "a.example.", 1), resp("2001:db8:0:12ff:ffff::9", Answer, "a.example.", 1), true},
		{"other /56", resp("2001:db8:0:1200::1", Answer, "a.example.", 1), resp("2001:db8:0:1300::1", Answer, "a.example.", 1), false},
		{"answer: other name", resp("192.0.2.1", Answer, "a.example.", 1), resp("192.0.2.1", Answer, "b.example.", 1), false},
		{"answer: name case", resp("192.0.2.1", Answer, "A.Example.", 1), resp("192.0.2.1", Answer, "a.example.", 1), true},
		{"answer: other type", resp("192.0.2.1", Answer, "a.example.", 1), resp("192.0.2.1", Answer, "a.example.", 28), false},
		{"nxdomain: one zone", resp("192.0.2.1", NXDomain, "example.", 1), resp("192.0.2.1", NXDomain, "example.", 28), true},
		{"nxdomain and nodata", resp("192.0.2.1", NXDomain, "example.", 1), resp("192.0.2.1", NoData, "example.", 1), false},
		{"errors: any name", resp("192.0.2.1", Error, "a.example.", 1), resp("192.0.2.1", Error, "b.other.", 6), true},
		{"error and answer", resp("192.0.2.1", Error, "", 0), resp("192.0.2.1", Answer, "", 0), false},
		{"referral: other cut", resp("192.0.2.1", Referral, "sub.example.", 1), resp("192.0.2.1", Referral, "sub2.example.", 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLimiter(t, Config{ResponsesPerSecond: 1, Slip: 0, SlipSet: true})
			now := l.start.Add(time.Minute)
			if v := l.Decide(tc.a, now); v != Send {
				t.Fatalf("first reply: %v", v)
			}
			want := Send
			if tc.shared {
				want = Drop
			}
			if v := l.Decide(tc.b, now); v != want {
				t.Errorf("second reply: %v, want %v", v, want)
			}
		})
	}
}

// TestExempt: TCP, a valid cookie and exempt prefixes are never limited and
// not counted; a dry run limits nothing but counts what it would.
func TestExempt(t *testing.T) {
	l := newLimiter(t, Config{ResponsesPerSecond: 1, Exempt: exempt(t, "192.0.2.0/25")})
	now := l.start.Add(time.Minute)
	for _, r := range []*Response{
		{Client: netip.MustParseAddr("198.51.100.1"), Class: Answer, TCP: true},
		{Client: netip.MustParseAddr("198.51.100.1"), Class: Answer, Verified: true},
		{Client: netip.MustParseAddr("192.0.2.100"), Class: Answer},
		{Client: netip.MustParseAddr("::ffff:192.0.2.1"), Class: Error},
	} {
		if got := verdicts(l, r, now, 10); got != "SSSSSSSSSS" {
			t.Errorf("%+v: %s, want all sent", r, got)
		}
	}
	if s := l.Stats(); s != (Stats{}) {
		t.Errorf("stats %+v, want nothing counted", s)
	}
	// 192.0.2.200 shares the /24 with the exempt /25 but is not in it.
	if got := verdicts(l, resp("192.0.2.200", Answer, "x.", 1), now, 3); got != "SDs" {
		t.Errorf("outside the exempt /25: %s, want SDs", got)
	}

	d := newLimiter(t, Config{ResponsesPerSecond: 1, DryRun: true})
	if got := verdicts(d, resp("192.0.2.1", Error, "", 0), now, 5); got != "SSSSS" {
		t.Errorf("dry run: %s, want all sent", got)
	}
	s := d.Stats()
	if s.Counted[Error] != 5 || s.Dropped[Error] != 2 || s.Slipped[Error] != 2 {
		t.Errorf("dry run stats %+v, want 5 counted, 2 dropped and 2 slipped errors", s)
	}
}

func TestSlipSettings(t *testing.T) {
	for _, tc := range []struct {
		slip int
		want string
	}{
		{0, "SDDDDDD"},
		{1, "Ssssss" + "s"},
		{2, "SDsDsDs"},
		{3, "SDDsDDs"},
	} {
		l := newLimiter(t, Config{ResponsesPerSecond: 1, Slip: tc.slip, SlipSet: true})
		if got := verdicts(l, resp("192.0.2.1", Answer, "x.", 1), l.start, 7); got != tc.want {
			t.Errorf("slip %d: %s, want %s", tc.slip, got, tc.want)
		}
	}
}

// TestTableBounded: replies from 200 000 prefixes go through a table of
// 1024 buckets; a prefix that floods all along stays limited (a bucket in
// debt is the last one a set gives up), and the table's size never grows.
func TestTableBounded(t *testing.T) {
	l := newLimiter(t, Config{ResponsesPerSecond: 5, TableSize: 1000})
	if n := len(l.shards) * len(l.shards[0].buckets); n != 1024 {
		t.Fatalf("%d buckets, want 1024", n)
	}
	now := l.start.Add(time.Minute)
	flood := resp("203.0.113.1", Answer, "web.pool.example.", 1)
	verdicts(l, flood, now, 100) // in debt for the window
	sent := 0
	for i := 0; i < 200_000; i++ {
		other := resp(fmt.Sprintf("10.%d.%d.1", i>>8&255, i&255), Answer, fmt.Sprintf("n%d.", i>>16), 1)
		l.Decide(other, now)
		if i%100 == 0 && l.Decide(flood, now) == Send {
			sent++
		}
	}
	if sent != 0 {
		t.Errorf("the flooding prefix got %d replies while the table churned, want 0", sent)
	}
	if n := len(l.shards) * len(l.shards[0].buckets); n != 1024 {
		t.Errorf("table grew to %d buckets", n)
	}
	if s := l.Stats(); s.Evicted != 0 {
		t.Errorf("%d buckets in debt evicted, want 0 (only the flood is in debt)", s.Evicted)
	}
}

// TestConcurrent: several goroutines on shared and separate buckets; every
// decision is counted once.
func TestConcurrent(t *testing.T) {
	l := newLimiter(t, Config{ResponsesPerSecond: 100, TableSize: 4096})
	var wg sync.WaitGroup
	const goroutines, each = 4, 20000
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := resp(fmt.Sprintf("10.0.%d.1", g), Answer, "a.", 1)
			shared := resp("192.0.2.1", NXDomain, "example.", 1)
			for i := 0; i < each; i++ {
				now := time.Now()
				l.Decide(own, now)
				l.Decide(shared, now)
			}
		}()
	}
	wg.Wait()
	s := l.Stats()
	if s.Counted[Answer] != goroutines*each || s.Counted[NXDomain] != goroutines*each {
		t.Errorf("counted %v, want %d answers and nxdomains", s.Counted, goroutines*each)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{}, "ResponsesPerSecond must be at least 1"},
		{Config{ResponsesPerSecond: 1, Window: time.Millisecond}, "Window 1ms is below 1s"},
		{Config{ResponsesPerSecond: 1, Slip: 11}, "Slip 11 is outside 0..10"},
		{Config{ResponsesPerSecond: 1, IPv4Prefix: 33}, "IPv4Prefix 33"},
		{Config{ResponsesPerSecond: 1, IPv6Prefix: 129}, "IPv6Prefix 129"},
		{Config{ResponsesPerSecond: 1, TableSize: -1}, "TableSize -1"},
	} {
		if _, err := New(tc.c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): %v, want %q", tc.c, err, tc.want)
		}
	}
}

func TestNilLimiter(t *testing.T) {
	var l *Limiter
	if v := l.Decide(resp("192.0.2.1", Answer, "x.", 1), time.Now()); v != Send {
		t.Errorf("nil Limiter: %v, want send", v)
	}
	if s := l.Stats(); s != (Stats{}) {
		t.Errorf("nil Limiter stats %+v", s)
	}
}

// exempt is the set of list; an error fails the test.
func exempt(t testing.TB, list ...string) *prefixset.Set {
	t.Helper()
	s, err := prefixset.Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
