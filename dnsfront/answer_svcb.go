package dnsfront

import (
	"encoding/binary"
	"net"
	"strings"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
)

// HTTPS/SVCB (RFC 9460) and NAPTR (RFC 3403; S-NAPTR RFC 3958, U-NAPTR
// RFC 4848) answers from a pool's live elements: what they are named,
// their packed material and both renderers' writing of them.
//
// Names (pool h.Z with https=ALPN…, and service=_S._P for the SVCB names):
//
//   - h.Z HTTPS: ServiceMode records of up to answers= elements in policy
//     order, SvcPriority 1, 2, … (a weighted policy's draw orders them),
//     TargetName the element's own name, alpn, port when it is not 443,
//     ipv4hint/ipv6hint; the targets' A/AAAA as additional data.
//   - Attrleaf names (RFC 9460 §2.3, Port Prefix Naming): for S http or
//     https, _<port>._https.h.Z HTTPS (§9.1, §9.5: the name an https or
//     http URI with a port other than the default asks); for another S,
//     _S.h.Z SVCB (the scheme's default port) and _<port>._S.h.Z SVCB.
//     <port> is any decimal port 1–65535 without leading zeros: the pool's
//     elements serve on their own ports, which every record at these names
//     carries as port=, so the answer is the same for every port label.
//   - h.Z NAPTR, with naptr=SERVICES: for a pool with a URI template,
//     U-NAPTR records (flag U) of every element for each services field,
//     order 100, preference the element's rank in policy order, regexp
//     "!.*!URI!" with the element's URI; else S-NAPTR records (flag S),
//     one for each services field, order 100, preference 10 × its place in
//     naptr=, pointing at the pool's SRV name (_S._P.h.Z with a service,
//     else h.Z), where SRV carries the policy order.

// svcbScheme returns the scheme of a pool's SVCB names (its service's
// first label without the underscore; "https" for http too), "" when the
// pool has none.
func svcbScheme(pv *handlespace.PoolView) string {
	s := pv.Spec.Service
	if pv.Spec.HTTPS == "" || s == "" {
		return ""
	}
	scheme := s[1:strings.IndexByte(s, '.')]
	if scheme == "http" {
		scheme = "https"
	}
	return scheme
}

// svcbName says whether prefix (the labels before the pool's name, each
// with its dot) names one of the pool's SVCB names: kindSVCB or kindNone.
func svcbName(pv *handlespace.PoolView, prefix string) nameKind {
	scheme := svcbScheme(pv)
	if scheme == "" || len(prefix) < len(scheme)+2 {
		return kindNone
	}
	tail := prefix[len(prefix)-len(scheme)-2:]
	if tail[0] != '_' || tail[len(tail)-1] != '.' || tail[1:len(tail)-1] != scheme {
		return kindNone
	}
	port := prefix[:len(prefix)-len(tail)]
	switch {
	case port == "":
		if scheme == "https" {
			// The default port's records are at the pool's own name, but
			// _https.<pool> has the _<port>._https names below it: an
			// empty non-terminal, NODATA (RFC 8020: never NXDOMAIN above
			// a name that exists).
			return kindPoolENT
		}
		return kindSVCB
	case len(port) < 3 || len(port) > 7 || port[0] != '_' || port[len(port)-1] != '.' || port[1] == '0':
		return kindNone
	}
	n := 0
	for _, c := range port[1 : len(port)-1] {
		if c < '0' || c > '9' {
			return kindNone
		}
		n = n*10 + int(c-'0')
	}
	if n > 0xFFFF {
		return kindNone
	}
	return kindSVCB
}

// svcSet returns the set and the number of elements (0: all) of an
// answer of type qt at a name of kind k of the pool, or nil when the name
// has no records of the type.
func svcSet(pv *handlespace.PoolView, k nameKind, qt uint16) (*handlespace.ElementSet, int) {
	switch {
	case k == kindPool && qt == dns.TypeHTTPS && pv.Spec.HTTPS != "":
		return &pv.All, pv.Spec.Answers
	case k == kindPool && qt == dns.TypeNAPTR && pv.Spec.NAPTR != "":
		return &pv.All, 0
	case k == kindSVCB && qt == svcbType(pv):
		return &pv.All, pv.Spec.Answers
	}
	return nil, 0
}

