package dnsserve

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/internal/udpbatch"
)

// idleSteps is an echoLoop's own work: the first datagram (ID 1) gives
// it 3 pieces, done one per Idle call once the test lets it (step).
type idleSteps struct {
	step    chan struct{} // each piece waits for one
	entered chan struct{} // each piece says it started
	quit    chan struct{} // closed at the test's end: no more waiting
	done    chan struct{} // closed when the last piece is done
	pending int
	idles   atomic.Int32 // Idle calls
}

func (w *idleSteps) saw(m *udpbatch.Msg) {
	if len(m.Buf) >= 2 && m.Buf[0] == 0 && m.Buf[1] == 1 {
		w.pending = 3
	}
}

func (w *idleSteps) Pending() bool { return w.pending > 0 }

func (w *idleSteps) Idle() {
	select {
	case w.entered <- struct{}{}:
	default:
	}
	select {
	case <-w.step:
	case <-w.quit:
	}
	w.idles.Add(1)
	w.pending--
	if w.pending == 0 {
		close(w.done)
	}
}

// TestIdleWork: a Loop's own work (Idler) is done a piece at a time
// while no datagram waits, without a datagram to wake the loop; a
// datagram that comes during a piece is answered right after that piece,
// before the next.
func TestIdleWork(t *testing.T) {
	w := &idleSteps{step: make(chan struct{}), entered: make(chan struct{}, 3), quit: make(chan struct{}), done: make(chan struct{})}
	h := &echoHandler{work: func() loopWork { return w }}
	s, err := Start(Config{Listen: []string{"127.0.0.1:0"}, UDPSockets: 1, Logger: quiet()}, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		close(w.quit)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	c, err := net.Dial("udp", s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ask(t, c, 1, "idle.test.") // gives the loop 3 pieces of work
	reply(t, c, 1)
	l := h.loop.Load()
	// Once the loop is in the first piece (waiting for its step), a
	// datagram waits on the socket; it is answered after that piece.
	select {
	case <-w.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not start its idle work")
	}
	ask(t, c, 2, "idle.test.")
	w.step <- struct{}{}
	reply(t, c, 2)
	if n := w.idles.Load(); n != 1 {
		t.Errorf("%d pieces done before the waiting datagram was answered; want 1", n)
	}
	// The rest is done with no datagram to wake the loop.
	w.step <- struct{}{}
	w.step <- struct{}{}
	select {
	case <-w.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("idle work not done: %d of 3 pieces", w.idles.Load())
	}
	if n := l.served.Load(); n != 2 {
		t.Errorf("%d datagrams served; want 2", n)
	}
}
