package regcommit

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// fakeLoop is a loop attached to a Pacer that grants only when told.
type fakeLoop struct {
	wakes atomic.Int32
	gone  atomic.Bool
}

func (l *fakeLoop) wake() bool {
	if l.gone.Load() {
		return false
	}
	l.wakes.Add(1)
	return true
}

// submitAsync submits req and returns the channel of its outcome.
func (f *fixture) submitAsync(req *Request) <-chan outcome {
	c := make(chan outcome, 1)
	go func() {
		res, err := f.r.Submit(context.Background(), req)
		c <- outcome{res: res, err: err}
	}()
	return c
}

// waitTurn waits (10 s at most) until a turn waits for a grant and the
// loop was woken for it: the committer takes a queued request and asks
// for its turn when it gets a core, on a loaded machine a while later.
func waitTurn(t *testing.T, p *Pacer, l *fakeLoop) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !p.Waiting() || l.wakes.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("within 10 s: a turn waiting %v, %d wakes; want a turn and a wake", p.Waiting(), l.wakes.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

// grantUntil grants turns, one at a time, until c has the outcome, and
// returns it with the grants it took.
func grantUntil(t *testing.T, p *Pacer, c <-chan outcome) (outcome, int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		select {
		case o := <-c:
			return o, n
		default:
		}
		if p.Grant() {
			n++
		} else {
			time.Sleep(time.Millisecond)
		}
	}
	t.Fatal("no outcome")
	return outcome{}, n
}

// TestPacedTurns: with a loop attached, the committer's work on a batch
// and each answer wait for a grant, oldest first: Submit returns only
// after the loop granted its batch's turn and its answer's, with the
// registration durable and published by then; the loop is woken when
// turns come to wait while none did.
func TestPacedTurns(t *testing.T) {
	f := newFixture(t, Config{PaceHold: time.Minute})
	l := &fakeLoop{}
	detach := f.r.Pacer().Attach(l.wake)
	defer detach()

	c := f.submitAsync(reg("a", "e1", el("10.0.0.1", 80), 0))
	f.waitQueued(t, 1)
	// The committer waits for its turn: nothing is stored, Submit waits.
	waitTurn(t, f.r.Pacer(), l)
	if got := len(f.store.commits); got != 0 || !f.r.Pacer().Waiting() {
		t.Fatalf("before a grant: %d commits, waiting %v; want 0, a turn waiting", got, f.r.Pacer().Waiting())
	}
	if l.wakes.Load() != 1 {
		t.Errorf("%d wakes for the batch's turn; want 1", l.wakes.Load())
	}
	if !f.r.Pacer().Grant() {
		t.Fatal("no turn to grant")
	}
	// The batch commits; its answer waits for a turn of its own.
	deadline := time.Now().Add(10 * time.Second)
	for !f.r.Pacer().Waiting() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	select {
	case o := <-c:
		t.Fatalf("Submit returned before its answer's grant: %+v", o)
	default:
	}
	if f.elem("e1") == nil || fmt.Sprint(f.store.stored(t)) != "[e1.z.test.]" {
		t.Fatalf("the answer waits but e1 is not durable and published: %v", f.store.stored(t))
	}
	o, n := grantUntil(t, f.r.Pacer(), c)
	if o.err != nil || n != 1 {
		t.Fatalf("Submit: %v after %d more grants; want success after 1", o.err, n)
	}
	if s := f.r.Pacer().Stats(); s.Granted != 2 || s.Expired != 0 {
		t.Errorf("stats %+v; want 2 granted", s)
	}
}