// svcbType is the type of the records at a pool's SVCB names: HTTPS for
// the https scheme, else SVCB.
func svcbType(pv *handlespace.PoolView) uint16 {
	if svcbScheme(pv) == "https" {
		return dns.TypeHTTPS
	}
	return dns.TypeSVCB
}

// isSvcType reports whether qt is one of the types of this file.
func isSvcType(qt uint16) bool {
	return qt == dns.TypeHTTPS || qt == dns.TypeSVCB || qt == dns.TypeNAPTR
}

// sNAPTR reports whether a NAPTR answer of the pool is S-NAPTR, which
// chooses no element (SRV does).
func sNAPTR(r *Result) bool { return r.Qtype == dns.TypeNAPTR && r.Pool.Spec.URI == "" }

// svcWire is an element's packed HTTPS/SVCB and U-NAPTR records.
type svcWire struct {
	// https is the HTTPS record of the pool's name (port left out when
	// it is 443), svcb the one of its SVCB names (port always there; the
	// same slice when the port is not 443). Owner a pointer to the
	// question, type HTTPS (patched to SVCB per query), SvcPriority
	// patched per query, TargetName in full (RFC 9460 §2.2 forbids
	// compressing it) at offset svcTarget.
	https, svcb []byte
	// naptr is the element's U-NAPTR records, one per services field,
	// each starting at an offset of naptrAt; preference patched per query.
	naptr   []byte
	naptrAt []uint16
}

// svcTarget is the offset of an HTTPS/SVCB record's TargetName: owner
// pointer (2), fixed part (10), SvcPriority (2).
const svcTarget = 2 + rrFixedLen + 2

// naptrOrder is the order of every NAPTR record of a pool: one order, so
// that a client tries the next preference when one fails (RFC 3403 §4.1).
const naptrOrder = 100

// buildSvcWire packs element e's HTTPS/SVCB and U-NAPTR records for a
// pool (key, its name on the wire).
func buildSvcWire(e *handlespace.Element, key wireKey, poolWireName []byte) *svcWire {
	sw := &svcWire{}
	if key.https != "" {
		rd := appendSvcRdata(nil, e, key.https, poolWireName, e.Port != 443)
		sw.https = appendRR(nil, ptrQname, dns.TypeHTTPS, key.ttl, rd)
		sw.svcb = sw.https
		if e.Port == 443 {
			rd = appendSvcRdata(rd[:0], e, key.https, poolWireName, true)
			sw.svcb = appendRR(nil, ptrQname, dns.TypeHTTPS, key.ttl, rd)
		}
	}
	if key.naptr != "" && key.uri != "" {
		u := expandURI(key.uri, e, key.name)
		d := naptrDelim(u)
		re := d + ".*" + d + u + d
		for _, f := range strings.Split(key.naptr, ",") {
			if len(re) > 255 {
				break // the zone grammar keeps it within a character-string
			}
			sw.naptrAt = append(sw.naptrAt, uint16(len(sw.naptr)))
			sw.naptr = appendRR(sw.naptr, ptrQname, dns.TypeNAPTR, key.ttl, appendNAPTRRdata(nil, 0, "U", f, re, []byte{0}))
		}
	}
	return sw
}

