package monitor_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/handlespace/policy"
	"github.com/poolnsd/poolnsd/monitor"
	"github.com/poolnsd/poolnsd/poolclient"
	"github.com/poolnsd/poolnsd/probe"
	"github.com/poolnsd/poolnsd/probe/probetest"
	"github.com/poolnsd/poolnsd/zones/zonestest"
)

const web, near, plain = "web.pool.test.", "near.pool.test.", "plain.pool.test."

var allWeb = []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}

// TestStartUp: probed elements are unknown, and not answered, until their
// first probe passes; unprobed ones are answered at once.
func TestStartUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, testZone, monitor.Config{})
		if got := f.answer(web); len(got) != 0 {
			t.Errorf("web before any probe: %v, want no answer (unknown)", got)
		}
		if h := f.elem(web, "web1").Health; h != handlespace.HealthUnknown {
			t.Errorf("web1 %v before its first probe", h)
		}
		if got := f.answerSet(plain); !slices.Equal(got, []string{"10.0.2.1", "10.0.2.2"}) {
			t.Errorf("plain (no probes): %v", got)
		}
		f.advance(time.Millisecond) // the first probes are spread over 100 µs each
		if got := f.answerSet(web); !slices.Equal(got, allWeb) {
			t.Errorf("web after the first probes: %v, want %v", got, allWeb)
		}
		if st := f.m.Stats(); st.Targets != 5 {
			t.Errorf("%d targets, want the 5 probed elements", st.Targets)
		}
		if f.fc.Calls(monitor.Key(plain, f.elem(plain, "p1").ID)) != 0 {
			t.Error("an element of a pool without probes was probed")
		}
	})
}

// TestHealthChangeAnsweredAtOnce: the result that makes an element Down
// publishes its pool's view before the next result, so the very next DNS
// answer leaves it out; the one before it (a single failure) keeps it.
func TestHealthChangeAnsweredAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, testZone, monitor.Config{})
		f.advance(time.Millisecond)
		k := f.key(web, "web2")
		f.fc.Script(k, probetest.Fail("connect: connection refused"))
		calls := f.fc.Calls(k)
		// Step to the probe that fails: one failure is not enough.
		for f.fc.Calls(k) == calls {
			f.advance(10 * time.Millisecond)
		}
		if got := f.answerSet(web); !slices.Equal(got, allWeb) {
			t.Fatalf("after one failure (fall=2): %v, want all", got)
		}
		// The confirming probe comes ConfirmDelay later and makes it Down.
		for f.fc.Calls(k) == calls+1 {
			f.advance(time.Millisecond)
		}
		if got, want := f.answerSet(web), []string{"10.0.0.1", "10.0.0.3"}; !slices.Equal(got, want) {
			t.Fatalf("after the second failure: %v, want %v", got, want)
		}
		times := f.fc.Times(k)
		if gap := times[len(times)-1].Sub(times[len(times)-2]); gap != probe.ConfirmMin {
			t.Errorf("confirming probe %v after the failure, want %v", gap, probe.ConfirmMin)
		}
		st, ok := f.m.Status(web, f.elem(web, "web2").ID)
		if !ok || st.Last.OK || st.Last.Err != "connect: connection refused" {
			t.Errorf("last result %+v", st)
		}
		// It comes back after rise passes.
		f.fc.Script(k)
		f.advance(time.Second + 10*time.Millisecond)
		if h := f.elem(web, "web2").Health; h != handlespace.HealthDown {
			t.Fatalf("web2 %v after one pass (rise=2), want down", h)
		}
		f.advance(time.Second)
		if got := f.answerSet(web); !slices.Equal(got, allWeb) {
			t.Fatalf("after rise passes: %v, want all", got)
		}
	})
}

