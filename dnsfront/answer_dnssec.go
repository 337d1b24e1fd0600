package dnsfront

import (
	"encoding/binary"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/lookup"
	"github.com/poolnsd/poolnsd/dnsfront/msgsign"
	"github.com/poolnsd/poolnsd/dnsfront/sigfront"
	"github.com/poolnsd/poolnsd/dnssec"
	"github.com/poolnsd/poolnsd/internal/ednsopt"
)

// Signed answers (DNSSEC, online signing). A query with the DO bit for a
// name of a signed zone takes the dns.Msg renderer: the reply is built as
// without DNSSEC (buildMsg), then every RRset the answer and authority
// sections carry gets its signatures from the zone's signer (which caches
// them by the RRset's content: a pool answer's elements, chosen now, are
// one RRset among the few a pool makes), and negative answers get a
// compact denial (RFC 9824): NOERROR and an NSEC record of the name
// itself. Queries without DO, and queries of unsigned zones, are answered
// as before (the fast path included), but for the DNSKEY RRset at a signed
// zone's apex, which is zone data and is served unsigned to them (and the
// CDS and CDNSKEY RRsets there, made from the keys too).

// Signer gives the signing context of a zone: nil when the zone is not
// signed. *dnssec.Signer is one.
type Signer interface {
	Zone(origin string) *dnssec.Zone
	lookup.Signaller // RFC 9615's signals
}

var _ Signer = (*dnssec.Signer)(nil)

// signerOf returns the signing context of a result's zone, nil when the
// zone is not signed (or there is no signer, or no zone).
func (h *Handler) signerOf(r *Result) *dnssec.Zone {
	if h.sign == nil || r.Zone == nil {
		return nil
	}
	return h.sign.Zone(r.Zone.Origin)
}

// askedDNSSEC reports whether a signed zone answers a query of type qtype
// differently from an unsigned one even without DO: the DNSKEY RRset and
// NSEC records asked for by their type are given (RFC 3225 §3), RRSIG
// queries refused, and the CDS and CDNSKEY RRsets that the signer makes
// are zone data, given as any other.
func askedDNSSEC(qtype uint16) bool {
	switch qtype {
	case dns.TypeDNSKEY, dns.TypeNSEC, dns.TypeRRSIG, dns.TypeCDS, dns.TypeCDNSKEY:
		return true
	}
	return false
}

// writeDNSSEC writes the reply of a lookup result of a signed zone: with
// its signatures and compact denials when do is set, else unsigned (only
// the DNSKEY RRset differs from an unsigned zone's answer). A signature
// that cannot be made gives SERVFAIL: a signed zone's answers never go out
// without their signatures.
func (h *Handler) writeDNSSEC(w dns.ResponseWriter, req *request, r *Result, z *dnssec.Zone, do bool) {
	h.writeDNSSECBuilt(w, req, r, z, do, nil)
}

// writeDNSSECBuilt is writeDNSSEC with the reply as far as buildMsg made
// it before (pre.m not nil: a cold answer that the UDP loop queued), or to
// be kept in pre. On the UDP loop (w its slotWriter), an answer that
// needs a signature the cache lacks is queued, to be signed after the
// batch (coldsign.go): nothing is written now.
func (h *Handler) writeDNSSECBuilt(w dns.ResponseWriter, req *request, r *Result, z *dnssec.Zone, do bool, pre *builtMsg) {
	if q := coldQueueOf(w, req); q != nil {
		var built builtMsg
		m, scope, err := h.signedMsg(req, r, z.CacheOnly(), do, &built)
		if errNotCached(err) {
			q.queueMsg(w, req, r, z, do, &built)
			return
		}
		h.writeSignedMsg(w, req, m, scope, err)
		return
	}
	m, scope, err := h.signedMsg(req, r, z, do, pre)
	h.writeSignedMsg(w, req, m, scope, err)
}

// writeSignedMsg writes signedMsg's reply m, or SERVFAIL for its error.
func (h *Handler) writeSignedMsg(w dns.ResponseWriter, req *request, m *dns.Msg, scope int, err error) {
	if err != nil {
		h.log.Error("cannot sign the answer; answered SERVFAIL", "qname", req.q.Name,
			"qtype", dns.Type(req.q.Qtype).String(), "err", err.Error())
		req.SetEDEText(ednsopt.Other, "cannot sign the answer")
		h.reply(w, req.r, req, dns.RcodeServerFailure)
		return
	}
	if req.edns.on {
		setOPT(m, req, h.udpSize, scope)
	}
	h.write(w, m, req)
}

