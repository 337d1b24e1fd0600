package dnsfront

import (
	"errors"
	"net/netip"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/dnsserve"
	"github.com/poolnsd/poolnsd/dnsfront/msgcheck"
	"github.com/poolnsd/poolnsd/dnssec"
	"github.com/poolnsd/poolnsd/internal/ednsopt"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
)

// Cold signatures on the UDP loop (issue 14: "signing a new RRset must not
// block other queries on the same socket for longer than one signature").
//
// A UDP loop answers its socket's queries one after another; a signed
// answer whose signatures the cache lacks costs a signature (P-256 about
// 45 µs), so signing it in its turn would make every query behind it in
// the batch, and in the batches behind, wait. So the loop answers from
// the cache only (dnssec.Zone.CacheOnly) and queues the queries whose
// answers need a new signature, with all it has made of them (the pool's
// choice included: a policy chooses once per query), in a coldQueue of its
// own; between batches it signs them, one signature a turn
// (dnssec.Zone.Budget), and sends the replies itself (Socket.WriteBatch,
// several together): one turn after each batch (dnsserve.Loop's Sent), so
// that a flood cannot starve them, and then one turn each time the loop,
// reading without waiting (dnsserve.Idler), finds no datagram: when busy,
// that check is the read of the next batch. Stopping (Close) signs and
// sends the rest, for at most coldDrainTime. A query that comes while a
// signature is being made waits for that one signature, and then for
// nothing but the queries ahead of it that the cache answers.
//
// The sampled query latency (metrics) of a queued query is the time to
// queue it; its reply is counted (account) when it is made.
//
// Why not a pool of signing goroutines: Go's scheduler looks at the
// network (where the loop waits for its socket) only when a P has nothing
// else to run, or every 10 ms from sysmon; signing goroutines that always
// have work keep the loop from running for up to that long (measured:
// with one P, a warm query waited for a median of 126 signatures). The
// queue also keeps each query's work on its loop's P and needs no lock.
//
// When the queue is full (coldQueueMax), the query gets TC=1 at once, as
// the rate limiter's slip does: a resolver asks again over TCP (RFC 7766),
// where the answer is signed on the connection's own goroutine; it does
// not count a truncated reply as a failure of the server, as it would
// SERVFAIL (which it may also cache), nor wait for a timeout, as it would
// for a dropped query. TCP and DNS over TLS sign inline: each connection
// has its goroutine, which blocks on its socket between queries.

// coldQueueMax bounds a loop's queue: some 12 ms of P-256 signatures,
// more than the outstanding queries of a benchmark client (dnsperf's
// default is 100) and about 400 KiB of memory at most.
const coldQueueMax = 256

type coldKind uint8

const (
	coldWire coldKind = iota // a pool or element answer of the wire renderer
	coldMsg                  // a reply of the dns.Msg renderer
)

// coldJob is a queued query: what its reply needs besides signatures.
type coldJob struct {
	kind   coldKind
	client netip.AddrPort
	addr   udpbatch.Addr // client, as the loop sends to it
	oob    []byte        // the reply's control data (its source address)
	req    request
	rawQ   []byte // the storage of req.rawQ
	res    Result
	z      *dnssec.Zone // the signing zone

	// coldWire: the reply up to its answer records, unsigned, and the
	// elements' packed records (for the SRV targets' addresses).
	reply []byte
	wires []*elemWire
	ws    wireState

	// coldMsg: the reply as buildMsg made it.
	do  bool
	pre builtMsg
}

// ColdStats are the counts of a handler's cold-signature queues (its UDP
// loops') since it was made.
type ColdStats struct {
	// Queued: queries whose answers needed a signature the cache lacked,
	// to be answered after their batch.
	Queued uint64
	// Answered: queued queries answered (signed, or SERVFAIL when a
	// signature could not be made).
	Answered uint64
	// Truncated: such queries answered TC=1 at once because the queue was
	// full.
	Truncated uint64
	// Dropped: queued queries left unanswered: the loop stopped before it
	// could sign them (coldDrainTime), or a defect while answering.
	Dropped uint64
}

// coldCounts are a handler's ColdStats, counted by its loops.
type coldCounts struct {
	queued, answered, truncated, dropped atomic.Uint64
}

// ColdStats returns the counts of the UDP loops' cold-signature queues.
func (h *Handler) ColdStats() ColdStats {
	return ColdStats{Queued: h.cold.queued.Load(), Answered: h.cold.answered.Load(),
		Truncated: h.cold.truncated.Load(), Dropped: h.cold.dropped.Load()}
}

// coldDrainTime bounds the signing of the queued answers when a loop
// stops (a full queue is some 12 ms of P-256 signatures; an RSA key's
// take far longer). A variable for tests.
var coldDrainTime = time.Second

var _ dnsserve.Idler = (*loopAnswerer)(nil)

// Pending implements dnsserve.Idler: answers wait for a signature, or
// the registrar's turns for a grant (pace.go).
func (u *loopAnswerer) Pending() bool { return u.coldPending() || u.granting() }

