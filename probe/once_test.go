package probe_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/probe"
	"github.com/poolnsd/poolnsd/probe/probetest"
)

// TestCheckOnce: Check probes a target that the Scheduler does not have,
// once, under its timeout, and counts it apart.
func TestCheckOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := probetest.NewFakeClock(time.Time{})
		fc := probetest.NewFakeChecker(clock)
		s := probe.NewScheduler(probe.Config{Clock: clock, Checkers: map[string]probe.Checker{"fake": fc}, Rand: seeded(t)}, func(probe.Result, probe.Tracker, bool) {})
		tg := fakeTargets(1, handlespace.ProbeSpec{Kind: "fake", Interval: time.Second, Timeout: 300 * time.Millisecond})[0]
		fc.Script(tg.Key, probetest.Fail("connect: connection refused"))
		r := s.Check(context.Background(), tg)
		if r.OK || r.Key != tg.Key || r.Err != "connect: connection refused" {
			t.Fatalf("Check = %+v", r)
		}
		if st := s.Stats(); st.OneShots != 1 || st.Probes != 0 || st.Targets != 0 {
			t.Errorf("stats %+v, want one one-shot and no target", st)
		}
		if s.Reset(tg.Key, handlespace.HealthUp) {
			t.Error("Reset of a key the Scheduler does not have: true")
		}
	})
}

// TestReset: a target that is down by its own failures, reset to up (its
// health known better elsewhere), is up with its failures forgotten and is
// probed at once; one more failure does not take it down (fall 2).
func TestReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spec := handlespace.ProbeSpec{Kind: "fake", Interval: time.Second, Timeout: 500 * time.Millisecond, Fall: 2, Rise: 2}
		clock := probetest.NewFakeClock(time.Time{})
		fc := probetest.NewFakeChecker(clock)
		var rs results
		s := probe.NewScheduler(probe.Config{Clock: clock, Checkers: map[string]probe.Checker{"fake": fc}, Rand: seeded(t)}, rs.on)
		ts := fakeTargets(1, spec)
		k := ts[0].Key
		fc.Script(k, probetest.Fail("x"), probetest.Fail("x"), probetest.Fail("x"), probetest.Fail("x"))
		s.Set(ts)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go s.Run(ctx)
		stepUntil(clock, clock.Now().Add(3*time.Second))
		if tr, _ := s.Tracker(k); tr.Health != handlespace.HealthDown {
			t.Fatalf("tracker %+v after failures, want down", tr)
		}
		calls := fc.Calls(k)
		if !s.Reset(k, handlespace.HealthUp) {
			t.Fatal("Reset: false")
		}
		synctest.Wait()
		if fc.Calls(k) != calls+1 {
			t.Errorf("%d probes after Reset, want one more at once", fc.Calls(k)-calls)
		}
		if tr, _ := s.Tracker(k); tr.Health != handlespace.HealthUp || tr.Failures != 1 {
			t.Errorf("tracker %+v after Reset and one failure, want up with 1 failure", tr)
		}
	})
}

// TestSourceEachChecker: probes go out from Target.Source when it is set (TCP,
// HTTP, DNS), and from the system's choice when not.
func TestSourceEachChecker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	from := make(chan string, 8)
	serveConns(ln, func(c net.Conn) {
		from <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
		buf := make([]byte, 512)
		c.SetReadDeadline(time.Now().Add(waitLimit))
		c.Read(buf)
		c.Close()
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		from <- w.RemoteAddr().(*net.UDPAddr).IP.String()
		m := new(dns.Msg)
		m.SetReply(r)
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	defer srv.Shutdown()
	tcpAddr := netip.MustParseAddrPort(ln.Addr().String())
	udpAddr := netip.MustParseAddrPort(pc.LocalAddr().String())
	for _, c := range []struct {
		kind, target string
		addr         netip.AddrPort
		ck           probe.Checker
	}{
		{"tcp", "", tcpAddr, probe.TCPChecker{}},
		{"http", "/", tcpAddr, probe.NewHTTPChecker(false)},
		{"dns", "probe.test", udpAddr, &probe.DNSChecker{}},
	} {
		for _, src := range []string{"127.0.0.7", ""} {
			tg := probe.Target{Key: "k", Addr: c.addr, Spec: handlespace.ProbeSpec{Kind: c.kind, Target: c.target, Timeout: time.Second}}
			want := "127.0.0.1"
			if src != "" {
				tg.Source, want = netip.MustParseAddr(src), src
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			r := c.ck.Check(ctx, tg)
			cancel()
			if !r.OK {
				t.Fatalf("%s from %q: %+v", c.kind, src, r)
			}
			if got := <-from; got != want {
				t.Errorf("%s from %q: the target saw %s, want %s", c.kind, src, got, want)
			}
		}
	}
}
