package loglimit

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock whose time moves only by Advance, which runs the
// timers that fall due.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// Advance moves the time by d and runs the timers due, in order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	rest := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true
			due = append(due, t)
		default:
			rest = append(rest, t)
		}
	}
	c.timers = rest
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

// newLogger returns a limited text logger writing to a buffer, on a fake
// clock.
func newLogger(o Options) (*slog.Logger, *Handler, *fakeClock, *syncBuffer) {
	buf := &syncBuffer{}
	clock := &fakeClock{now: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	o.Clock = clock
	inner := slog.NewTextHandler(buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	})
	h := New(inner, o)
	return slog.New(h), h, clock, buf
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the lines written so far and forgets them.
func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := strings.Split(strings.TrimSuffix(s.b.String(), "\n"), "\n")
	s.b.Reset()
	if len(out) == 1 && out[0] == "" {
		return nil
	}
	return out
}

func TestLimitAndSummary(t *testing.T) {
	log, h, clock, buf := newLogger(Options{Limit: 3, Interval: 10 * time.Second})
	for i := 0; i < 10; i++ {
		log.Info("update refused", "from", fmt.Sprintf("192.0.2.%d", i))
	}
	log.Warn("update refused", "from", "x") // another level: its own key
	log.Info("other", "n", 1)
	want := []string{
		`level=INFO msg="update refused" from=192.0.2.0`,
		`level=INFO msg="update refused" from=192.0.2.1`,
		`level=INFO msg="update refused" from=192.0.2.2`,
		`level=WARN msg="update refused" from=x`,
		`level=INFO msg=other n=1`,
	}
	if got := buf.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	clock.Advance(9 * time.Second)
	if got := buf.lines(); got != nil {
		t.Fatalf("before the window's end: %q", got)
	}
	clock.Advance(time.Second)
	want = []string{`level=INFO msg="log lines suppressed" like="update refused" suppressed=7 interval=10s limit=3`}
	if got := buf.lines(); strings.Join(got, "\n") != want[0] {
		t.Fatalf("at the window's end:\n%s\nwant:\n%s", strings.Join(got, "\n"), want[0])
	}
	// A new window: three more lines pass.
	for i := 0; i < 4; i++ {
		log.Info("update refused", "i", i)
	}
	if got := buf.lines(); len(got) != 3 {
		t.Fatalf("next window: %d lines, want 3: %q", len(got), got)
	}
	if s := h.Stats(); s != (Stats{Suppressed: 8, Summaries: 1}) {
		t.Errorf("stats %+v, want 8 suppressed, 1 summary", s)
	}
	h.Close()
	if got := buf.lines(); len(got) != 1 || !strings.Contains(got[0], `suppressed=1 `) {
		t.Errorf("Close: %q, want the summary of the last line", got)
	}
}

