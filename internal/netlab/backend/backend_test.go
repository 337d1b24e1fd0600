package backend

import (
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a server's goroutine is still
// running once they have all returned.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestServer serves a loopback listener (no namespace needed: every
// address the listener answers on is an element, here 127.0.0.1 alone)
// and checks each state as a prober sees it and the records.
func TestServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New()
	s.Serve(ln)
	defer s.Close()
	url := "http://" + ln.Addr().String() + "/"
	get := func(timeout time.Duration) error {
		c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	e := netip.MustParseAddr("127.0.0.1")
	t0 := time.Now()
	if err := get(2 * time.Second); err != nil {
		t.Fatalf("alive: %v", err)
	}
	s.Set(e, Dead)
	if err := get(2 * time.Second); err == nil {
		t.Error("dead: answered")
	}
	s.Set(e, Frozen)
	if st := s.State(e); st != Frozen {
		t.Errorf("state %v, want frozen", st)
	}
	if err := get(200 * time.Millisecond); err == nil {
		t.Error("frozen: answered")
	}
	s.Set(e, Alive)
	if err := get(2 * time.Second); err != nil {
		t.Errorf("revived: %v", err)
	}
	ps := s.Probes(e, t0)
	if len(ps) != 4 || ps[0].From != e || ps[0].At.Before(t0) {
		t.Fatalf("probes %+v, want 4 from %v", ps, e)
	}
	if by := s.ProbedBy(e, t0, time.Now()); len(by) != 1 || by[0] != e {
		t.Errorf("probed by %v: %v", e, by)
	}
	if took := s.Takeover([]netip.Addr{e}, e, t0); took[0] != -1 {
		t.Errorf("takeover by another than the only prober: %v, want -1", took)
	}
	end := time.Now()
	if g := s.MaxProbeGap(e, t0, end); g < ps[3].At.Sub(ps[2].At) || g > end.Sub(t0) {
		t.Errorf("longest gap %v, want at least the frozen one (%v)", g, ps[3].At.Sub(ps[2].At))
	}
	// A frozen element's request ends when the Server closes.
	s.Set(e, Frozen)
	done := make(chan error, 1)
	go func() { done <- get(10 * time.Second) }()
	for deadline := time.Now().Add(5 * time.Second); len(s.Probes(e, end)) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the request to a frozen element never arrived")
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("a frozen request still hangs after Close")
	}
}