// builtMsg is a reply as buildMsg made it, kept for signedMsg to sign
// later: the pool's choice is made once.
type builtMsg struct {
	m     *dns.Msg
	scope int
}

// signedMsg builds the reply of writeDNSSEC. pre, when not nil, keeps
// what buildMsg made, or gives it when it has it already.
func (h *Handler) signedMsg(req *request, r *Result, z *dnssec.Zone, do bool, pre *builtMsg) (*dns.Msg, int, error) {
	qt := req.q.Qtype
	name := lower(r.Name)
	apex := len(r.Chain) == 0 && name == z.Origin()
	if apex && (r.Kind == KindNoData || r.Kind == KindStatic) &&
		(qt == dns.TypeDNSKEY || ((qt == dns.TypeCDS || qt == dns.TypeCDNSKEY) && z.PublishesCDS())) {
		// The DNSKEY RRset is the signer's, whatever the zone file says;
		// so are the CDS and CDNSKEY RRsets, made from the keys, unless
		// the zone publishes none (dnssec.cds_off).
		var rrs []dns.RR
		var sigs *dnssec.Sigs
		var err error
		if qt == dns.TypeDNSKEY {
			rrs, sigs, err = z.DNSKEY()
		} else {
			rrs, sigs, err = z.CDS(qt)
		}
		if err != nil {
			return nil, 0, err
		}
		m := replyMsg(req)
		m.Authoritative = true
		m.Answer = append(m.Answer, rrs...)
		if do {
			m.Answer = sigs.AppendTo(m.Answer)
		}
		return m, -1, nil
	}
	switch {
	case qt == dns.TypeRRSIG && r.Kind != KindReferral:
		// With DO or without: an online signer cannot list every
		// signature a name may have (no DNSSEC RFC gives QTYPE RRSIG a
		// rule of its own; Knot's online signer refuses it too). Below a
		// delegation, the referral: the name is the child's.
		m := replyMsg(req)
		m.Rcode = dns.RcodeRefused
		req.SetEDE(ednsopt.NotSupported)
		return m, -1, nil
	case qt == dns.TypeNSEC && (len(r.Chain) > 0 || r.Kind == KindNoData || (r.Kind == KindNXDomain && do)):
		// The NSEC record a denial at the name carries, as the answer:
		// asked for, it is given without DO too (RFC 3225 §3), unsigned;
		// a name that does not exist stays NXDOMAIN without DO. At a
		// CNAME's owner, the alias's own (CNAME RRSIG NSEC: RFC 4035 §2.5
		// puts it beside the CNAME), not the target's, as Knot answers.
		nr := r
		if len(r.Chain) > 0 {
			nr = &Result{Kind: KindNoData, Zone: r.Zone, Name: r.Chain[0].Header().Name, NegTTL: r.Zone.NegTTL}
		}
		sigs, err := msgsign.Denial(z, nr, 0)
		if err != nil {
			return nil, 0, err
		}
		m := replyMsg(req)
		m.Authoritative = true
		m.Answer = append(m.Answer, sigs.NSEC)
		if do {
			m.Answer = sigs.AppendTo(m.Answer)
		}
		return m, -1, nil
	case !do:
		m, scope := h.buildMsg(req, r)
		return m, scope, nil
	}

	var m *dns.Msg
	var scope int
	switch {
	case pre != nil && pre.m != nil:
		c := *pre.m // signing replaces sections, never changes them
		m, scope = &c, pre.scope
	case pre != nil:
		m, scope = h.buildMsg(req, r)
		c := *m
		pre.m, pre.scope = &c, scope
	default:
		m, scope = h.buildMsg(req, r)
	}
	if err := msgsign.Sign(z, r, m, qt); err != nil {
		return nil, 0, err
	}
	return m, scope, nil
}

// The wire renderer signs pool and element answers itself, of every type
// it writes (A, AAAA, SRV, URI, HTTPS, SVCB, NAPTR): it writes the reply as
// without DO, with room left for the answer's signatures, then reads the
// packed records back into RRsets (no allocation), finds their signatures
// in the cache (made on a miss) and appends them packed: the answer's after
// the answer, each additional RRset's (the SRV and HTTPS/SVCB targets'
// addresses, the zone's own data) after it, as many as fit whole with their
// signatures (RFC 4035 §3.1.1).