// TestRTTAndLoad: probes' RTTs and loads reach the handlespace — at once
// with the first pass, then at the next flush — and the nearest policy
// follows the RTTs.
func TestRTTAndLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, testZone, monitor.Config{FlushInterval: 500 * time.Millisecond})
		n1, n2 := f.key(near, "n1"), f.key(near, "n2")
		rtt := func(d time.Duration) probe.Result { return probe.Result{OK: true, RTT: d} }
		f.fc.Script(n1, rtt(5*time.Millisecond))
		f.fc.Script(n2, rtt(time.Millisecond))
		w1 := f.key(web, "web1")
		f.fc.Script(w1, probe.Result{OK: true, RTT: time.Millisecond, Load: 0.35, HasLoad: true})
		w2 := f.key(web, "web2")
		f.fc.Script(w2, rtt(time.Millisecond), rtt(10*time.Millisecond))
		f.advance(time.Millisecond)
		if e := f.elem(near, "n1"); e.RTT != 5*time.Millisecond {
			t.Errorf("n1 RTT %v after its first pass, want 5ms at once", e.RTT)
		}
		if e := f.elem(web, "web1"); e.Load != handlespace.LoadFromFraction(0.35) {
			t.Errorf("web1 load %v, want 0.35 from its first probe", handlespace.LoadFraction(e.Load))
		}
		for range 3 {
			if got := f.answer(near); !slices.Equal(got, []string{"10.0.1.2"}) {
				t.Fatalf("nearest: %v, want n2 (1 ms) before n1 (5 ms)", got)
			}
		}
		// n1 gets nearer, n2 farther: the smoothed RTTs cross after some
		// probes, and the answer follows at the flush after that.
		f.fc.Script(n1, rtt(100*time.Microsecond))
		f.fc.Script(n2, rtt(20*time.Millisecond))
		f.fc.Script(w1, probe.Result{OK: true, RTT: time.Millisecond, Load: 0.9, HasLoad: true})
		f.advance(3 * time.Second)
		e1, e2 := f.elem(near, "n1"), f.elem(near, "n2")
		if e1.RTT >= e2.RTT {
			t.Fatalf("after 3 s: RTTs n1 %v, n2 %v; want n1 nearer", e1.RTT, e2.RTT)
		}
		if got := f.answer(near); !slices.Equal(got, []string{"10.0.1.1"}) {
			t.Errorf("nearest after the RTTs crossed: %v, want n1", got)
		}
		if e := f.elem(web, "web1"); e.Load != handlespace.LoadFromFraction(0.9) {
			t.Errorf("web1 load %v, want 0.9 after a flush", handlespace.LoadFraction(e.Load))
		}
		// web (rr) does not order by RTT: its view keeps the RTT of the
		// health change, while Status follows the probes.
		st, _ := f.m.Status(web, f.elem(web, "web2").ID)
		if e := f.elem(web, "web2"); e.RTT != time.Millisecond || st.SRTT <= 2*time.Millisecond {
			t.Errorf("web2: view RTT %v, status SRTT %v; want 1ms in the view and the probes' rise in the status", e.RTT, st.SRTT)
		}
	})
}

func TestRTTChanged(t *testing.T) {
	ms, us := time.Millisecond, time.Microsecond
	tests := []struct {
		published, srtt time.Duration
		want            bool
	}{
		{0, 300 * us, true},
		{300 * us, 0, false},
		{300 * us, 350 * us, false}, // 17 % but only 50 µs
		{300 * us, 450 * us, true},  // 50 %, 150 µs
		{10 * ms, 10500 * us, false},
		{10 * ms, 11500 * us, true},
		{10 * ms, 8 * ms, true},
	}
	for _, tt := range tests {
		if got := monitor.RTTChanged(tt.published, tt.srtt); got != tt.want {
			t.Errorf("RTTChanged(%v, %v) = %v, want %v", tt.published, tt.srtt, got, tt.want)
		}
	}
}

// TestReportProbesAtOnce: a failure report probes the element at once, and
// fewer than max_bad_reports change nothing else.
func TestReportProbesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, testZone, monitor.Config{})
		f.advance(time.Millisecond)
		e := f.elem(web, "web1")
		k := f.key(web, "web1")
		calls := f.fc.Calls(k)
		out, err := f.m.Report(web, e.ID, client1)
		if err != nil || out.Reports != 1 || out.Removed || !out.Probed {
			t.Fatalf("first report: %+v, %v", out, err)
		}
		synctest.Wait() // no time passes
		if f.fc.Calls(k) != calls+1 {
			t.Fatalf("%d probes after the report, want one more at once", f.fc.Calls(k)-calls)
		}
		if got := f.answerSet(web); !slices.Equal(got, allWeb) {
			t.Errorf("after one report whose probe passed: %v", got)
		}
		if _, err := f.m.Report(web, 0x12345678, client1); !errors.Is(err, handlespace.ErrNoElement) {
			t.Errorf("report of an unknown element: %v", err)
		}
		if _, err := f.m.Report("nope.pool.test.", e.ID, client1); !errors.Is(err, handlespace.ErrNoPool) {
			t.Errorf("report of an unknown pool: %v", err)
		}
	})
}