// TestLateTimer: a line after the window's end when the timer has not
// fired yet (a busy machine) starts the new window and writes the old
// one's summary first, once.
func TestLateTimer(t *testing.T) {
	log, h, clock, buf := newLogger(Options{Limit: 1, Interval: time.Second})
	log.Info("a")
	log.Info("a")
	clock.mu.Lock()
	clock.now = clock.now.Add(2 * time.Second) // time passes, the timer does not run
	clock.mu.Unlock()
	log.Info("a", "late", true)
	got := buf.lines()
	want := []string{
		"level=INFO msg=a",
		`level=INFO msg="log lines suppressed" like=a suppressed=1 interval=1s limit=1`,
		"level=INFO msg=a late=true",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	clock.Advance(0) // the stale timer: stopped, or a no-op for an old window
	if got := buf.lines(); got != nil {
		t.Errorf("stale timer wrote %q", got)
	}
	if s := h.Stats(); s.Summaries != 1 {
		t.Errorf("%d summaries, want 1", s.Summaries)
	}
}

func TestExemptAndOff(t *testing.T) {
	log, _, _, buf := newLogger(Options{Limit: 1, Exempt: []string{"query"}})
	for i := 0; i < 5; i++ {
		log.Info("query", "i", i)
	}
	if got := buf.lines(); len(got) != 5 {
		t.Errorf("exempt message: %d lines, want 5", len(got))
	}
	log, _, _, buf = newLogger(Options{Limit: 0})
	for i := 0; i < 50; i++ {
		log.Info("x")
	}
	if got := buf.lines(); len(got) != 50 {
		t.Errorf("limit 0: %d lines, want 50", len(got))
	}
}

// TestMaxKeys: beyond MaxKeys messages in a window, new messages share one
// key.
func TestMaxKeys(t *testing.T) {
	log, _, clock, buf := newLogger(Options{Limit: 2, MaxKeys: 3, Interval: time.Second})
	for i := 0; i < 10; i++ {
		log.Info(fmt.Sprintf("m%d", i))
	}
	got := buf.lines()
	if len(got) != 5 || got[4] != "level=INFO msg=m4" {
		t.Fatalf("lines %q, want m0..m4 (three keys, two lines of the fourth, shared)", got)
	}
	clock.Advance(time.Second)
	if got := buf.lines(); len(got) != 1 || !strings.Contains(got[0], `like="(other messages)" suppressed=5`) {
		t.Errorf("summary %q", got)
	}
}

// TestWithAttrs: derived handlers share the counts; the summary carries
// none of their attributes.
func TestWithAttrs(t *testing.T) {
	log, _, clock, buf := newLogger(Options{Limit: 1, Interval: time.Second})
	a := log.With("component", "dns")
	b := log.WithGroup("http")
	a.Info("refused")
	b.Info("refused", "k", 1)
	log.Info("refused")
	if got := buf.lines(); len(got) != 1 || got[0] != "level=INFO msg=refused component=dns" {
		t.Fatalf("lines %q", got)
	}
	clock.Advance(time.Second)
	if got := buf.lines(); len(got) != 1 || got[0] != `level=INFO msg="log lines suppressed" like=refused suppressed=2 interval=1s limit=1` {
		t.Errorf("summary %q", got)
	}
}

// TestConcurrent: lines from several goroutines are each written or
// counted once.
func TestConcurrent(t *testing.T) {
	log, h, clock, buf := newLogger(Options{Limit: 100, Interval: time.Second})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				log.Info("flood")
				if i%250 == 0 {
					clock.Advance(100 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	h.Close()
	written, summarised := 0, 0
	for _, l := range buf.lines() {
		if strings.Contains(l, SummaryMsg) {
			var n int
			fmt.Sscanf(l[strings.Index(l, "suppressed=")+len("suppressed="):], "%d", &n)
			summarised += n
			continue
		}
		written++
	}
	if written+summarised != 4000 || uint64(summarised) != h.Stats().Suppressed {
		t.Errorf("%d written + %d summarised, want 4000 (stats %+v)", written, summarised, h.Stats())
	}
}

// TestRealClock: the summary comes from the real timer once the window is
// over, with no line after it. Two lines in a row can straddle a window's
// end on a loaded machine, so the test logs pairs until one line has been
// suppressed (bounded), then waits for the summary of that window.
func TestRealClock(t *testing.T) {
	buf := &syncBuffer{}
	summary := make(chan struct{}, 1)
	w := writerFunc(func(p []byte) (int, error) {
		n, err := buf.Write(p) // before the signal: the test reads buf once it has it
		if bytes.Contains(p, []byte(SummaryMsg)) {
			select {
			case summary <- struct{}{}:
			default:
			}
		}
		return n, err
	})
	h := New(slog.NewTextHandler(w, nil), Options{Limit: 1, Interval: 50 * time.Millisecond})
	defer h.Close()
	log := slog.New(h)
	for i := 0; i < 100 && h.Stats().Suppressed == 0; i++ {
		log.Info("x")
		log.Info("x")
	}
	if h.Stats().Suppressed == 0 {
		t.Fatal("no line suppressed in 100 pairs of lines")
	}
	select {
	case <-summary:
	case <-time.After(10 * time.Second):
		t.Fatal("no summary within 10 s of a 50 ms window")
	}
	got := buf.lines()
	var sums []string
	for _, l := range got {
		if strings.Contains(l, SummaryMsg) {
			sums = append(sums, l)
		} else if !strings.Contains(l, "msg=x") {
			t.Errorf("unexpected line %q", l)
		}
	}
	if len(sums) != 1 || !strings.Contains(got[len(got)-1], SummaryMsg) {
		t.Fatalf("want one summary, as the last line; lines %q", got)
	}
	if want := fmt.Sprintf("suppressed=%d", h.Stats().Suppressed); !strings.Contains(sums[0], want) {
		t.Errorf("summary %q, want %s", sums[0], want)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func BenchmarkSuppressed(b *testing.B) {
	h := New(slog.NewTextHandler(&bytes.Buffer{}, nil), Options{Limit: 1, Interval: time.Hour})
	defer h.Close()
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "update refused", 0)
	r.AddAttrs(slog.String("from", "192.0.2.1"))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h.Handle(ctx, r)
	}
}
