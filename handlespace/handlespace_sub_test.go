package handlespace

import "testing"

// TestUnsubscribe: after Unsubscribe a channel gets no more changes; the
// others still do.
func TestUnsubscribe(t *testing.T) {
	h := New(Options{RegistrarID: 1})
	a, b := h.Subscribe(), h.Subscribe()
	h.Unsubscribe(a)
	h.mu.Lock()
	h.notify()
	h.mu.Unlock()
	select {
	case <-a:
		t.Fatal("an unsubscribed channel got a change")
	default:
	}
	select {
	case <-b:
	default:
		t.Fatal("a subscribed channel got no change")
	}
	h.Unsubscribe(a) // twice: nothing
	if n := len(h.subs); n != 1 {
		t.Fatalf("%d subscribers left, want 1", n)
	}
}
