package rrl

import (
	"testing"
	"time"
)

// TestTotals: the counters of retired limiters and of the one in use add
// up, across a replacement; nothing is reported while no limiter ever
// counted.
func TestTotals(t *testing.T) {
	var tot Totals
	if _, ok := tot.With(nil); ok {
		t.Fatal("no limiter, none retired: something to report")
	}
	tot.Retire(nil)
	if _, ok := tot.With(nil); ok {
		t.Fatal("a nil limiter retired: something to report")
	}
	old := newLimiter(t, Config{ResponsesPerSecond: 1, Slip: 0, SlipSet: true})
	now := old.start.Add(time.Hour)
	r := resp("192.0.2.1", Answer, "web.pool.example.", 1)
	verdicts(old, r, now, 3) // one sent, two dropped
	if s, ok := tot.With(old); !ok || s.Counted[Answer] != 3 || s.Dropped[Answer] != 2 {
		t.Fatalf("in use: %+v %v, want 3 counted, 2 dropped", s, ok)
	}
	tot.Retire(old)
	cur := newLimiter(t, Config{ResponsesPerSecond: 1, Slip: 1, SlipSet: true})
	verdicts(cur, resp("192.0.2.1", NXDomain, "x.pool.example.", 1), now, 2) // one sent, one slipped
	s, ok := tot.With(cur)
	if !ok || s.Counted[Answer] != 3 || s.Dropped[Answer] != 2 || s.Counted[NXDomain] != 2 || s.Slipped[NXDomain] != 1 {
		t.Errorf("after the replacement: %+v %v, want the old limiter's counts and the new one's", s, ok)
	}
	if s, ok := tot.With(nil); !ok || s.Counted[Answer] != 3 || s.Counted[NXDomain] != 0 {
		t.Errorf("limiting turned off: %+v %v, want the retired counts still", s, ok)
	}
}
