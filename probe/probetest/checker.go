package probetest

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/poolnsd/poolnsd/probe"
)

// FakeChecker is a probe.Checker with scripted results per target key. It
// counts the calls per key and records when they were made. Its methods
// are safe for concurrent use.
type FakeChecker struct {
	clock probe.Clock

	mu      sync.Mutex
	scripts map[string][]probe.Result
	gates   map[string]chan struct{}
	times   map[string][]time.Time
	total   int
	active  int // calls in progress
	peak    int // most calls in progress at once
	forgot  []string
}

var (
	_ probe.Checker   = (*FakeChecker)(nil)
	_ probe.Forgetter = (*FakeChecker)(nil)
)

// NewFakeChecker returns a FakeChecker that reads call times from clock
// (the system clock if nil) and passes every target until told otherwise.
func NewFakeChecker(clock probe.Clock) *FakeChecker {
	if clock == nil {
		clock = probe.SystemClock()
	}
	return &FakeChecker{clock: clock, scripts: map[string][]probe.Result{}, gates: map[string]chan struct{}{}, times: map[string][]time.Time{}}
}

// Pass is a passing result.
func Pass() probe.Result { return probe.Result{OK: true} }

// Fail is a failing result with the message err.
func Fail(err string) probe.Result { return probe.Result{Err: err} }

// Script makes the next calls for key return results in turn, the last one
// for every call after; with no results, key passes again.
func (f *FakeChecker) Script(key string, results ...probe.Result) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(results) == 0 {
		delete(f.scripts, key)
		return
	}
	f.scripts[key] = slices.Clone(results)
}

// Block makes the calls for key wait, counted, until release is called or
// their context ends (then they fail with "timeout"). release may be
// called more than once.
func (f *FakeChecker) Block(key string) (release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := make(chan struct{})
	f.gates[key] = g
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			if f.gates[key] == g {
				delete(f.gates, key)
			}
			f.mu.Unlock()
			close(g)
		})
	}
}

// Check records the call and returns key's next scripted result, with Key
// and At filled in.
func (f *FakeChecker) Check(ctx context.Context, t probe.Target) probe.Result {
	now := f.clock.Now()
	f.mu.Lock()
	f.times[t.Key] = append(f.times[t.Key], now)
	f.total++
	f.active++
	f.peak = max(f.peak, f.active)
	r := probe.Result{OK: true}
	if s := f.scripts[t.Key]; len(s) > 0 {
		r = s[0]
		if len(s) > 1 {
			f.scripts[t.Key] = s[1:]
		}
	}
	gate := f.gates[t.Key]
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.active--
		f.mu.Unlock()
	}()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			r = probe.Result{Err: "timeout"}
		}
	}
	r.Key, r.At = t.Key, now
	return r
}

// Active returns how many calls are in progress (blocked ones included).
func (f *FakeChecker) Active() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.active
}

// Peak returns the most calls that were in progress at once.
func (f *FakeChecker) Peak() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.peak
}

// Calls returns how many times key was checked.
func (f *FakeChecker) Calls(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.times[key])
}

// Times returns when key was checked, in order.
func (f *FakeChecker) Times(key string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.times[key])
}

// Total returns how many checks there were, of any key.
func (f *FakeChecker) Total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}

// Forget records that the Scheduler forgot key.
func (f *FakeChecker) Forget(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forgot = append(f.forgot, key)
}

// Forgotten returns the keys Forget was called with, in order.
func (f *FakeChecker) Forgotten() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.forgot)
}