// appendSvcRdata appends the RDATA of element e's ServiceMode record
// (SvcPriority 0, patched per query): its name as TargetName and the
// SvcParams in key order, alpn (1), port (3) if withPort, ipv4hint (4)
// and ipv6hint (6).
func appendSvcRdata(rd []byte, e *handlespace.Element, alpn string, poolWireName []byte, withPort bool) []byte {
	rd = append(rd, 0, 0)
	rd = append(rd, byte(len(e.Label)))
	rd = append(rd, e.Label...)
	rd = append(rd, poolWireName...)
	rd = binary.BigEndian.AppendUint16(rd, 1) // alpn
	rd = binary.BigEndian.AppendUint16(rd, uint16(len(alpn)+1))
	for id := range strings.SplitSeq(alpn, ",") {
		rd = append(rd, byte(len(id)))
		rd = append(rd, id...)
	}
	if withPort {
		rd = binary.BigEndian.AppendUint16(rd, 3)
		rd = binary.BigEndian.AppendUint16(rd, 2)
		rd = binary.BigEndian.AppendUint16(rd, e.Port)
	}
	var v4, v6 []byte
	for _, a := range e.Addrs {
		if a.Is4() {
			b := a.As4()
			v4 = append(v4, b[:]...)
		} else {
			b := a.As16()
			v6 = append(v6, b[:]...)
		}
	}
	if len(v4) > 0 {
		rd = binary.BigEndian.AppendUint16(rd, 4)
		rd = binary.BigEndian.AppendUint16(rd, uint16(len(v4)))
		rd = append(rd, v4...)
	}
	if len(v6) > 0 {
		rd = binary.BigEndian.AppendUint16(rd, 6)
		rd = binary.BigEndian.AppendUint16(rd, uint16(len(v6)))
		rd = append(rd, v6...)
	}
	return rd
}

// appendNAPTRRdata appends a NAPTR RDATA (order naptrOrder): preference,
// flags, services, regexp and the replacement on the wire (uncompressed,
// RFC 3403 §4.1).
func appendNAPTRRdata(rd []byte, pref uint16, flags, services, re string, replacement []byte) []byte {
	rd = binary.BigEndian.AppendUint16(rd, naptrOrder)
	rd = binary.BigEndian.AppendUint16(rd, pref)
	for _, s := range [3]string{flags, services, re} {
		rd = append(rd, byte(len(s)))
		rd = append(rd, s...)
	}
	return append(rd, replacement...)
}

// naptrDelim returns a delimiter of a U-NAPTR regexp that uri does not
// hold (RFC 3402 §3.2: any character but a digit, a flag or a backslash).
func naptrDelim(uri string) string {
	for _, d := range []string{"!", "#", "|", "~", "%", "^", "&", ";", "=", "@", "+", ","} {
		if !strings.Contains(uri, d) {
			return d
		}
	}
	return "!" // no URI the zone grammar takes holds them all
}

// sNAPTRWire packs a pool's S-NAPTR records (one per services field),
// owner a pointer to the question.
func sNAPTRWire(pv *handlespace.PoolView) (b []byte, n int) {
	srv := srvName(pv)
	wire := make([]byte, 256)
	m, err := dns.PackDomainName(srv, wire, 0, nil, false)
	if err != nil {
		panic("dnsfront: SRV name does not pack: " + err.Error()) // handlespace names are valid
	}
	for i, f := range strings.Split(pv.Spec.NAPTR, ",") {
		b = appendRR(b, ptrQname, dns.TypeNAPTR, pv.Spec.TTL, appendNAPTRRdata(nil, uint16(10*(i+1)), "S", f, "", wire[:m]))
		n++
	}
	return b, n
}

// srvName is the name of a pool's SRV records that S-NAPTR points at: its
// service's name, else its own.
func srvName(pv *handlespace.PoolView) string {
	if pv.Spec.Service != "" {
		return pv.Spec.Service + "." + pv.Name
	}
	return pv.Name
}