// TestPacedBatchAnswersOneByOne: the answers of one group commit are
// granted one by one: each grant returns exactly one Submit.
func TestPacedBatchAnswersOneByOne(t *testing.T) {
	f := newFixture(t, Config{PaceHold: time.Minute})
	l := &fakeLoop{}
	defer f.r.Pacer().Attach(l.wake)()
	const n = 5
	var cs []<-chan outcome
	for i := 0; i < n; i++ {
		cs = append(cs, f.submitAsync(reg("a", fmt.Sprintf("e%d", i), el("10.0.0.1", 80), 0)))
	}
	f.waitQueued(t, n)
	// Grant until every registration is published (the committer's turns
	// for however many batches that took), then the answers.
	deadline := time.Now().Add(10 * time.Second)
	for f.r.Stats().Elements < n && time.Now().Before(deadline) {
		if !f.r.Pacer().Grant() {
			time.Sleep(time.Millisecond)
		}
	}
	returned := func() int {
		k := 0
		for _, c := range cs {
			if len(c) > 0 {
				k++
			}
		}
		return k
	}
	// The committer queues the last batch's answers after publishing
	// it: on a loaded machine it may get no core for longer than a
	// fixed wait. A granted answer's Submit returns within Grant, so
	// the answers not returned are the ones to wait for.
	deadline = time.Now().Add(10 * time.Second)
	for int(f.r.pacer.waiting.Load()) < n-returned() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	before := returned()
	for granted := 0; returned() < n; {
		if !f.r.Pacer().Grant() {
			t.Fatalf("%d of %d Submits returned and no turn waits", returned(), n)
		}
		granted++
		// The granted answer's Submit returns; no other.
		want := min(n, before+granted)
		deadline := time.Now().Add(10 * time.Second)
		for returned() < want && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(5 * time.Millisecond)
		if got := returned(); got != want {
			t.Fatalf("after %d grants %d Submits returned; want %d", granted, got, want)
		}
	}
	for i, c := range cs {
		if o := <-c; o.err != nil {
			t.Errorf("registration %d: %v", i, o.err)
		}
	}
}

// TestPacerHold: turns that no loop grants are granted after the hold;
// a loop that is gone (its wake false) is detached and the turns granted
// at once; without a loop nothing waits.
func TestPacerHold(t *testing.T) {
	f := newFixture(t, Config{PaceHold: 30 * time.Millisecond})
	l := &fakeLoop{}
	detach := f.r.Pacer().Attach(l.wake)
	start := time.Now()
	if _, err := f.submit(t, reg("a", "e1", el("10.0.0.1", 80), 0)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("Submit took %v with nothing granted; want two holds (its batch's turn, its answer's)", d)
	}
	if s := f.r.Pacer().Stats(); s.Expired != 2 || s.Granted != 0 {
		t.Errorf("stats %+v; want 2 expired", s)
	}
	l.gone.Store(true)
	if _, err := f.submit(t, reg("a", "e2", el("10.0.0.1", 80), 0)); err != nil {
		t.Fatal(err)
	}
	if s := f.r.Pacer().Stats(); s.Expired != 2 {
		t.Errorf("stats %+v after the loop went; want no more expired", s)
	}
	detach() // already detached: nothing happens
	if _, err := f.submit(t, reg("a", "e3", el("10.0.0.1", 80), 0)); err != nil {
		t.Fatal(err)
	}
	if f.r.Pacer().Waiting() {
		t.Error("turns wait with no loop attached")
	}
}

// TestPacedClose: Close answers what it took even when no loop grants
// (a minute's hold): the registration committed is answered as such,
// not ErrClosed.
func TestPacedClose(t *testing.T) {
	f := newFixture(t, Config{PaceHold: time.Minute})
	l := &fakeLoop{}
	defer f.r.Pacer().Attach(l.wake)()
	c := f.submitAsync(reg("a", "e1", el("10.0.0.1", 80), 0))
	f.waitQueued(t, 1)
	// Taken, and waiting for its turn: a request still in the queue at
	// Close gets ErrClosed (Close's contract), and a committer without a
	// core may not have taken it yet.
	waitTurn(t, f.r.Pacer(), l)
	f.r.Close()
	select {
	case o := <-c:
		if o.err != nil || f.elem("e1") == nil {
			t.Errorf("Submit at Close: %v, published %v; want success", o.err, f.elem("e1") != nil)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Submit did not return after Close")
	}
}