// TestMaxBadReports: the max_bad_reports-th report within the window takes
// the element out of the answers before Report returns; a probe that
// started before the reports and passes does not bring it back; one that
// started after them does.
func TestMaxBadReports(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, testZone, monitor.Config{MaxBadReports: 3, ReportWindow: 10 * time.Second})
		f.advance(time.Millisecond)
		e := f.elem(web, "web3")
		k := f.key(web, "web3")
		// A probe of web3 is in flight (it hangs) when the reports come.
		release := f.fc.Block(k)
		calls := f.fc.Calls(k)
		for f.fc.Calls(k) == calls {
			f.advance(10 * time.Millisecond)
		}
		for i := 1; i <= 3; i++ {
			out, err := f.m.Report(web, e.ID, client1)
			if err != nil || out.Reports != i || out.Removed != (i == 3) {
				t.Fatalf("report %d: %+v, %v", i, out, err)
			}
			if i < 3 {
				if got := f.answerSet(web); !slices.Equal(got, allWeb) {
					t.Fatalf("after %d reports: %v, want all", i, got)
				}
			}
		}
		if got, want := f.answerSet(web), []string{"10.0.0.1", "10.0.0.2"}; !slices.Equal(got, want) {
			t.Fatalf("after 3 reports: %v, want %v", got, want)
		}
		if !f.elem(web, "web3").Reported {
			t.Error("web3 not marked reported")
		}
		// The probes in flight (the one from before the reports and the
		// one beside it, started before them too) pass: not enough.
		release()
		synctest.Wait()
		if got := f.answerSet(web); len(got) != 2 {
			t.Fatalf("after a probe from before the reports passed: %v, want web3 still out", got)
		}
		// The next probe starts after the reports and passes: back.
		f.advance(time.Second)
		if got := f.answerSet(web); !slices.Equal(got, allWeb) {
			t.Fatalf("after a later probe passed: %v, want all", got)
		}
		if f.elem(web, "web3").Reported {
			t.Error("web3 still marked reported")
		}
	})
}

// TestReportsOfADeadElement: reports take out an element whose probes
// fail too; it stays out and the probes make it Down.
func TestReportsOfADeadElement(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, testZone, monitor.Config{})
		f.advance(time.Millisecond)
		e := f.elem(web, "web1")
		f.fc.Script(f.key(web, "web1"), probetest.Fail("timeout after 500ms"))
		for range 3 {
			if _, err := f.m.Report(web, e.ID, client1); err != nil {
				t.Fatal(err)
			}
		}
		if got := f.answerSet(web); slices.Contains(got, "10.0.0.1") {
			t.Fatalf("after 3 reports: %v", got)
		}
		f.advance(100 * time.Millisecond) // the report's probe and its confirmation fail
		if e := f.elem(web, "web1"); e.Health != handlespace.HealthDown || !e.Reported {
			t.Errorf("web1 health %v reported %v, want down and reported", e.Health, e.Reported)
		}
	})
}

// TestReportWindow: reports older than the window do not count; an element
// without probes comes back when its reports lapse.
func TestReportWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, testZone, monitor.Config{MaxBadReports: 3, ReportWindow: 10 * time.Second, FlushInterval: 500 * time.Millisecond})
		f.advance(time.Millisecond)
		w := f.elem(web, "web1")
		for range 2 {
			f.m.Report(web, w.ID, client1)
		}
		f.advance(10*time.Second + time.Millisecond)
		if out, _ := f.m.Report(web, w.ID, client1); out.Reports != 1 || out.Removed {
			t.Errorf("a report after the window: %+v, want a count of 1", out)
		}

		p := f.elem(plain, "p1")
		for range 3 {
			out, err := f.m.Report(plain, p.ID, client2)
			if err != nil {
				t.Fatal(err)
			}
			if out.Probed {
				t.Error("an element without probes reported as probed")
			}
		}
		if got := f.answerSet(plain); !slices.Equal(got, []string{"10.0.2.2"}) {
			t.Fatalf("plain after 3 reports: %v", got)
		}
		f.advance(5 * time.Second)
		if got := f.answerSet(plain); len(got) != 1 {
			t.Fatalf("plain 5 s later: %v, still out", got)
		}
		f.advance(5*time.Second + time.Second) // the window and a flush
		if got := f.answerSet(plain); !slices.Equal(got, []string{"10.0.2.1", "10.0.2.2"}) {
			t.Errorf("plain after the window: %v, want both", got)
		}
	})
}

