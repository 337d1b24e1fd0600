// Package loglimit keeps a flood from filling a disk through the log: a
// slog.Handler that writes at most Limit lines of one message (at one
// level) per Interval, counts the rest, and writes one summary line per
// message and Interval for what it left out.
//
// # Basics
//
// A line's key is its level and its message, without its attributes:
// "update refused" lines from a million forged sources are one key. In
// each window of Interval, the first Limit lines of a key are written; the
// others are suppressed, and when the window ends (on a timer, so the
// summary comes even if the flood stopped) one line is written at the
// key's level:
//
//	level=INFO msg="log lines suppressed" like="update refused" suppressed=199980 interval=10s limit=20
//
// Messages listed in Options.Exempt (the query log, which an operator
// turns on to have every line) are never limited. Stats counts the lines
// suppressed and the summaries written, for the metrics.
//
// # Caveats
//
//   - The table of keys holds at most MaxKeys messages per window; lines
//     with new messages beyond that share one key, "(other messages)".
//     poolnsd's messages are constant strings, so this is a guard, not a
//     limit met in use.
//   - Handlers made by WithAttrs and WithGroup share their parent's
//     counts; summaries go to the inner handler as given to New, without
//     those attributes.
//   - Close stops the timer and writes the pending summaries; a Handler
//     that is dropped without Close writes them when its timer fires.
package loglimit

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// SummaryMsg is the message of the summary lines.
const SummaryMsg = "log lines suppressed"

// otherMessages is the key's message of lines beyond MaxKeys keys.
const otherMessages = "(other messages)"

// Options configure New. Zero values have defaults.
type Options struct {
	// Limit is the most lines of one key written per Interval; 0 or less
	// writes every line (no limit).
	Limit int
	// Interval is the window of Limit (default 10 s).
	Interval time.Duration
	// Exempt are messages that are never limited.
	Exempt []string
	// MaxKeys bounds the keys counted per window (default 1024).
	MaxKeys int
	// Clock gives the time and the window's timer (nil: the real ones).
	Clock Clock
}

// Clock is the time source of a Handler; tests give a fake one.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d; stop cancels it.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// Stats are a Handler's counters.
type Stats struct {
	// Suppressed is the number of lines left out.
	Suppressed uint64
	// Summaries is the number of summary lines written.
	Summaries uint64
}

// Handler is the limiting slog.Handler. It is safe for concurrent use.
type Handler struct {
	inner slog.Handler
	st    *state
}

var _ slog.Handler = (*Handler)(nil)

type key struct {
	level slog.Level
	msg   string
}

type count struct {
	n          int // lines of the key in this window
	suppressed int // of them, left out
}

// state is shared by a Handler and those made from it.
type state struct {
	limit    int
	interval time.Duration
	maxKeys  int
	exempt   []string
	clock    Clock
	out      slog.Handler // the inner handler as given to New: summaries go there

	mu     sync.Mutex
	start  time.Time // of the current window
	counts map[key]*count
	stop   func() bool // the armed timer of this window, nil if none
	gen    uint64      // windows begun; the timer flushes only its own
	closed bool

	suppressed atomic.Uint64
	summaries  atomic.Uint64
}

// New returns a handler that writes to inner within o's limits.
func New(inner slog.Handler, o Options) *Handler {
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = 1024
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	st := &state{limit: o.Limit, interval: o.Interval, maxKeys: o.MaxKeys, exempt: slices.Clone(o.Exempt),
		clock: o.Clock, out: inner, counts: map[key]*count{}}
	st.start = st.clock.Now()
	return &Handler{inner: inner, st: st}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

// WithAttrs implements slog.Handler; the new handler shares h's counts.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &Handler{inner: h.inner.WithAttrs(as), st: h.st}
}

// WithGroup implements slog.Handler; the new handler shares h's counts.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{inner: h.inner.WithGroup(name), st: h.st}
}

// Handle implements slog.Handler: it writes r unless r's key is over its
// limit in this window.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	st := h.st
	if st.limit <= 0 || slices.Contains(st.exempt, r.Message) {
		return h.inner.Handle(ctx, r)
	}
	ok, due := st.admit(r.Level, r.Message)
	st.write(due)
	if !ok {
		return nil
	}
	return h.inner.Handle(ctx, r)
}

// Stats returns the handler's counters (shared with the handlers made
// from it).
func (h *Handler) Stats() Stats {
	return Stats{Suppressed: h.st.suppressed.Load(), Summaries: h.st.summaries.Load()}
}

// Close stops the window's timer and writes the summaries of the current
// window. Lines after Close are still limited, but their summaries are
// written by the next line after the window, not by a timer.
func (h *Handler) Close() {
	st := h.st
	st.mu.Lock()
	st.closed = true
	due := st.rollover(st.clock.Now())
	st.mu.Unlock()
	st.write(due)
}

// summary is one summary line to write.
type summary struct {
	key        key
	suppressed int
}

// admit counts a line of key (level, msg) and reports whether to write
// it, with the summaries of a window that has just ended.
func (st *state) admit(level slog.Level, msg string) (bool, []summary) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.clock.Now()
	var due []summary
	if now.Sub(st.start) >= st.interval {
		due = st.rollover(now)
	}
	k := key{level, msg}
	c := st.counts[k]
	if c == nil {
		if len(st.counts) >= st.maxKeys {
			k.msg = otherMessages
			c = st.counts[k]
		}
		if c == nil {
			c = &count{}
			st.counts[k] = c
		}
	}
	c.n++
	if c.n <= st.limit {
		return true, due
	}
	c.suppressed++
	st.suppressed.Add(1)
	if st.stop == nil && !st.closed {
		gen := st.gen
		st.stop = st.clock.AfterFunc(st.start.Add(st.interval).Sub(now), func() { st.timerFired(gen) })
	}
	return false, due
}

// timerFired ends window gen if it is still the current one.
func (st *state) timerFired(gen uint64) {
	st.mu.Lock()
	var due []summary
	if st.gen == gen {
		st.stop = nil
		due = st.rollover(st.clock.Now())
	}
	st.mu.Unlock()
	st.write(due)
}

// rollover ends the current window at now: it returns the summaries of
// its suppressed keys, forgets the keys that had no line, and starts the
// next window. st.mu is held.
func (st *state) rollover(now time.Time) []summary {
	var due []summary
	for k, c := range st.counts {
		if c.suppressed > 0 {
			due = append(due, summary{k, c.suppressed})
		}
		if c.n == 0 {
			delete(st.counts, k)
			continue
		}
		*c = count{}
	}
	if st.stop != nil {
		st.stop()
		st.stop = nil
	}
	st.gen++
	st.start = now
	slices.SortFunc(due, func(a, b summary) int {
		if a.key.msg < b.key.msg {
			return -1
		} else if a.key.msg > b.key.msg {
			return 1
		}
		return int(a.key.level - b.key.level)
	})
	return due
}

// write writes summaries to the inner handler.
func (st *state) write(due []summary) {
	for _, s := range due {
		r := slog.NewRecord(st.clock.Now(), s.key.level, SummaryMsg, 0)
		r.AddAttrs(slog.String("like", s.key.msg), slog.Int("suppressed", s.suppressed),
			slog.Duration("interval", st.interval), slog.Int("limit", st.limit))
		st.out.Handle(context.Background(), r)
		st.summaries.Add(1)
	}
}
