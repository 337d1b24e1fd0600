package probe

import (
	"math"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

const (
	unknown = handlespace.HealthUnknown
	up      = handlespace.HealthUp
	down    = handlespace.HealthDown
)

// TestObserve walks the hysteresis through result sequences: each step
// gives the health after it.
func TestObserve(t *testing.T) {
	tests := []struct {
		name       string
		rise, fall int
		results    string // p pass, f fail
		want       []handlespace.Health
	}{
		{"first pass serves at once", 2, 2, "p", []handlespace.Health{up}},
		{"unknown needs fall failures", 2, 2, "ff", []handlespace.Health{unknown, down}},
		{"unknown, fall 3", 2, 3, "fffp", []handlespace.Health{unknown, unknown, down, down}},
		{"unknown then pass", 2, 2, "fp", []handlespace.Health{unknown, up}},
		{"up survives fall-1 failures", 2, 2, "pfpfp", []handlespace.Health{up, up, up, up, up}},
		{"up goes down after fall", 2, 2, "pff", []handlespace.Health{up, up, down}},
		{"fall 3", 2, 3, "pffpfff", []handlespace.Health{up, up, up, up, up, up, down}},
		{"down needs rise passes", 2, 2, "pffpp", []handlespace.Health{up, up, down, down, up}},
		{"rise 3, interrupted", 3, 2, "pffppfppp", []handlespace.Health{up, up, down, down, down, down, down, down, up}},
		{"flapping never comes back", 2, 2, "pffpfpfpf", []handlespace.Health{up, up, down, down, down, down, down, down, down}},
		{"rise and fall 1", 1, 1, "pfpf", []handlespace.Health{up, down, up, down}},
		{"rise and fall 0 count as 1", 0, 0, "pfp", []handlespace.Health{up, down, up}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr Tracker
			for i, c := range tt.results {
				prev := tr.Health
				var changed bool
				tr, changed = tr.Observe(c == 'p', tt.rise, tt.fall)
				if tr.Health != tt.want[i] {
					t.Fatalf("after %q: %v, want %v", tt.results[:i+1], tr.Health, tt.want[i])
				}
				if changed != (prev != tr.Health) {
					t.Fatalf("after %q: changed=%v going %v → %v", tt.results[:i+1], changed, prev, tr.Health)
				}
				if c == 'p' && (tr.Failures != 0 || tr.Successes == 0) || c == 'f' && (tr.Successes != 0 || tr.Failures == 0) {
					t.Fatalf("after %q: counters %+v", tt.results[:i+1], tr)
				}
			}
		})
	}
}

// TestObserveProvisional: a given (restored) health is kept until the
// results decide as they would for an Unknown target: the first pass makes
// it Up, fall failures in a row make it Down; then hysteresis as usual.
func TestObserveProvisional(t *testing.T) {
	tests := []struct {
		name       string
		start      handlespace.Health
		rise, fall int
		results    string // p pass, f fail
		want       []handlespace.Health
		decided    int // index of the result that ends Provisional; -1 never
	}{
		{"restored up, pass confirms", up, 2, 2, "p", []handlespace.Health{up}, 0},
		{"restored up, one failure keeps it (fall 2)", up, 2, 2, "fp", []handlespace.Health{up, up}, 1},
		{"restored up, fall failures take it down", up, 2, 2, "ff", []handlespace.Health{up, down}, 1},
		{"restored up, fall 1: first failure decides", up, 2, 1, "f", []handlespace.Health{down}, 0},
		{"restored up, fall 3", up, 2, 3, "fffp", []handlespace.Health{up, up, down, down}, 2},
		{"restored up, decided down then needs rise", up, 3, 2, "ffpp", []handlespace.Health{up, down, down, down}, 1},
		{"restored down, first pass is up (not rise)", down, 3, 2, "p", []handlespace.Health{up}, 0},
		{"restored down, failures keep it down", down, 2, 2, "ffp", []handlespace.Health{down, down, down}, 1},
		{"restored down, fail then pass", down, 2, 2, "fp", []handlespace.Health{down, up}, 1},
		{"restored up, then fall as any up", up, 2, 2, "pfpff", []handlespace.Health{up, up, up, up, down}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := Tracker{Health: tt.start, Provisional: true}
			decided := -1
			for i, c := range tt.results {
				prev := tr.Health
				var changed bool
				tr, changed = tr.Observe(c == 'p', tt.rise, tt.fall)
				if tr.Health != tt.want[i] {
					t.Fatalf("after %q: %v, want %v", tt.results[:i+1], tr.Health, tt.want[i])
				}
				if changed != (prev != tr.Health) {
					t.Fatalf("after %q: changed=%v going %v → %v", tt.results[:i+1], changed, prev, tr.Health)
				}
				if !tr.Provisional && decided < 0 {
					decided = i
				}
			}
			if decided != tt.decided {
				t.Errorf("Provisional ended at result %d, want %d", decided, tt.decided)
			}
		})
	}
}

