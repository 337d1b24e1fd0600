package dnsfront

import (
	"encoding/binary"
	"slices"
	"strings"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
)

// The slow path builds a dns.Msg: static records, negative answers, ANY,
// referrals, errors. It allocates, but pool answers never take it.

// maxChase bounds CNAME chains followed inside a zone.
const maxChase = 8

// reply answers with an error rcode and no records (but the OPT record, which
// also carries extended rcodes such as BADVERS).
func (h *Handler) reply(w dns.ResponseWriter, r *dns.Msg, req *request, rcode int) {
	m := new(dns.Msg)
	m.SetRcode(r, rcode)
	m.RecursionAvailable = false
	if req != nil && req.opt != nil {
		m.SetEdns0(uint16(h.udpSize), req.opt.Do())
		m.Rcode = rcode // SetEdns0 keeps it; Pack splits extended rcodes into the OPT
	}
	h.write(w, m, req)
}

func (h *Handler) write(w dns.ResponseWriter, m *dns.Msg, req *request) {
	m.Compress = true
	if req != nil && !req.tcp {
		fit(m, req.maxSize) // before signing: the signature's room is out of maxSize already
	}
	if req != nil && req.tsig != nil {
		signReply(m, req.tsig)
	}
	size := 0
	if (req != nil && req.logq) || (req == nil && h.queryLog.Load()) {
		size = m.Len()
	}
	h.account(w, req, m.Rcode, m.Truncated, size)
	if err := w.WriteMsg(m); err != nil {
		h.log.Debug("writing reply", "err", err)
	}
}

func (h *Handler) slow(w dns.ResponseWriter, req *request, z *handlespace.Zone, t *target) {
	m := new(dns.Msg)
	m.SetReply(req.r)
	m.Authoritative = true
	switch t.kind {
	case kindNone:
		h.negative(m, z, dns.RcodeNameError, t.pool)
	case kindStatic:
		h.static(w, m, req, z)
	default:
		h.poolSlow(m, req, z, t)
	}
	if req.opt != nil {
		m.SetEdns0(uint16(h.udpSize), req.opt.Do())
		if ecs := subnetOption(req.opt); ecs != nil {
			echo := *ecs
			echo.SourceScope = 0
			opt := m.IsEdns0()
			opt.Option = append(opt.Option, &echo)
		}
	}
	h.write(w, m, req)
}

// negative sets rcode (NXDOMAIN, or NOERROR for NODATA) and the zone's SOA in
// the authority section with the negative TTL (RFC 2308). pool is the pool
// at or above the name, if any: its negative answers live no longer than
// its positive ones (a pool that comes back from all-down must not stay
// hidden behind a resolver for the zone's negative TTL), so the SOA's TTL
// is at most the pool's; resolvers cache a negative answer for the
// smaller of the SOA's TTL and its MINIMUM field.
func (h *Handler) negative(m *dns.Msg, z *handlespace.Zone, rcode int, pool *handlespace.PoolView) {
	m.Rcode = rcode
	soa := dns.Copy(z.SOA).(*dns.SOA)
	soa.Hdr.Ttl = z.NegTTL
	if pool != nil {
		soa.Hdr.Ttl = min(soa.Hdr.Ttl, pool.Spec.TTL)
	}
	m.Ns = append(m.Ns, soa)
}

// poolSlow answers what the fast path declines at a pool's names: ANY,
// types the name does not hold, and pools with no element to serve.
func (h *Handler) poolSlow(m *dns.Msg, req *request, z *handlespace.Zone, t *target) {
	if req.q.Qtype == dns.TypeANY {
		// RFC 8482: a minimal, synthesised answer rather than everything.
		m.Answer = append(m.Answer, &dns.HINFO{
			Hdr: dns.RR_Header{Name: req.q.Name, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: t.pool.Spec.TTL},
			Cpu: "RFC8482",
		})
		return
	}
	h.negative(m, z, dns.RcodeSuccess, t.pool)
}