// TestReportRateLimit: one client gets its burst, then its rate; another
// client has its own bucket.
func TestReportRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, testZone, monitor.Config{MaxBadReports: 1000, ReportRate: 5, ReportBurst: 10})
		e := f.elem(web, "web1")
		for i := range 10 {
			if _, err := f.m.Report(web, e.ID, client1); err != nil {
				t.Fatalf("report %d of the burst: %v", i+1, err)
			}
		}
		if _, err := f.m.Report(web, e.ID, client1); !errors.Is(err, monitor.ErrRateLimited) {
			t.Fatalf("report 11: %v, want rate limited", err)
		}
		if _, err := f.m.Report(web, e.ID, client2); err != nil {
			t.Fatalf("another client: %v", err)
		}
		f.advance(time.Second)
		for i := range 5 {
			if _, err := f.m.Report(web, e.ID, client1); err != nil {
				t.Fatalf("report %d after a second (rate 5/s): %v", i+1, err)
			}
		}
		if _, err := f.m.Report(web, e.ID, client1); !errors.Is(err, monitor.ErrRateLimited) {
			t.Fatalf("sixth report after a second: %v, want rate limited", err)
		}
		if out, _ := f.m.Report(web, e.ID, client2); out.Reports != 17 {
			t.Errorf("%d reports counted, want the 17 accepted", out.Reports)
		}
	})
}

// TestAdmin: drain and force-down take an element out of the answers while
// it stays registered and probed; auto brings it back.
func TestAdmin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, testZone, monitor.Config{})
		f.advance(time.Millisecond)
		e := f.elem(web, "web2")
		k := f.key(web, "web2")
		rest := []string{"10.0.0.1", "10.0.0.3"}
		for _, st := range []handlespace.Admin{handlespace.AdminDrain, handlespace.AdminForceDown} {
			if err := f.m.SetAdmin(web, e.ID, st); err != nil {
				t.Fatal(err)
			}
			if got := f.answerSet(web); !slices.Equal(got, rest) {
				t.Errorf("%v: %v, want %v", st, got, rest)
			}
			calls := f.fc.Calls(k)
			f.advance(2 * time.Second)
			if f.fc.Calls(k) < calls+2 {
				t.Errorf("%v: probes stopped", st)
			}
			if el := f.elem(web, "web2"); el.Admin != st || el.Health != handlespace.HealthUp {
				t.Errorf("%v: element %v/%v", st, el.Admin, el.Health)
			}
		}
		if err := f.m.SetAdmin(web, e.ID, handlespace.AdminAuto); err != nil {
			t.Fatal(err)
		}
		if got := f.answerSet(web); !slices.Equal(got, allWeb) {
			t.Errorf("auto: %v, want all", got)
		}
		if err := f.m.SetAdmin(web, 0x12345678, handlespace.AdminDrain); !errors.Is(err, handlespace.ErrNoElement) {
			t.Errorf("unknown element: %v", err)
		}
		// A drained element that goes down and up again stays drained.
		f.m.SetAdmin(web, e.ID, handlespace.AdminDrain)
		f.fc.Script(k, probetest.Fail("x"))
		f.advance(2 * time.Second)
		f.fc.Script(k)
		f.advance(5 * time.Second)
		if el := f.elem(web, "web2"); el.Health != handlespace.HealthUp || el.Admin != handlespace.AdminDrain {
			t.Errorf("after down and up: %v/%v, want up and still drained", el.Health, el.Admin)
		}
		if got := f.answerSet(web); !slices.Equal(got, rest) {
			t.Errorf("drained again: %v", got)
		}
	})
}

