package dnsfront

import (
	"encoding/binary"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/dnsserve"
	"github.com/poolnsd/poolnsd/dnsfront/msgcheck"
	"github.com/poolnsd/poolnsd/dnsfront/protect"
	"github.com/poolnsd/poolnsd/dnssec"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/ednsopt"
	"github.com/poolnsd/poolnsd/internal/rrl"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
	metrics "github.com/poolnsd/poolnsd/metrics/dnsmetrics" // the DNS counters only: see internal/walls
)

// The answering of the UDP loops (package dnsfront/dnsserve runs them: a
// loop per SO_REUSEPORT socket reads a batch of queries with one system
// call and sends their replies with one more). The fast path reads a plain
// query's question and OPT record from its bytes and writes a pool or
// element answer from packed material: no goroutine, no dns.Msg and no
// allocation per query. The rest (static and negative answers, signed
// queries, odd names) goes through the same lookup and renderers with a
// dns.Msg, still on the loop; UPDATE, read from its bytes on the loop,
// waits for its commit on a goroutine of its own, so that it never stalls
// the loop (update.go).

// loopAnswerer answers the datagrams of one UDP loop: the dnsserve.Loop
// that NewLoop returns.
type loopAnswerer struct {
	h    *Handler
	sock *dnsserve.Socket
	s    scratch    // the fast path's working memory
	w    loopWriter // the slow path's ResponseWriter

	// names maps question names (lower case, wire form) to strings, so
	// that the fast path's names cost no allocation once seen; it is
	// emptied when full.
	names   map[string]string
	nameBuf []byte
	// lastWire and lastName are the last plain question name, as it came
	// (wire form, the client's letter case) and as plainName returned it:
	// a name asked again, as a busy pool's is, costs one comparison.
	lastWire []byte
	lastName string

	// found remembers the last pool and element lookups (see lookup):
	// the few names of a busy pool server are looked up once per view.
	found     [foundSize]foundLookup
	foundNext int

	now time.Time // when the batch in hand was read

	detach     func() // from the registrar's Pacer (pace.go); nil: not attached
	grantFirst bool   // Idle's alternation of grants and signatures
}

// foundSize is how many lookups a loop remembers.
const foundSize = 4

// foundLookup is a remembered lookup: what view v held for qname and qtype.
type foundLookup struct {
	v     *handlespace.View
	qname string
	qtype uint16
	res   Result
}

var _ dnsserve.Loop = (*loopAnswerer)(nil)

// maxNames bounds loopAnswerer.names.
const maxNames = 4096

// NewLoop implements dnsserve.Handler: the answering of a UDP loop on s.
func (h *Handler) NewLoop(s *dnsserve.Socket) dnsserve.Loop {
	u := &loopAnswerer{h: h, sock: s, names: make(map[string]string), nameBuf: make([]byte, 0, 256), lastWire: make([]byte, 0, 256), w: loopWriter{SlotWriter: dnsserve.NewSlotWriter(s, h.keys)}}
	u.s = scratch{buf: make([]byte, 0, 512), picks: make([]handlespace.Pick, 0, 64), wires: make([]*elemWire, 0, 64), tally: h.loopTally()}
	u.s.cold = newColdQueue(h, s)
	u.w.cold = u.s.cold
	if h.pacer != nil && s.Paces() {
		u.detach = h.pacer.Attach(s.Wake)
	}
	return u
}

// Serve implements dnsserve.Loop.
func (u *loopAnswerer) Serve(m *udpbatch.Msg, read time.Time, out []byte) []byte {
	u.now = read
	return u.serve(m, out)
}

// Recover implements dnsserve.Loop: a panic while answering is logged and
// answered SERVFAIL, as the handler's ServeDNS does.
func (u *loopAnswerer) Recover(m *udpbatch.Msg, out []byte, p any) []byte {
	return u.internalError(m.Buf, out, p)
}