// renderSvc writes the answer of an HTTPS, SVCB or NAPTR pool result into
// b (which holds the header and question) and returns it with the section
// counts (ancount -1: does not fit) and the ECS scope.
func (h *Handler) renderSvc(s *scratch, b []byte, req *request, r *Result, pw *poolWire) (_ []byte, ancount, arcount, scope int) {
	if sNAPTR(r) {
		if len(b)+len(pw.sNAPTR)+optLen(req) > req.maxSize {
			return b, -1, 0, -1
		}
		return append(b, pw.sNAPTR...), pw.nsNAPTR, 0, -1
	}
	n := r.Set.Len()
	if r.K > 0 {
		n = min(n, r.K)
	}
	minSize := pw.minSVCB
	if r.Qtype == dns.TypeNAPTR {
		minSize = pw.minUNAPTR
	}
	if !req.tcp && n > req.maxSize/minSize {
		// More than could fit: truncated without asking the policy (see
		// renderWire's SRV case).
		return b, -1, 0, -1
	}
	clientOf(&s.client, req)
	scope = choose(s, r, &s.client, h.sites.Load())
	wires := s.wires[:0]
	var part []*elemWire
	for j, p := range s.picks {
		if j == 0 || !p.SamePart(s.picks[j-1]) {
			part = pw.partOf(p)
		}
		wires = append(wires, part[p.Index()])
	}
	s.wires = wires
	if r.Qtype == dns.TypeNAPTR {
		b, ancount = appendUNAPTR(b, req, wires)
		return b, ancount, 0, scope
	}
	poolOff := qnameOffset + req.qnameLen() - (len(r.Pool.Name) + 1)
	atPool := len(r.Name) == len(r.Pool.Name)
	b, ancount, arcount = appendSvcb(b, req, wires, r.Qtype, atPool, poolOff)
	return b, ancount, arcount, scope
}

// appendUNAPTR writes the chosen elements' U-NAPTR records, each with its
// rank as preference. Over UDP an answer that does not fit is truncated;
// over TCP it is cut to the first elements that fit.
func appendUNAPTR(b []byte, req *request, wires []*elemWire) ([]byte, int) {
	budget := req.maxSize - len(b) - optLen(req)
	k := 0
	for _, ew := range wires {
		sz := len(ew.svc.naptr)
		if sz > budget {
			if !req.tcp {
				return b, -1
			}
			break
		}
		budget -= sz
		k++
	}
	ancount := 0
	for rank, ew := range wires[:k] {
		off := len(b)
		b = append(b, ew.svc.naptr...)
		for _, at := range ew.svc.naptrAt {
			binary.BigEndian.PutUint16(b[off+int(at)+14:], uint16(min(rank, 0xFFFF)))
		}
		ancount += len(ew.svc.naptrAt)
	}
	return b, ancount
}

// appendSvcb writes the chosen elements' HTTPS or SVCB records (qt), with
// SvcPriority 1, 2, … in policy order, and their targets' addresses as
// glue, by the rules of SRV answers (appendSRV): the answer first, whole
// RRsets of glue in policy order as far as they fit with TC clear; over
// UDP an answer that does not fit is truncated, over TCP cut to the first
// elements that fit with their glue. atPool: the records of the pool's
// own name (port left out when it is 443).
func appendSvcb(b []byte, req *request, wires []*elemWire, qt uint16, atPool bool, poolOff int) ([]byte, int, int) {
	rec := func(ew *elemWire) []byte {
		if atPool {
			return ew.svc.https
		}
		return ew.svc.svcb
	}
	budget := req.maxSize - len(b) - optLen(req)
	answer := 0
	for _, ew := range wires {
		answer += len(rec(ew))
	}
	if answer > budget {
		if !req.tcp {
			return b, -1, 0
		}
		n, target, left := 0, len(b)+svcTarget, budget
		answer = 0
		for _, ew := range wires {
			sz := len(rec(ew)) + glueSize(ew, ew.glueA, 14, target) + glueSize(ew, ew.glueAAAA, 26, target)
			if sz > left {
				break
			}
			left -= sz
			answer += len(rec(ew))
			target += len(rec(ew))
			n++
		}
		wires = wires[:n]
	}
	budget -= answer
	start := len(b)
	for rank, ew := range wires {
		off := len(b)
		b = append(b, rec(ew)...)
		binary.BigEndian.PutUint16(b[off+2:], qt)
		binary.BigEndian.PutUint16(b[off+svcTarget-2:], uint16(min(rank+1, 0xFFFF)))
	}
	if req.noGlue {
		return b, len(wires), 0
	}
	arcount := 0
	target := start + svcTarget
	for _, ew := range wires {
		r := rec(ew)
		if sz := glueSize(ew, ew.glueA, 14, target); sz > 0 && sz <= budget {
			budget -= sz
			b = appendSvcGlue(b, r, ew, ew.glueA, 14, target, poolOff)
			arcount += len(ew.glueA) / 14
		}
		if sz := glueSize(ew, ew.glueAAAA, 26, target); sz > 0 && sz <= budget {
			budget -= sz
			b = appendSvcGlue(b, r, ew, ew.glueAAAA, 26, target, poolOff)
			arcount += len(ew.glueAAAA) / 26
		}
		target += len(r)
	}
	return b, len(wires), arcount
}

