package monitor_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolnsd/poolnsd/dnsfront"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/monitor"
	"github.com/poolnsd/poolnsd/probe"
	"github.com/poolnsd/poolnsd/probe/probetest"
	"github.com/poolnsd/poolnsd/zones/zonestest"
)

// elsewhere is the registrar that the sampling tests' near elements are
// homed at: a peer, which this test does not run.
const elsewhere = 0x0e0e0e0e

func TestSampleSpec(t *testing.T) {
	spec := handlespace.ProbeSpec{Kind: "http", Target: "/healthz#200", Interval: time.Second, Timeout: 300 * time.Millisecond, Rise: 3, Fall: 4, Jitter: 0.1}
	got := monitor.SampleSpec(spec, 10*time.Second)
	want := handlespace.ProbeSpec{Kind: "http", Target: "/healthz#200", Interval: 10 * time.Second, Timeout: 300 * time.Millisecond, Rise: 1, Fall: 1, Jitter: monitor.SampleJitter}
	if got != want {
		t.Errorf("SampleSpec = %+v, want %+v", got, want)
	}
	// Gaps: 80..100 % of the interval, the interval when the draw is 0,
	// 80 % at the top; a failing element backs off as a down one does.
	up := probe.Tracker{Health: handlespace.HealthUp}
	for _, tt := range []struct {
		tr   probe.Tracker
		r    float64
		want time.Duration
	}{
		{up, 0, 10 * time.Second},
		{up, 0.5, 9 * time.Second},
		{up, 0.999999, 8*time.Second + 2*time.Microsecond},
		{probe.Tracker{Health: handlespace.HealthDown, Failures: 1}, 0, 10 * time.Second},
		{probe.Tracker{Health: handlespace.HealthDown, Failures: 5}, 0, 10 * time.Second},
	} {
		if d := probe.NextDelay(got, tt.tr, func() float64 { return tt.r }); d != tt.want {
			t.Errorf("NextDelay(%+v, r=%v) = %v, want %v", tt.tr, tt.r, d, tt.want)
		}
	}
	short := monitor.SampleSpec(spec, 200*time.Millisecond)
	if d := probe.NextDelay(short, probe.Tracker{Health: handlespace.HealthDown, Failures: 9}, func() float64 { return 0 }); d != probe.BackoffCap {
		t.Errorf("a failing element sampled every 200 ms: next in %v, want the back-off cap %v", d, probe.BackoffCap)
	}
}

// sampling is a registrar (self) whose near pool (testZone) is homed at
// another registrar, up and with the home's RTTs as that peer's updates
// would set them, running a monitor that samples every interval with its
// own fake checker.
type sampling struct {
	*fixture
	sc *probetest.FakeChecker // the sampler's checker
}