// wireSigning says how the wire renderer writes a pool or element result
// (without a CNAME chain) for req: unsigned (z nil) or signed by z. ok is
// always true: the wire renderer writes every such result, signed or not
// (the dns.Msg renderer stays the fallback for a name it declines). Without
// DO it costs one test.
func (h *Handler) wireSigning(req *request, r *Result) (z *dnssec.Zone, ok bool) {
	if !req.edns.do {
		return nil, true
	}
	return h.signerOf(r), true
}

// renderWireDNSSEC is renderWire for a pool or element answer of a zone
// that z signs: the answer's records and their RRSIGs, then the additional
// RRsets that fit, each followed by its RRSIGs. It returns false when a
// signature cannot be made (after logging why): the dns.Msg renderer then
// tries, and answers SERVFAIL. With the UDP loop's scratch (s.cold set),
// an answer that needs a signature the cache lacks is queued: it returns
// nil and true (or, the queue full, the reply truncated).
func (h *Handler) renderWireDNSSEC(s *scratch, dst []byte, req *request, r *Result, z *dnssec.Zone) ([]byte, bool) {
	b, ws := h.wireUnsigned(s, dst, req, r, z)
	if ws.ancount <= 0 {
		return h.finish(req, b, len(dst), ws.ancount, ws.arcount, ws.scope), true
	}
	if s.cold != nil {
		// The UDP loop's: from the cache, or queued (a nil reply) to be
		// signed after the batch (coldsign.go).
		nb, err := h.wireSign(s, b, len(dst), req, r, z.CacheOnly(), &ws)
		switch {
		case err == nil:
			return nb, true
		case errNotCached(err):
			return s.cold.queueWire(s, nb, len(dst), req, r, z, &ws), true
		}
		h.log.Error("cannot sign the answer", "qname", req.q.Name, "qtype", dns.Type(r.Qtype).String(), "err", err.Error())
		return nil, false
	}
	b, err := h.wireSign(s, b, len(dst), req, r, z, &ws)
	if err != nil {
		h.log.Error("cannot sign the answer", "qname", req.q.Name, "qtype", dns.Type(r.Qtype).String(), "err", err.Error())
		return nil, false
	}
	return b, true
}

// wireState is what wireSign needs of a signed wire answer that
// wireUnsigned wrote: its section counts and ECS scope, and the time its
// signatures are fresh at.
type wireState struct {
	ancount, arcount, scope int
	now                     time.Time
}

// wireUnsigned appends renderWireDNSSEC's reply up to its answer records,
// unsigned, to dst (the policy's choice made, the elements' packed records
// left in s.wires), with room left for the answer's RRSIGs (their size
// does not depend on what they sign): an answer that fits with them is
// whole, and one that does not is truncated (or, over TCP, cut) as an
// unsigned one would be. ancount <= 0: nothing to sign, finish it.
func (h *Handler) wireUnsigned(s *scratch, dst []byte, req *request, r *Result, z *dnssec.Zone) ([]byte, wireState) {
	rq := *req
	rq.maxSize -= z.SigsWireLen(2)
	rq.noGlue = true
	var ws wireState
	var b []byte
	b, ws.ancount, ws.arcount, ws.scope = h.renderSections(s, dst, &rq, r)
	// The clock is read once per reply (the UDP loop reads it once per
	// batch): it costs more than a signature found in the cache.
	ws.now = req.Now
	if ws.now.IsZero() {
		ws.now = z.Now()
	}
	return b, ws
}

