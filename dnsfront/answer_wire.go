package dnsfront

import (
	"encoding/binary"
	"slices"
	"strings"
	"unique"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/poolrr"
	"github.com/poolnsd/poolnsd/handlespace"
)

// The wire renderer writes pool and element answers straight into a byte buffer
// from material packed once per pool view (see poolWire), patching only what
// differs per query: the ID and flags, the question as the client wrote it,
// the policy order and the compression pointers. Every owner name in the
// answer is a compression pointer into the question, so the answer carries
// the client's letter case (RFC 4343 and resolvers' 0x20 checks).

const (
	headerLen   = 12
	rrFixedLen  = 10 // type, class, TTL, RDLENGTH
	qnameOffset = headerLen
	ptrQname    = 0xC000 | qnameOffset
	maxPtr      = 0x3FFF // compression pointers reach the first 16 KiB only
)

// elemWire is one element's packed material. Its records are parts of
// one buffer, found by where each part ends (a, aaaa, srv, glueA,
// glueAAAA, uri), not six slices: a registrar of a million queried
// elements keeps a million of these, and each slice was a pointer for the
// garbage collector to follow at every cycle (and 24 bytes to scan). The
// buffer lies in the same allocation, after the struct (newElemWire).
type elemWire struct {
	// MemoHead makes it its own entry in the element's memo (see
	// handlespace.ElementMemo): no box around it.
	handlespace.MemoHead
	buf       []byte         // the parts, one after the other; in the same allocation but for the largest
	end       [6]uint32      // where each part ends in buf
	na, naaaa uint16         // how many RRs a and aaaa hold
	labelLen  int32          // length of the SRV target's first label, with its length byte
	order     poolrr.Weights // what its SRV and URI priority and weight depend on
	svc       *poolrr.Svc    // HTTPS/SVCB and U-NAPTR records (answer_svcb.go), nil if the pool has none
	tally     tallyRef       // its slot in the answer tally (tally.go)
}

// The parts of an elemWire's buffer, in order.
const (
	partA = iota
	partAAAA
	partSRV
	partGlueA
	partGlueAAAA
	partURI
)

// part returns part i of the buffer, its capacity ending with it.
func (w *elemWire) part(i int) []byte {
	var start uint32
	if i > 0 {
		start = w.end[i-1]
	}
	return w.buf[start:w.end[i]:w.end[i]]
}

// size returns the length of part i, from the ends alone (no slice, no
// bounds check: the answer loops size every element before they copy).
func (w *elemWire) size(i int) int {
	var start uint32
	if i > 0 {
		start = w.end[i-1]
	}
	return int(w.end[i] - start)
}

// a returns the A RRs, owner = pointer to the question name.
func (w *elemWire) a() []byte { return w.part(partA) }

// aaaa returns the AAAA RRs, owner = pointer to the question name.
func (w *elemWire) aaaa() []byte { return w.part(partAAAA) }

// srv returns the SRV RR, owner pointer to qname, target in full;
// priority and weight patched per query.
func (w *elemWire) srv() []byte { return w.part(partSRV) }

// glueA returns the A RRs without owner: type … RDATA, 14 bytes each.
func (w *elemWire) glueA() []byte { return w.part(partGlueA) }

// glueAAAA returns the AAAA RRs without owner, 26 bytes each.
func (w *elemWire) glueAAAA() []byte { return w.part(partGlueAAAA) }

// uri returns the URI RR, owner pointer to qname; priority patched per
// query.
func (w *elemWire) uri() []byte { return w.part(partURI) }