// newSampling starts a sampling registrar with ID id on clock; homeRTT
// gives the home's RTT of near's elements by label.
func newSampling(t *testing.T, id uint32, clock *probetest.FakeClock, interval time.Duration, homeRTT map[string]time.Duration) *sampling {
	t.Helper()
	hs := handlespace.New(handlespace.Options{RegistrarID: id, Probing: true, Now: clock.Now})
	hs.SetStaticHome(func(pool string, _ uint32) uint32 {
		if pool == near {
			return elsewhere
		}
		return id
	})
	zonestest.Apply(t, hs, testZone)
	fs := map[uint32]func(*handlespace.Element){}
	for label, rtt := range homeRTT {
		fs[hs.View().Pool(near).Label(label).ID] = func(e *handlespace.Element) { e.Health, e.RTT = handlespace.HealthUp, rtt }
	}
	if err := hs.UpdateMany(near, fs); err != nil {
		t.Fatal(err)
	}
	fc, sc := probetest.NewFakeChecker(clock), probetest.NewFakeChecker(clock)
	seed := rand.Uint64()
	t.Logf("registrar %x: sample jitter seed %d", id, seed)
	m := monitor.New(hs, monitor.Config{
		Self:        id,
		SyncGap:     -1, // every change synced at once, whatever the fake clocks
		Logger:      discard(),
		RTTInterval: interval,
		Probe: probe.Config{Clock: clock, Workers: 8, Rand: func() float64 { return 0.5 }, Slack: -1,
			Checkers: map[string]probe.Checker{"http": fc, "tcp": fc}},
		Sample: probe.Config{Workers: 4, Rand: rand.New(rand.NewPCG(seed, 2)).Float64, Slack: -1,
			Checkers: map[string]probe.Checker{"http": sc, "tcp": sc}},
	})
	f := &fixture{t: t, hs: hs, m: m, clock: clock, fc: fc}
	f.dns = dnsfront.NewHandler(hs, dnsfront.Config{Logger: discard()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	f.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(f.stop)
	synctest.Wait()
	return &sampling{fixture: f, sc: sc}
}

func rttResult(d time.Duration) probe.Result { return probe.Result{OK: true, RTT: d} }

// TestSampler: a registrar samples the elements of a nearest pool that
// another registrar is home for, and only those (not its own, not other
// policies' pools): each one first within the start's spread, then every
// 80..100 % of nearest.rtt_interval (90 % on average), never probing them
// for health. Its samples become the elements' LocalRTT and the nearest
// answer follows them instead of the home's RTTs. A failing sample
// changes nothing. When the element's home moves here, its samples stop
// and its probes measure it.
func TestSampler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := probetest.NewFakeClock(time.Time{})
		const interval = time.Second
		// The home finds n1 nearer; this registrar n2.
		s := newSampling(t, self, clock, interval, map[string]time.Duration{"n1": time.Millisecond, "n2": 4 * time.Millisecond})
		n1, n2 := s.key(near, "n1"), s.key(near, "n2")
		s.sc.Script(n1, rttResult(6*time.Millisecond))
		s.sc.Script(n2, rttResult(2*time.Millisecond))
		if got := s.answer(near); !slices.Equal(got, []string{"10.0.1.1"}) {
			t.Fatalf("before any sample: %v, want n1 (by the home's RTTs)", got)
		}
		start := clock.Now()
		s.advance(30 * time.Second)
		for _, k := range []string{n1, n2} {
			times := s.sc.Times(k)
			if len(times) < 30 || len(times) > 40 {
				t.Fatalf("%s sampled %d times in 30 s at a 1 s interval", k, len(times))
			}
			if first := times[0].Sub(start); first > 2*probe.SpreadStep {
				t.Errorf("%s first sampled %v after the start, want within the spread", k, first)
			}
			var sum time.Duration
			for i := 1; i < len(times); i++ {
				gap := times[i].Sub(times[i-1])
				sum += gap
				if gap < interval*8/10 || gap > interval {
					t.Errorf("%s: samples %v apart, want 0.8..1 × %v", k, gap, interval)
				}
			}
			if mean := sum / time.Duration(len(times)-1); mean < 850*time.Millisecond || mean > 950*time.Millisecond {
				t.Errorf("%s: mean gap %v, want about 900ms", k, mean)
			}
			if s.fc.Calls(k) != 0 {
				t.Errorf("%s homed elsewhere was probed for health %d times", k, s.fc.Calls(k))
			}
		}
		for _, l := range []string{"web1", "web2", "web3"} {
			if k := s.key(web, l); s.sc.Calls(k) != 0 || s.fc.Calls(k) == 0 {
				t.Errorf("%s (homed here, rr): %d samples, %d probes; want only probes", l, s.sc.Calls(k), s.fc.Calls(k))
			}
		}
		if e := s.elem(near, "n2"); e.LocalRTT != 2*time.Millisecond || e.RTT != 4*time.Millisecond {
			t.Errorf("n2: LocalRTT %v, RTT %v; want its samples' 2ms and the home's 4ms", e.LocalRTT, e.RTT)
		}
		if got := s.answer(near); !slices.Equal(got, []string{"10.0.1.2"}) {
			t.Errorf("after the samples: %v, want n2 (nearer from here)", got)
		}
		if rtt, ok := s.m.LocalRTT(near, s.elem(near, "n2").ID); !ok || rtt != 2*time.Millisecond {
			t.Errorf("LocalRTT(n2) = %v, %v", rtt, ok)
		}
		if st := s.m.SampleStats(); st.Targets != 2 || st.Confirms != 0 {
			t.Errorf("sampler stats %+v, want 2 targets, no confirms", st)
		}
		// n2's samples fail: its health stays the home's word.
		s.sc.Script(n2, probetest.Fail("connect: connection refused"))
		s.advance(5 * time.Second)
		if e := s.elem(near, "n2"); e.Health != handlespace.HealthUp || e.LocalRTT != 2*time.Millisecond {
			t.Errorf("n2 after failing samples: %v, LocalRTT %v; want up, unchanged", e.Health, e.LocalRTT)
		}
		// n2's home moves here: probes, no samples.
		if err := s.hs.Update(near, s.elem(near, "n2").ID, func(e *handlespace.Element) { e.Home = self }); err != nil {
			t.Fatal(err)
		}
		s.fc.Script(n2, rttResult(3*time.Millisecond))
		synctest.Wait()
		before := s.sc.Calls(n2)
		s.advance(3 * time.Second)
		if s.sc.Calls(n2) != before || s.fc.Calls(n2) == 0 {
			t.Errorf("n2 homed here: %d more samples, %d probes; want probes only", s.sc.Calls(n2)-before, s.fc.Calls(n2))
		}
		if e := s.elem(near, "n2"); e.LocalRTT != 3*time.Millisecond || e.RTT != 3*time.Millisecond {
			t.Errorf("n2 probed here: LocalRTT %v, RTT %v; want its probes' 3ms for both", e.LocalRTT, e.RTT)
		}
		if st := s.m.SampleStats(); st.Targets != 1 {
			t.Errorf("sampler stats %+v, want 1 target left", st)
		}
	})
}

