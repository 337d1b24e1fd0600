package dnsfront

import (
	"encoding/binary"
	"slices"
	"strings"

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
	m, scope, err := h.signedMsg(req, r, z, do)
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

// signedMsg builds the reply of writeDNSSEC.
func (h *Handler) signedMsg(req *request, r *Result, z *dnssec.Zone, do bool) (*dns.Msg, int, error) {
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

	m, scope := h.buildMsg(req, r)
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

// The wire renderer signs the common answers itself: an A or AAAA answer of
// a pool, or of an element's own name, to a DO query. Their RRset is read
// back from the packed records into an RRset (no allocation), its
// signatures come from the cache (made on a miss) and are appended packed,
// owner a pointer to the question. The other kinds of signed answers take
// the dns.Msg renderer.

// wireSigning says how the wire renderer writes a pool or element result
// (without a CNAME chain) for req: unsigned (z nil, ok), signed by z (ok),
// or not at all (!ok: a signed answer of a type it does not sign, which
// the dns.Msg renderer writes). Without DO it costs one test.
func (h *Handler) wireSigning(req *request, r *Result) (z *dnssec.Zone, ok bool) {
	if !req.edns.do {
		return nil, true
	}
	if z = h.signerOf(r); z == nil {
		return nil, true
	}
	return z, r.Qtype == dns.TypeA || r.Qtype == dns.TypeAAAA
}

// renderWireDNSSEC is renderWire for an A or AAAA pool or element answer of
// a zone that z signs: the records, then the RRSIGs of their RRset. It
// returns false when a signature cannot be made (after logging why): the
// dns.Msg renderer then tries, and answers SERVFAIL.
func (h *Handler) renderWireDNSSEC(s *scratch, dst []byte, req *request, r *Result, z *dnssec.Zone) ([]byte, bool) {
	pw := r.Pool.Memo(buildPoolWire).(*poolWire)
	b := appendQuestion(appendHeader(dst, req), req)
	start := len(b)
	ancount, scope := 0, -1
	if r.Kind == KindElement {
		ew := pw.wireOf(r.Elem)
		if r.Qtype == dns.TypeA {
			b, ancount = append(b, ew.a...), int(ew.na)
		} else {
			b, ancount = append(b, ew.aaaa...), int(ew.naaaa)
		}
	} else {
		clientOf(&s.client, req)
		scope = choose(s, r, &s.client, h.sites.Load())
		b, ancount, _ = h.packPool(s, b, req, r, pw)
		h.tallyWire(r, s)
	}
	if ancount > 0 {
		// The records' owner is a pointer to the question's name.
		qname := b[len(dst)+headerLen : len(dst)+headerLen+req.qnameLen()]
		s.set.ResetWire(qname, r.Qtype, binary.BigEndian.Uint32(b[start+2+4:])) // after owner, type, class
		for off := start; off < len(b); {
			n := int(binary.BigEndian.Uint16(b[off+2+8:]))
			s.set.Add(b[off+2+rrFixedLen : off+2+rrFixedLen+n])
			off += 2 + rrFixedLen + n
		}
		sigs, err := z.SignSet(&s.set)
		if err != nil {
			h.log.Error("cannot sign the answer", "qname", req.q.Name, "qtype", dns.Type(r.Qtype).String(), "err", err.Error())
			return nil, false
		}
		b = sigs.AppendWire(b, ptrQuestion)
		ancount += sigs.Len()
	}
	return h.finish(req, b, len(dst), ancount, 0, scope), true
}

// ptrQuestion is a compression pointer to the question's name.
var ptrQuestion = []byte{ptrQname >> 8, ptrQname & 0xFF}

// writeWireDNSSEC is writeWire for a signed A or AAAA pool or element
// answer (renderWireDNSSEC), and reports whether it wrote it.
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