// poolWire is what a pool view's answers need besides the elements' own
// packed records, which live on the elements (handlespace.ElementMemo) and outlive
// the view: a change of one element packs that element again, not the
// pool, and building a poolWire costs O(1), whatever the pool's size. The
// records of a selection are found through its picks' parts (runs of a
// few dozen elements that outlive views too, see Pick.PartMemo), each
// holding its elements' records in an array.
type poolWire struct {
	ordering poolrr.Mode
	hasURI   bool
	// minSRV is at most the fewest bytes one element adds to an SRV
	// answer (its SRV record with a one-byte label; glue may be left out),
	// so that a UDP answer never orders many more elements than could fit.
	minSRV int
	key    wireKey
	keyAny any // unique.Make(key), boxed once: comparing it in Memo is one word
	build  func(*handlespace.Element) *elemWire
	// buildPart packs a part's records: a *partWire.
	buildPart func([]*handlespace.Element) any

	// minSVCB and minUNAPTR are minSRV for HTTPS/SVCB and U-NAPTR
	// answers; sNAPTR is the pool's S-NAPTR records, nsNAPTR of them
	// (answer_svcb.go).
	minSVCB, minUNAPTR int
	sNAPTR             []byte
	nsNAPTR            int
}

// partWire is the packed records of a part's elements, aligned with them.
type partWire struct{ w []*elemWire }

// wireKey is what an element's packed records depend on besides the
// element (poolrr.Key).
type wireKey = poolrr.Key

func buildPoolWire(pv *handlespace.PoolView) any {
	pw := &poolWire{
		ordering: poolrr.ModeOf(pv.Spec.Policy),
		hasURI:   pv.Spec.URI != "",
		key:      wireKey{Name: pv.Name, TTL: pv.Spec.TTL, URI: pv.Spec.URI, HTTPS: pv.Spec.HTTPS, NAPTR: pv.Spec.NAPTR},
	}
	pw.keyAny = unique.Make(pw.key)
	poolWireName := make([]byte, 256)
	n, err := dns.PackDomainName(pv.Name, poolWireName, 0, nil, false)
	if err != nil {
		panic("dnsfront: pool name does not pack: " + err.Error()) // handlespace names are valid
	}
	poolWireName = poolWireName[:n]
	pw.build = func(e *handlespace.Element) *elemWire { return buildElemWire(e, pw.key, poolWireName) }
	pw.buildPart = func(es []*handlespace.Element) any {
		p := &partWire{w: make([]*elemWire, len(es))}
		for i, e := range es {
			p.w[i] = pw.wireOf(e)
		}
		return p
	}
	// owner pointer, fixed part, priority, weight, port; target.
	pw.minSRV = 2 + rrFixedLen + 6 + (1 + 1 + len(poolWireName))
	pw.minSVCB = svcTarget + (1 + 1 + len(poolWireName)) + 4 + len(pv.Spec.HTTPS) + 1
	pw.minUNAPTR = (2 + rrFixedLen + 4 + 2 + 2 + 6 + 1) * (strings.Count(pv.Spec.NAPTR, ",") + 1)
	if pv.Spec.NAPTR != "" && pv.Spec.URI == "" {
		pw.sNAPTR, pw.nsNAPTR = poolrr.SNAPTR(pv)
	}
	return pw
}

// wireOf returns element e's packed material for this pool, packing it
// if the element has none yet.
func (pw *poolWire) wireOf(e *handlespace.Element) *elemWire {
	return handlespace.ElementMemo(e, pw.keyAny, pw.build)
}

// partOf returns the packed records of the elements of p's part.
func (pw *poolWire) partOf(p handlespace.Pick) []*elemWire {
	v, _ := p.PartMemo(pw.keyAny, pw.buildPart)
	return v.(*partWire).w
}