// wireSign appends the answer's RRSIGs to b (the reply from dst[base:]
// on, as wireUnsigned wrote it), then the additional RRsets that fit with
// theirs, and finishes the reply. z signs what the cache lacks, or, a
// CacheOnly zone, returns dnssec.ErrNotCached, b being then as given but
// for what lies past its end.
func (h *Handler) wireSign(s *scratch, b []byte, base int, req *request, r *Result, z *dnssec.Zone, ws *wireState) ([]byte, error) {
	now := ws.now
	n := ws.ancount
	// The answer: n records of one RRset, each owner a pointer to the
	// question. An SRV answer's records are named by their elements'
	// packed material and priority and weight (cheaper to find than its
	// bytes: h.front's Set, which also keeps its signed glue for the
	// order it was first sent in); any other by its bytes.
	bySet := r.Kind == KindPool && r.Qtype == dns.TypeSRV && len(s.wires) >= n
	recs := s.recs[:0]
	start := base + headerLen + req.qnameLen() + 4
	end := start
	for i := range n {
		if bySet {
			recs = append(recs, sigfront.Rec[elemWire]{P: s.wires[i], Aux: binary.BigEndian.Uint32(b[end+2+rrFixedLen:])})
		}
		end += 2 + rrFixedLen + int(binary.BigEndian.Uint16(b[end+2+8:]))
	}
	s.recs = recs
	zs := z.Signing()
	nowN := now.UnixNano()
	var g *sigfront.Signed
	var e *sigfront.SetEntry[elemWire]
	var same bool
	var slot int
	if bySet {
		if e, same, slot = h.front.Set(zs, req.qname, dns.TypeSRV, recs, nowN); e != nil {
			g = e.G
		}
	} else {
		g, slot = h.front.Answer(&s.hashes, zs, req.qname, b[start:end], nowN)
	}
	if g == nil {
		qname := b[base+headerLen : base+headerLen+req.qnameLen()]
		s.set.ResetWire(qname, binary.BigEndian.Uint16(b[start+2:]), binary.BigEndian.Uint32(b[start+2+4:]))
		for off := start; off < end; {
			n := int(binary.BigEndian.Uint16(b[off+2+8:]))
			s.set.Add(b[off+2+rrFixedLen : off+2+rrFixedLen+n])
			off += 2 + rrFixedLen + n
		}
		sigs, err := z.SignSetAt(&s.set, now)
		if err != nil {
			return b, err
		}
		g = sigfront.NewSigned(sigs, sigs.AppendWire(nil, ptrQuestion))
		if bySet {
			e, same = h.front.PutSet(slot, zs, req.qname, dns.TypeSRV, recs, g), true
		} else {
			h.front.PutAnswer(slot, s.hashes, zs, req.qname, b[start:end], g)
		}
	}
	b = append(b, g.Wire...)
	ancount := n + g.Count
	arcount := 0
	if r.Kind == KindPool && (r.Qtype == dns.TypeSRV || r.Qtype == dns.TypeHTTPS || r.Qtype == dns.TypeSVCB) && len(s.wires) >= n {
		gs := glueState{b: b, budget: req.maxSize - len(b) - optLen(req), z: z, now: now, nowN: nowN}
		same = same && base == 0
		if same {
			if tl := e.Tail(gs.budget, nowN); tl != nil {
				return h.finish(req, append(b, tl.Wire...), base, ancount, tl.Count, ws.scope), nil
			}
			gs.until = g.Until
		}
		room, mark := gs.budget, len(b)
		if err := h.signedGlue(s, &gs, req, r, start, n); err != nil {
			return b[:end], err
		}
		b, arcount = gs.b, gs.arcount
		if same {
			e.PutTail(&sigfront.Tail{Room: room, Wire: slices.Clone(b[mark:]), Count: arcount, Until: gs.until})
		}
	}
	return h.finish(req, b, base, ancount, arcount, ws.scope), nil
}

// glueState is signedGlue's: the reply, the room left in it, the records
// appended, the earliest time their signatures are fresh until (Unix
// nanoseconds), and the zone and time they are signed at.
type glueState struct {
	b               []byte
	budget, arcount int
	until           int64
	z               *dnssec.Zone
	now             time.Time
	nowN            int64
}

// signedGlue appends to gs.b the additional RRsets of an SRV, HTTPS or
// SVCB answer whose n records start at gs.b[start:], one per element of
// s.wires: each target's A RRset, then its AAAA RRset, in policy order,
// each followed by its RRSIGs, those that fit whole with them in
// gs.budget bytes (RFC 4035 §3.1.1).
func (h *Handler) signedGlue(s *scratch, gs *glueState, req *request, r *Result, start, n int) error {
	tgt := 2 + rrFixedLen + 6 // SRV: priority, weight, port
	if r.Qtype != dns.TypeSRV {
		tgt = svcTarget
	}
	// The least an RRset and its RRSIGs take: one A record, owner a
	// pointer. Once the room left is less, nothing more fits.
	least := 2 + 14 + gs.z.SigsWireLen(2)
	off := start
	for _, ew := range s.wires[:n] {
		if gs.budget < least {
			break
		}
		target := off + tgt
		off += 2 + rrFixedLen + int(binary.BigEndian.Uint16(gs.b[off+2+8:]))
		if target > maxPtr {
			poolOff := qnameOffset + req.qnameLen() - (len(r.Pool.Name) + 1)
			if err := h.signedGlueFar(s, gs, ew, target, poolOff); err != nil {
				return err
			}
			continue
		}
		if len(ew.glueA()) > 0 {
			if err := h.signedGlueSet(s, gs, ew, ew.glueA(), 14, target); err != nil {
				return err
			}
		}
		if len(ew.glueAAAA()) > 0 {
			if err := h.signedGlueSet(s, gs, ew, ew.glueAAAA(), 26, target); err != nil {
				return err
			}
		}
	}
	return nil
}

