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
		return &handlespace.Element{ID: uint32(i + 1), Label: fmt.Sprintf("e%d", i),
			Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})), Port: 80, Weight: 1,
			Health: h, Expires: now.Add(time.Hour), Lease: time.Hour}
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
	read := make(chan [2][]byte)
	go func() { read <- [2][]byte{reply(t, r.History(Query{})), reply(t, r.Peers(now.Add(-time.Second)))} }()
	select {
	case got := <-read:
		if !bytes.Equal(got[0], before) {
			t.Errorf("History during a sample is not the state before it:\n%s\nwant\n%s", got[0], before)
		}
		if !bytes.Equal(got[1], peersBefore) {
			t.Errorf("Peers during a sample is not the state before it:\n%s\nwant\n%s", got[1], peersBefore)
		}
	case <-time.After(10 * time.Second):
		t.Error("History waits for the sample's turn")
		close(release)
		<-done
		<-read
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
