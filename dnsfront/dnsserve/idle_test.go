package dnsserve

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
)

// idleHandler makes idleLoops.
type idleHandler struct {
	step    chan struct{} // each piece of idle work waits for one
	entered chan struct{} // each piece says it started
	quit    chan struct{} // closed at the test's end: no more waiting
	done    chan struct{} // closed when the last piece is done
	loop    atomic.Pointer[idleLoop]
}

func (h *idleHandler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {}
func (h *idleHandler) PrepareStream(*dns.Server)                 {}
func (h *idleHandler) NewLoop(s *Socket) Loop {
	l := &idleLoop{h: h}
	h.loop.Store(l)
	return l
}

// idleLoop echoes datagrams; the first one (ID 1) gives it 3 pieces of
// work of its own, done one per Idle call once the test lets it (step).
type idleLoop struct {
	h       *idleHandler
	pending int
	idles   atomic.Int32 // Idle calls
	served  atomic.Int32 // datagrams served
}

var _ Idler = (*idleLoop)(nil)

func (l *idleLoop) Serve(m *udpbatch.Msg, read time.Time, out []byte) []byte {
	l.served.Add(1)
	if len(m.Buf) >= 2 && m.Buf[0] == 0 && m.Buf[1] == 1 {
		l.pending = 3
	}
	out = append(out, m.Buf...)
	out[2] |= 0x80
	return out
}

func (l *idleLoop) Recover(m *udpbatch.Msg, out []byte, p any) []byte { return nil }
func (l *idleLoop) Sent(time.Time)                                    {}
func (l *idleLoop) Close()                                            {}
func (l *idleLoop) Pending() bool                                     { return l.pending > 0 }

func (l *idleLoop) Idle() {
	select {
	case l.h.entered <- struct{}{}:
	default:
	}
	select {
	case <-l.h.step:
	case <-l.h.quit:
	}
	l.idles.Add(1)
	l.pending--
	if l.pending == 0 {
		close(l.h.done)
	}
}

// TestIdleWork: a Loop's own work (Idler) is done a piece at a time
// while no datagram waits, without a datagram to wake the loop; a
// datagram that comes during a piece is answered right after that piece,
// before the next.
func TestIdleWork(t *testing.T) {
	h := &idleHandler{step: make(chan struct{}), entered: make(chan struct{}, 3), quit: make(chan struct{}), done: make(chan struct{})}
	s, err := Start(Config{Listen: []string{"127.0.0.1:0"}, UDPSockets: 1, Logger: quiet()}, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		close(h.quit)
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
	case <-h.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not start its idle work")
	}
	ask(t, c, 2, "idle.test.")
	h.step <- struct{}{}
	reply(t, c, 2)
	if n := l.idles.Load(); n != 1 {
		t.Errorf("%d pieces done before the waiting datagram was answered; want 1", n)
	}
	// The rest is done with no datagram to wake the loop.
	h.step <- struct{}{}
	h.step <- struct{}{}
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("idle work not done: %d of 3 pieces", l.idles.Load())
	}
	if n := l.served.Load(); n != 2 {
		t.Errorf("%d datagrams served; want 2", n)
	}
}
