package dnsfront

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/msgcheck"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/ednsopt"
	"github.com/poolnsd/poolnsd/internal/rrl"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
	metrics "github.com/poolnsd/poolnsd/metrics/dnsmetrics" // the DNS counters only: see internal/walls
)

// The UDP serving loop: one goroutine per SO_REUSEPORT socket reads a batch
// of queries with one system call (recvmmsg), answers each into a buffer of
// its own and sends the batch's replies with one more (sendmmsg). The fast
// path reads a plain query's question and OPT record from its bytes and
// writes a pool or element answer from packed material: no goroutine, no
// dns.Msg and no allocation per query. The rest (static and negative
// answers, signed queries, odd names) goes through the same lookup and
// renderers with a dns.Msg, still on the loop; UPDATE, which waits for its
// commit, gets a goroutine of its own, so that it never stalls the loop.

// udpBatch is the most datagrams moved per system call (Knot's is 10).
const udpBatch = 16

// udpServer serves one UDP socket.
type udpServer struct {
	h    *Handler
	conn *net.UDPConn
	bc   *udpbatch.Conn
	rx   []udpbatch.Msg // queries read
	tx   []udpbatch.Msg // replies to send, each in a buffer of its own
	s    scratch        // the fast path's working memory
	w    slotWriter     // the slow path's ResponseWriter

	// names maps question names (lower case, wire form) to strings, so
	// that the fast path's names cost no allocation once seen; it is
	// emptied when full.
	names   map[string]string
	nameBuf []byte

	now time.Time // when the batch in hand was read

	stopping atomic.Bool
	done     chan struct{}
	updates  sync.WaitGroup // UPDATEs in flight
}

// maxNames bounds udpServer.names.
const maxNames = 4096

func newUDPServer(h *Handler, conn *net.UDPConn) (*udpServer, error) {
	bc, err := udpbatch.New(conn, udpBatch)
	if err != nil {
		return nil, err
	}
	u := &udpServer{h: h, conn: conn, bc: bc, done: make(chan struct{}),
		rx: make([]udpbatch.Msg, udpBatch), tx: make([]udpbatch.Msg, udpBatch),
		names: make(map[string]string), nameBuf: make([]byte, 0, 256)}
	for i := range u.rx {
		u.rx[i].Buf = make([]byte, maxUDPQuery)
		u.rx[i].OOB = make([]byte, 0, udpbatch.OOBSize)
		u.tx[i].Buf = make([]byte, 0, max(h.udpSize, dns.MinMsgSize))
	}
	u.s = scratch{buf: make([]byte, 0, 512), picks: make([]handlespace.Pick, 0, 64), wires: make([]*elemWire, 0, 64), tally: h.loopTally()}
	u.w.h, u.w.local = h, conn.LocalAddr()
	u.s.cold = newColdQueue(h, conn)
	u.w.cold = u.s.cold
	return u, nil
}

