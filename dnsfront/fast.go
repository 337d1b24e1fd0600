package dnsfront

import (
	"encoding/binary"
	"slices"
	"strings"
	"unique"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
)

// The fast path writes positive pool answers straight into a byte buffer
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

// elemWire is one element's packed material.
type elemWire struct {
	a, aaaa   []byte // A / AAAA RRs, owner = pointer to the question name
	na, naaaa uint16 // how many RRs a and aaaa hold
	srv       []byte // SRV RR, owner pointer to qname, target in full; priority and weight patched per query
	labelLen  int    // length of the target's first label, with its length byte
	glueA     []byte // A RRs without owner: type … RDATA, 14 bytes each
	glueAAAA  []byte // AAAA RRs without owner, 26 bytes each
	uri       []byte // URI RR, owner pointer to qname; priority patched per query
	weight    uint16
	last      bool // Element.Last: after the others, also in weighted answers
}

// poolWire is what a pool view's answers need besides the elements' own
// packed records, which live on the elements (Element.Memo) and outlive
// the view: a change of one element packs that element again, not the
// pool, and building a poolWire costs O(1), whatever the pool's size. The
// records of a selection are found through its picks' parts (runs of a
// few dozen elements that outlive views too, see Pick.PartMemo), each
// holding its elements' records in an array.
type poolWire struct {
	weighted bool
	hasURI   bool
	// minSRV is at most the fewest bytes one element adds to an SRV
	// answer (its SRV record with a one-byte label; glue may be left out),
	// so that a UDP answer never orders many more elements than could fit.
	minSRV int
	key    wireKey
	keyAny any // unique.Make(key), boxed once: comparing it in Memo is one word
	build  func(*handlespace.Element) any
	// buildPart packs a part's records: a *partWire.
	buildPart func([]*handlespace.Element) any
}

// partWire is the packed records of a part's elements, aligned with them.
type partWire struct{ w []*elemWire }

// wireKey is what an element's packed records depend on besides the
// element: the pool's name (the SRV target's suffix), TTL and URI template.
type wireKey struct {
	name string
	ttl  uint32
	uri  string
}

func buildPoolWire(pv *handlespace.PoolView) any {
	pw := &poolWire{
		weighted: handlespace.WeightedPolicy(pv.Spec.Policy),
		hasURI:   pv.Spec.URI != "",
		key:      wireKey{name: pv.Name, ttl: pv.Spec.TTL, uri: pv.Spec.URI},
	}
	pw.keyAny = unique.Make(pw.key)
	poolWireName := make([]byte, 256)
	n, err := dns.PackDomainName(pv.Name, poolWireName, 0, nil, false)
	if err != nil {
		panic("dnsfront: pool name does not pack: " + err.Error()) // handlespace names are valid
	}
	poolWireName = poolWireName[:n]
	pw.build = func(e *handlespace.Element) any { return buildElemWire(e, pw.key, poolWireName) }
	pw.buildPart = func(es []*handlespace.Element) any {
		p := &partWire{w: make([]*elemWire, len(es))}
		for i, e := range es {
			p.w[i] = pw.wireOf(e)
		}
		return p
	}
	// owner pointer, fixed part, priority, weight, port; target.
	pw.minSRV = 2 + rrFixedLen + 6 + (1 + 1 + len(poolWireName))
	return pw
}

// wireOf returns element e's packed material for this pool, packing it
// if the element has none yet.
func (pw *poolWire) wireOf(e *handlespace.Element) *elemWire {
	return e.Memo(pw.keyAny, pw.build).(*elemWire)
}

// partOf returns the packed records of the elements of p's part.
func (pw *poolWire) partOf(p handlespace.Pick) []*elemWire {
	v, _ := p.PartMemo(pw.keyAny, pw.buildPart)
	return v.(*partWire).w
}