func (u *loopAnswerer) coldPending() bool { return u.s.cold != nil && u.s.cold.n > 0 }

// Idle implements dnsserve.Idler, no datagram waiting: one turn of the
// queue, whose replies go out together when it is empty (or coldOut of
// them are made), or a grant of the registrar's, the two in alternation
// when both wait.
func (u *loopAnswerer) Idle() {
	u.grantFirst = !u.grantFirst
	if (u.grantFirst || !u.coldPending()) && u.grant() {
		return
	}
	if !u.coldPending() {
		return
	}
	q := u.s.cold
	q.turn(&u.s)
	if q.n == 0 {
		q.flush()
	}
}

// coldQueue is one UDP loop's queue of cold answers (a ring), used by its
// loop's goroutine only.
type coldQueue struct {
	h    *Handler
	sock *dnsserve.Socket

	jobs [coldQueueMax]*coldJob
	head int
	n    int

	// addr and oob are the source and control data of the datagram in
	// hand (the loop sets them before answering each): a queued reply
	// goes to that source, from the address the query came to.
	addr udpbatch.Addr
	oob  []byte

	w   dnsserve.SlotWriter // the dns.Msg renderer's writer for queued replies
	buf []byte              // their buffer

	// out holds the replies made in a run, sent together (sendmmsg) when
	// the run ends or it is full: one system call for the replies of a
	// run of several turns (under a flood a run has one). A reply waits in
	// it for at most the signatures of the rest of its run, which goes on
	// only while no query waits.
	out  [coldOut]udpbatch.Msg
	nout int
}

// coldOut is the most replies a run holds before it sends them.
const coldOut = 16

// newColdQueue returns the queue of a loop on sock; nil when h signs no
// zone.
func newColdQueue(h *Handler, sock *dnsserve.Socket) *coldQueue {
	if h.sign == nil {
		return nil
	}
	q := &coldQueue{h: h, sock: sock, w: dnsserve.NewSlotWriter(sock, h.keys), buf: make([]byte, 0, max(h.udpSize, dns.MinMsgSize))}
	for i := range q.out {
		q.out[i].Buf = make([]byte, 0, max(h.udpSize, dns.MinMsgSize))
	}
	return q
}

// loopWriter is a UDP loop's dns.ResponseWriter: the slot writer, and the
// loop's queue for the answers that wait for a signature.
type loopWriter struct {
	dnsserve.SlotWriter
	cold *coldQueue // nil: sign now
}

// coldQueueOf returns the loop's queue when w is a UDP loop's writer and
// req may wait in it (not signed with TSIG: its reply's MAC is the
// writer's), else nil: sign now.
func coldQueueOf(w dns.ResponseWriter, req *request) *coldQueue {
	if sw, ok := w.(*loopWriter); ok && sw.cold != nil && req.tsig == nil && !req.tcp {
		return sw.cold
	}
	return nil
}

// add returns a job to fill, nil when the queue is full.
func (q *coldQueue) add(req *request, r *Result, z *dnssec.Zone, kind coldKind) *coldJob {
	if q.n == len(q.jobs) {
		q.h.cold.truncated.Add(1)
		return nil
	}
	i := (q.head + q.n) % len(q.jobs)
	j := q.jobs[i]
	if j == nil {
		j = new(coldJob)
		q.jobs[i] = j
	}
	q.n++
	q.h.cold.queued.Add(1)
	j.kind, j.client, j.addr, j.z, j.res = kind, req.client, q.addr, z.Signing(), *r
	j.oob = append(j.oob[:0], q.oob...)
	j.req = *req
	if req.rawQ != nil {
		j.rawQ = append(j.rawQ[:0], req.rawQ...)
		j.req.rawQ = j.rawQ
	}
	return j
}

// queueWire queues a wire answer that wireUnsigned wrote (b: the reply
// up to its answer records, which it copies; s.wires: the elements'
// packed records) and returns nil, or when the queue is full the reply
// truncated (TC=1) in b's place.
func (q *coldQueue) queueWire(s *scratch, b []byte, base int, req *request, r *Result, z *dnssec.Zone, ws *wireState) []byte {
	j := q.add(req, r, z, coldWire)
	if j == nil {
		return q.h.finish(req, b, base, -1, 0, ws.scope)
	}
	j.reply = append(j.reply[:0], b[base:]...)
	j.wires = append(j.wires[:0], s.wires...)
	j.ws = *ws
	return nil
}

// queueMsg queues a reply of the dns.Msg renderer as buildMsg made it
// (pre), or when the queue is full writes it truncated (TC=1) to w.
func (q *coldQueue) queueMsg(w dns.ResponseWriter, req *request, r *Result, z *dnssec.Zone, do bool, pre *builtMsg) {
	j := q.add(req, r, z, coldMsg)
	if j == nil {
		m := replyMsg(req)
		m.Truncated = true
		if req.edns.on {
			setOPT(m, req, q.h.udpSize, -1)
		}
		q.h.write(w, m, req)
		return
	}
	j.do, j.pre = do, *pre
}