// TestObserveProvisionalUnknown: an Unknown tracker marked Provisional
// behaves as a plain Unknown one.
func TestObserveProvisionalUnknown(t *testing.T) {
	for _, seq := range []string{"p", "f", "ff", "fp", "pff"} {
		a, b := Tracker{}, Tracker{Provisional: true}
		for _, c := range seq {
			a, _ = a.Observe(c == 'p', 2, 2)
			b, _ = b.Observe(c == 'p', 2, 2)
		}
		b.Provisional = a.Provisional
		if a != b {
			t.Errorf("%q: %+v, plain %+v", seq, b, a)
		}
	}
}

func TestObserveSaturates(t *testing.T) {
	tr := Tracker{Health: down, Failures: 1 << 30}
	tr, _ = tr.Observe(false, 2, 2)
	if tr.Failures != 1<<30 {
		t.Errorf("failures %d, want saturated at %d", tr.Failures, 1<<30)
	}
}

func TestSuspect(t *testing.T) {
	tests := []struct {
		tr   Tracker
		want bool
	}{
		{Tracker{}, false},
		{Tracker{Health: unknown, Failures: 1}, true},
		{Tracker{Health: up, Failures: 1}, true},
		{Tracker{Health: up, Successes: 4}, false},
		{Tracker{Health: down, Failures: 3}, false},
	}
	for _, tt := range tests {
		if got := tt.tr.Suspect(); got != tt.want {
			t.Errorf("%+v.Suspect() = %v, want %v", tt.tr, got, tt.want)
		}
	}
}

func TestSmoothRTT(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		prev, sample, want time.Duration
	}{
		{0, 8 * ms, 8 * ms},        // the first sample is the estimate
		{8 * ms, 16 * ms, 9 * ms},  // gain 1/8
		{16 * ms, 8 * ms, 15 * ms}, // and down
		{8 * ms, 8 * ms, 8 * ms},
		{-1, 3 * ms, 3 * ms},
		{8 * ms, -5 * ms, 7 * ms}, // a negative sample counts as 0
	}
	for _, tt := range tests {
		if got := SmoothRTT(tt.prev, tt.sample); got != tt.want {
			t.Errorf("SmoothRTT(%v, %v) = %v, want %v", tt.prev, tt.sample, got, tt.want)
		}
	}
	// A step converges: 30 samples of 10 ms from 1 ms get within 2 %.
	s := time.Millisecond
	for range 30 {
		s = SmoothRTT(s, 10*ms)
	}
	if s < 9800*time.Microsecond || s > 10*ms {
		t.Errorf("after 30 samples of 10ms: %v", s)
	}
}