// signedGlueSet appends one of signedGlue's RRsets (bodies: the records
// without owner, size bytes each, at the name of ew, which is at offset
// target of the reply) with its RRSIGs, if they fit.
func (h *Handler) signedGlueSet(s *scratch, gs *glueState, ew *elemWire, bodies []byte, size, target int) error {
	need := len(bodies)/size*2 + len(bodies) + gs.z.SigsWireLen(2)
	if need > gs.budget {
		return nil
	}
	typ := binary.BigEndian.Uint16(bodies)
	g := h.front.Target(gs.z.Signing(), ew, typ, gs.nowN)
	if g == nil {
		var err error
		if g, err = h.signTarget(s, ew, bodies, size, typ, gs.z, gs.now); err != nil {
			return err
		}
	}
	gs.b = g.AppendAt(gs.b, target)
	gs.budget -= need
	gs.arcount += g.Count
	gs.until = min(gs.until, g.Until)
	return nil
}

// signedGlueFar is signedGlue's for a target past the reach of
// compression pointers (a TCP answer over 16 KiB): the owners are the
// target's label and a pointer to the pool's name.
func (h *Handler) signedGlueFar(s *scratch, gs *glueState, ew *elemWire, target, poolOff int) error {
	owner := append(ew.srv()[18:18+int(ew.labelLen):18+int(ew.labelLen)], byte(0xC0|poolOff>>8), byte(poolOff))
	for k := range 2 {
		bodies, size := ew.glueA(), 14
		if k == 1 {
			bodies, size = ew.glueAAAA(), 26
		}
		if len(bodies) == 0 {
			continue
		}
		need := glueSize(ew, bodies, size, target) + gs.z.SigsWireLen(len(owner))
		if need > gs.budget {
			continue
		}
		typ := binary.BigEndian.Uint16(bodies)
		g := h.front.Target(gs.z.Signing(), ew, typ, gs.nowN)
		if g == nil {
			var err error
			if g, err = h.signTarget(s, ew, bodies, size, typ, gs.z, gs.now); err != nil {
				return err
			}
		}
		gs.b = appendGlue(gs.b, ew, bodies, size, target, poolOff)
		gs.b = g.Sigs.AppendWire(gs.b, owner)
		gs.budget -= need
		gs.arcount += g.Count
		gs.until = min(gs.until, g.Until)
	}
	return nil
}

// signTarget signs the address RRset of type typ of element ew (bodies:
// its records without owner, size bytes each) and keeps it in h.front
// with its records, their owners to be patched (AppendAt).
func (h *Handler) signTarget(s *scratch, ew *elemWire, bodies []byte, size int, typ uint16, z *dnssec.Zone, now time.Time) (*sigfront.Signed, error) {
	// The target's name, spelled out in the SRV record.
	s.set.ResetWire(ew.srv()[18:], typ, binary.BigEndian.Uint32(bodies[4:]))
	for i := 0; i+size <= len(bodies); i += size {
		s.set.Add(bodies[i+rrFixedLen : i+size])
	}
	sigs, err := z.SignSetAt(&s.set, now)
	if err != nil {
		return nil, err
	}
	g := sigfront.NewSigned(sigs, sigs.AppendWire(appendGlue(nil, ew, bodies, size, 0, 0), []byte{0xC0, 0}))
	h.front.PutTarget(z.Signing(), ew, typ, g)
	return g, nil
}

// ptrQuestion is a compression pointer to the question's name.
var ptrQuestion = []byte{ptrQname >> 8, ptrQname & 0xFF}

// writeWireDNSSEC is writeWire for a signed pool or element answer
// (renderWireDNSSEC), and reports whether it wrote it.
func (h *Handler) writeWireDNSSEC(w dns.ResponseWriter, req *request, r *Result, z *dnssec.Zone) bool {
	if strings.IndexByte(req.q.Name, '\\') >= 0 {
		return false
	}
	s := h.scratch.Get().(*scratch)
	defer h.scratch.Put(s)
	b, ok := h.renderWireDNSSEC(s, s.buf[:0], req, r, z)
	if !ok {
		return false
	}
	s.buf = b
	h.account(w, req, dns.RcodeSuccess, b[2]&(bitTC>>8) != 0, len(b))
	if req.tsig != nil {
		h.writeSigned(w, req, b)
	} else if _, err := w.Write(b); err != nil {
		h.log.Debug("writing reply", "err", err)
	}
	return true
}