// run serves until stop; it returns the error that ended it, if any
// other than stopping.
func (u *udpServer) run() error {
	defer close(u.done)
	defer u.s.tally.release()
	defer u.s.cold.drain(&u.s)
	for {
		u.s.cold.run(&u.s) // answers that wait for a signature (coldsign.go)
		for i := range u.rx {
			u.rx[i].Buf = u.rx[i].Buf[:cap(u.rx[i].Buf)]
		}
		n, err := u.bc.ReadBatch(u.rx)
		u.now = time.Now()
		if err != nil {
			if u.stopping.Load() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		k := 0
		for i := 0; i < n; {
			i, k = u.serveFrom(i, n, k)
		}
		if k > 0 {
			if _, err := u.bc.WriteBatch(u.tx[:k]); err != nil {
				u.h.log.Debug("writing replies", "err", err)
			}
			for i := 0; i < k; i++ {
				if cap(u.tx[i].Buf) > 4*max(u.h.udpSize, dns.MinMsgSize) {
					// A big slow-path reply (packed past the buffer): do
					// not keep its memory.
					u.tx[i].Buf = make([]byte, 0, max(u.h.udpSize, dns.MinMsgSize))
				}
			}
		}
		u.s.tally.timeBatch(u.now)
	}
}

// stop makes run return after the batch in hand, and waits for it and for
// the UPDATEs in flight (until ctx's deadline, given as t).
func (u *udpServer) stop(deadline time.Time) {
	u.stopping.Store(true)
	u.conn.SetReadDeadline(time.Now()) // wakes a blocked read
	wait := func(f func()) bool {
		c := make(chan struct{})
		go func() { f(); close(c) }()
		select {
		case <-c:
			return true
		case <-time.After(time.Until(deadline)):
			return false
		}
	}
	wait(func() { <-u.done })
	wait(u.updates.Wait)
	u.conn.Close()
}

// serveFrom answers datagrams i to n-1 of the batch read into u.rx, the
// replies into u.tx from k on, and returns where it stopped (n) and the
// replies' count. A panic while answering (a defect) costs the loop
// nothing but its datagram: it is logged and answered SERVFAIL, as the
// handler's ServeDNS does, and serveFrom returns the next datagram for
// the caller to go on. (One deferred call per batch, not per datagram.)
func (u *udpServer) serveFrom(i, n, k int) (next, replies int) {
	defer func() {
		if p := recover(); p != nil {
			m := &u.rx[i]
			if reply := u.internalError(m.Buf, u.tx[k].Buf[:0], p); reply != nil {
				u.tx[k].Buf, u.tx[k].Addr, u.tx[k].OOB = reply, m.Addr, udpbatch.ReplyOOB(m.OOB)
				k++
			}
			next, replies = i+1, k
		}
	}()
	for ; i < n; i++ {
		m := &u.rx[i]
		reply := u.serve(m, u.tx[k].Buf[:0])
		if reply == nil {
			continue
		}
		u.tx[k].Buf, u.tx[k].Addr, u.tx[k].OOB = reply, m.Addr, udpbatch.ReplyOOB(m.OOB)
		k++
	}
	return i, k
}

// serve answers one datagram into out and returns the reply, or nil for
// none.
func (u *udpServer) serve(m *udpbatch.Msg, out []byte) []byte {
	h := u.h
	b := m.Buf
	var wm msgcheck.Msg
	switch msgcheck.Check(b, &wm) {
	case msgcheck.Drop:
		h.metrics.Rejected(metrics.RejectIgnored)
		return nil
	case msgcheck.FormErr:
		h.metrics.Rejected(metrics.RejectFormErr)
		return msgcheck.AppendErrorReply(out, b, &wm, dns.RcodeFormatError, h.udpSize)
	case msgcheck.NotImp:
		h.metrics.Rejected(metrics.RejectNotImp)
		return msgcheck.AppendErrorReply(out, b, &wm, dns.RcodeNotImplemented, h.udpSize)
	}
	client := m.Addr.AddrPort()
	if h.metrics.Sample() {
		t0 := time.Now()
		reply := u.serveChecked(b, &wm, client, m, out)
		h.metrics.Latency(time.Since(t0))
		return reply
	}
	return u.serveChecked(b, &wm, client, m, out)
}

// internalError logs a panic p of the loop while it answered b, and
// returns the SERVFAIL reply (appended to out), with Extended DNS Error 0
// (Other) when the query had an OPT record; nil (dropped) when b is not a
// query that checkMsg passes.
func (u *udpServer) internalError(b, out []byte, p any) (reply []byte) {
	u.h.log.Error("internal error answering query", "panic", p, "stack", string(debug.Stack()))
	defer func() {
		if recover() != nil {
			reply = nil // checkMsg itself failed: drop the datagram
		}
	}()
	var wm msgcheck.Msg
	if msgcheck.Check(b, &wm) != msgcheck.Serve {
		return nil
	}
	reply = msgcheck.AppendErrorReply(out, b, &wm, dns.RcodeServerFailure, u.h.udpSize)
	if wm.OptOK {
		if r, err := ednsopt.AppendEDE(reply, len(reply)-2, ednsopt.Other, "internal error"); err == nil {
			reply = r
		}
	}
	if wm.QEnd != 0 {
		u.h.metrics.Query(binary.BigEndian.Uint16(b[wm.QEnd-4:]), dns.RcodeServerFailure, false)
	} else {
		u.h.metrics.QueryNoQuestion(dns.RcodeServerFailure, false)
	}
	return reply
}

func (u *udpServer) serveChecked(b []byte, wm *msgcheck.Msg, client netip.AddrPort, m *udpbatch.Msg, out []byte) []byte {
	if u.s.cold != nil {
		u.s.cold.oob = udpbatch.ReplyOOB(m.OOB)
	}
	if reply, ok := u.fast(b, wm, client, out); ok {
		return reply
	}
	r := new(dns.Msg)
	if err := r.Unpack(b); err != nil {
		// checkMsg passes only what unpacks; answer as it would.
		u.h.log.Error("internal error: a checked message did not unpack", "err", err)
		return msgcheck.AppendErrorReply(out, b, wm, dns.RcodeFormatError, u.h.udpSize)
	}
	if r.Opcode == dns.OpcodeUpdate {
		u.update(r, b, client, m.OOB)
		return nil
	}
	u.w.reset(out, client, b, r)
	u.h.ServeDNS(&u.w, r)
	return u.w.reply
}

// fast answers a plain query from its bytes and reports whether it did: a
// QUERY with one question (an uncompressed name of plain characters, class
// IN) and at most an OPT record of version 0. A pool or element answer is
// written straight into out; the other kinds of results through the
// dns.Msg renderer.
func (u *udpServer) fast(b []byte, wm *msgcheck.Msg, client netip.AddrPort, out []byte) ([]byte, bool) {
	if wm.Opcode() != dns.OpcodeQuery || wm.Others || (wm.NOPT == 1 && wm.OptVersion != 0) {
		return nil, false
	}
	qname, ok := u.plainName(b[wm.QStart : wm.QEnd-4])
	if !ok {
		return nil, false
	}
	qtype := binary.BigEndian.Uint16(b[wm.QEnd-4:])
	if binary.BigEndian.Uint16(b[wm.QEnd-2:]) != dns.ClassINET {
		return nil, false
	}
	switch qtype {
	case dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, dns.TypeMAILA, dns.TypeMAILB:
		return nil, false // the handler's errors
	}
	h := u.h
	req := request{
		rawQ: b[wm.QStart:wm.QEnd], id: wm.ID, rd: wm.Bits&bitRD != 0, cd: wm.Bits&bitCD != 0,
		q:     dns.Question{Name: qname, Qtype: qtype, Qclass: dns.ClassINET},
		qname: qname, client: client, logq: h.queryLog.Load(),
	}
	var qo queryOpts
	if wm.NOPT == 1 {
		req.edns = edns{on: true, udpSize: wm.OptSize, do: wm.OptDO}
		readOptions(b[wm.OptData:wm.OptData+wm.OptLen], &req.edns, &qo)
	}
	req.setMaxSize(h.udpSize)
	req.prot, req.now = h.prot.Load(), u.now
	if req.prot.Allow != nil || qo.hasCookie || qo.nsid {
		if rcode := h.admit(&req, &qo); rcode >= 0 {
			u.asMsg(b, wm, &req, out)
			h.errorReply(&u.w, &req, rcode)
			return u.w.reply, true
		}
	}
	if h.current != nil && !h.current() {
		u.asMsg(b, wm, &req, out)
		h.holdReply(&u.w, &req)
		return u.w.reply, true
	}
	var res Result
	Lookup(h.src.View(), qname, qname, qtype, &res)
	if (res.Kind == KindPool || res.Kind == KindElement) && len(res.Chain) == 0 {
		if z, ok := h.wireSigning(&req, &res); ok {
			if req.prot.RRL != nil {
				class, name := rrlClass(&res)
				switch h.limit(&req, class, name) {
				case rrl.Drop:
					return nil, true
				case rrl.Slip:
					u.asMsg(b, wm, &req, out)
					h.slip(&u.w, &req)
					return u.w.reply, true
				}
			}
			var reply []byte
			if z == nil {
				reply = h.renderWire(&u.s, out, &req, &res)
			} else {
				reply, ok = h.renderWireDNSSEC(&u.s, out, &req, &res, z)
			}
			if ok {
				if reply == nil {
					return nil, true // queued: signed after the batch (coldsign.go)
				}
				h.account(nil, &req, dns.RcodeSuccess, reply[2]&(bitTC>>8) != 0, len(reply))
				return reply, true
			}
		}
	}
	// Another kind, or a signed answer that the wire renderer does not
	// write: written as a dns.Msg.
	u.asMsg(b, wm, &req, out)
	if len(res.Chain) == 0 {
		res.Name = req.q.Name
	}
	h.answer(&u.w, &req, &res)
	return u.w.reply, true
}

// asMsg readies a request read from its bytes for the dns.Msg renderer,
// whose reply goes into out: the question keeps the client's letter case.
func (u *udpServer) asMsg(b []byte, wm *msgcheck.Msg, req *request, out []byte) {
	req.q.Name = presentation(b[wm.QStart : wm.QEnd-4])
	req.rawQ = nil
	u.w.reset(out, req.client, nil, nil)
}

// plainName returns the question name (wire form, uncompressed) in lower
// case presentation form, or false when it is compressed or has a byte
// that presentation form escapes. Names seen before cost no allocation.
func (u *udpServer) plainName(wire []byte) (string, bool) {
	lowered := u.nameBuf[:0]
	for i := 0; i < len(wire); {
		n := int(wire[i])
		if n == 0 {
			break
		}
		if n&0xC0 != 0 {
			return "", false // a compression pointer in the question
		}
		for _, c := range wire[i+1 : i+1+n] {
			l := nameByte[c]
			if l == 0 {
				return "", false
			}
			lowered = append(lowered, l)
		}
		lowered = append(lowered, '.')
		i += 1 + n
	}
	if len(lowered) == 0 {
		lowered = append(lowered, '.')
	}
	u.nameBuf = lowered[:0]
	if s, ok := u.names[string(lowered)]; ok {
		return s, true
	}
	if len(u.names) >= maxNames {
		clear(u.names)
	}
	s := string(lowered)
	u.names[s] = s
	return s, true
}

// nameByte maps a byte of a label to itself in lower case, or to 0 when
// presentation form escapes it (miekg/dns escapes the same ones).
var nameByte = func() (t [256]byte) {
	for c := '!'; c <= '~'; c++ {
		t[c] = byte(c)
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = byte(c + 'a' - 'A')
	}
	for _, c := range ".\\\"();@'$" {
		t[c] = 0
	}
	return t
}()

// presentation writes a wire-form name of plain characters (see
// plainName) in presentation form, as written.
func presentation(wire []byte) string {
	out := make([]byte, 0, len(wire))
	for i := 0; i < len(wire) && wire[i] != 0; i += 1 + int(wire[i]) {
		out = append(out, wire[i+1:i+1+int(wire[i])]...)
		out = append(out, '.')
	}
	if len(out) == 0 {
		return "."
	}
	return string(out)
}

// readOptions reads the OPT options the handler uses (ECS) into e, and
// the ones the protections use (COOKIE, NSID) into qo; checkMsg found them
// well formed.
func readOptions(rd []byte, e *edns, qo *queryOpts) {
	for len(rd) >= 4 {
		code, n := binary.BigEndian.Uint16(rd), int(binary.BigEndian.Uint16(rd[2:]))
		switch code {
		case dns.EDNS0SUBNET:
			if !e.ecs.on {
				e.ecs = ecsRead(rd[4 : 4+n])
			}
		case dns.EDNS0COOKIE:
			if !qo.hasCookie {
				qo.cookie, qo.hasCookie = rd[4:4+n], true
			}
		case dns.EDNS0NSID:
			qo.nsid = true
		}
		rd = rd[4+n:]
	}
}

// update applies an UPDATE on a goroutine of its own: it waits for its
// commit, which must not stall the loop. Its reply is written straight to
// the socket.
func (u *udpServer) update(r *dns.Msg, b []byte, client netip.AddrPort, oob []byte) {
	w := &directWriter{slotWriter: slotWriter{h: u.h, local: u.conn.LocalAddr()}, conn: u.conn}
	w.reset(nil, client, b, r)
	w.oob = append([]byte(nil), udpbatch.ReplyOOB(oob)...)
	u.updates.Add(1)
	go func() {
		defer u.updates.Done()
		u.h.ServeDNS(w, r)
	}()
}

// slotWriter is the dns.ResponseWriter of the loop's slow path: it keeps
// the reply in the buffer of its slot of the batch. It verifies and signs
// TSIG as miekg/dns's server does.
type slotWriter struct {
	h      *Handler
	local  net.Addr
	buf    []byte
	reply  []byte
	client netip.AddrPort

	tsigStatus error
	tsigMAC    string // the request's MAC, which a signed reply covers
	timersOnly bool

	cold *coldQueue // the loop's (coldsign.go); nil: sign now
}

var _ dns.ResponseWriter = (*slotWriter)(nil)

// reset prepares w for a query from client, whose reply goes into buf. raw
// and r are the query's bytes and unpacked form when it may be signed.
func (w *slotWriter) reset(buf []byte, client netip.AddrPort, raw []byte, r *dns.Msg) {
	w.buf, w.reply, w.client = buf, nil, client
	w.tsigStatus, w.tsigMAC, w.timersOnly = nil, "", false
	if r != nil {
		if t := r.IsTsig(); t != nil {
			// miekg/dns verifies in place (the ID becomes the TSIG's
			// original ID, ARCOUNT loses the TSIG): verify a copy, so
			// that the datagram stays as it came.
			raw = append([]byte(nil), raw...)
			w.tsigStatus = dns.TsigVerifyWithProvider(raw, w.h.keys, "", false)
			w.tsigMAC = t.MAC
		}
	}
}

func (w *slotWriter) LocalAddr() net.Addr  { return w.local }
func (w *slotWriter) RemoteAddr() net.Addr { return net.UDPAddrFromAddrPort(w.client) }
func (w *slotWriter) Close() error         { return nil }
func (w *slotWriter) TsigStatus() error    { return w.tsigStatus }
func (w *slotWriter) TsigTimersOnly(b bool) {
	w.timersOnly = b
}
func (w *slotWriter) Hijack() {}

// WriteMsg packs m (signed when it carries a TSIG record) into the slot.
func (w *slotWriter) WriteMsg(m *dns.Msg) error {
	if m.IsTsig() != nil {
		data, mac, err := dns.TsigGenerateWithProvider(m, w.h.keys, w.tsigMAC, w.timersOnly)
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
func (w *slotWriter) Write(b []byte) (int, error) {
	w.reply = append(w.buf[:0], b...)
	return len(b), nil
}

// directWriter writes its reply to the socket at once: an UPDATE's, from
// its own goroutine.
type directWriter struct {
	slotWriter
	conn *net.UDPConn
	oob  []byte
}

func (w *directWriter) WriteMsg(m *dns.Msg) error {
	if err := w.slotWriter.WriteMsg(m); err != nil {
		return err
	}
	return w.send()
}

func (w *directWriter) Write(b []byte) (int, error) {
	w.slotWriter.Write(b)
	return len(b), w.send()
}

func (w *directWriter) send() error {
	_, _, err := w.conn.WriteMsgUDPAddrPort(w.reply, w.oob, w.client)
	return err
}