// buildElemWire packs one element's records, in one buffer.
func buildElemWire(e *handlespace.Element, key wireKey, poolWireName []byte) *elemWire {
	ttl := key.ttl
	ew := &elemWire{weight: uint16(min(e.Weight, 0xFFFF)), labelLen: 1 + len(e.Label), last: e.Last}
	var a, aaaa, glueA, glueAAAA []byte
	for _, ad := range e.Addrs {
		if ad.Is4() {
			b := ad.As4()
			a = appendRR(a, ptrQname, dns.TypeA, ttl, b[:])
			glueA = appendRRBody(glueA, dns.TypeA, ttl, b[:])
			ew.na++
		} else {
			b := ad.As16()
			aaaa = appendRR(aaaa, ptrQname, dns.TypeAAAA, ttl, b[:])
			glueAAAA = appendRRBody(glueAAAA, dns.TypeAAAA, ttl, b[:])
			ew.naaaa++
		}
	}
	// SRV RDATA: priority, weight, port, target. RFC 2782 forbids name
	// compression in the target, so it is spelled out in full.
	rd := make([]byte, 6, 6+1+len(e.Label)+len(poolWireName))
	binary.BigEndian.PutUint16(rd[4:], e.Port)
	rd = append(rd, byte(len(e.Label)))
	rd = append(rd, e.Label...)
	rd = append(rd, poolWireName...)
	srv := appendRR(nil, ptrQname, dns.TypeSRV, ttl, rd)
	var uri []byte
	if key.uri != "" {
		u := expandURI(key.uri, e, key.name)
		rd := make([]byte, 4, 4+len(u))
		rd = append(rd, u...)
		uri = appendRR(nil, ptrQname, dns.TypeURI, ttl, rd)
	}
	buf := make([]byte, 0, len(a)+len(aaaa)+len(srv)+len(glueA)+len(glueAAAA)+len(uri))
	part := func(p []byte) []byte {
		off := len(buf)
		buf = append(buf, p...)
		return buf[off:len(buf):len(buf)]
	}
	ew.a, ew.aaaa, ew.srv = part(a), part(aaaa), part(srv)
	ew.glueA, ew.glueAAAA, ew.uri = part(glueA), part(glueAAAA), part(uri)
	return ew
}

// expandURI fills a pool's URI template for one element: {name} is the
// element's own DNS name without the final dot, {addr} its first address
// (IPv6 in brackets), {port} its port.
func expandURI(tmpl string, e *handlespace.Element, pool string) string {
	name := strings.TrimSuffix(e.Label+"."+pool, ".")
	addr := ""
	if len(e.Addrs) > 0 {
		addr = e.Addrs[0].String()
		if e.Addrs[0].Is6() {
			addr = "[" + addr + "]"
		}
	}
	r := strings.NewReplacer("{name}", name, "{addr}", addr, "{port}", itoa(int(e.Port)))
	return r.Replace(tmpl)
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
	b = binary.BigEndian.AppendUint16(b, ptr)
	return appendRRBody(b, typ, ttl, rdata)
}

func appendRRBody(b []byte, typ uint16, ttl uint32, rdata []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, dns.ClassINET)
	b = binary.BigEndian.AppendUint32(b, ttl)
	b = binary.BigEndian.AppendUint16(b, uint16(len(rdata)))
	return append(b, rdata...)
}

// fast answers a pool query with a positive answer from packed material and
// reports whether it did; it declines (false) whatever the slow path must
// answer: negative answers, ANY, escaped names.
func (h *Handler) fast(w dns.ResponseWriter, req *request, t *target) bool {
	s := h.scratch.Get().(*scratch)
	defer h.scratch.Put(s)
	clientOf(&s.client, w, req.opt)
	s.sited = false
	scope := -1 // the answer does not depend on the client
	switch t.pool.Spec.Policy {
	case "hash":
		scope = 255 // the hash is of the whole subnet: the source prefix length
	case "nearest":
		if m := h.sites.Load(); m.Len() > 0 {
			s.client.Site, scope = m.Lookup(&s.client)
		}
	}
	ancount, arcount, ok := h.build(s, req, t)
	if !ok {
		return false
	}
	if t.pool.Spec.Policy == "nearest" && !s.sited {
		scope = -1 // no element has a site: the order is the same for every client
	}
	s.buf = h.finish(w, req, s.buf, ancount, arcount, scope)
	return true
}

