package history

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// TestReaderDuringSample: a reader (the status page, the API) does not
// wait for a sample's diff nor its turns: stopped in the first turn of a
// sample of 200 changes, the sample lets History and Peers answer, with
// the state before it; the state after it once it ends.
func TestReaderDuringSample(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	now := t0
	hs := poolTestSpace(t, func() time.Time { return now })
	const pool = "big.pool.test."
	elem := func(i int, h handlespace.Health) *handlespace.Element {
		return &handlespace.Element{ID: uint32(i + 1), Label: handlespace.LabelOf(fmt.Sprintf("e%d", i)),
			Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})), Port: 80, Weight: 1,
			Health: h, Expires: handlespace.ExpiryOf(now.Add(time.Hour)), Lease: time.Hour}
	}
	var groups [][]handlespace.Op
	for i := range 200 {
		groups = append(groups, []handlespace.Op{{Pool: pool, Elem: elem(i, handlespace.HealthUp)}})
	}
	for _, err := range hs.Apply(groups, nil) {
		if err != nil {
			t.Fatal(err)
		}
	}
	w := hs.Watch()
	defer w.Close()
	defer func(b time.Duration) { pieceBudget = b }(pieceBudget)
	pieceBudget = 0 // a turn every 16 steps
	inTurn, release := make(chan struct{}), make(chan struct{})
	stop := false
	r := New(Config{}, Inputs{View: hs.View, Self: hs.RegistrarID, Changed: w.Changed, Turn: func() {
		if stop {
			stop = false
			inTurn <- struct{}{}
			<-release
		}
	}})
	now = now.Add(time.Second)
	r.Sample(now)
	for i := range 200 { // 200 changes the history sees
		if err := hs.Update(pool, uint32(i+1), func(e *handlespace.Element) { e.Health = handlespace.HealthDown }); err != nil {
			t.Fatal(err)
		}
	}
	before := reply(t, r.History(Query{}))
	peersBefore := reply(t, r.Peers(now))

	stop = true
	now = now.Add(time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Sample(now)
	}()
	<-inTurn
	if !readsBefore(t, r, now, before, peersBefore, "a sample", "the sample's turn", release, done) {
		return
	}
	close(release)
	<-done
	h := r.History(Query{})
	down := h.Pools[0].Series[SeriesDown]
	if !h.Time.Equal(now) || down[len(down)-1] != 200 {
		t.Errorf("after the sample: time %v, %v down, want %v and 200", h.Time, down[len(down)-1], now)
	}
}

