package dnsfront

import (
	"encoding/binary"
	"hash/maphash"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnssec"
	"github.com/poolnsd/poolnsd/handlespace"
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
// zone's apex, which is zone data and is served unsigned to them.

// Signer gives the signing context of a zone: nil when the zone is not
// signed. *dnssec.Signer is one.
type Signer interface {
	Zone(origin string) *dnssec.Zone
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
		req.setEDEText(ednsopt.Other, "cannot sign the answer")
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
	if qt == dns.TypeDNSKEY && apex && (r.Kind == KindNoData || r.Kind == KindStatic) {
		// The DNSKEY RRset is the signer's, whatever the zone file says.
		keys, sigs, err := z.DNSKEY()
		if err != nil {
			return nil, 0, err
		}
		m := replyMsg(req)
		m.Authoritative = true
		m.Answer = append(m.Answer, keys...)
		if do {
			m.Answer = sigs.AppendTo(m.Answer)
		}
		return m, -1, nil
	}
	if !do {
		m, scope := h.buildMsg(req, r)
		return m, scope, nil
	}
	switch qt {
	case dns.TypeRRSIG:
		// RFC 4035 §3.1.5 leaves it open; an online signer cannot list
		// every signature a name may have (Knot refuses too).
		m := replyMsg(req)
		m.Rcode = dns.RcodeRefused
		return m, -1, nil
	case dnssec.TypeNXNAME:
		m := replyMsg(req) // RFC 9824 §3.5: a meta type, not to be asked
		m.Rcode = dns.RcodeFormatError
		return m, -1, nil
	}
	if r.Kind == KindReferral && qt == dns.TypeDS && name == cutName(r) {
		return h.signedDS(req, r, z)
	}
	if qt == dns.TypeNSEC && (r.Kind == KindNoData || r.Kind == KindNXDomain) {
		// The NSEC record a denial at the name carries, as the answer.
		sigs, err := denial(z, r, 0)
		if err != nil {
			return nil, 0, err
		}
		m := replyMsg(req)
		m.Authoritative = true
		m.Answer, err = signRuns(z, m.Answer, r.Chain)
		if err != nil {
			return nil, 0, err
		}
		m.Answer = sigs.AppendTo(append(m.Answer, sigs.NSEC))
		return m, -1, nil
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
	var err error
	if m.Answer, err = signRuns(z, m.Answer[:0:0], m.Answer); err != nil {
		return nil, 0, err
	}
	switch r.Kind {
	case KindNXDomain, KindNoData:
		// Compact denial: NOERROR (RFC 9824 §3.1), the SOA and the NSEC
		// record of the name, each signed.
		m.Rcode = dns.RcodeSuccess
		if m.Ns, err = signRuns(z, m.Ns[:0:0], m.Ns); err != nil {
			return nil, 0, err
		}
		sigs, err := denial(z, r, qt)
		if err != nil {
			return nil, 0, err
		}
		m.Ns = sigs.AppendTo(append(m.Ns, sigs.NSEC))
	case KindReferral:
		// The NS RRset and glue are the child's, unsigned; the DS RRset is
		// ours, signed, or an NSEC proving that there is none (RFC 4035
		// §3.1.4).
		if m.Ns, err = appendDS(z, m.Ns, r); err != nil {
			return nil, 0, err
		}
	default:
		// Additional data of our own is signed; glue below a delegation
		// (an NS or MX target there) is not ours to sign.
		if m.Extra, err = signRunsIn(z, r.Zone, m.Extra[:0:0], m.Extra); err != nil {
			return nil, 0, err
		}
	}
	return m, scope, nil
}

// signedDS answers a DS query at a delegation point: the parent's side
// answers it (RFC 4035 §3.1.4.1), authoritatively: the DS RRset, or NODATA
// with an NSEC proving that there is none.
func (h *Handler) signedDS(req *request, r *Result, z *dnssec.Zone) (*dns.Msg, int, error) {
	m := replyMsg(req)
	m.Authoritative = true
	cut := cutName(r)
	if ds := r.Zone.Nodes[cut].RRs[dns.TypeDS]; len(ds) > 0 {
		var err error
		m.Answer, err = signRuns(z, m.Answer, ds)
		return m, -1, err
	}
	var err error
	if m.Ns, err = signRuns(z, m.Ns, []dns.RR{r.SOA()}); err != nil {
		return nil, 0, err
	}
	sigs, err := z.NoDS(cut, r.NegTTL)
	if err != nil {
		return nil, 0, err
	}
	m.Ns = sigs.AppendTo(append(m.Ns, sigs.NSEC))
	return m, -1, nil
}

// appendDS appends to a referral's authority section the delegation's DS
// RRset and its signatures, or the NSEC record that proves it has none.
func appendDS(z *dnssec.Zone, ns []dns.RR, r *Result) ([]dns.RR, error) {
	cut := cutName(r)
	if ds := r.Zone.Nodes[cut].RRs[dns.TypeDS]; len(ds) > 0 {
		return signRuns(z, ns, ds)
	}
	sigs, err := z.NoDS(cut, r.NegTTL)
	if err != nil {
		return nil, err
	}
	return sigs.AppendTo(append(ns, sigs.NSEC)), nil
}

// cutName is the delegation point of a referral, in lower case.
func cutName(r *Result) string {
	if len(r.Records) == 0 {
		return ""
	}
	return lower(r.Records[0].Header().Name)
}

// denial returns the signed NSEC record of a negative answer about the
// result's final name: a compact NXDOMAIN for a name that does not exist,
// else the types the name has (or, for a pool's names, can answer) less
// qtype.
func denial(z *dnssec.Zone, r *Result, qtype uint16) (*dnssec.Sigs, error) {
	name := lower(r.Name)
	if r.Kind == KindNXDomain {
		return z.NXDomain(name, r.NegTTL)
	}
	return z.NoData(name, qtype, nameTypes(r.Zone, name), r.NegTTL)
}

// nameTypes returns the types a name of zone z that exists has: at a name
// of the zone file (or one a wildcard matches), the types of its node (none
// at an empty non-terminal); at a pool's names, the types that the name
// answers whether or not an element is up now, so that a resolver's cached
// NSEC (RFC 8198) never denies what comes back with the elements.
func nameTypes(z *handlespace.Zone, name string) []uint16 {
	t := classify(z, name)
	var types []uint16
	switch t.kind {
	case kindStatic:
		n := z.Nodes[name]
		if n == nil {
			n = wildcard(z, name)
		}
		if n != nil {
			for typ, rrs := range n.RRs {
				if len(rrs) > 0 {
					types = append(types, typ)
				}
			}
		}
	case kindPool:
		types = append(types, dns.TypeA, dns.TypeAAAA, dns.TypeSRV)
		if t.pool.Spec.HTTPS != "" {
			types = append(types, dns.TypeHTTPS)
		}
		if t.pool.Spec.NAPTR != "" {
			types = append(types, dns.TypeNAPTR)
		}
	case kindService:
		types = append(types, dns.TypeSRV)
		if t.pool.Spec.URI != "" {
			types = append(types, dns.TypeURI)
		}
	case kindElement:
		if t.elem.HasV4() {
			types = append(types, dns.TypeA)
		}
		if t.elem.HasV6() {
			types = append(types, dns.TypeAAAA)
		}
	case kindSVCB:
		types = append(types, svcbType(t.pool))
	}
	slices.Sort(types)
	return types
}

// signRuns appends rrs to out, each RRset (a run of records of one owner
// name and type) followed by its signatures.
func signRuns(z *dnssec.Zone, out, rrs []dns.RR) ([]dns.RR, error) {
	return signRunsIn(z, nil, out, rrs)
}

// signRunsIn is signRuns that, given zone hz, leaves the RRsets at or below
// a delegation of hz unsigned.
func signRunsIn(z *dnssec.Zone, hz *handlespace.Zone, out, rrs []dns.RR) ([]dns.RR, error) {
	for i := 0; i < len(rrs); {
		h := rrs[i].Header()
		j := i + 1
		for j < len(rrs) && rrs[j].Header().Rrtype == h.Rrtype && strings.EqualFold(rrs[j].Header().Name, h.Name) {
			j++
		}
		run := rrs[i:j]
		i = j
		if h.Rrtype == dns.TypeOPT || h.Rrtype == dns.TypeRRSIG ||
			(hz != nil && findCut(hz, lower(h.Name)) != nil) { // glue
			out = append(out, run...)
			continue
		}
		run = sameTTL(run)
		out = append(out, run...)
		sigs, err := z.Sign(run)
		if err != nil {
			return nil, err
		}
		out = sigs.AppendTo(out)
	}
	return out, nil
}

// sameTTL returns an RRset whose records all have the first one's TTL: run
// itself, or copies when a zone file gave its records different TTLs (the
// signed TTL is the first one's, RFC 2181 §5.2).
func sameTTL(run []dns.RR) []dns.RR {
	ttl := run[0].Header().Ttl
	for _, rr := range run[1:] {
		if rr.Header().Ttl != ttl {
			out := make([]dns.RR, len(run))
			for i, rr := range run {
				out[i] = dns.Copy(rr)
				out[i].Header().Ttl = ttl
			}
			return out
		}
	}
	return run
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
	ws.now = req.now
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
	// The answer: ancount records of one RRset, each owner a pointer to
	// the question.
	start := base + headerLen + req.qnameLen() + 4
	end := start
	for range ws.ancount {
		end += 2 + rrFixedLen + int(binary.BigEndian.Uint16(b[end+2+8:]))
	}
	sigs, slot := h.front.answer(s, z.Signing(), req.qname, b[start:end], now)
	if sigs == nil {
		qname := b[base+headerLen : base+headerLen+req.qnameLen()]
		s.set.ResetWire(qname, binary.BigEndian.Uint16(b[start+2:]), binary.BigEndian.Uint32(b[start+2+4:]))
		for off := start; off < end; {
			n := int(binary.BigEndian.Uint16(b[off+2+8:]))
			s.set.Add(b[off+2+rrFixedLen : off+2+rrFixedLen+n])
			off += 2 + rrFixedLen + n
		}
		var err error
		if sigs, err = z.SignSetAt(&s.set, now); err != nil {
			return b, err
		}
		h.front.putAnswer(slot, s, z.Signing(), req.qname, b[start:end], sigs)
	}
	b = sigs.AppendWire(b, ptrQuestion)
	n := ws.ancount
	ancount := n + sigs.Len()
	arcount := 0
	if r.Kind == KindPool && (r.Qtype == dns.TypeSRV || r.Qtype == dns.TypeHTTPS || r.Qtype == dns.TypeSVCB) && len(s.wires) >= n {
		var err error
		var nb []byte
		if nb, arcount, err = h.signedGlue(s, b, req, r, z, now, start, n); err != nil {
			return b[:end], err
		}
		b = nb
	}
	return h.finish(req, b, base, ancount, arcount, ws.scope), nil
}

// signedGlue appends the additional RRsets of an SRV, HTTPS or SVCB answer
// whose n records start at b[start:], one per element of s.wires: each
// target's A RRset, then its AAAA RRset, in policy order, each followed by
// its RRSIGs, those that fit whole with them (RFC 4035 §3.1.1). It returns
// b and the records appended.
func (h *Handler) signedGlue(s *scratch, b []byte, req *request, r *Result, z *dnssec.Zone, now time.Time, start, n int) ([]byte, int, error) {
	tgt := 2 + rrFixedLen + 6 // SRV: priority, weight, port
	if r.Qtype != dns.TypeSRV {
		tgt = svcTarget
	}
	budget := req.maxSize - len(b) - optLen(req)
	poolOff := qnameOffset + req.qnameLen() - (len(r.Pool.Name) + 1)
	arcount := 0
	// The least an RRset and its RRSIGs take: one A record, owner a
	// pointer. Once the room left is less, nothing more fits.
	least := 2 + 14 + z.SigsWireLen(2)
	var own [2 + 64]byte // an RRSIG's owner: the glue's
	off := start
	for _, ew := range s.wires[:n] {
		if budget < least {
			break
		}
		target := off + tgt
		off += 2 + rrFixedLen + int(binary.BigEndian.Uint16(b[off+2+8:]))
		owner := own[:0]
		if target <= maxPtr {
			owner = binary.BigEndian.AppendUint16(owner, uint16(0xC000|target))
		} else {
			owner = append(owner, ew.srv[18:18+ew.labelLen]...)
			owner = binary.BigEndian.AppendUint16(owner, uint16(0xC000|poolOff))
		}
		var err error
		if b, budget, err = h.signedGlueSet(s, b, budget, &arcount, ew, ew.glueA, 14, target, poolOff, owner, z, now); err != nil {
			return nil, 0, err
		}
		if b, budget, err = h.signedGlueSet(s, b, budget, &arcount, ew, ew.glueAAAA, 26, target, poolOff, owner, z, now); err != nil {
			return nil, 0, err
		}
	}
	return b, arcount, nil
}

// signedGlueSet appends one of signedGlue's RRsets (bodies: the records
// without owner, size bytes each, at the name of ew, whose RRSIGs take
// owner), with its RRSIGs, if they fit budget; it returns b, the budget
// left, and adds the records appended to arcount.
func (h *Handler) signedGlueSet(s *scratch, b []byte, budget int, arcount *int, ew *elemWire, bodies []byte, size, target, poolOff int, owner []byte, z *dnssec.Zone, now time.Time) ([]byte, int, error) {
	if len(bodies) == 0 {
		return b, budget, nil
	}
	need := glueSize(ew, bodies, size, target) + z.SigsWireLen(len(owner))
	if need > budget {
		return b, budget, nil
	}
	// The target's name, spelled out in the SRV record.
	name := ew.srv[18:]
	typ := binary.BigEndian.Uint16(bodies)
	sigs := h.front.target(z.Signing(), ew, typ, now)
	if sigs == nil {
		s.set.ResetWire(name, typ, binary.BigEndian.Uint32(bodies[4:]))
		for i := 0; i+size <= len(bodies); i += size {
			s.set.Add(bodies[i+rrFixedLen : i+size])
		}
		var err error
		if sigs, err = z.SignSetAt(&s.set, now); err != nil {
			return nil, 0, err
		}
		h.front.putTarget(z.Signing(), ew, typ, sigs)
	}
	b = appendGlue(b, ew, bodies, size, target, poolOff)
	b = sigs.AppendWire(b, owner)
	*arcount += len(bodies)/size + sigs.Len()
	return b, budget - need, nil
}

// sigFront holds signatures in front of the signer's cache, for the wire
// renderer's RRsets as it has them packed, found by a hash and a
// comparison of bytes where the cache's lookup reads an RRset into
// canonical form, sorts it and builds its key (several times as much for
// an SRV answer of ten). It has two direct-mapped tables (a colliding
// RRset takes the slot over), lock-free and bounded (frontSlots entries
// each, every one holding its key's bytes and signatures that the cache
// may have evicted: a few MiB at most):
//
//   - answers: keyed by the question's name (lower case) and the answer's
//     records in any order (a weighted policy sends one RRset in many
//     orders): the slot is chosen by the sum of the records' hashes, and
//     the records are compared as a whole when in the entry's order, else
//     one by one;
//   - targets: an SRV or HTTPS/SVCB target's address records, keyed by
//     the element's packed material (elemWire) and the type.
//
// A miss, or signatures due to be made again, goes to the cache, and what
// it returns takes the slot. The hash is a cheap one (frontHash): what it
// hashes is the server's own records, and a collision costs a lookup in
// the cache, never a wrong signature.
type sigFront struct {
	seed    uint64
	answers [frontSlots]atomic.Pointer[answerEntry]
	targets [frontSlots]atomic.Pointer[targetEntry]
}

// frontSlots is the number of entries of each table (128 KiB of pointers
// each): several times the RRsets a busy zone's pools answer from, so
// that few collide (bench/dnssec.sh's 100 pools of ten answer about 5 600
// SRV, A and target RRsets; with 4096 slots half of its a and srv
// queries missed the table and read their RRset into canonical form for
// the cache).
const frontSlots = 16384

// maxFrontRecords is the most records of an answer that sigFront keeps
// (its comparison marks them in a 64-bit word); bigger answers go to the
// cache.
const maxFrontRecords = 64

// answerEntry is an answer RRset's signatures by the keys of z. It is
// never changed once stored.
type answerEntry struct {
	z      *dnssec.Zone
	name   string
	ans    string   // the answer section as first sent
	ends   []int    // the end of each record in ans
	hashes []uint64 // the hash of each
	sigs   *dnssec.Sigs
}

// targetEntry is the signatures of an element's address RRset of type
// typ by the keys of z.
type targetEntry struct {
	z    *dnssec.Zone
	ew   *elemWire
	typ  uint16
	sigs *dnssec.Sigs
}

func newSigFront() *sigFront {
	return &sigFront{seed: maphash.Bytes(maphash.MakeSeed(), nil) | 1}
}

// frontHash hashes b, eight bytes at a time (the last eight overlapping
// the word before them).
func frontHash(seed uint64, b []byte) uint64 {
	const m = 0x9E3779B97F4A7C15
	h := (seed ^ uint64(len(b))) * m
	if len(b) < 8 {
		var w uint64
		for i, c := range b {
			w |= uint64(c) << (8 * i)
		}
		return fmix(h ^ w)
	}
	last := binary.LittleEndian.Uint64(b[len(b)-8:])
	for ; len(b) > 8; b = b[8:] {
		h = (h ^ binary.LittleEndian.Uint64(b)) * m
		h ^= h >> 29
	}
	return fmix(h ^ last)
}

// fmix mixes every bit of h into every other (MurmurHash3's finaliser):
// the records of an answer differ in a few bytes, and the slot is taken
// from the low bits of their hashes' sum.
func fmix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xFF51AFD7ED558CCD
	h ^= h >> 33
	h *= 0xC4CEB9FE1A85EC53
	return h ^ h>>33
}

// answer looks up the signatures of the answer section ans (records whose
// owner is a pointer to the question, name) by the keys of z, fresh at
// now. It returns them, or nil and the slot for putAnswer; the records'
// hashes are left in s.hashes.
func (f *sigFront) answer(s *scratch, z *dnssec.Zone, name string, ans []byte, now time.Time) (*dnssec.Sigs, int) {
	hs := s.hashes[:0]
	var sum uint64
	for off := 0; off < len(ans); {
		end := off + 2 + rrFixedLen + int(binary.BigEndian.Uint16(ans[off+2+8:]))
		h := frontHash(f.seed, ans[off:end])
		hs = append(hs, h)
		sum += h
		off = end
	}
	s.hashes = hs
	if len(hs) > maxFrontRecords {
		return nil, -1
	}
	slot := int(fmix(frontHash(f.seed, []byte(name))^sum) % frontSlots)
	e := f.answers[slot].Load()
	if e == nil || e.z != z || len(e.hashes) != len(hs) || e.name != name || !e.sigs.Fresh(now) {
		return nil, slot
	}
	if e.ans == string(ans) {
		return e.sigs, slot // in the same order
	}
	// The same records in another order: each of ours matches one of the
	// entry's not matched yet.
	var used uint64
	off := 0
	for _, h := range hs {
		end := off + 2 + rrFixedLen + int(binary.BigEndian.Uint16(ans[off+2+8:]))
		rec := ans[off:end]
		off = end
		found := false
		for j, eh := range e.hashes {
			if eh != h || used&(1<<j) != 0 {
				continue
			}
			start := 0
			if j > 0 {
				start = e.ends[j-1]
			}
			if e.ans[start:e.ends[j]] == string(rec) {
				used |= 1 << j
				found = true
				break
			}
		}
		if !found {
			return nil, slot
		}
	}
	return e.sigs, slot
}

// putAnswer stores the signatures of ans in slot, after answer said it
// had none (s.hashes as answer left them). It allocates: only on a miss.
func (f *sigFront) putAnswer(slot int, s *scratch, z *dnssec.Zone, name string, ans []byte, sigs *dnssec.Sigs) {
	if slot < 0 {
		return
	}
	e := &answerEntry{z: z, name: name, ans: string(ans), hashes: slices.Clone(s.hashes), sigs: sigs, ends: make([]int, 0, len(s.hashes))}
	for off := 0; off < len(ans); {
		off += 2 + rrFixedLen + int(binary.BigEndian.Uint16(ans[off+2+8:]))
		e.ends = append(e.ends, off)
	}
	f.answers[slot].Store(e)
}

func (f *sigFront) targetSlot(ew *elemWire, typ uint16) *atomic.Pointer[targetEntry] {
	return &f.targets[fmix(f.seed^uint64(uintptr(unsafe.Pointer(ew)))^uint64(typ))%frontSlots]
}

// target returns the signatures of element ew's address RRset of type typ
// by the keys of z, fresh at now; nil if the table has none. The packed
// material of an element never changes (a changed element is packed
// anew), so the pointer is the key.
func (f *sigFront) target(z *dnssec.Zone, ew *elemWire, typ uint16, now time.Time) *dnssec.Sigs {
	e := f.targetSlot(ew, typ).Load()
	if e == nil || e.z != z || e.ew != ew || e.typ != typ || !e.sigs.Fresh(now) {
		return nil
	}
	return e.sigs
}

// putTarget stores the signatures of an element's address RRset.
func (f *sigFront) putTarget(z *dnssec.Zone, ew *elemWire, typ uint16, sigs *dnssec.Sigs) {
	f.targetSlot(ew, typ).Store(&targetEntry{z: z, ew: ew, typ: typ, sigs: sigs})
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
