package stale

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)

// TestHoldSynced: a hold is over once every peer wanted has synced by a
// transfer begun after it began and every element is handed back.
func TestHoldSynced(t *testing.T) {
	h := New[string](t0, 3*time.Second, "stalled for 10s")
	h.Want(1, 2)
	h.AfterStall()
	h.Back("a", "b")
	if !strings.HasPrefix(h.Waiting(), "waiting for 2 peers and 2 elements to be handed back, at most 3s") {
		t.Errorf("Waiting() = %q", h.Waiting())
	}
	if h.Claims() {
		t.Error("a matching claim counts after a stall the peers found this registrar dead in")
	}
	h.Synced(1, t0.Add(-time.Millisecond)) // begun before the hold: does not count
	h.Synced(2, t0.Add(100*time.Millisecond))
	h.HandedBack("a")
	h.HandedBack("c")
	if why, over := h.Over(t0.Add(200 * time.Millisecond)); over {
		t.Fatalf("over with peer 1 and element b to come: %q", why)
	}
	h.Synced(1, t0.Add(150*time.Millisecond))
	if why, over := h.Over(t0.Add(250 * time.Millisecond)); over {
		t.Fatalf("over with element b to come: %q", why)
	}
	h.HandedBack("b")
	if why, over := h.Over(t0.Add(300 * time.Millisecond)); !over || why != "synced after 300ms" {
		t.Errorf("Over = %q, %v; want synced after 300ms", why, over)
	}
}

// TestHoldBounded: a hold is over when its bounded wait has passed, and
// says what did not come; a hold after a minority takes a matching
// claim.
func TestHoldBounded(t *testing.T) {
	h := New[string](t0, 3*time.Second, "the live set grew after a minority")
	h.Want(7)
	if !h.Claims() {
		t.Error("a matching claim does not count after a minority")
	}
	if !h.Until().Equal(t0.Add(3 * time.Second)) {
		t.Errorf("Until() = %v", h.Until())
	}
	if _, over := h.Over(t0.Add(3*time.Second - time.Nanosecond)); over {
		t.Fatal("over before its wait")
	}
	why, over := h.Over(t0.Add(3 * time.Second))
	if !over || why != "bounded wait of 3s over; 1 peers not synced, 0 elements not handed back" {
		t.Errorf("Over = %q, %v", why, over)
	}
}
