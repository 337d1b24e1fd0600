package dnsfront

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/dnsserve"
	"github.com/poolnsd/poolnsd/dnsfront/dnsupdate"
	"github.com/poolnsd/poolnsd/dnsfront/msgcheck"
	metrics "github.com/poolnsd/poolnsd/metrics/dnsmetrics" // the DNS counters only: see internal/walls
)

// DNS UPDATE over UDP and TCP, on the same path: the message read from
// its bytes (dnsupdate.Read: no dns.Msg), its TSIG verified from them
// (tsigkey's VerifyRequest, in updateWriter), and the reply packed and
// signed by hand (package dnsupdate) and written as bytes. A UDP loop
// reads the update and hands it to a goroutine of its own, which waits
// for the commit; a TCP (or TLS) connection answers it in its turn,
// between the messages before and after it (msgcheck.Reader's Update,
// set by PrepareStream), as miekg/dns's server answered it before.

// update reads the UPDATE b (of the datagram m came in, which Check read
// into wm) and applies it on a goroutine of its own: it waits for its
// commit, which must not stall the loop. Its reply is written straight
// to the socket. A malformed update is answered FORMERR here, as Check
// answers what it finds malformed; b is not kept.
func (u *loopAnswerer) update(b []byte, wm *msgcheck.Msg, client netip.AddrPort, oob, out []byte) []byte {
	r := new(dnsupdate.Message)
	if !dnsupdate.Read(b, r) {
		u.h.metrics.Rejected(metrics.RejectFormErr)
		return msgcheck.AppendErrorReply(out, b, wm, dns.RcodeFormatError, u.h.udpSize)
	}
	w := u.h.updateWriter(dnsserve.NewDirectWriter(u.sock, u.h.keys, client, oob, nil, nil), r, b)
	u.sock.Go(func() {
		if p := u.h.pacer; p != nil {
			p.Turn() // between the loop's batches (pace.go)
		}
		u.h.serveUpdate(w, r)
	})
	return nil
}

// streamUpdate is msgcheck.Reader's Update: it answers the UPDATE b
// (which Check read into wm) that came on a TCP or TLS connection, on
// conn, before the connection's next message is read. Only a failed
// write of a FORMERR reply ends the connection, as the Reader's own error
// replies do; the update's reply is written as miekg/dns's writer wrote
// it (a failure logged at debug).
func (h *Handler) streamUpdate(conn net.Conn, b []byte, wm *msgcheck.Msg) error {
	r := new(dnsupdate.Message)
	if !dnsupdate.Read(b, r) {
		h.rejected(msgcheck.FormErr)
		reply := msgcheck.AppendErrorReply(make([]byte, 2, 66+wm.QEnd), b, wm, dns.RcodeFormatError, h.udpSize)
		binary.BigEndian.PutUint16(reply, uint16(len(reply)-2))
		_, err := conn.Write(reply)
		return err
	}
	bp := streamBufs.Get().(*[]byte)
	sw := &streamWriter{conn: conn, buf: (*bp)[:0]}
	h.serveUpdate(h.updateWriter(sw, r, b), r)
	if cap(sw.buf) <= 4096 { // a rare large one is not kept
		*bp = sw.buf[:0]
		streamBufs.Put(bp)
	}
	return nil
}

// streamBufs are the streamWriters' buffers: a reply is written before
// serveUpdate returns.
var streamBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// serveUpdate answers an UPDATE read from its bytes, as ServeDNS answers
// one unpacked: timed when in the metrics' sample, a panic answered
// SERVFAIL.
func (h *Handler) serveUpdate(w dns.ResponseWriter, r *dnsupdate.Message) {
	if h.metrics.Sample() {
		t0 := time.Now()
		h.serveUpdate1(w, r)
		h.metrics.Latency(time.Since(t0))
		return
	}
	h.serveUpdate1(w, r)
}

func (h *Handler) serveUpdate1(w dns.ResponseWriter, r *dnsupdate.Message) {
	defer func() {
		if p := recover(); p != nil {
			h.answerPanic(w, r.Skeleton(), p)
		}
	}()
	h.upd.Serve(w, r)
}

// streamWriter writes the reply to a message of a TCP (or TLS)
// connection: framed with its length, in one write, as miekg/dns's
// writer does. It has no TSIG of its own (updateWriter's signedWriter
// says the request's verdict).
type streamWriter struct {
	conn   net.Conn
	buf    []byte
	closed bool
}

var _ dns.ResponseWriter = (*streamWriter)(nil)

func (w *streamWriter) LocalAddr() net.Addr  { return w.conn.LocalAddr() }
func (w *streamWriter) RemoteAddr() net.Addr { return w.conn.RemoteAddr() }
func (w *streamWriter) TsigStatus() error    { return nil }
func (w *streamWriter) TsigTimersOnly(bool)  {}
func (w *streamWriter) Hijack()              {}

// Close closes the connection (miekg/dns's server then ends it).
func (w *streamWriter) Close() error {
	w.closed = true
	return w.conn.Close()
}

// WriteMsg packs m and writes it.
func (w *streamWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Write writes b, framed.
func (w *streamWriter) Write(b []byte) (int, error) {
	if len(b) > dns.MaxMsgSize {
		return 0, errTooLarge
	}
	w.buf = binary.BigEndian.AppendUint16(w.buf[:0], uint16(len(b)))
	w.buf = append(w.buf, b...)
	return w.conn.Write(w.buf)
}

// errTooLarge is the error of a reply over 64 KiB.
var errTooLarge = errors.New("dnsfront: reply larger than a DNS message")