// buildElemWire packs one element's records, in one buffer.
func buildElemWire(e *handlespace.Element, key wireKey, poolWireName []byte) *elemWire {
	ttl := key.TTL
	var a, aaaa, glueA, glueAAAA []byte
	var na, naaaa uint16
	for _, ad := range e.Addrs.All() {
		if ad.Is4() {
			b := ad.As4()
			a = appendRR(a, ptrQname, dns.TypeA, ttl, b[:])
			glueA = appendRRBody(glueA, dns.TypeA, ttl, b[:])
			na++
		} else {
			b := ad.As16()
			aaaa = appendRR(aaaa, ptrQname, dns.TypeAAAA, ttl, b[:])
			glueAAAA = appendRRBody(glueAAAA, dns.TypeAAAA, ttl, b[:])
			naaaa++
		}
	}
	// SRV RDATA: priority, weight, port, target. RFC 2782 forbids name
	// compression in the target, so it is spelled out in full.
	rd := make([]byte, 6, 6+1+len(e.Label.String())+len(poolWireName))
	binary.BigEndian.PutUint16(rd[4:], e.Port)
	rd = append(rd, byte(len(e.Label.String())))
	rd = append(rd, e.Label.String()...)
	rd = append(rd, poolWireName...)
	srv := appendRR(nil, ptrQname, dns.TypeSRV, ttl, rd)
	var uri []byte
	if key.URI != "" {
		u := poolrr.ExpandURI(key.URI, e, key.Name)
		rd := make([]byte, 4, 4+len(u))
		rd = append(rd, u...)
		uri = appendRR(nil, ptrQname, dns.TypeURI, ttl, rd)
	}
	ew := newElemWire(len(a) + len(aaaa) + len(srv) + len(glueA) + len(glueAAAA) + len(uri))
	ew.order, ew.labelLen, ew.na, ew.naaaa = poolrr.WeightsOf(e), int32(1+len(e.Label.String())), na, naaaa
	buf := ew.buf
	for i, p := range [...][]byte{partA: a, partAAAA: aaaa, partSRV: srv, partGlueA: glueA, partGlueAAAA: glueAAAA, partURI: uri} {
		buf = append(buf, p...)
		ew.end[i] = uint32(len(buf))
	}
	ew.buf = buf
	if key.HTTPS != "" || (key.NAPTR != "" && key.URI != "") {
		ew.svc = poolrr.BuildSvc(e, key, poolWireName)
	}
	return ew
}