// static answers from the zone file's records.
func (h *Handler) static(w dns.ResponseWriter, m *dns.Msg, req *request, z *handlespace.Zone) {
	qname, qtype := req.qname, req.q.Qtype
	if cut := findCut(z, qname); cut != nil {
		// Below a delegation: refer (RFC 1034 §4.3.2), not authoritative.
		m.Authoritative = false
		m.Ns = append(m.Ns, cut.RRs[dns.TypeNS]...)
		m.Extra = addGlue(m.Extra, z, cut.RRs[dns.TypeNS])
		return
	}
	owner := req.q.Name
	for chase := 0; ; chase++ {
		node := z.Nodes[qname]
		if node == nil {
			node = wildcard(z, qname)
			if node == nil {
				// After a CNAME too: the rcode is the last name's (RFC 6604).
				h.negative(m, z, dns.RcodeNameError, nil)
				return
			}
			node = synthesise(node, owner)
		}
		if cn := node.RRs[dns.TypeCNAME]; cn != nil && qtype != dns.TypeCNAME {
			m.Answer = append(m.Answer, cn...)
			next := lower(cn[0].(*dns.CNAME).Target)
			if chase+1 >= maxChase || !dns.IsSubDomain(z.Origin, next) || findCut(z, next) != nil {
				// Out of the zone or delegated: the resolver asks for the
				// target itself.
				return
			}
			if t := classify(z, next); t.kind != kindStatic {
				h.chasePool(w, m, req, z, &t, cn[0].(*dns.CNAME).Target)
				return
			}
			qname, owner = next, cn[0].(*dns.CNAME).Target
			continue
		}
		if qtype == dns.TypeANY && len(node.RRs) > 0 {
			// RFC 8482: one RRset, not all of them.
			types := make([]uint16, 0, len(node.RRs))
			for t := range node.RRs {
				types = append(types, t)
			}
			qtype = slices.Min(types)
		}
		rrs := node.RRs[qtype]
		if len(rrs) == 0 {
			h.negative(m, z, dns.RcodeSuccess, nil)
			return
		}
		m.Answer = append(m.Answer, rrs...)
		m.Extra = addGlue(m.Extra, z, rrs)
		return
	}
}

// chasePool completes a CNAME chain that ends at a pool's name with the
// pool's answer for that name, chosen as for a query of its own.
func (h *Handler) chasePool(w dns.ResponseWriter, m *dns.Msg, req *request, z *handlespace.Zone, t *target, target string) {
	if t.kind == kindNone {
		h.negative(m, z, dns.RcodeNameError, t.pool)
		return
	}
	sub := request{r: req.r, q: dns.Question{Name: dns.Fqdn(target), Qtype: req.q.Qtype, Qclass: dns.ClassINET},
		qname: lower(dns.Fqdn(target)), tcp: true, maxSize: dns.MaxMsgSize}
	s := h.scratch.Get().(*scratch)
	defer h.scratch.Put(s)
	clientOf(&s.client, w, req.opt)
	an, ar, ok := h.build(s, &sub, t)
	if !ok || an < 0 {
		h.negative(m, z, dns.RcodeSuccess, t.pool)
		return
	}
	binary.BigEndian.PutUint16(s.buf[6:], uint16(an))
	binary.BigEndian.PutUint16(s.buf[10:], uint16(ar))
	var part dns.Msg
	if err := part.Unpack(s.buf); err != nil {
		h.log.Error("internal error: packed pool answer does not unpack", "name", target, "err", err)
		return
	}
	m.Answer = append(m.Answer, part.Answer...)
	m.Extra = append(m.Extra, part.Extra...)
}