// build writes the header, the question and a positive pool answer for req
// into s.buf, choosing elements for s.client, and returns the section
// counts (not yet in the header; ancount -1: does not fit). ok is false
// when there is no positive answer to give.
func (h *Handler) build(s *scratch, req *request, t *target) (ancount, arcount int, ok bool) {
	qt := req.q.Qtype
	pv := t.pool
	if strings.IndexByte(req.q.Name, '\\') >= 0 {
		return 0, 0, false
	}
	var set *handlespace.ElementSet
	switch t.kind {
	case kindPool:
		switch qt {
		case dns.TypeA:
			set = &pv.V4
		case dns.TypeAAAA:
			set = &pv.V6
		case dns.TypeSRV:
			set = &pv.All
		}
	case kindService:
		switch {
		case qt == dns.TypeSRV, qt == dns.TypeURI && pv.Spec.URI != "":
			set = &pv.All
		}
	case kindElement:
		if (qt == dns.TypeA && t.elem.HasV4()) || (qt == dns.TypeAAAA && t.elem.HasV6()) {
			ew := pv.Memo(buildPoolWire).(*poolWire).wireOf(t.elem)
			b := appendQuestion(appendHeader(s.buf[:0], req), req)
			if qt == dns.TypeA {
				s.buf = append(b, ew.a...)
				return int(ew.na), 0, true
			}
			s.buf = append(b, ew.aaaa...)
			return int(ew.naaaa), 0, true
		}
		return 0, 0, false
	}
	if set == nil || set.Len() == 0 {
		return 0, 0, false
	}
	pw := pv.Memo(buildPoolWire).(*poolWire)
	k := 0 // all: SRV and URI carry every served element, in policy order
	switch {
	case qt == dns.TypeA || qt == dns.TypeAAAA:
		k = pv.Spec.Answers
	case !req.tcp && qt == dns.TypeSRV && set.Len() > req.maxSize/pw.minSRV:
		// More elements than could fit in the reply: it is truncated
		// (TC=1) and the client asks again over TCP, so they need no
		// ordering, and a policy that counts its selections (rr's
		// sequence, lud's charges) counts the TCP answer only.
		s.buf = appendQuestion(appendHeader(s.buf[:0], req), req)
		return -1, 0, true
	}
	s.sited = set.HasSites()
	s.picks = set.Select(s.picks[:0], k, &s.client)
	b := s.buf[:0]
	b = appendHeader(b, req)
	b = appendQuestion(b, req)
	poolOff := qnameOffset + len(req.q.Name) - len(pv.Name)
	if qt == dns.TypeA || qt == dns.TypeAAAA {
		var part []*elemWire // of the last pick's part
		for j, p := range s.picks {
			if j == 0 || !p.SamePart(s.picks[j-1]) {
				part = pw.partOf(p)
			}
			ew := part[p.Index()]
			if qt == dns.TypeA {
				b = append(b, ew.a...)
				ancount += int(ew.na)
			} else {
				b = append(b, ew.aaaa...)
				ancount += int(ew.naaaa)
			}
		}
		s.buf = b
		return ancount, 0, true
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
	switch qt {
	case dns.TypeSRV:
		b, ancount, arcount = h.appendSRV(b, req, pw, wires, poolOff)
	case dns.TypeURI:
		for rank, ew := range wires {
			off := len(b)
			b = append(b, ew.uri...)
			prio, weight := srvOrder(pw, rank, ew)
			binary.BigEndian.PutUint16(b[off+12:], prio)
			binary.BigEndian.PutUint16(b[off+14:], weight)
			ancount++
		}
	}
	s.buf = b
	return ancount, arcount, true
}

// srvOrder gives the SRV (or URI) priority and weight of the element at rank
// in a policy-ordered answer: the rank as priority, or, for weighted
// policies, one shared priority and the element's weight (RFC 2782 clients
// then make the weighted pick themselves). An element that goes last
// (a disputed one this registrar cannot reach) comes after those: its
// rank puts it there, and in weighted answers priority 1 does.
func srvOrder(pw *poolWire, rank int, ew *elemWire) (prio, weight uint16) {
	if pw.weighted {
		if ew.last {
			return 1, ew.weight
		}
		return 0, ew.weight
	}
	return uint16(min(rank, 0xFFFF)), 0
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
	answer := 0
	for _, ew := range wires {
		answer += len(ew.srv)
	}
	if answer > budget {
		if !req.tcp {
			// UDP: better TC=1 and a retry over TCP than a partial pool.
			return b, -1, 0
		}
		n, target, left := 0, len(b)+18, budget
		answer = 0
		for _, ew := range wires {
			sz := len(ew.srv) + glueSize(ew, ew.glueA, 14, target) + glueSize(ew, ew.glueAAAA, 26, target)
			if sz > left {
				break
			}
			left -= sz
			answer += len(ew.srv)
			target += len(ew.srv)
			n++
		}
		wires = wires[:n]
	}
	budget -= answer
	start := len(b)
	for rank, ew := range wires {
		off := len(b)
		b = append(b, ew.srv...)
		prio, weight := srvOrder(pw, rank, ew)
		binary.BigEndian.PutUint16(b[off+12:], prio)
		binary.BigEndian.PutUint16(b[off+14:], weight)
	}
	arcount := 0
	target := start + 18 // owner pointer (2) + fixed (10) + priority, weight, port (6)
	for _, ew := range wires {
		if sz := glueSize(ew, ew.glueA, 14, target); sz > 0 && sz <= budget {
			budget -= sz
			b = appendGlue(b, ew, ew.glueA, 14, target, poolOff)
			arcount += len(ew.glueA) / 14
		}
		if sz := glueSize(ew, ew.glueAAAA, 26, target); sz > 0 && sz <= budget {
			budget -= sz
			b = appendGlue(b, ew, ew.glueAAAA, 26, target, poolOff)
			arcount += len(ew.glueAAAA) / 26
		}
		target += len(ew.srv)
	}
	return b, len(wires), arcount
}

// glueSize is the size of an SRV target's glue RRset (bodies of size bytes
// each) whose owner is the target name at offset target: a pointer to it,
// or past the pointer range the target's label and a pointer.
func glueSize(ew *elemWire, bodies []byte, size, target int) int {
	owner := 2
	if target > maxPtr {
		owner = ew.labelLen + 2
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
			b = append(b, ew.srv[18:18+ew.labelLen]...)
			b = binary.BigEndian.AppendUint16(b, uint16(0xC000|poolOff))
		}
		b = append(b, bodies[g:g+size]...)
	}
	return b
}