func itoa(n int) string {
	var b [8]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

func appendRR(b []byte, ptr uint16, typ uint16, ttl uint32, rdata []byte) []byte {
	return poolrr.AppendRR(b, ptr, typ, ttl, rdata)
}

func appendRRBody(b []byte, typ uint16, ttl uint32, rdata []byte) []byte {
	return poolrr.AppendRRBody(b, typ, ttl, rdata)
}

// choose asks the pool's policy for the elements of a KindPool answer to
// client c (through the site map m, for nearest pools) and returns them
// in s.picks, with the ECS scope of the answer: -1 when it does not depend
// on the client, else the prefix length it depends on (255: the whole
// source prefix).
func choose(s *scratch, r *Result, c *handlespace.Client, m *siteBox) (scope int) {
	scope = -1 // the answer does not depend on the client
	if sNAPTR(r) {
		s.picks = s.picks[:0] // SRV chooses
		return scope
	}
	switch r.Pool.Spec.Policy {
	case "hash":
		scope = 255 // the hash is of the whole subnet: the source prefix length
	case "nearest":
		if m != nil {
			c.Site, scope = m.f.Lookup(c)
		}
		if !r.Set.HasSites() {
			scope = -1 // no element has a site: the order is the same for every client
		}
	}
	s.picks = r.Set.Select(s.picks[:0], r.K, c)
	return scope
}

// writeWire writes the answer of a pool or element result (without a CNAME
// chain) as packed bytes, from material packed once per element, and
// reports whether it did; it declines (false) a question whose name has
// escapes, which the dns.Msg renderer writes.
func (h *Handler) writeWire(w dns.ResponseWriter, req *request, r *Result) bool {
	if strings.IndexByte(req.q.Name, '\\') >= 0 {
		return false
	}
	s := h.scratch.Get().(*scratch)
	defer h.scratch.Put(s)
	b := h.renderWire(s, s.buf[:0], req, r)
	s.buf = b
	h.account(w, req, dns.RcodeSuccess, b[2]&(bitTC>>8) != 0, len(b))
	if req.tsig != nil {
		h.writeSigned(w, req, b)
	} else if _, err := w.Write(b); err != nil {
		h.log.Debug("writing reply", "err", err)
	}
	return true
}

// renderWire appends the reply to req of a pool or element result to dst,
// choosing elements with s's working memory.
func (h *Handler) renderWire(s *scratch, dst []byte, req *request, r *Result) []byte {
	b, ancount, arcount, scope := h.renderSections(s, dst, req, r)
	return h.finish(req, b, len(dst), ancount, arcount, scope)
}

// renderSections appends the header, question, answer and additional
// records of renderWire's reply to dst and returns them with the section
// counts (ancount -1: does not fit) and the ECS scope, for finish.
func (h *Handler) renderSections(s *scratch, dst []byte, req *request, r *Result) (b []byte, ancount, arcount, scope int) {
	pw := r.Pool.Memo(buildPoolWire).(*poolWire)
	b = appendQuestion(appendHeader(dst, req), req)
	scope = -1
	switch {
	case r.Kind == KindElement:
		ew := pw.wireOf(r.Elem)
		if r.Qtype == dns.TypeA {
			b, ancount = append(b, ew.a()...), int(ew.na)
		} else {
			b, ancount = append(b, ew.aaaa()...), int(ew.naaaa)
		}
	case !req.tcp && r.Qtype == dns.TypeSRV && r.Set.Len() > req.maxSize/pw.minSRV:
		// More elements than could fit in the reply: it is truncated
		// (TC=1) and the client asks again over TCP, so they need no
		// ordering, and a policy that counts its selections (rr's
		// sequence, lud's charges) counts the TCP answer only.
		ancount = -1
	case isSvcType(r.Qtype):
		b, ancount, arcount, scope = h.renderSvc(s, b, req, r, pw)
	default:
		clientOf(&s.client, req)
		scope = choose(s, r, &s.client, h.sites.Load())
		b, ancount, arcount = h.packPool(s, b, req, r, pw)
		h.tallyWire(r, s)
	}
	return b, ancount, arcount, scope
}

// packPool appends the records of the elements in s.picks, in policy
// order, to b (which holds the header and question) and returns it with
// the section counts (ancount -1: does not fit).
func (h *Handler) packPool(s *scratch, b []byte, req *request, r *Result, pw *poolWire) ([]byte, int, int) {
	qt := r.Qtype
	ancount := 0
	if qt == dns.TypeA || qt == dns.TypeAAAA {
		var part []*elemWire // of the last pick's part
		picks := s.picks
		for j := range picks {
			if j == 0 || !picks[j].SamePart(picks[j-1]) {
				part = pw.partOf(picks[j])
			}
			ew := part[picks[j].Index()]
			if j == 0 {
				s.first = ew // for the tally (tally.go)
			}
			if qt == dns.TypeA {
				b = appendAddrRRs(b, ew.a())
				ancount += int(ew.na)
			} else {
				b = appendAddrRRs(b, ew.aaaa())
				ancount += int(ew.naaaa)
			}
		}
		return b, ancount, 0
	}
	wires := slices.Grow(s.wires[:0], len(s.picks))[:len(s.picks)]
	var part []*elemWire
	for j, p := range s.picks {
		if j == 0 || !p.SamePart(s.picks[j-1]) {
			part = pw.partOf(p)
		}
		wires[j] = part[p.Index()]
	}
	s.wires = wires
	s.first = wires[0] // for the tally (tally.go)
	if qt == dns.TypeSRV {
		poolOff := qnameOffset + req.qnameLen() - (len(r.Pool.Name) + 1)
		return h.appendSRV(b, req, pw, wires, poolOff)
	}
	for rank, ew := range wires { // URI
		off := len(b)
		b = append(b, ew.uri()...)
		prio, weight := poolrr.Order(pw.ordering, rank, &ew.order)
		binary.BigEndian.PutUint16(b[off+12:], prio)
		binary.BigEndian.PutUint16(b[off+14:], weight)
		ancount++
	}
	return b, ancount, 0
}

// appendAddrRRs appends an element's A or AAAA records to b. The usual
// one record (16 bytes for A, 28 for AAAA, its owner a pointer) is copied
// as one value, not through memmove: an A answer of ten elements makes
// ten of these copies, and the call cost more than the copy.
func appendAddrRRs(b, rrs []byte) []byte {
	n := len(b)
	switch {
	case len(rrs) == 16 && cap(b)-n >= 16:
		b = b[:n+16]
		*(*[16]byte)(b[n:]) = [16]byte(rrs)
		return b
	case len(rrs) == 28 && cap(b)-n >= 28:
		b = b[:n+28]
		*(*[28]byte)(b[n:]) = [28]byte(rrs)
		return b
	}
	return append(b, rrs...)
}

// appendSRV writes the SRV answers in policy order and their targets'
// addresses as glue. The answer comes first (RFC 2181 §9): one that fits
// is sent with as much glue as fits after it, whole RRsets in policy order
// (an element's A set, then its AAAA set), and TC clear, since only
// additional data was left out. Over UDP an answer that does not fit
// whole is truncated (TC=1, and the client asks again over TCP); over TCP,
// where there is no retry, it is cut to the first elements that fit with
// their glue, so that the best choices survive and need no more queries.
func (h *Handler) appendSRV(b []byte, req *request, pw *poolWire, wires []*elemWire, poolOff int) ([]byte, int, int) {
	budget := req.maxSize - len(b) - optLen(req)
	answer, glue := 0, 0
	for _, ew := range wires {
		answer += ew.size(partSRV)
		glue += ew.size(partA) + ew.size(partAAAA)
	}
	if answer+glue <= budget && len(b)+answer <= maxPtr && !req.noGlue {
		return appendSRVWhole(b, pw, wires, answer+glue)
	}
	return appendSRVParts(b, req, pw, wires, poolOff, budget, answer)
}

// appendSRVParts is appendSRV's general case: the answer, or its glue, or
// a target's pointer may not fit. budget is the room for records, answer
// the size of all the SRV records.
func appendSRVParts(b []byte, req *request, pw *poolWire, wires []*elemWire, poolOff, budget, answer int) ([]byte, int, int) {
	if answer > budget {
		if !req.tcp {
			// UDP: better TC=1 and a retry over TCP than a partial pool.
			return b, -1, 0
		}
		n, target, left := 0, len(b)+18, budget
		answer = 0
		for _, ew := range wires {
			sz := len(ew.srv()) + glueSize(ew, ew.glueA(), 14, target) + glueSize(ew, ew.glueAAAA(), 26, target)
			if sz > left {
				break
			}
			left -= sz
			answer += len(ew.srv())
			target += len(ew.srv())
			n++
		}
		wires = wires[:n]
	}
	budget -= answer
	start := len(b)
	for rank, ew := range wires {
		off := len(b)
		b = append(b, ew.srv()...)
		prio, weight := poolrr.Order(pw.ordering, rank, &ew.order)
		binary.BigEndian.PutUint16(b[off+12:], prio)
		binary.BigEndian.PutUint16(b[off+14:], weight)
	}
	if req.noGlue {
		return b, len(wires), 0
	}
	arcount := 0
	target := start + 18 // owner pointer (2) + fixed (10) + priority, weight, port (6)
	for _, ew := range wires {
		if g := ew.glueA(); len(g) > 0 {
			if sz := glueSize(ew, g, 14, target); sz > 0 && sz <= budget {
				budget -= sz
				b = appendGlue(b, ew, g, 14, target, poolOff)
				arcount += len(g) / 14
			}
		}
		if g := ew.glueAAAA(); len(g) > 0 {
			if sz := glueSize(ew, g, 26, target); sz > 0 && sz <= budget {
				budget -= sz
				b = appendGlue(b, ew, g, 26, target, poolOff)
				arcount += len(g) / 26
			}
		}
		target += ew.size(partSRV)
	}
	return b, len(wires), arcount
}

// appendSRVWhole is appendSRV's usual case: the answer and all its glue
// fit (size bytes), and every target is within the pointer range. Each
// glue record is its element's answer record (ew.a(), ew.aaaa()) with the
// owner pointer set to the target; the usual one A record is copied as a
// value, in line. It makes a third of the instructions of the general case,
// which checks the room and the pointer range per record and appends
// piece by piece.
func appendSRVWhole(b []byte, pw *poolWire, wires []*elemWire, size int) ([]byte, int, int) {
	start := len(b)
	b = slices.Grow(b, size)[:start+size]
	o := start
	for rank, ew := range wires {
		srv := ew.srv()
		rr := b[o : o+len(srv)]
		copy(rr, srv)
		prio, weight := poolrr.Order(pw.ordering, rank, &ew.order)
		binary.BigEndian.PutUint16(rr[12:14], prio)
		binary.BigEndian.PutUint16(rr[14:16], weight)
		o += len(rr)
	}
	arcount := 0
	target := start + 18 // owner pointer (2) + fixed (10) + priority, weight, port (6)
	for _, ew := range wires {
		ptr := uint16(0xC000 | target)
		target += ew.size(partSRV)
		a := ew.a()
		if len(a) == 16 && ew.size(partAAAA) == 0 { // one IPv4 address
			rr := b[o : o+16]
			*(*[16]byte)(rr) = [16]byte(a)
			binary.BigEndian.PutUint16(rr[:2], ptr)
			o += 16
			arcount++
			continue
		}
		o = putGlue(b, o, a, 16, ptr)
		o = putGlue(b, o, ew.aaaa(), 28, ptr)
		arcount += int(ew.na) + int(ew.naaaa)
	}
	return b, len(wires), arcount
}

// putGlue writes rrs (records of size bytes, owner a pointer) at b[o:]
// with their owner pointer ptr, and returns the offset after them.
func putGlue(b []byte, o int, rrs []byte, size int, ptr uint16) int {
	if size == 28 && len(rrs) == 28 {
		*(*[28]byte)(b[o : o+28]) = [28]byte(rrs)
	} else {
		copy(b[o:], rrs)
	}
	for g := o; g < o+len(rrs); g += size {
		binary.BigEndian.PutUint16(b[g:g+2], ptr)
	}
	return o + len(rrs)
}

// glueSize is the size of an SRV target's glue RRset (bodies of size bytes
// each) whose owner is the target name at offset target: a pointer to it,
// or past the pointer range the target's label and a pointer.
func glueSize(ew *elemWire, bodies []byte, size, target int) int {
	owner := 2
	if target > maxPtr {
		owner = int(ew.labelLen) + 2
	}
	return len(bodies) + len(bodies)/size*owner
}

// appendGlue writes an SRV target's address records (bodies of size bytes
// each), their owner a pointer to the target name in the SRV record or,
// past the pointer range, the target's label and a pointer to the pool name.
func appendGlue(b []byte, ew *elemWire, bodies []byte, size, target, poolOff int) []byte {
	for g := 0; g < len(bodies); g += size {
		if target <= maxPtr {
			b = binary.BigEndian.AppendUint16(b, uint16(0xC000|target))
		} else {
			b = append(b, ew.srv()[18:18+int(ew.labelLen)]...)
			b = binary.BigEndian.AppendUint16(b, uint16(0xC000|poolOff))
		}
		b = append(b, bodies[g:g+size]...)
	}
	return b
}

// appendHeader writes a reply header with zero counts: ID, QR, opcode, AA,
// RD and CD copied.
func appendHeader(b []byte, req *request) []byte {
	var flags uint16 = bitQR | bitAA
	if req.rd {
		flags |= bitRD
	}
	if req.cd {
		flags |= bitCD
	}
	b = binary.BigEndian.AppendUint16(b, req.id)
	b = binary.BigEndian.AppendUint16(b, flags)
	return append(b, 0, 1, 0, 0, 0, 0, 0, 0) // QDCOUNT 1
}

// appendQuestion writes the question as the client sent it: its bytes,
// when the request was read from them, or its name, which the caller has
// made sure has no escapes, label by label.
func appendQuestion(b []byte, req *request) []byte {
	if req.rawQ != nil {
		return append(b, req.rawQ...)
	}
	name := req.q.Name
	if name != "." {
		for len(name) > 0 {
			i := strings.IndexByte(name, '.')
			b = append(b, byte(i))
			b = append(b, name[:i]...)
			name = name[i+1:]
		}
	}
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, req.q.Qtype)
	return binary.BigEndian.AppendUint16(b, req.q.Qclass)
}