// appendSvcGlue writes a target's address records (bodies of size bytes
// each), their owner a pointer to the target name at offset target or,
// past the pointer range, the target's label (from rec, the record) and a
// pointer to the pool's name in the question.
func appendSvcGlue(b, rec []byte, ew *elemWire, bodies []byte, size, target, poolOff int) []byte {
	for g := 0; g < len(bodies); g += size {
		if target <= maxPtr {
			b = binary.BigEndian.AppendUint16(b, uint16(0xC000|target))
		} else {
			b = append(b, rec[svcTarget:svcTarget+ew.labelLen]...)
			b = binary.BigEndian.AppendUint16(b, uint16(0xC000|poolOff))
		}
		b = append(b, bodies[g:g+size]...)
	}
	return b
}

// svcRRs appends the records of an HTTPS, SVCB or NAPTR pool answer for
// the chosen elements as poolRRs does: the same records as the packed
// material holds.
func svcRRs(answer, extra []dns.RR, r *Result, picks []handlespace.Pick) ([]dns.RR, []dns.RR) {
	pv := r.Pool
	ttl := pv.Spec.TTL
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: r.Name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	if sNAPTR(r) {
		srv := srvName(pv)
		for i, f := range strings.Split(pv.Spec.NAPTR, ",") {
			answer = append(answer, &dns.NAPTR{Hdr: hdr(dns.TypeNAPTR), Order: naptrOrder, Preference: uint16(10 * (i + 1)),
				Flags: "S", Service: f, Replacement: srv})
		}
		return answer, extra
	}
	atPool := len(r.Name) == len(pv.Name)
	for rank, p := range picks {
		e := p.Elem()
		target := e.Label + "." + pv.Name
		if r.Qtype == dns.TypeNAPTR {
			u := expandURI(pv.Spec.URI, e, pv.Name)
			d := naptrDelim(u)
			for f := range strings.SplitSeq(pv.Spec.NAPTR, ",") {
				answer = append(answer, &dns.NAPTR{Hdr: hdr(dns.TypeNAPTR), Order: naptrOrder, Preference: uint16(min(rank, 0xFFFF)),
					Flags: "U", Service: f, Regexp: d + ".*" + d + u + d, Replacement: "."})
			}
			continue
		}
		svcb := dns.SVCB{Hdr: hdr(r.Qtype), Priority: uint16(min(rank+1, 0xFFFF)), Target: target}
		svcb.Value = append(svcb.Value, &dns.SVCBAlpn{Alpn: strings.Split(pv.Spec.HTTPS, ",")})
		if !atPool || e.Port != 443 {
			svcb.Value = append(svcb.Value, &dns.SVCBPort{Port: e.Port})
		}
		var v4, v6 []net.IP
		for _, a := range e.Addrs {
			if a.Is4() {
				v4 = append(v4, a.AsSlice())
			} else {
				v6 = append(v6, a.AsSlice())
			}
		}
		if len(v4) > 0 {
			svcb.Value = append(svcb.Value, &dns.SVCBIPv4Hint{Hint: v4})
		}
		if len(v6) > 0 {
			svcb.Value = append(svcb.Value, &dns.SVCBIPv6Hint{Hint: v6})
		}
		if r.Qtype == dns.TypeHTTPS {
			answer = append(answer, &dns.HTTPS{SVCB: svcb})
		} else {
			answer = append(answer, &svcb)
		}
		extra = appendAddrs(extra, target, e, dns.TypeA, ttl)
		extra = appendAddrs(extra, target, e, dns.TypeAAAA, ttl)
	}
	return answer, extra
}
