package dnsserve

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/internal/udpbatch"
)

// wakeWork is work that another goroutine queues for an echoLoop (work),
// done one piece per Idle.
type wakeWork struct {
	work  atomic.Int32
	idled chan struct{}
}

func newWakeWork() loopWork { return &wakeWork{idled: make(chan struct{}, 16)} }

func (w *wakeWork) saw(*udpbatch.Msg) {}
func (w *wakeWork) Pending() bool     { return w.work.Load() > 0 }
func (w *wakeWork) Idle() {
	if w.work.Add(-1) >= 0 {
		w.idled <- struct{}{}
	}
}

// TestWake: work that another goroutine queues for a loop parked waiting
// for datagrams is done once it calls Socket.Wake, a piece per Idle, with
// no datagram to wake the loop; the loop then serves datagrams as before
// (the wake's deadline cleared) and parks again. After Shutdown, and for
// a Socket without a loop, and for a loop that waits in its own recvmmsg
// (it does not pace), Wake reports false.
func TestWake(t *testing.T) {
	th := &echoHandler{work: newWakeWork}
	ts, err := Start(Config{Listen: []string{"127.0.0.1:0"}, UDPSockets: 1, Logger: quiet()}, th)
	if err != nil {
		t.Fatal(err)
	}
	if sock := th.sock.Load(); sock.Paces() || sock.Wake() {
		t.Error("a loop waiting in its own recvmmsg paces")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	h := &echoHandler{work: newWakeWork}
	s, err := Start(Config{Listen: []string{"127.0.0.1:0"}, UDPSockets: 1, UDPPoller: true, Logger: quiet()}, h)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("udp", s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echo := func(id uint16) {
		t.Helper()
		ask(t, c, id, "wake.test.")
		reply(t, c, id)
	}
	echo(1)
	sock, l := h.sock.Load(), h.loop.Load().loopWork.(*wakeWork)
	for round := 0; round < 3; round++ {
		time.Sleep(20 * time.Millisecond) // the loop parks in its read
		l.work.Store(2)
		if !sock.Wake() {
			t.Fatal("Wake of a running loop reported false")
		}
		for i := 0; i < 2; i++ {
			select {
			case <-l.idled:
			case <-time.After(5 * time.Second):
				t.Fatalf("round %d: piece %d of the woken loop's work not done", round, i+1)
			}
		}
		echo(uint16(10 + round))
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if sock.Wake() {
		t.Error("Wake after Shutdown reported true")
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if NewSocket(pc).Wake() {
		t.Error("Wake of a Socket without a loop reported true")
	}
}
