package vantage

import (
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestRound: votes of the vantage points asked count once; a refusal or
// a death ends the wait for one; the round is done when nobody is left;
// a stall gives it its whole wait again.
func TestRound(t *testing.T) {
	r := NewRound(t0, 100*time.Millisecond, 1, handlespace.HealthUp, handlespace.HealthDown, []uint32{2, 3, 4})
	if counted, done := r.Answer(9, handlespace.HealthDown); counted || done {
		t.Fatal("a vote from a registrar not asked counted")
	}
	if counted, done := r.Answer(2, handlespace.HealthDown); !counted || done {
		t.Fatal("B's vote: want counted, not done")
	}
	if counted, _ := r.Answer(2, handlespace.HealthUp); counted {
		t.Fatal("B's second vote counted")
	}
	if waited, done := r.Forget(3, true); !waited || done || !r.Elsewhere {
		t.Fatalf("C's refusal: waited %v done %v elsewhere %v", waited, done, r.Elsewhere)
	}
	if counted, done := r.Answer(4, handlespace.Health(9)); !counted || !done {
		t.Fatal("D's vote: want counted and done")
	}
	if got := r.Votes[len(r.Votes)-1].Health; got != handlespace.HealthUnknown {
		t.Errorf("an out-of-range vote counted as %v, want unknown", got)
	}
	if !r.VotedBy(1, handlespace.HealthDown) || r.VotedBy(4, handlespace.HealthUnknown) || r.VotedBy(1, handlespace.HealthUp) {
		t.Errorf("VotedBy wrong on votes %v", r.Votes)
	}
	r.Stall(t0.Add(time.Second))
	if want := t0.Add(time.Second + 100*time.Millisecond); !r.Deadline.Equal(want) {
		t.Errorf("deadline after a stall %v, want %v", r.Deadline, want)
	}
}

// TestGate: a peer's requests beyond its burst wait for the refill; the
// requests in flight are bounded and expire at their budget's end; the
// refusals have a rate of their own.
func TestGate(t *testing.T) {
	g := Gate{Rate: 10, Burst: 2, MaxInFlight: 2, RefusalRate: 1, RefusalBurst: 1}
	if first, second, third := g.Allow(t0, 7), g.Allow(t0, 7), g.Allow(t0, 7); !first || !second || third {
		t.Fatalf("a burst of 2 at once: allowed %v %v %v, want true true false", first, second, third)
	}
	if !g.Allow(t0, 8) {
		t.Fatal("another peer's bucket is its own")
	}
	if !g.Allow(t0.Add(100*time.Millisecond), 7) {
		t.Fatal("no refill after 100 ms at 10 a second")
	}
	g.Start(Req{7, 1}, t0.Add(50*time.Millisecond))
	g.Start(Req{8, 1}, t0.Add(80*time.Millisecond))
	if !g.Full() || !g.Next().Equal(t0.Add(50*time.Millisecond)) {
		t.Fatalf("full %v next %v", g.Full(), g.Next())
	}
	g.Expire(t0.Add(50 * time.Millisecond))
	if g.Full() || g.Done(Req{7, 1}) || !g.Done(Req{8, 1}) || !g.Next().IsZero() {
		t.Fatal("want the first request expired, the second done")
	}
	if !g.Refuse(t0, 7) || g.Refuse(t0, 7) || !g.Refuse(t0.Add(time.Second), 7) {
		t.Fatal("want one refusal, then one a second")
	}
}