// run makes one turn of the queue after a batch and sends the replies
// made since the last batch (more turns follow in Idle while no datagram
// waits). A nil queue has nothing to do.
func (q *coldQueue) run(s *scratch) {
	if q == nil || q.n == 0 && q.nout == 0 {
		return // nothing queued, nothing to send
	}
	if q.n > 0 {
		q.turn(s)
	}
	q.flush()
}

// drain signs and sends the queued answers, for at most coldDrainTime,
// and drops the rest: the loop is stopping.
func (q *coldQueue) drain(s *scratch) {
	if q == nil {
		return
	}
	defer q.flush()
	deadline := time.Now().Add(coldDrainTime)
	for q.n > 0 && time.Now().Before(deadline) {
		q.turn(s)
	}
	q.h.cold.dropped.Add(uint64(q.n))
	for ; q.n > 0; q.n-- {
		j := q.jobs[q.head]
		q.head = (q.head + 1) % len(q.jobs)
		j.res, j.pre, j.req = Result{}, builtMsg{}, request{}
		clear(j.wires)
	}
}

// turn makes at most one signature for the first queued answer, and
// sends it if that was the last it needed (an answer may need several:
// a denial's SOA and NSEC, an SRV answer's targets' addresses; it keeps
// its place for the next turn). A panic (a defect) costs the loop nothing
// but that answer, as in serveFrom.
func (q *coldQueue) turn(s *scratch) {
	j := q.jobs[q.head]
	done := true
	defer func() {
		if p := recover(); p != nil {
			q.h.log.Error("internal error answering query", "panic", p, "stack", string(debug.Stack()))
			q.h.cold.dropped.Add(1)
			done = true
		}
		if done {
			q.head = (q.head + 1) % len(q.jobs)
			q.n--
			j.res, j.pre, j.req = Result{}, builtMsg{}, request{} // let the view go
			clear(j.wires)
		}
	}()
	done = q.answer(s, j)
}

// answer writes j's reply, signing at most one RRset, and reports
// whether it did (false: it needs another signature).
func (q *coldQueue) answer(s *scratch, j *coldJob) bool {
	h := q.h
	budget := 1
	z := j.z.Budget(&budget)
	q.w.Reset(q.buf[:0], j.client, nil, nil)
	switch j.kind {
	case coldMsg:
		m, scope, err := h.signedMsg(&j.req, &j.res, z, j.do, &j.pre)
		if errNotCached(err) {
			return false
		}
		h.writeSignedMsg(&q.w, &j.req, m, scope, err)
		q.send(j, q.w.Reply())
	case coldWire:
		b := append(q.buf[:0], j.reply...)
		s.wires = append(s.wires[:0], j.wires...)
		b, err := h.wireSign(s, b, 0, &j.req, &j.res, z, &j.ws)
		if errNotCached(err) {
			return false
		}
		if err != nil {
			h.log.Error("cannot sign the answer; answered SERVFAIL", "qname", j.req.q.Name,
				"qtype", dns.Type(j.req.q.Qtype).String(), "err", err.Error())
			req := &j.req
			if req.rawQ != nil {
				req.q.Name = msgcheck.Presentation(req.rawQ[:len(req.rawQ)-4]) // as the client wrote it
				req.rawQ = nil
			}
			req.SetEDEText(ednsopt.Other, "cannot sign the answer")
			h.reply(&q.w, req.r, req, dns.RcodeServerFailure)
			q.send(j, q.w.Reply())
			return true
		}
		q.buf = b[:0]
		h.account(nil, &j.req, dns.RcodeSuccess, b[2]&(bitTC>>8) != 0, len(b))
		q.send(j, b)
	}
	return true
}

// send adds j's reply (nil: none) to the replies of the run, and sends
// them when they are coldOut.
func (q *coldQueue) send(j *coldJob, reply []byte) {
	if reply == nil {
		q.h.cold.dropped.Add(1)
		return
	}
	q.h.cold.answered.Add(1)
	if q.nout == len(q.out) {
		q.flush()
	}
	m := &q.out[q.nout]
	m.Buf = append(m.Buf[:0], reply...)
	m.Addr = j.addr
	m.OOB = append(m.OOB[:0], j.oob...)
	q.nout++
}

// flush sends the replies of the run.
func (q *coldQueue) flush() {
	if q.nout == 0 {
		return
	}
	if err := q.sock.WriteBatch(q.out[:q.nout]); err != nil {
		q.h.log.Debug("writing replies", "err", err)
	}
	for i := range q.out[:q.nout] {
		if cap(q.out[i].Buf) > 4*max(q.h.udpSize, dns.MinMsgSize) {
			q.out[i].Buf = make([]byte, 0, max(q.h.udpSize, dns.MinMsgSize)) // do not keep a big one
		}
	}
	q.nout = 0
}

// errNotCached reports whether err is the cache-only zone's "sign it
// later".
func errNotCached(err error) bool { return errors.Is(err, dnssec.ErrNotCached) }
