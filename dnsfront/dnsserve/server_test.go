package dnsserve

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine that one of them
// started is still running once they have all returned.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Message IDs the fake loop treats apart: it panics on panicID, and
// answers lateID off the loop.
const (
	panicID = 0xdead
	lateID  = 0x1a7e
	keptID  = 0x6e97
)

// fakeHandler answers TCP with a TXT record "tcp" and makes fakeLoops.
type fakeHandler struct {
	mu       sync.Mutex
	loops    []*fakeLoop
	prepared atomic.Int32  // PrepareStream calls
	release  chan struct{} // the late work waits for it
}

var _ Handler = (*fakeHandler)(nil)

func (h *fakeHandler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{"tcp"}})
	w.WriteMsg(m)
}

func (h *fakeHandler) NewLoop(s *Socket) Loop {
	l := &fakeLoop{sock: s, release: h.release, late: make(chan error, 1), handed: make(chan struct{}, 1), keptFree: make(chan struct{}, 1)}
	l.keptFree <- struct{}{}
	h.mu.Lock()
	h.loops = append(h.loops, l)
	h.mu.Unlock()
	return l
}

func (h *fakeHandler) PrepareStream(ds *dns.Server) { h.prepared.Add(1) }

// fakeLoop answers a datagram with its own bytes, QR set. It panics on
// panicID, whose Recover answers with the QR and rcode SERVFAIL (none when
// told to drop). It answers lateID off the loop (Socket.Go), once release
// is closed, through a DirectWriter, and sends the write's outcome on late.
type fakeLoop struct {
	sock        *Socket
	dropOnPanic bool
	release     chan struct{}
	late        chan error
	handed      chan struct{} // a late datagram was handed off
	sent        atomic.Int32
	closed      atomic.Int32
	lateDone    atomic.Bool // the late work had ended when Close was called
	// kept answers keptID off the loop, made Ready for each: one at a
	// time, keptFree holding its turn.
	kept     DirectWriter
	keptFree chan struct{}
}

func (l *fakeLoop) Serve(m *udpbatch.Msg, read time.Time, out []byte) []byte {
	if read.IsZero() {
		panic("a batch without its time")
	}
	if len(m.Buf) < 12 {
		return nil
	}
	switch binary.BigEndian.Uint16(m.Buf) {
	case panicID:
		panic("a defect")
	case lateID:
		w := new(DirectWriter)
		w.Ready(l.sock, nil, m.Addr.AddrPort(), m.OOB, nil, nil)
		reply := append([]byte(nil), m.Buf...)
		reply[2] |= 0x80
		l.sock.Go(func() {
			<-l.release
			_, err := w.Write(reply)
			l.late <- err
		})
		l.handed <- struct{}{}
		return nil
	case keptID:
		q := new(dns.Msg)
		if q.Unpack(m.Buf) != nil {
			return nil
		}
		r := new(dns.Msg)
		r.SetReply(q)
		<-l.keptFree
		l.kept.Ready(l.sock, nil, m.Addr.AddrPort(), m.OOB, nil, nil)
		l.sock.Go(func() {
			l.kept.WriteMsg(r)
			l.keptFree <- struct{}{}
		})
		return nil
	}
	out = append(out, m.Buf...)
	out[2] |= 0x80
	return out
}

func (l *fakeLoop) Recover(m *udpbatch.Msg, out []byte, p any) []byte {
	if l.dropOnPanic {
		return nil
	}
	out = append(out, m.Buf[:12]...)
	out[2] |= 0x80
	out[3] = out[3]&0xF0 | dns.RcodeServerFailure
	return out
}

func (l *fakeLoop) Sent(time.Time) { l.sent.Add(1) }

func (l *fakeLoop) Close() {
	l.closed.Add(1)
	l.lateDone.Store(len(l.late) > 0)
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func query(id uint16, name string) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	q.Id = id
	return q
}

