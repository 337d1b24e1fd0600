package monitor_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/monitor"
	"github.com/poolnsd/poolnsd/probe"
	"github.com/poolnsd/poolnsd/probe/probetest"
	"github.com/poolnsd/poolnsd/zones/zonestest"
)

// self is the registrar ID of the tests' handlespace.
const self = 0x0a0b0c0d

const zoneHead = `$ORIGIN pool.test.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 5
@ NS ns1
ns1 A 192.0.2.53
`

// testZone: web (http probes, rr, answers=5), near (nearest, answers=1),
// plain (no probes).
const testZone = zoneHead + `$POOL web probe=http:/healthz interval=1s timeout=500ms rise=2 fall=2 jitter=0 answers=5
web PE 10.0.0.1:80 name=web1
web PE 10.0.0.2:80 name=web2
web PE 10.0.0.3:80 name=web3
$POOL near policy=nearest probe=tcp interval=1s timeout=500ms jitter=0 answers=1
near PE 10.0.1.1:80 name=n1
near PE 10.0.1.2:80 name=n2
$POOL plain answers=5
plain PE 10.0.2.1:80 name=p1
plain PE 10.0.2.2:80 name=p2
`

// fixture is a handlespace with a monitor on a fake clock and fake
// checkers, and the DNS handler over it. It lives in a synctest bubble.
type fixture struct {
	t     *testing.T
	hs    *handlespace.Handlespace
	m     *monitor.Monitor
	clock *probetest.FakeClock
	fc    *probetest.FakeChecker
	dns   *dnsfront.Handler
	stop  func()
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newFixture loads zone and starts the monitor; cfg's Probe and Self are
// filled in. Call it inside synctest.Test.
func newFixture(t *testing.T, zone string, cfg monitor.Config) *fixture {
	t.Helper()
	clock := probetest.NewFakeClock(time.Time{})
	hs := handlespace.New(handlespace.Options{RegistrarID: self, Probing: true, Now: clock.Now})
	zonestest.Apply(t, hs, zone)
	fc := probetest.NewFakeChecker(clock)
	cfg.Self = self
	if cfg.SyncGap == 0 {
		cfg.SyncGap = -1 // every change synced at once, whatever the fake clocks
	}
	cfg.Probe = probe.Config{Clock: clock, Workers: 8, Rand: func() float64 { return 0.5 }, Slack: -1,
		Checkers: map[string]probe.Checker{"http": fc, "tcp": fc}}
	if cfg.Logger == nil {
		cfg.Logger = discard()
	}
	m := monitor.New(hs, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	f := &fixture{t: t, hs: hs, m: m, clock: clock, fc: fc, stop: func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}}
	t.Cleanup(f.stop)
	f.dns = dnsfront.NewHandler(hs, dnsfront.Config{Logger: discard()})
	synctest.Wait()
	return f
}

// advance moves the fake clock by d, timer by timer, letting the monitor
// and the prober finish what falls due at each.
func (f *fixture) advance(d time.Duration) {
	end := f.clock.Now().Add(d)
	synctest.Wait()
	for at, ok := f.clock.Next(); ok && !at.After(end); at, ok = f.clock.Next() {
		f.clock.Advance(at.Sub(f.clock.Now()))
		synctest.Wait()
	}
	f.clock.Advance(end.Sub(f.clock.Now()))
	synctest.Wait()
}

// key is the probe key of the element named label in pool.
func (f *fixture) key(pool, label string) string {
	return monitor.Key(pool, f.elem(pool, label).ID)
}

func (f *fixture) elem(pool, label string) *handlespace.Element {
	f.t.Helper()
	handle, zone, _ := cut(pool)
	pv := f.hs.View().Zone(zone).Pool(handle)
	if pv == nil || pv.Label(label) == nil {
		f.t.Fatalf("no element %s in %s", label, pool)
	}
	return pv.Label(label)
}

func cut(pool string) (string, string, bool) {
	for i := range pool {
		if pool[i] == '.' {
			return pool[:i], pool[i+1:], true
		}
	}
	return "", "", false
}

// answer asks the DNS handler for name's A records and returns the
// addresses in answer order.
func (f *fixture) answer(name string) []string {
	f.t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	w := &writer{}
	f.dns.ServeDNS(w, q)
	if w.msg == nil {
		f.t.Fatalf("%s A: no reply", name)
	}
	if w.msg.Rcode != dns.RcodeSuccess {
		f.t.Fatalf("%s A: %s", name, dns.RcodeToString[w.msg.Rcode])
	}
	var out []string
	for _, rr := range w.msg.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out
}

// answerSet is answer, sorted.
func (f *fixture) answerSet(name string) []string {
	out := f.answer(name)
	slices.Sort(out)
	return out
}

// writer is a dns.ResponseWriter that keeps the reply.
type writer struct{ msg *dns.Msg }

func (w *writer) LocalAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (w *writer) RemoteAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(192, 0, 2, 200), Port: 40000}
}
func (w *writer) WriteMsg(m *dns.Msg) error { w.msg = m; return nil }
func (w *writer) Write(b []byte) (int, error) {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		return 0, err
	}
	w.msg = m
	return len(b), nil
}
func (w *writer) Close() error        { return nil }
func (w *writer) TsigStatus() error   { return nil }
func (w *writer) TsigTimersOnly(bool) {}
func (w *writer) Hijack()             {}

var _ dns.ResponseWriter = (*writer)(nil)

var client1, client2 = netip.MustParseAddr("192.0.2.201"), netip.MustParseAddr("192.0.2.202")