// optLen is the size of the OPT record the reply will carry.
func optLen(req *request) int {
	if !req.edns.on {
		return 0
	}
	n := 11
	if req.edns.ecs.on {
		n += 8 + int(req.edns.ecs.n)
	}
	if req.CkSt != 0 || req.NSID {
		n += req.CookieLen() + req.NSIDLen()
	}
	return n
}

// finish sets the counts of the reply that starts at b[start:], adds the
// OPT record and truncates (TC=1, no records) when the answer does not fit.
// ancount < 0 means "does not fit".
func (h *Handler) finish(req *request, b []byte, start, ancount, arcount int, scope int) []byte {
	hdr := b[start:]
	if ancount < 0 || len(hdr)+optLen(req) > req.maxSize {
		b = b[:start+headerLen+req.qnameLen()+4]
		hdr = b[start:]
		hdr[2] |= bitTC >> 8
		ancount, arcount = 0, 0
	}
	binary.BigEndian.PutUint16(hdr[6:], uint16(ancount))
	if req.edns.on {
		b = appendOPT(b, req, h.udpSize, scope)
		arcount++
	}
	binary.BigEndian.PutUint16(b[start+10:], uint16(arcount))
	return b
}

// appendOPT writes the reply's OPT record: our largest UDP size, the DO bit copied
// (RFC 3225), and the client subnet option echoed (RFC 7871) with the
// scope prefix length scope, at most the source prefix length (scope < 0:
// the answer did not depend on the subnet, scope 0).
func appendOPT(b []byte, req *request, udpSize int, scope int) []byte {
	var flags uint16
	if req.edns.do {
		flags = 1 << 15
	}
	b = append(b, 0) // root owner
	b = binary.BigEndian.AppendUint16(b, dns.TypeOPT)
	b = binary.BigEndian.AppendUint16(b, uint16(udpSize))
	b = append(b, 0, 0) // extended RCODE, version
	b = binary.BigEndian.AppendUint16(b, flags)
	rdlen := len(b)
	b = append(b, 0, 0)
	if e := &req.edns.ecs; e.on {
		b = binary.BigEndian.AppendUint16(b, dns.EDNS0SUBNET)
		b = binary.BigEndian.AppendUint16(b, uint16(4+int(e.n)))
		b = binary.BigEndian.AppendUint16(b, e.family)
		b = append(b, e.source, uint8(min(max(scope, 0), int(e.source))))
		b = append(b, e.addr[:e.n]...)
	}
	if req.CkSt != 0 || req.NSID {
		b = req.AppendOptions(b, req.client.Addr())
	}
	binary.BigEndian.PutUint16(b[rdlen:], uint16(len(b)-rdlen-2))
	return b
}