// TestSamplerOff: without nearest.rtt_interval nothing is sampled and
// nearest follows the home's RTTs.
func TestSamplerOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := probetest.NewFakeClock(time.Time{})
		s := newSampling(t, self, clock, 0, map[string]time.Duration{"n1": time.Millisecond, "n2": 4 * time.Millisecond})
		s.advance(5 * time.Second)
		if s.sc.Total() != 0 || s.m.SampleStats().Targets != 0 {
			t.Errorf("%d samples with the sampler off", s.sc.Total())
		}
		if got := s.answer(near); !slices.Equal(got, []string{"10.0.1.1"}) {
			t.Errorf("%v, want n1 (by the home's RTTs)", got)
		}
	})
}

// TestTwoRegistrarsNearest: two registrars serve the same nearest pool,
// homed at a third with the same RTT to both elements; each samples its
// own distance (n1 near A, n2 near B) and answers by it, through its DNS
// front: A n1, B n2, where the home's RTTs alone would give both the same
// answers.
func TestTwoRegistrarsNearest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := probetest.NewFakeClock(time.Time{})
		home := map[string]time.Duration{"n1": 3 * time.Millisecond, "n2": 3 * time.Millisecond}
		a := newSampling(t, 0x0a, clock, 10*time.Second, home)
		b := newSampling(t, 0x0b, clock, 10*time.Second, home)
		for _, r := range []*sampling{a, b} {
			got := map[string]int{}
			for range 4 {
				got[r.answer(near)[0]]++
			}
			if got["10.0.1.1"] != 2 || got["10.0.1.2"] != 2 {
				t.Fatalf("before any sample: %v, want n1 and n2 in turn (equal RTTs)", got)
			}
		}
		a.sc.Script(a.key(near, "n1"), rttResult(800*time.Microsecond))
		a.sc.Script(a.key(near, "n2"), rttResult(40*time.Millisecond))
		b.sc.Script(b.key(near, "n1"), rttResult(40*time.Millisecond))
		b.sc.Script(b.key(near, "n2"), rttResult(800*time.Microsecond))
		// One advance moves both registrars' shared clock.
		a.advance(time.Second)
		for range 3 {
			if got := a.answer(near); !slices.Equal(got, []string{"10.0.1.1"}) {
				t.Errorf("A: %v, want n1 (0.8 ms from A)", got)
			}
			if got := b.answer(near); !slices.Equal(got, []string{"10.0.1.2"}) {
				t.Errorf("B: %v, want n2 (0.8 ms from B)", got)
			}
		}
		if e := a.elem(near, "n1"); e.RTT != 3*time.Millisecond {
			t.Errorf("A's n1: the home's RTT became %v; samples must not touch it", e.RTT)
		}
	})
}
