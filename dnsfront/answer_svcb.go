package dnsfront

import (
	"encoding/binary"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/poolrr"
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

// isSvcType reports whether qt is one of the types of this file.
func isSvcType(qt uint16) bool {
	return qt == dns.TypeHTTPS || qt == dns.TypeSVCB || qt == dns.TypeNAPTR
}

// svcTarget is the offset of an HTTPS/SVCB record's TargetName
// (poolrr.SvcTarget).
const svcTarget = poolrr.SvcTarget

// sNAPTR reports whether a NAPTR answer of the pool is S-NAPTR, which
// chooses no element (SRV does).
func sNAPTR(r *Result) bool { return r.Qtype == dns.TypeNAPTR && r.Pool.Spec.URI == "" }

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
		sz := len(ew.svc.NAPTR)
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
		b = append(b, ew.svc.NAPTR...)
		for _, at := range ew.svc.NAPTRAt {
			binary.BigEndian.PutUint16(b[off+int(at)+14:], uint16(min(rank, 0xFFFF)))
		}
		ancount += len(ew.svc.NAPTRAt)
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
			return ew.svc.HTTPS
		}
		return ew.svc.SVCB
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
			sz := len(rec(ew)) + glueSize(ew, ew.glueA(), 14, target) + glueSize(ew, ew.glueAAAA(), 26, target)
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
		if sz := glueSize(ew, ew.glueA(), 14, target); sz > 0 && sz <= budget {
			budget -= sz
			b = appendSvcGlue(b, r, ew, ew.glueA(), 14, target, poolOff)
			arcount += len(ew.glueA()) / 14
		}
		if sz := glueSize(ew, ew.glueAAAA(), 26, target); sz > 0 && sz <= budget {
			budget -= sz
			b = appendSvcGlue(b, r, ew, ew.glueAAAA(), 26, target, poolOff)
			arcount += len(ew.glueAAAA()) / 26
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
			b = append(b, rec[svcTarget:svcTarget+int(ew.labelLen)]...)
			b = binary.BigEndian.AppendUint16(b, uint16(0xC000|poolOff))
		}
		b = append(b, bodies[g:g+size]...)
	}
	return b
}