// TestFollowsTheHandlespace: reloads and registrations change what is
// probed; elements homed elsewhere are not probed; a reload keeps health.
func TestFollowsTheHandlespace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, testZone, monitor.Config{})
		f.advance(time.Millisecond)
		nearKeys := []string{f.key(near, "n1"), f.key(near, "n2")}

		// Reload: near gone; web gets a fourth element and web1 its own
		// probe settings.
		zone2 := zoneHead + `$POOL web probe=http:/healthz interval=1s timeout=500ms rise=2 fall=2 jitter=0 answers=5
web PE 10.0.0.1:80 name=web1 probe=tcp interval=2s timeout=1s
web PE 10.0.0.2:80 name=web2
web PE 10.0.0.3:80 name=web3
web PE 10.0.0.4:80 name=web4
`
		zonestest.Apply(t, f.hs, zone2)
		// The reload keeps health: the three elements are answered at once.
		if got := f.answerSet(web); !slices.Equal(got, allWeb) {
			t.Errorf("right after the reload: %v, want the three known ones", got)
		}
		before := map[string]int{}
		for _, k := range nearKeys {
			before[k] = f.fc.Calls(k)
		}
		f.advance(3 * time.Second)
		for _, k := range nearKeys {
			if f.fc.Calls(k) != before[k] {
				t.Errorf("%s probed after its pool was removed", k)
			}
		}
		if got := f.answerSet(web); len(got) != 4 {
			t.Errorf("web after the reload: %v, want 4", got)
		}
		times := f.fc.Times(f.key(web, "web1"))
		if gap := times[len(times)-1].Sub(times[len(times)-2]); gap != 2*time.Second {
			t.Errorf("web1 probed every %v, want its own 2s", gap)
		}
		if st := f.m.Stats(); st.Targets != 4 {
			t.Errorf("%d targets, want 4", st.Targets)
		}

		// A registration homed elsewhere is served (by its home's word) but
		// not probed here; one homed here is.
		other := &handlespace.Element{ID: 0x100, Label: handlespace.LabelOf("other"), Addrs: handlespace.AddrsOf(netip.MustParseAddr("10.0.0.9")), Port: 80, Home: 0x99}
		if err := f.hs.Do(handlespace.Op{Pool: web, Elem: other}); err != nil {
			t.Fatal(err)
		}
		mine := &handlespace.Element{ID: 0x101, Label: handlespace.LabelOf("mine"), Addrs: handlespace.AddrsOf(netip.MustParseAddr("10.0.0.10")), Port: 80}
		if err := f.hs.Do(handlespace.Op{Pool: web, Elem: mine}); err != nil {
			t.Fatal(err)
		}
		f.advance(time.Second)
		if f.fc.Calls(monitor.Key(web, 0x100)) != 0 {
			t.Error("an element homed at another registrar was probed")
		}
		if f.fc.Calls(monitor.Key(web, 0x101)) == 0 {
			t.Error("a registered element homed here was not probed")
		}
		if err := f.hs.Do(handlespace.Op{Pool: web, ID: 0x101}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		n := f.fc.Calls(monitor.Key(web, 0x101))
		f.advance(3 * time.Second)
		if f.fc.Calls(monitor.Key(web, 0x101)) != n {
			t.Error("a deregistered element was probed")
		}
	})
}

// TestHealthChangeCountedBeforeLogged: OnHealthChange (the metrics) hears
// of a change before its log line is written, so that whoever reads the
// line and then scrapes finds the change counted.
func TestHealthChangeCountedBeforeLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var log bytes.Buffer
		lines := func() int {
			mu.Lock()
			defer mu.Unlock()
			return strings.Count(log.String(), `msg="health changed"`)
		}
		calls := 0
		cfg := monitor.Config{
			Logger: slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
				mu.Lock()
				defer mu.Unlock()
				return log.Write(b)
			}), nil)),
			OnHealthChange: func(_ string, _ uint32, _, _ handlespace.Health) {
				if n := lines(); n != calls {
					t.Errorf("change %d heard with %d health lines logged, want %d", calls+1, n, calls)
				}
				calls++
			},
		}
		f := newFixture(t, testZone, cfg)
		f.advance(time.Millisecond)
		f.fc.Script(f.key(web, "web2"), probetest.Fail("connect: connection refused"))
		f.advance(2 * time.Second)
		if f.elem(web, "web2").Health != handlespace.HealthDown || calls < 2 || lines() != calls {
			t.Errorf("web2 %v after %d changes heard, %d logged; want down, at least 2 (up, down) and all logged",
				f.elem(web, "web2").Health, calls, lines())
		}
	})
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(b []byte) (int, error) { return w(b) }

// TestOneUserTakesAnElementOut: the rule of failure reports is RFC 5352's,
// reports per element whoever sends them. A pool user alone that reports
// an element without probes once per poolclient's hold (it reports an
// element at most that often) takes it out with its third report under
// the default settings; under the old 10 s window it never could.
func TestOneUserTakesAnElementOut(t *testing.T) {
	for _, c := range []struct {
		name   string
		window time.Duration
		out    bool
	}{
		{"default window", 0, true},
		{"10 s window", 10 * time.Second, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, testZone, monitor.Config{ReportWindow: c.window})
				f.advance(time.Millisecond)
				p := f.elem(plain, "p1")
				var out monitor.ReportOutcome
				for i := range 3 {
					if i > 0 {
						f.advance(poolclient.DefaultReportHold)
					}
					var err error
					if out, err = f.m.Report(plain, p.ID, client1); err != nil {
						t.Fatal(err)
					}
					if i < 2 && out.Removed {
						t.Fatalf("out after %d reports", i+1)
					}
				}
				if out.Removed != c.out || slices.Contains(f.answerSet(plain), "10.0.2.1") == c.out {
					t.Errorf("after 3 reports %v apart: %+v, answers %v; want out %v", poolclient.DefaultReportHold, out, f.answerSet(plain), c.out)
				}
			})
		})
	}
}

