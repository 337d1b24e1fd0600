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
	t := updateTasks.Get().(*updateTask)
	if !dnsupdate.Read(b, &t.msg) {
		t.release()
		u.h.metrics.Rejected(metrics.RejectFormErr)
		return msgcheck.AppendErrorReply(out, b, wm, dns.RcodeFormatError, u.h.udpSize)
	}
	t.h = u.h
	t.dw.Ready(u.sock, u.h.keys, client, oob, nil, nil)
	t.w = u.h.updateWriter(&t.sw, &t.dw, &t.msg, b)
	u.sock.Go(t.run)
	return nil
}

// updateTask is an UPDATE on its way: the message, the writers of its
// reply and, over UDP, the goroutine's function, kept in updateTasks from
// one update to the next (each update's own were ≈ 0.7 KB of garbage over
// UDP). Its user owns it until the reply is written: Submit returns once
// the registrar is done with what the update asked for, and the writers
// send before they return.
type updateTask struct {
	h   *Handler
	msg dnsupdate.Message
	dw  dnsserve.DirectWriter // UDP's
	st  streamWriter          // TCP's (and TLS's)
	sw  signedWriter
	w   dns.ResponseWriter // &dw, or &sw around it for a signed update
	run func()             // serve, made once
}

// updateTasks holds the updateTasks that are not on their way.
var updateTasks sync.Pool

func init() {
	updateTasks.New = func() any {
		t := new(updateTask)
		t.run = t.serve
		return t
	}
}

// serve is a UDP update's goroutine: a turn of the registrar's, the
// update, and t back to updateTasks.
func (t *updateTask) serve() {
	if p := t.h.pacer; p != nil {
		p.Turn() // between the loop's batches (pace.go)
	}
	t.h.serveUpdate(t.w, &t.msg)
	t.release()
}

// release hands t back to updateTasks, keeping the room of its message
// and writers but nothing of the update's.
func (t *updateTask) release() {
	t.msg.Clear()
	t.sw = signedWriter{}
	if cap(t.st.buf) > maxKeptFrame {
		t.st.buf = nil // a rare large one is not kept
	}
	t.st = streamWriter{buf: t.st.buf[:0]}
	t.h, t.w = nil, nil
	updateTasks.Put(t)
}

// maxKeptFrame bounds the room of a TCP reply that an updateTask keeps.
const maxKeptFrame = 4096

// streamUpdate is msgcheck.Reader's Update: it answers the UPDATE b
// (which Check read into wm) that came on a TCP or TLS connection, on
// conn, before the connection's next message is read. Only a failed
// write of a FORMERR reply ends the connection, as the Reader's own error
// replies do; the update's reply is written as miekg/dns's writer wrote
// it (a failure logged at debug).
func (h *Handler) streamUpdate(conn net.Conn, b []byte, wm *msgcheck.Msg) error {
	t := updateTasks.Get().(*updateTask)
	defer t.release()
	if !dnsupdate.Read(b, &t.msg) {
		h.rejected(msgcheck.FormErr)
		reply := msgcheck.AppendErrorReply(append(t.st.buf[:0], 0, 0), b, wm, dns.RcodeFormatError, h.udpSize)
		binary.BigEndian.PutUint16(reply, uint16(len(reply)-2))
		t.st.buf = reply[:0]
		_, err := conn.Write(reply)
		return err
	}
	t.st.conn = conn
	h.serveUpdate(h.updateWriter(&t.sw, &t.st, &t.msg, b), &t.msg)
	return nil
}

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
	conn net.Conn
	buf  []byte
}

var _ dns.ResponseWriter = (*streamWriter)(nil)

func (w *streamWriter) LocalAddr() net.Addr  { return w.conn.LocalAddr() }
func (w *streamWriter) RemoteAddr() net.Addr { return w.conn.RemoteAddr() }
func (w *streamWriter) TsigStatus() error    { return nil }
func (w *streamWriter) TsigTimersOnly(bool)  {}
func (w *streamWriter) Hijack()              {}

// Close closes the connection (miekg/dns's server then ends it).
func (w *streamWriter) Close() error {
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
