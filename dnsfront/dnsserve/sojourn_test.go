package dnsserve

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
)

// holdHandler makes holdLoops.
type holdHandler struct {
	loop *holdLoop
}

func (h *holdHandler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {}
func (h *holdHandler) PrepareStream(*dns.Server)                 {}
func (h *holdHandler) NewLoop(s *Socket) Loop {
	h.loop.sock = s
	return h.loop
}

// holdID is the message ID a holdLoop holds on: it says so on held, then
// waits for hold before it answers.
const holdID = 0x401d

// holdLoop echoes datagrams (QR set); it holds on holdID (above) and
// answers lateID off the loop, at once.
type holdLoop struct {
	sock       *Socket
	held, hold chan struct{}
}

func (l *holdLoop) Serve(m *udpbatch.Msg, read time.Time, out []byte) []byte {
	switch binary.BigEndian.Uint16(m.Buf) {
	case holdID:
		l.held <- struct{}{}
		<-l.hold
	case lateID:
		w := new(DirectWriter)
		w.Ready(l.sock, nil, m.Addr.AddrPort(), m.OOB, nil, nil)
		reply := append([]byte(nil), m.Buf...)
		reply[2] |= 0x80
		l.sock.Go(func() { w.Write(reply) })
		return nil
	}
	out = append(out, m.Buf...)
	out[2] |= 0x80
	return out
}
func (l *holdLoop) Recover(m *udpbatch.Msg, out []byte, p any) []byte { return nil }
func (l *holdLoop) Sent(time.Time)                                    {}
func (l *holdLoop) Close()                                            {}

// sojournLog is a Sojourner that samples every query.
type sojournLog struct {
	mu  sync.Mutex
	got []time.Duration
}

func (s *sojournLog) Sample() bool { return true }
func (s *sojournLog) Sojourn(d time.Duration) {
	s.mu.Lock()
	s.got = append(s.got, d)
	s.mu.Unlock()
}

func (s *sojournLog) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.got...)
}

// TestSojourn: each query answered in its batch gets its sojourn, from
// the kernel's receipt: a query that waited in the socket's queue while
// the loop was busy with another counts the wait; a reply written off the
// loop (Socket.Go) is not counted.
func TestSojourn(t *testing.T) {
	log := &sojournLog{}
	h := &holdHandler{loop: &holdLoop{held: make(chan struct{}, 1), hold: make(chan struct{})}}
	s, err := Start(Config{Listen: []string{"127.0.0.1:0"}, UDPSockets: 1, Logger: quiet(), Sojourn: log}, h)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	c, err := net.Dial("udp", s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	ask(t, c, 1, "alone.test.")
	reply(t, c, 1)
	// The loop holds on holdID; a query sent meanwhile waits in the
	// socket's queue for at least the hold.
	ask(t, c, holdID, "hold.test.")
	<-h.loop.held
	ask(t, c, 2, "queued.test.")
	const hold = 30 * time.Millisecond
	time.Sleep(hold)
	close(h.loop.hold)
	reply(t, c, holdID)
	reply(t, c, 2)
	ask(t, c, lateID, "late.test.")
	reply(t, c, lateID)
	ask(t, c, 3, "after.test.")
	reply(t, c, 3)

	// Replies are read before the loop records their sojourns: wait
	// for the last (bounded).
	var got []time.Duration
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if got = log.all(); len(got) >= 4 {
			break
		}
	}
	if len(got) != 4 {
		t.Fatalf("%d sojourns %v, want 4 (alone, hold, queued, after; not the late reply)", len(got), got)
	}
	if got[1] < hold || got[2] < hold {
		t.Errorf("sojourns of the held query and the one queued behind it %v, %v; want at least %v each", got[1], got[2], hold)
	}
	for i, d := range got {
		if d < 0 || d > time.Minute {
			t.Errorf("sojourn %d is %v", i, d)
		}
	}
}

// TestSojournOff: without a Sojourner the socket is not asked for times
// of receipt: datagrams come with no control data (loopback, a bound
// address).
func TestSojournOff(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bc, err := udpbatch.New(c, 4)
	if err != nil {
		t.Fatal(err)
	}
	send := func() udpbatch.Msg {
		t.Helper()
		cl, err := net.Dial("udp", c.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		b, _ := query(9, "x.test.").Pack()
		cl.Write(b)
		ms := []udpbatch.Msg{{Buf: make([]byte, 512), OOB: make([]byte, 0, udpbatch.OOBSize)}}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := bc.ReadBatch(ms); n != 1 || err != nil {
			t.Fatalf("read %d, %v", n, err)
		}
		return ms[0]
	}
	if m := send(); len(m.OOB) != 0 {
		t.Errorf("control data %x without Stamp", m.OOB)
	}
	if err := bc.Stamp(); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	m := send()
	at, ok := udpbatch.RxTime(m.OOB)
	if !ok || at.Before(before.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("time of receipt %v (%v), want about now (%v)", at, ok, before)
	}
	if udpbatch.ReplyOOB(m.OOB) != nil {
		t.Errorf("a time of receipt made control data for the reply")
	}
}