// ask sends the query id for name on c.
func ask(t *testing.T, c net.Conn, id uint16, name string) {
	t.Helper()
	b, _ := query(id, name).Pack()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

// reply reads the reply to the query id from c (within 5 s).
func reply(t *testing.T, c net.Conn, id uint16) {
	t.Helper()
	buf := make([]byte, 512)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	r := new(dns.Msg)
	if err != nil || r.Unpack(buf[:n]) != nil || r.Id != id {
		t.Fatalf("reply to %d: %v %v", id, r, err)
	}
}

// TestServeUDPAndTCP: UDP datagrams go to the socket's Loop and its reply
// back to the sender, TCP queries to the handler behind miekg/dns's
// server, prepared by the handler; both on the one port of a ":0" address.
func TestServeUDPAndTCP(t *testing.T) {
	h := &fakeHandler{}
	s, err := Start(Config{Listen: []string{"127.0.0.1:0"}, UDPSockets: 2, Logger: quiet()}, h)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Addrs()) != 1 {
		t.Fatalf("addresses %v, want one", s.Addrs())
	}
	addr := s.Addrs()[0].String()
	c := &dns.Client{Timeout: 5 * time.Second}
	r, _, err := c.Exchange(query(7, "udp.test."), addr)
	if err != nil || r.Id != 7 || !r.Response || r.Question[0].Name != "udp.test." || len(r.Answer) != 0 {
		t.Fatalf("UDP: %v, %v; want the query echoed with QR", r, err)
	}
	c.Net = "tcp"
	r, _, err = c.Exchange(query(8, "tcp.test."), addr)
	if err != nil || r.Id != 8 || len(r.Answer) != 1 || r.Answer[0].(*dns.TXT).Txt[0] != "tcp" {
		t.Fatalf("TCP: %v, %v; want the handler's TXT", r, err)
	}
	if n := h.prepared.Load(); n != 1 {
		t.Errorf("PrepareStream called %d times, want 1 (the TCP listener)", n)
	}
	h.mu.Lock()
	loops := len(h.loops)
	h.mu.Unlock()
	if loops != 2 {
		t.Errorf("%d loops, want 2 (UDPSockets)", loops)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	// A second Shutdown (a cleanup after an explicit one) closes nothing
	// twice.
	if err := s.Shutdown(ctx); err != nil {
		t.Logf("second shutdown: %v", err)
	}
	sent := 0
	for i, l := range h.loops {
		sent += int(l.sent.Load())
		if n := l.closed.Load(); n != 1 {
			t.Errorf("loop %d closed %d times, want 1", i, n)
		}
	}
	if sent == 0 {
		t.Errorf("no loop was told its batch was sent")
	}
	// Counted once the replies are written: read after the loops ended.
	st := s.UDPStats()
	if st.ReadMsgs < 1 || st.WriteMsgs < 1 || st.ReadCalls < 1 || st.WriteCalls < 1 {
		t.Errorf("UDP stats %+v: the datagram and its reply not counted", st)
	}
}

// TestLateReply: a reply written off the loop (Socket.Go, DirectWriter)
// reaches the client, from the port it asked; Shutdown then closes every
// Loop once, after the work it handed off.
func TestLateReply(t *testing.T) {
	h := &fakeHandler{release: make(chan struct{})}
	s, err := Start(Config{Listen: []string{"127.0.0.1:0"}, UDPSockets: 1, Logger: quiet()}, h)
	if err != nil {
		t.Fatal(err)
	}
	close(h.release)
	c := &dns.Client{Timeout: 5 * time.Second}
	r, _, err := c.Exchange(query(lateID, "late.test."), s.Addrs()[0].String())
	if err != nil || r.Id != lateID || !r.Response {
		t.Fatalf("late reply: %v, %v", r, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	l := h.loops[0]
	if n := l.closed.Load(); n != 1 || !l.lateDone.Load() {
		t.Errorf("Close called %d times (want 1), after the late work: %v", n, l.lateDone.Load())
	}
	if err := <-l.late; err != nil {
		t.Errorf("late write: %v", err)
	}
}

// TestKeptDirectWriter: a DirectWriter kept and made Ready for each reply
// (as package dnsfront keeps its UPDATEs' writers) sends each reply to
// the client that asked, from the port it asked, however many clients
// it served before.
func TestKeptDirectWriter(t *testing.T) {
	h := &fakeHandler{release: make(chan struct{})}
	s, err := Start(Config{Listen: []string{"127.0.0.1:0"}, UDPSockets: 1, Logger: quiet()}, h)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	}()
	addr := s.Addrs()[0].String()
	for i := range 6 {
		name := fmt.Sprintf("kept%d.test.", i)
		// A new client each time (dns.Client dials a socket per exchange).
		c := &dns.Client{Timeout: 5 * time.Second}
		r, _, err := c.Exchange(query(keptID, name), addr)
		if err != nil || r.Id != keptID || !r.Response || len(r.Question) != 1 || r.Question[0].Name != name {
			t.Fatalf("reply %d: %v, %v", i, r, err)
		}
	}
}

// TestShutdownWaitsForLateWork: Shutdown waits for the work a Loop handed
// off until the context's deadline, and no longer: then it closes the Loop
// and the socket, and the work's reply finds the socket closed.
func TestShutdownWaitsForLateWork(t *testing.T) {
	h := &fakeHandler{release: make(chan struct{})}
	s, err := Start(Config{Listen: []string{"127.0.0.1:0"}, UDPSockets: 1, Logger: quiet()}, h)
	if err != nil {
		t.Fatal(err)
	}
	uc, err := net.Dial("udp", s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	b, _ := query(lateID, "late.test.").Pack()
	if _, err := uc.Write(b); err != nil {
		t.Fatal(err)
	}
	l := h.loops[0]
	select {
	case <-l.handed:
	case <-time.After(5 * time.Second):
		t.Fatal("the datagram was not served")
	}
	const wait = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	t0 := time.Now()
	s.Shutdown(ctx)
	if d := time.Since(t0); d < wait*9/10 {
		t.Errorf("shutdown returned after %v with work in flight, want about %v (its deadline)", d, wait)
	}
	if n := l.closed.Load(); n != 1 || l.lateDone.Load() {
		t.Errorf("Close called %d times (want 1), after the late work: %v (want before)", n, l.lateDone.Load())
	}
	close(h.release)
	if err := <-l.late; !errors.Is(err, net.ErrClosed) {
		t.Errorf("late write after shutdown: %v, want %v", err, net.ErrClosed)
	}
}

// TestBatchSurvivesPanic: a panic while answering costs the loop one
// datagram of its batch, answered as the Loop's Recover says; the rest of
// the batch is answered as usual, and a datagram Recover drops gets no
// reply and leaves no gap.
func TestBatchSurvivesPanic(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h := &fakeHandler{}
	u, err := newUDPServer(h, c, 512, true, quiet()) // not run: the poller keeps c as it is
	if err != nil {
		t.Fatal(err)
	}
	l := h.loops[0]
	from := udpbatch.AddrFrom(netip.MustParseAddrPort("127.0.0.1:40000"), false)
	batch := func(ids ...uint16) (replies []*dns.Msg) {
		t.Helper()
		for i, id := range ids {
			b, _ := query(id, "web.test.").Pack()
			u.rx[i].Buf, u.rx[i].Addr = append(u.rx[i].Buf[:0], b...), from
		}
		k := 0
		for i := 0; i < len(ids); {
			i, k = u.serveFrom(i, len(ids), k, time.Now())
		}
		for _, m := range u.tx[:k] {
			r := new(dns.Msg)
			if err := r.Unpack(m.Buf); err != nil {
				t.Fatalf("reply does not unpack: %v", err)
			}
			if m.Addr != from {
				t.Errorf("reply %d to %v, want %v", r.Id, m.Addr, from)
			}
			replies = append(replies, r)
		}
		return replies
	}
	got := batch(100, panicID, 102)
	want := []struct {
		id    uint16
		rcode int
	}{{100, dns.RcodeSuccess}, {panicID, dns.RcodeServerFailure}, {102, dns.RcodeSuccess}}
	if len(got) != len(want) {
		t.Fatalf("%d replies to a batch of 3, want 3", len(got))
	}
	for i, w := range want {
		if got[i].Id != w.id || got[i].Rcode != w.rcode || !got[i].Response {
			t.Errorf("reply %d: ID %d rcode %s; want ID %d rcode %s", i, got[i].Id, dns.RcodeToString[got[i].Rcode], w.id, dns.RcodeToString[w.rcode])
		}
	}
	l.dropOnPanic = true
	got = batch(panicID, 201, panicID, 203)
	if len(got) != 2 || got[0].Id != 201 || got[1].Id != 203 {
		t.Fatalf("replies %v, want 201 and 203 only", got)
	}
}

// TestStartErrors: no address, an address that cannot be bound, a TLS
// certificate that cannot be read: an error that says which (and, as
// TestMain checks, no goroutine left serving what was bound before it).
func TestStartErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no address", Config{}, "dnsserve: no listen address"},
		{"taken", Config{Listen: []string{taken.Addr().String()}}, "dnsserve: listen tcp " + taken.Addr().String()},
		{"no certificate", Config{Listen: []string{"127.0.0.1:0"}, TLS: TLSConfig{Listen: []string{"127.0.0.1:0"},
			CertFile: filepath.Join(dir, "none.pem"), KeyFile: filepath.Join(dir, "none.key")}}, "dns.tls.cert"},
	} {
		c.cfg.UDPSockets, c.cfg.Logger = 1, quiet()
		s, err := Start(c.cfg, &fakeHandler{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
		if s != nil {
			t.Errorf("%s: a server returned with the error", c.name)
		}
	}
}
