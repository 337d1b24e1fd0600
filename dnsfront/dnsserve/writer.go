package dnsserve

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
)

// Socket is a UDP loop's socket as its Loop sees it: for the work that
// must not stall the loop and the replies that such work writes later.
type Socket struct {
	conn     *net.UDPConn   // written to without a loop (a loop's may be closed: see bc)
	bc       *udpbatch.Conn // the loop's, for WriteBatch; nil: one by one
	local    net.Addr
	srv      *udpServer     // the loop's; nil without one
	inflight sync.WaitGroup // Go's work

	// Go's workers, with a loop (srv): one that finished its work waits
	// for more on work (unbuffered: a send finds a waiting worker or
	// none), at most maxIdleWorkers of them, until quit closes (stop).
	work     chan func()
	quit     chan struct{}
	idle     atomic.Int32
	quitOnce sync.Once
}

// maxIdleWorkers is the most workers of Go's that wait for more work:
// about the UPDATEs waiting for their commits at once at 1 000 a second.
const maxIdleWorkers = 64

// NewSocket returns a Socket of conn without a loop. Start's UDP loops
// each begin with one (and give it their batch connection); a Loop can
// also be driven on one without a server, as a Handler's tests and
// benchmarks do: its replies are written one by one and Wake reports
// false.
func NewSocket(conn *net.UDPConn) *Socket {
	return &Socket{conn: conn, local: conn.LocalAddr()}
}

// LocalAddr returns the socket's address.
func (s *Socket) LocalAddr() net.Addr { return s.local }

// writeTo sends one datagram, from any goroutine.
func (s *Socket) writeTo(b, oob []byte, to netip.AddrPort) error {
	if s.bc != nil {
		return s.bc.WriteTo(b, oob, to)
	}
	_, _, err := s.conn.WriteMsgUDPAddrPort(b, oob, to)
	return err
}