// TestReaderDuringWalk: a reader does not wait for a sample's walk of
// every element of a pool (a pool new to the history, of 4 000 elements
// here, beside a pool that changed): stopped in a turn halfway through
// the walk, the sample lets History and Peers answer, with the state
// before it; after it the state is a one-piece sample's, by the walk
// under the lock as before (loud). What the sample does under the lock
// is bounded by the timelines (MaxElements), not by the pool: the turns
// taken with the lock held are counted (TryLock from the turn, which
// the sampling goroutine itself calls).
func TestReaderDuringWalk(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	now := t0
	hs := poolTestSpace(t, func() time.Time { return now })
	const small, big, n, maxElements = "a.pool.test.", "big.pool.test.", 4000, 100
	elem := func(i int) *handlespace.Element {
		return &handlespace.Element{ID: uint32(i + 1), Label: handlespace.LabelOf(fmt.Sprintf("e%d", i)),
			Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})), Port: 80, Weight: 1,
			Health: handlespace.Health(i % 3), Home: uint32(1 + i%4), Expires: handlespace.ExpiryOf(now.Add(time.Hour)), Lease: time.Hour}
	}
	apply := func(pool string, from, to int) {
		var groups [][]handlespace.Op
		for i := from; i < to; i++ {
			groups = append(groups, []handlespace.Op{{Pool: pool, Elem: elem(i)}})
		}
		for _, err := range hs.Apply(groups, nil) {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	apply(small, 0, 60)
	reason := func(pool string, id uint32) string { return fmt.Sprintf("refused (%s %d)", pool, id) }
	defer func(b time.Duration) { pieceBudget = b }(pieceBudget)
	pieceBudget = 0 // a turn every 16 steps
	// Series for both pools, just: the sample must know which pools get
	// them to walk their timelines before the lock.
	cfg := Config{MaxElements: maxElements, MaxPools: 2}
	var r *Recorder
	inTurn, release := make(chan struct{}), make(chan struct{})
	stopAt, offTurns, onTurns := -1, 0, 0
	r = New(cfg, Inputs{View: hs.View, Self: hs.RegistrarID, Reason: reason, Turn: func() {
		if !r.mu.TryLock() {
			onTurns++
			return
		}
		r.mu.Unlock()
		if offTurns++; offTurns == stopAt {
			inTurn <- struct{}{}
			<-release
		}
	}})
	ref := New(cfg, Inputs{View: hs.View, Self: hs.RegistrarID, Reason: reason})
	ref.loud, ref.pieces.Budget = true, time.Hour // every walk under the lock, in one piece
	now = now.Add(time.Second)
	r.Sample(now)
	ref.Sample(now)

	apply(big, 0, n) // a new pool: walked in full
	for i := range 20 {
		if err := hs.Update(small, uint32(i+1), func(e *handlespace.Element) { e.Health = handlespace.HealthDown }); err != nil {
			t.Fatal(err)
		}
	}
	before := reply(t, r.History(Query{}))
	peersBefore := reply(t, r.Peers(now))
	offTurns, onTurns, stopAt = 0, 0, n/16/2 // halfway through the walk of big
	now = now.Add(time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Sample(now)
	}()
	select {
	case <-inTurn:
	case <-done:
		t.Fatalf("the sample took %d turns without the lock, %d with it: not the %d-th without", offTurns, onTurns, stopAt)
	}
	if !readsBefore(t, r, now, before, peersBefore, "the walk", "the walk", release, done) {
		return
	}
	close(release)
	<-done
	ref.Sample(now)
	if got, want := reply(t, r.History(Query{})), reply(t, ref.History(Query{})); !bytes.Equal(got, want) {
		t.Errorf("History after the sample:\n%s\nwant (one piece, walked under the lock)\n%s", got, want)
	}
	if got, want := reply(t, r.Peers(now)), reply(t, ref.Peers(now)); !bytes.Equal(got, want) {
		t.Errorf("Peers after the sample:\n%s\nwant\n%s", got, want)
	}
	// Under the lock: the timelines of both pools (at most maxElements,
	// and the gone check of each), the changes of small, a few steps per
	// pool. A walk of big under the lock would be n/16 = 250 turns.
	if limit := (3*maxElements + 64) / 16; onTurns > limit {
		t.Errorf("%d turns with the lock held (%d without), want at most %d", onTurns, offTurns, limit)
	}
	t.Logf("turns: %d without the lock, %d with it", offTurns, onTurns)
}

// readsBefore reads History and Peers while a sample (started at now) is
// held in a turn, and checks that they are before and peersBefore, the
// state before the sample (during names the sample's part in the
// messages). If the reader waits (10 s: a guard, it should not wait at
// all), it reports that it waits for waitsFor, lets the sample go
// (release) and reports false once it is done.
func readsBefore(t *testing.T, r *Recorder, now time.Time, before, peersBefore []byte, during, waitsFor string,
	release chan struct{}, done <-chan struct{}) bool {
	t.Helper()
	read := make(chan [2][]byte)
	go func() { read <- [2][]byte{reply(t, r.History(Query{})), reply(t, r.Peers(now.Add(-time.Second)))} }()
	select {
	case got := <-read:
		if !bytes.Equal(got[0], before) {
			t.Errorf("History during %s is not the state before it:\n%s\nwant\n%s", during, got[0], before)
		}
		if !bytes.Equal(got[1], peersBefore) {
			t.Errorf("Peers during %s is not the state before it:\n%s\nwant\n%s", during, got[1], peersBefore)
		}
		return true
	case <-time.After(10 * time.Second):
		t.Error("History waits for " + waitsFor)
		close(release)
		<-done
		<-read
		return false
	}
}