// Sent implements dnsserve.Loop: the answer tally's latency of the batch,
// then the answers that wait for a signature (coldsign.go) and a turn of
// the registrar's (pace.go): a loop kept busy by queries grants one per
// batch.
func (u *loopAnswerer) Sent(read time.Time) {
	u.s.tally.timeBatch(read)
	u.s.cold.run(&u.s)
	u.grant()
}

// Close implements dnsserve.Loop: it detaches the loop from the
// registrar's turns, sends the answers that wait for a signature and
// gives the tally's shard back.
func (u *loopAnswerer) Close() {
	if u.detach != nil {
		u.detach()
	}
	u.s.cold.drain(&u.s)
	u.s.tally.release()
}

// serve answers one datagram into out and returns the reply, or nil for
// none.
func (u *loopAnswerer) serve(m *udpbatch.Msg, out []byte) []byte {
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
func (u *loopAnswerer) internalError(b, out []byte, p any) (reply []byte) {
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
	if wm.Echoed(b) {
		u.h.metrics.Query(binary.BigEndian.Uint16(b[wm.QEnd-4:]), dns.RcodeServerFailure, false)
	} else {
		u.h.metrics.QueryNoQuestion(dns.RcodeServerFailure, false)
	}
	return reply
}

func (u *loopAnswerer) serveChecked(b []byte, wm *msgcheck.Msg, client netip.AddrPort, m *udpbatch.Msg, out []byte) []byte {
	if u.s.cold != nil {
		u.s.cold.addr, u.s.cold.oob = m.Addr, udpbatch.ReplyOOB(m.OOB)
	}
	if reply, ok := u.fast(b, wm, client, out); ok {
		return reply
	}
	if wm.Opcode() == dns.OpcodeUpdate {
		return u.update(b, wm, client, m.OOB, out) // update.go
	}
	r := wm.Unpacked // a signed query's: Check unpacked it
	if r == nil {
		r = new(dns.Msg)
		if err := r.Unpack(b); err != nil {
			// checkMsg passes only what unpacks; answer as it would.
			u.h.log.Error("internal error: a checked message did not unpack", "err", err)
			return msgcheck.AppendErrorReply(out, b, wm, dns.RcodeFormatError, u.h.udpSize)
		}
	}
	u.w.Reset(out, client, b, r)
	u.h.ServeDNS(&u.w, r)
	return u.w.Reply()
}

// fast answers a plain query from its bytes and reports whether it did: a
// QUERY with one question (an uncompressed name of plain characters, class
// IN) and at most an OPT record of version 0. A pool or element answer is
// written straight into out; the other kinds of results through the
// dns.Msg renderer.
func (u *loopAnswerer) fast(b []byte, wm *msgcheck.Msg, client netip.AddrPort, out []byte) ([]byte, bool) {
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
	case dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, dns.TypeMAILA, dns.TypeMAILB, dnssec.TypeNXNAME:
		return nil, false // the handler's errors
	}
	h := u.h
	req := request{
		rawQ: b[wm.QStart:wm.QEnd], id: wm.ID, rd: wm.Bits&bitRD != 0, cd: wm.Bits&bitCD != 0,
		q:     dns.Question{Name: qname, Qtype: qtype, Qclass: dns.ClassINET},
		qname: qname, client: client, logq: h.queryLog.Load(),
	}
	var qo protect.QueryOpts
	if wm.NOPT == 1 {
		req.edns = edns{on: true, udpSize: wm.OptSize, do: wm.OptDO}
		readOptions(b[wm.OptData:wm.OptData+wm.OptLen], &req.edns, &qo)
	}
	req.setMaxSize(h.udpSize)
	req.Prot, req.Now = h.prot.Load(), u.now
	if req.Prot.Allow != nil || qo.HasCookie || qo.NSID {
		if rcode := req.Admit(&req.client, req.tcp, &qo, &h.cookieCounts); rcode >= 0 {
			u.asMsg(b, wm, &req, out)
			h.errorReply(&u.w, &req, rcode)
			return u.w.Reply(), true
		}
	}
	if h.current != nil && !h.current() {
		u.asMsg(b, wm, &req, out)
		h.holdReply(&u.w, &req)
		return u.w.Reply(), true
	}
	var res Result
	u.lookup(qname, qtype, &res)
	if (res.Kind == KindPool || res.Kind == KindElement) && len(res.Chain) == 0 {
		if z, ok := h.wireSigning(&req, &res); ok {
			if req.Prot.RRL != nil {
				class, name := rrlClass(&res)
				switch req.Limit(&req.client, req.tcp, req.q.Qtype, class, name) {
				case rrl.Drop:
					return nil, true
				case rrl.Slip:
					u.asMsg(b, wm, &req, out)
					h.slip(&u.w, &req)
					return u.w.Reply(), true
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
	return u.w.Reply(), true
}

// asMsg readies a request read from its bytes for the dns.Msg renderer,
// whose reply goes into out: the question keeps the client's letter case.
func (u *loopAnswerer) asMsg(b []byte, wm *msgcheck.Msg, req *request, out []byte) {
	req.q.Name = msgcheck.Presentation(b[wm.QStart : wm.QEnd-4])
	req.rawQ = nil
	u.w.Reset(out, req.client, nil, nil)
}

// lookup finds what the current view holds for a question, as Lookup,
// into r. Pool and element results (no CNAME followed: what the fast path
// answers) are remembered with the view they came from, whose zones are
// immutable, and the pool's view they hold: the same question finds the
// same result while both are current. A change of the pool (a
// registration, a health change) publishes a new pool view in the same
// zone, so the check looks the pool up again by its handle, one map
// lookup where the whole lookup takes several.
func (u *loopAnswerer) lookup(qname string, qtype uint16, r *Result) {
	v := u.h.src.View()
	for i := range u.found {
		f := &u.found[i]
		if f.v == v && f.qtype == qtype && f.qname == qname {
			if f.res.Zone.Pool(f.res.Pool.Handle) != f.res.Pool {
				f.v = nil // the pool changed
				break
			}
			*r = f.res
			return
		}
	}
	Lookup(v, qname, qname, qtype, r)
	if (r.Kind == KindPool || r.Kind == KindElement) && len(r.Chain) == 0 {
		f := &u.found[u.foundNext]
		u.foundNext = (u.foundNext + 1) % foundSize
		f.v, f.qname, f.qtype, f.res = v, qname, qtype, *r
	}
}

// plainName returns the question name (wire form, uncompressed) in lower
// case presentation form, or false when it is compressed or has a byte
// that presentation form escapes (msgcheck.AppendPlainName). Names seen
// before cost no allocation.
func (u *loopAnswerer) plainName(wire []byte) (string, bool) {
	if string(wire) == string(u.lastWire) && len(u.lastWire) > 0 {
		return u.lastName, true
	}
	lowered, ok := msgcheck.AppendPlainName(u.nameBuf[:0], wire)
	if !ok {
		return "", false
	}
	u.nameBuf = lowered[:0]
	s, ok := u.names[string(lowered)]
	if !ok {
		if len(u.names) >= maxNames {
			clear(u.names)
		}
		s = string(lowered)
		u.names[s] = s
	}
	if len(wire) <= cap(u.lastWire) {
		u.lastWire, u.lastName = append(u.lastWire[:0], wire...), s
	}
	return s, true
}

// readOptions reads the OPT options the handler uses (ECS) into e, and
// the ones the protections use (COOKIE, NSID) into qo; checkMsg found them
// well formed.
func readOptions(rd []byte, e *edns, qo *protect.QueryOpts) {
	for len(rd) >= 4 {
		code, n := binary.BigEndian.Uint16(rd), int(binary.BigEndian.Uint16(rd[2:]))
		switch code {
		case dns.EDNS0SUBNET:
			if !e.ecs.on {
				e.ecs = ecsRead(rd[4 : 4+n])
			}
		case dns.EDNS0COOKIE:
			if !qo.HasCookie {
				qo.Cookie, qo.HasCookie = rd[4:4+n], true
			}
		case dns.EDNS0NSID:
			qo.NSID = true
		}
		rd = rd[4+n:]
	}
}