// WriteBatch sends replies that a Loop made after its batch (in Sent, on
// the loop's goroutine only), with one system call (sendmmsg) where it
// can. It returns the first error.
func (s *Socket) WriteBatch(ms []udpbatch.Msg) error {
	if s.bc != nil {
		_, err := s.bc.WriteBatch(ms)
		return err
	}
	var first error
	for i := range ms {
		if err := s.writeTo(ms[i].Buf, ms[i].OOB, ms[i].Addr.AddrPort()); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Wake makes the loop of s go round once, reading without waiting, so
// that it asks its Idler's Pending again (and calls Idle if work waits):
// for work that another goroutine queued for the loop (package regcommit's
// turns). A loop parked waiting for datagrams is woken; a busy one finds
// its next read cut short. Safe from any goroutine. It returns false when
// the loop is stopping, when s has none (a Loop driven without a server)
// or when its loop does not pace (Paces): its Loop's Idle will not be
// called for it.
func (s *Socket) Wake() bool {
	if !s.Paces() || s.srv.stopping.Load() {
		return false
	}
	// A poller loop's Wake is a read deadline that has passed: it wakes
	// the read parked in Go's network poller (udpServer.run clears it).
	s.bc.Wake()
	return true
}

// Paces reports whether the loop of s can pace other work (Wake, Idler):
// a loop that waits in Go's network poller (dns.udp_wait: poller). A loop
// that waits in its own recvmmsg (udpbatch.NewThread) holds a P of its
// own, so no goroutine of the rest of the daemon runs ahead of it on its
// P, and no read deadline wakes it: work for it needs no pacing.
func (s *Socket) Paces() bool { return s.srv != nil && !s.bc.Threaded() }

// Go runs f on a goroutine of its own: work that must not stall the loop,
// such as an UPDATE waiting for its commit. Shutdown waits for it (until
// its deadline) before it closes the socket.
//
// With a loop, f goes to a worker that waits for work if there is one: a
// goroutine that keeps its stack. A new goroutine per UPDATE grew its
// stack (a copy, and a walk of its frames) each time, 8 % of the server's
// CPU per DNS registration (bench/RESULTS.md, "reg15").
func (s *Socket) Go(f func()) {
	s.inflight.Add(1)
	if s.work == nil {
		go func() {
			defer s.inflight.Done()
			f()
		}()
		return
	}
	select {
	case s.work <- f:
	default:
		go s.worker(f)
	}
}

// worker runs f, then the work Go hands it, until more than
// maxIdleWorkers wait or quit closes.
func (s *Socket) worker(f func()) {
	for {
		s.run(f)
		if s.idle.Add(1) > maxIdleWorkers {
			s.idle.Add(-1)
			return
		}
		select {
		case f = <-s.work:
			s.idle.Add(-1)
		case <-s.quit:
			s.idle.Add(-1)
			return
		}
	}
}

// run runs f, one of Go's, and counts it done even if it panics.
func (s *Socket) run(f func()) {
	defer s.inflight.Done()
	f()
}

// stopWorkers ends the workers that wait for work of Go's.
func (s *Socket) stopWorkers() {
	if s.quit != nil {
		s.quitOnce.Do(func() { close(s.quit) })
	}
}

// SlotWriter is the dns.ResponseWriter of a Loop's replies written through
// a dns.Msg: it keeps the reply in the buffer it was given (the loop's slot
// of the batch), for Serve to return. It verifies and signs TSIG as
// miekg/dns's server does, with the keys it was made with.
type SlotWriter struct {
	keys   dns.TsigProvider
	local  net.Addr
	buf    []byte
	reply  []byte
	client netip.AddrPort

	tsigStatus error
	tsigMAC    string // the request's MAC, which a signed reply covers
	timersOnly bool
}

var _ dns.ResponseWriter = (*SlotWriter)(nil)

// NewSlotWriter returns a SlotWriter for the replies of a loop on s, which
// verifies and signs TSIG with keys.
func NewSlotWriter(s *Socket, keys dns.TsigProvider) SlotWriter {
	return SlotWriter{keys: keys, local: s.LocalAddr()}
}

// Reset prepares w for a query from client, whose reply goes into buf. raw
// and r are the query's bytes and unpacked form when it may be signed.
func (w *SlotWriter) Reset(buf []byte, client netip.AddrPort, raw []byte, r *dns.Msg) {
	w.buf, w.reply, w.client = buf, nil, client
	w.tsigStatus, w.tsigMAC, w.timersOnly = nil, "", false
	if r != nil {
		if t := r.IsTsig(); t != nil {
			// miekg/dns verifies in place (the ID becomes the TSIG's
			// original ID, ARCOUNT loses the TSIG): verify a copy, so
			// that the datagram stays as it came.
			raw = append([]byte(nil), raw...)
			w.tsigStatus = dns.TsigVerifyWithProvider(raw, w.keys, "", false)
			w.tsigMAC = t.MAC
		}
	}
}

// Reply returns the reply written since Reset, nil for none.
func (w *SlotWriter) Reply() []byte { return w.reply }

func (w *SlotWriter) LocalAddr() net.Addr  { return w.local }
func (w *SlotWriter) RemoteAddr() net.Addr { return net.UDPAddrFromAddrPort(w.client) }
func (w *SlotWriter) Close() error         { return nil }
func (w *SlotWriter) TsigStatus() error    { return w.tsigStatus }
func (w *SlotWriter) TsigTimersOnly(b bool) {
	w.timersOnly = b
}
func (w *SlotWriter) Hijack() {}

// WriteMsg packs m (signed when it carries a TSIG record) into the slot.
func (w *SlotWriter) WriteMsg(m *dns.Msg) error {
	if m.IsTsig() != nil {
		data, mac, err := dns.TsigGenerateWithProvider(m, w.keys, w.tsigMAC, w.timersOnly)
		if err != nil {
			return err
		}
		w.tsigMAC = mac
		_, err = w.Write(data)
		return err
	}
	data, err := m.PackBuffer(w.buf[:0:cap(w.buf)])
	if err != nil {
		return err
	}
	w.reply = data
	return nil
}

// Write keeps b as the reply.
func (w *SlotWriter) Write(b []byte) (int, error) {
	w.reply = append(w.buf[:0], b...)
	return len(b), nil
}

// DirectWriter writes its reply to the socket at once: the reply of work
// that runs off the loop (Socket.Go), such as an UPDATE's. A DirectWriter
// may be kept and made ready for reply after reply (Ready): it has room of
// its own for the reply's control data, and keeps the room of a reply it
// packed, so that a kept one writes a reply without garbage.
type DirectWriter struct {
	SlotWriter
	sock   *Socket
	oob    []byte
	oobBuf [udpbatch.OOBSize]byte
}

// Ready makes w, new (its zero value) or kept from a reply it wrote
// before, the writer of the reply to a query from client, read from s
// with the control message oob (kept: the reply goes out from the address
// the query came to); keys, raw and r as for NewSlotWriter and Reset. It
// must not be called while another goroutine uses w.
func (w *DirectWriter) Ready(s *Socket, keys dns.TsigProvider, client netip.AddrPort, oob, raw []byte, r *dns.Msg) {
	w.keys, w.local, w.sock = keys, s.LocalAddr(), s
	w.Reset(w.buf[:0], client, raw, r)
	w.oob = append(w.oobBuf[:0], udpbatch.ReplyOOB(oob)...)
	if len(w.oob) == 0 {
		w.oob = nil
	}
}

// RemoteAddrPort returns the client's address, which RemoteAddr returns
// as a new net.Addr.
func (w *SlotWriter) RemoteAddrPort() netip.AddrPort { return w.client }

// WriteMsg packs m (signed when it carries a TSIG record) and sends it.
func (w *DirectWriter) WriteMsg(m *dns.Msg) error {
	if err := w.SlotWriter.WriteMsg(m); err != nil {
		return err
	}
	if cap(w.reply) <= maxKeptReply {
		w.buf = w.reply[:0] // room for the next reply w packs
	}
	return w.send(w.reply)
}

// maxKeptReply bounds the room a DirectWriter keeps for the replies it
// packs: a rare large one is not kept.
const maxKeptReply = 4096

// Write sends b (not kept: it is sent before Write returns).
func (w *DirectWriter) Write(b []byte) (int, error) {
	return len(b), w.send(b)
}

func (w *DirectWriter) send(b []byte) error {
	return w.sock.writeTo(b, w.oob, w.client)
}
