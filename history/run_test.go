package history_test

import (
	"context"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/history"
)

// TestRun: Run samples at once and every period on the wall clock, and
// returns when its context ends.
func TestRun(t *testing.T) {
	hs, _ := space(t)
	r := history.New(history.Config{Period: 10 * time.Millisecond}, history.Inputs{View: hs.View})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := 0
		for _, v := range r.History(history.Query{}).Global["elements"] {
			if v == v {
				n++
			}
		}
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d samples after 10 s of a 10 ms period", n)
		}
		time.Sleep(5 * time.Millisecond) // a poll interval of the condition
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