// appendHeader writes a reply header with zero counts: ID, QR, opcode, AA,
// RD and CD copied.
func appendHeader(b []byte, req *request) []byte {
	r := req.r
	var flags uint16 = 1<<15 | 1<<10 // QR, AA
	if r.RecursionDesired {
		flags |= 1 << 8
	}
	if r.CheckingDisabled {
		flags |= 1 << 4
	}
	b = binary.BigEndian.AppendUint16(b, r.Id)
	b = binary.BigEndian.AppendUint16(b, flags)
	return append(b, 0, 1, 0, 0, 0, 0, 0, 0) // QDCOUNT 1
}

// appendQuestion writes the question as the client sent it. The caller has
// made sure the name has no escapes, so each label is written as it is.
func appendQuestion(b []byte, req *request) []byte {
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
	if req.opt == nil {
		return 0
	}
	n := 11
	if ecs := subnetOption(req.opt); ecs != nil {
		n += 8 + (int(ecs.SourceNetmask)+7)/8
	}
	return n
}

// finish sets the counts, adds the OPT record, truncates (TC=1, no records)
// when the answer does not fit, and writes the reply. ancount < 0 means
// "does not fit". It returns the buffer for reuse.
func (h *Handler) finish(w dns.ResponseWriter, req *request, b []byte, ancount, arcount int, scope int) []byte {
	qend := headerLen + len(req.q.Name) + 1 + 4
	if req.q.Name == "." {
		qend = headerLen + 1 + 4
	}
	if ancount < 0 || len(b)+optLen(req) > req.maxSize {
		b = b[:qend]
		b[2] |= 1 << 1 // TC
		ancount, arcount = 0, 0
	}
	binary.BigEndian.PutUint16(b[6:], uint16(ancount))
	if req.opt != nil {
		b = appendOPT(b, req, h.udpSize, scope)
		arcount++
	}
	binary.BigEndian.PutUint16(b[10:], uint16(arcount))
	h.account(w, req, dns.RcodeSuccess, b[2]&(1<<1) != 0, len(b))
	if req.tsig != nil {
		h.writeSigned(w, req, b)
	} else if _, err := w.Write(b); err != nil {
		h.log.Debug("writing reply", "err", err)
	}
	return b
}

// appendOPT writes the reply's OPT record: our largest UDP size, the DO bit copied
// (RFC 3225), and the client subnet option echoed (RFC 7871) with the
// scope prefix length scope, at most the source prefix length (scope < 0:
// the answer did not depend on the subnet, scope 0).
func appendOPT(b []byte, req *request, udpSize int, scope int) []byte {
	var flags uint16
	if req.opt.Do() {
		flags = 1 << 15
	}
	b = append(b, 0) // root owner
	b = binary.BigEndian.AppendUint16(b, dns.TypeOPT)
	b = binary.BigEndian.AppendUint16(b, uint16(udpSize))
	b = append(b, 0, 0) // extended RCODE, version
	b = binary.BigEndian.AppendUint16(b, flags)
	ecs := subnetOption(req.opt)
	if ecs == nil {
		return binary.BigEndian.AppendUint16(b, 0)
	}
	alen := (int(ecs.SourceNetmask) + 7) / 8
	addr := ecs.Address.To4()
	if ecs.Family == 2 || addr == nil {
		addr = ecs.Address.To16()
	}
	if alen > len(addr) {
		alen = len(addr)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(8+alen))
	b = binary.BigEndian.AppendUint16(b, dns.EDNS0SUBNET)
	b = binary.BigEndian.AppendUint16(b, uint16(4+alen))
	b = binary.BigEndian.AppendUint16(b, ecs.Family)
	b = append(b, ecs.SourceNetmask, uint8(min(max(scope, 0), int(ecs.SourceNetmask))))
	return append(b, addr[:alen]...)
}