func TestNextDelay(t *testing.T) {
	sec := time.Second
	spec := func(interval time.Duration, fall int, jitter float64) handlespace.ProbeSpec {
		return handlespace.ProbeSpec{Kind: "tcp", Interval: interval, Timeout: interval / 2, Rise: 2, Fall: fall, Jitter: jitter}
	}
	zero := func() float64 { return 0 }
	almostOne := func() float64 { return math.Nextafter(1, 0) }
	half := func() float64 { return 0.5 }
	tests := []struct {
		name string
		spec handlespace.ProbeSpec
		tr   Tracker
		r    func() float64
		want time.Duration
	}{
		{"up, no jitter", spec(sec, 2, 0), Tracker{Health: up}, nil, sec},
		{"unknown", spec(sec, 2, 0), Tracker{}, nil, sec},
		{"jitter draws 0: the interval", spec(sec, 2, 0.1), Tracker{Health: up}, zero, sec},
		{"jitter draws 0.5", spec(sec, 2, 0.1), Tracker{Health: up}, half, 950 * time.Millisecond},
		{"jitter draws ~1", spec(sec, 2, 0.1), Tracker{Health: up}, almostOne, 900 * time.Millisecond},
		{"jitter clamped to 0.5", spec(sec, 2, 0.9), Tracker{Health: up}, half, 750 * time.Millisecond},
		{"negative jitter is none", spec(sec, 2, -1), Tracker{Health: up}, half, sec},
		{"NaN jitter is none", spec(sec, 2, math.NaN()), Tracker{Health: up}, half, sec},
		{"zero spec: defaults, 10% jitter", handlespace.ProbeSpec{}, Tracker{Health: up}, half, 950 * time.Millisecond},
		{"down at fall: no back-off yet", spec(sec, 2, 0), Tracker{Health: down, Failures: 2}, nil, sec},
		{"down, one more", spec(sec, 2, 0), Tracker{Health: down, Failures: 3}, nil, 2 * sec},
		{"down, two more", spec(sec, 2, 0), Tracker{Health: down, Failures: 4}, nil, 4 * sec},
		{"down, capped at 5s", spec(sec, 2, 0), Tracker{Health: down, Failures: 5}, nil, 5 * sec},
		{"down for long", spec(sec, 2, 0), Tracker{Health: down, Failures: 1 << 30}, nil, 5 * sec},
		{"100ms interval backs off to 5s", spec(100*time.Millisecond, 2, 0), Tracker{Health: down, Failures: 40}, nil, 5 * sec},
		{"100ms, 3 beyond fall", spec(100*time.Millisecond, 2, 0), Tracker{Health: down, Failures: 5}, nil, 800 * time.Millisecond},
		{"interval above the cap: no back-off", spec(10*sec, 2, 0), Tracker{Health: down, Failures: 9}, nil, 10 * sec},
		{"down, passing again: plain interval", spec(sec, 2, 0), Tracker{Health: down, Successes: 1}, nil, sec},
		{"jitter applies to the back-off", spec(sec, 2, 0.1), Tracker{Health: down, Failures: 9}, half, 4750 * time.Millisecond},
		{"interval raised to MinInterval", spec(time.Millisecond, 2, 0), Tracker{Health: up}, nil, MinInterval},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Within a microsecond: the jitter is float arithmetic.
			if got := NextDelay(tt.spec, tt.tr, tt.r); got < tt.want-time.Microsecond || got > tt.want+time.Microsecond {
				t.Errorf("NextDelay = %v, want %v", got, tt.want)
			}
		})
	}
	// With the default source every delay lies in (interval×(1−j), interval].
	s := spec(sec, 2, 0.1)
	for range 1000 {
		if d := NextDelay(s, Tracker{Health: up}, nil); d <= 900*time.Millisecond || d > sec {
			t.Fatalf("NextDelay with jitter 0.1 = %v, want in (900ms, 1s]", d)
		}
	}
}

func TestConfirmDelay(t *testing.T) {
	ms := time.Millisecond
	spec := func(interval time.Duration) handlespace.ProbeSpec {
		return handlespace.ProbeSpec{Kind: "tcp", Interval: interval, Timeout: interval / 2}
	}
	tests := []struct {
		interval, srtt, want time.Duration
	}{
		{time.Second, 0, ConfirmMin},                      // no RTT yet
		{time.Second, 300 * time.Microsecond, ConfirmMin}, // loopback
		{time.Second, 10 * ms, 40 * ms},                   // 4 × SRTT
		{time.Second, 400 * ms, time.Second},              // at most the interval
		{10 * ms, 0, 10 * ms},                             // at most the interval
	}
	for _, tt := range tests {
		if got := ConfirmDelay(spec(tt.interval), Tracker{SRTT: tt.srtt}); got != tt.want {
			t.Errorf("ConfirmDelay(interval %v, SRTT %v) = %v, want %v", tt.interval, tt.srtt, got, tt.want)
		}
	}
}

func TestParseLoad(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"0.35", 0.35, true},
		{"35%", 0.35, true},
		{" 35 % ", 0.35, true},
		{"0", 0, true},
		{"1", 1, true},
		{"100%", 1, true},
		{"0%", 0, true},
		{"1.5", 0, false},
		{"101%", 0, false},
		{"-0.1", 0, false},
		{"", 0, false},
		{"%", 0, false},
		{"NaN", 0, false},
		{"high", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseLoad(tt.in)
		if ok != tt.ok || math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("ParseLoad(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