// TestRTTDistancePolicy: the probes' RTTs reach the elements of a pool of
// a distance-penalty policy (lu-dpf) as they do nearest's, and its order
// follows them: d1, idle but 50 ms away (RTT 100 ms) at 1 %/ms, is behind
// d2, 30 % loaded and near, until d1 comes near.
func TestRTTDistancePolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		zone := zoneHead + `$POOL dpf policy=lu-dpf dpf=1% distancestep=10ms probe=tcp interval=1s timeout=500ms jitter=0 answers=1
dpf PE 10.0.3.1:80 name=d1
dpf PE 10.0.3.2:80 name=d2 load=30%
`
		f := newFixture(t, zone, monitor.Config{FlushInterval: 500 * time.Millisecond})
		pool := "dpf.pool.test."
		rtt := func(d time.Duration) probe.Result { return probe.Result{OK: true, RTT: d} }
		f.fc.Script(f.key(pool, "d1"), rtt(100*time.Millisecond))
		f.fc.Script(f.key(pool, "d2"), rtt(2*time.Millisecond))
		f.advance(time.Millisecond)
		if e := f.elem(pool, "d1"); e.RTT != 100*time.Millisecond || policy.NearestRTT(e) != 100*time.Millisecond {
			t.Fatalf("d1 RTT %v (the policies' %v), want 100ms (distance 50 ms)", e.RTT, policy.NearestRTT(e))
		}
		if got := f.answer(pool); !slices.Equal(got, []string{"10.0.3.2"}) {
			t.Fatalf("lu-dpf: %v, want d2 (30 %%) before d1 (0 %% + 50 %%)", got)
		}
		f.fc.Script(f.key(pool, "d1"), rtt(time.Millisecond))
		f.advance(30 * time.Second)                                               // the smoothed RTT falls below 10 ms
		if e := f.elem(pool, "d1"); policy.NearestRTT(e) >= 10*time.Millisecond { // half of it rounds to 0 at a 10 ms step
			t.Fatalf("d1 RTT %v after 30 s of 1 ms probes, want below 10 ms (distance 0)", policy.NearestRTT(e))
		}
		if got := f.answer(pool); !slices.Equal(got, []string{"10.0.3.1"}) {
			t.Errorf("lu-dpf after d1 came near: %v, want d1", got)
		}
	})
}

// TestSyncGap: a lone change is made a target at once; one that comes
// within SyncGap of the sync before it also, but then the monitor does not
// listen for SyncGap, and the changes of that gap become targets together
// at its end.
func TestSyncGap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const gap = 10 * time.Millisecond
		f := newFixture(t, testZone, monitor.Config{SyncGap: gap})
		base := f.m.Stats().Targets
		add := func(id uint32) {
			t.Helper()
			e := &handlespace.Element{ID: id, Label: handlespace.LabelOf("r" + strconv.Itoa(int(id))), Port: 80,
				Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, 0, 9, byte(id)}))}
			if err := f.hs.Do(handlespace.Op{Pool: web, Elem: e}); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		targets := func() int { return f.m.Stats().Targets - base }
		time.Sleep(gap) // the start's sync long ago
		add(1)
		if n := targets(); n != 1 {
			t.Fatalf("a lone change: %d new targets, want 1 at once", n)
		}
		add(2) // within the gap of the sync before: synced, then deaf
		if n := targets(); n != 2 {
			t.Fatalf("the second change: %d new targets, want 2 at once", n)
		}
		add(3)
		add(4)
		if n := targets(); n != 2 {
			t.Fatalf("changes within the gap: %d new targets at once, want them held (2)", n)
		}
		time.Sleep(gap)
		synctest.Wait()
		if n := targets(); n != 4 {
			t.Fatalf("after the gap: %d new targets, want 4", n)
		}
		time.Sleep(2 * gap) // a gap with no change: listening again
		synctest.Wait()
		add(5)
		if n := targets(); n != 5 {
			t.Fatalf("a change after a quiet gap: %d new targets, want 5 at once", n)
		}
	})
}