// fit makes a reply fit size bytes (RFC 2181 §9): it leaves out whole
// RRsets of additional data, from the end, and sets TC, with every section
// emptied, only when what remains still does not fit: when the answer or
// authority section does not, or, in a referral, the glue of name servers
// inside the delegated zone (without which the referral cannot be
// followed, RFC 9471). The OPT record stays.
func fit(m *dns.Msg, size int) {
	if m.Len() <= size {
		return
	}
	opt := m.IsEdns0()
	extra := m.Extra[:0:0]
	for _, rr := range m.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	required := 0 // the glue records a referral needs, moved to the front
	if !m.Authoritative && len(m.Answer) == 0 && len(m.Ns) > 0 && m.Ns[0].Header().Rrtype == dns.TypeNS {
		cut := m.Ns[0].Header().Name
		var optional []dns.RR
		for _, rr := range extra {
			if dns.IsSubDomain(cut, rr.Header().Name) {
				extra[required] = rr
				required++
			} else {
				optional = append(optional, rr)
			}
		}
		extra = append(extra[:required], optional...)
	}
	withOPT := func(rrs []dns.RR) []dns.RR {
		if opt != nil {
			return append(rrs[:len(rrs):len(rrs)], opt)
		}
		return rrs
	}
	for len(extra) > required {
		// Drop the last RRset: the records at the end with the last one's
		// name and type.
		last := extra[len(extra)-1].Header()
		n := len(extra) - 1
		for n > required && extra[n-1].Header().Rrtype == last.Rrtype && strings.EqualFold(extra[n-1].Header().Name, last.Name) {
			n--
		}
		extra = extra[:n]
		m.Extra = withOPT(extra)
		if m.Len() <= size {
			return
		}
	}
	m.Truncated = true
	m.Answer, m.Ns, m.Extra = nil, nil, withOPT(nil)
}

// findCut returns the delegation point (a node with NS records strictly below
// the origin) at or above name, the highest one first, or nil.
func findCut(z *handlespace.Zone, name string) *handlespace.Node {
	if len(name) <= len(z.Origin) {
		return nil
	}
	// Walk up from name, remembering the highest cut.
	var cut *handlespace.Node
	for s := name; len(s) > len(z.Origin); {
		if n := z.Nodes[s]; n != nil && n.RRs[dns.TypeNS] != nil {
			cut = n
		}
		i := strings.IndexByte(s, '.')
		if i < 0 {
			break
		}
		s = s[i+1:]
	}
	return cut
}

// wildcard returns the wildcard node that synthesises name (RFC 4592): the
// "*" child of name's closest encloser, or nil.
func wildcard(z *handlespace.Zone, name string) *handlespace.Node {
	for s := name; len(s) > len(z.Origin); {
		i := strings.IndexByte(s, '.')
		if i < 0 {
			return nil
		}
		s = s[i+1:]
		if _, exists := z.Nodes[s]; exists || s == z.Origin {
			if w := z.Nodes["*."+s]; w != nil && len(w.RRs) > 0 {
				return w
			}
			return nil
		}
	}
	return nil
}

// synthesise copies a wildcard node's records with owner as their name.
func synthesise(w *handlespace.Node, owner string) *handlespace.Node {
	n := &handlespace.Node{Name: owner, RRs: make(map[uint16][]dns.RR, len(w.RRs))}
	for t, rrs := range w.RRs {
		for _, rr := range rrs {
			c := dns.Copy(rr)
			c.Header().Name = owner
			n.RRs[t] = append(n.RRs[t], c)
		}
	}
	return n
}

// addGlue adds the zone's addresses of the names that NS, MX and SRV
// records point to.
func addGlue(extra []dns.RR, z *handlespace.Zone, rrs []dns.RR) []dns.RR {
	for _, rr := range rrs {
		var target string
		switch v := rr.(type) {
		case *dns.NS:
			target = v.Ns
		case *dns.MX:
			target = v.Mx
		case *dns.SRV:
			target = v.Target
		default:
			continue
		}
		if n := z.Nodes[lower(target)]; n != nil {
			extra = append(extra, n.RRs[dns.TypeA]...)
			extra = append(extra, n.RRs[dns.TypeAAAA]...)
		}
	}
	return extra
}
