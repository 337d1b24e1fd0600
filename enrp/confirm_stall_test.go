package enrp_test

import (
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/handlespace"
)

// TestConfirmAcrossStall: A asks B and C to confirm that its element is
// down and is stopped (SIGSTOP) for 2 s at once; B and C answer up, and
// their answers wait for A. When A runs again its timer fires before it
// reads them (a real driver may do either first): the round's wait, long
// over by A's clock, was spent stopped, so A waits it again instead of
// deciding alone ("0 of 2 vantage points answered", verdict down); the
// answers then count, and the quorum keeps the element up.
func TestConfirmAcrossStall(t *testing.T) {
	c, a, b, cm := confirmCluster(t, 41, 6)
	e := staticOf(t, a)
	b.Sees, cm.Sees = sees(handlespace.HealthUp), sees(handlespace.HealthUp)
	const stop = 2 * time.Second
	resume := c.Clock.Now().Add(stop)
	a.Confirm(staticPool, e.ID, handlespace.HealthDown, probeWait)
	a.Pause(stop)
	c.RunFor(resume.Sub(c.Clock.Now()) - time.Microsecond)
	if len(a.Verdicts) != 0 {
		t.Fatalf("a verdict while A was stopped: %+v", a.Verdicts)
	}
	c.Clock.Advance(time.Microsecond)
	a.Tick() // before the answers are read
	stalled := false
	for _, ev := range a.Events {
		stalled = stalled || ev.Kind == enrp.EventStalled
	}
	if !stalled {
		t.Fatal("A did not notice its stop")
	}
	if len(a.Verdicts) != 0 {
		t.Fatalf("A decided at once after its stop: %+v", a.Verdicts[0])
	}
	v, took := confirmed(t, c, a, 1, time.Second)
	if len(v.Votes) != 3 || v.Health != handlespace.HealthUp || took > probeWait {
		t.Fatalf("verdict %+v after %v: want B's and C's answers counted, up, within the wait", v, took)
	}
	if got := a.Find(staticPool, e.ID); got.Health != handlespace.HealthUp {
		t.Errorf("A's element %v after the verdict, want up", got.Health)
	}
}
