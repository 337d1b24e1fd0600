package dnsfront

import (
	"strings"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/poolrr"
)

// The dns.Msg renderer writes every kind of result: static records,
// negative answers, referrals, CNAME chains (into pools too), errors. It
// allocates; pool and element answers to a plain question take the wire
// renderer instead.

// reply answers with an error rcode and no records (but the OPT record, which
// also carries extended rcodes such as BADVERS).
func (h *Handler) reply(w dns.ResponseWriter, r *dns.Msg, req *request, rcode int) {
	var m *dns.Msg
	if req != nil {
		m = replyMsg(req)
	} else {
		m = new(dns.Msg)
		m.SetReply(r)
	}
	if req != nil && req.edns.on {
		m.SetEdns0(uint16(h.udpSize), req.edns.do)
		req.AddOptions(m, req.client.Addr())
	}
	m.Rcode = rcode // Pack splits extended rcodes (BADVERS, BADCOOKIE) into the OPT
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

// writeMsg writes the reply of a lookup result as a dns.Msg: every kind,
// the ones the wire renderer declines included.
func (h *Handler) writeMsg(w dns.ResponseWriter, req *request, r *Result) {
	if r.Kind == KindRefused {
		h.reply(w, req.r, req, dns.RcodeRefused)
		return
	}
	m, scope := h.buildMsg(req, r)
	if req.edns.on {
		setOPT(m, req, h.udpSize, scope)
	}
	h.write(w, m, req)
}

// buildMsg returns the reply of a lookup result (not KindRefused) without
// its OPT record, and the ECS scope that the OPT record gets (-1: the
// answer does not depend on the client's subnet).
func (h *Handler) buildMsg(req *request, r *Result) (*dns.Msg, int) {
	m := replyMsg(req)
	m.Authoritative = r.Kind.Authoritative()
	m.Rcode = r.Kind.Rcode()
	m.Answer = append(m.Answer, r.Chain...)
	scope := -1
	switch r.Kind {
	case KindStatic:
		m.Answer = append(m.Answer, r.Records...)
		m.Extra = append(m.Extra, r.Glue...)
	case KindWildcard:
		m.Answer = append(m.Answer, synthesise(r.Records, r.Name)...)
		m.Extra = append(m.Extra, r.Glue...)
	case KindReferral:
		m.Ns = append(m.Ns, r.Records...)
		m.Extra = append(m.Extra, r.Glue...)
	case KindNXDomain, KindNoData:
		m.Ns = append(m.Ns, r.SOA())
	case KindElement:
		m.Answer = poolrr.AppendAddrs(m.Answer, r.Name, r.Elem, r.Qtype, r.Pool.Spec.TTL)
	case KindPool:
		s := h.scratch.Get().(*scratch)
		defer h.scratch.Put(s)
		clientOf(&s.client, req)
		scope = choose(s, r, &s.client, h.sites.Load())
		h.tallyAnswer(r, s)
		m.Answer, m.Extra = poolrr.RRs(m.Answer, m.Extra, r.Pool, r.Name, r.Qtype, s.picks)
	}
	return m, scope
}

// fit makes a reply fit size bytes (RFC 2181 §9): it leaves out whole
// RRsets of additional data, from the end, and sets TC, with every section
// emptied, only when what remains still does not fit: when the answer or
// authority section does not, or, in a referral, the glue of name servers
// inside the delegated zone (without which the referral cannot be
// followed, RFC 9471). The OPT record stays.
func fit(m *dns.Msg, size int) {
	// The length without compression is counted without allocating, and
	// most replies fit even so.
	m.Compress = false
	fits := m.Len() <= size
	m.Compress = true
	if fits || m.Len() <= size {
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
		if sig, ok := extra[len(extra)-1].(*dns.RRSIG); ok {
			// Signatures go with the RRset they cover, just before them.
			for n > required && extra[n-1].Header().Rrtype == sig.TypeCovered && strings.EqualFold(extra[n-1].Header().Name, last.Name) {
				n--
			}
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
