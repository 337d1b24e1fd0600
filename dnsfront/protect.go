package dnsfront

import (
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/cookie"
	"github.com/poolnsd/poolnsd/internal/ednsopt"
	"github.com/poolnsd/poolnsd/internal/identity"
	"github.com/poolnsd/poolnsd/internal/prefixset"
	"github.com/poolnsd/poolnsd/internal/rrl"
)

// Protections are the checks a public authoritative server makes of each
// query, and the options it adds to replies: the query ACL, DNS Cookies
// (RFC 7873, RFC 9018), response rate limiting, NSID (RFC 5001) and the
// CHAOS identity names. Every field may be nil: that feature is off.
type Protections struct {
	Cookies  *cookie.Jar        // nil: cookies are neither checked nor given
	RRL      *rrl.Limiter       // nil: no rate limit
	Identity *identity.Identity // nil: no NSID, CHAOS names REFUSED
	Allow    *prefixset.Set     // clients that may query; nil: any
}

// noProtections is the Protections of a handler given none.
var noProtections = &Protections{}

// SetProtections replaces the protections (nil: none); the queries after
// it use the new ones.
func (h *Handler) SetProtections(p *Protections) {
	if p == nil {
		p = noProtections
	}
	h.prot.Store(p)
}

// CookieCounts returns the number of queries with a COOKIE option so far,
// by what it held (cookie.Status names: "valid", "client-only", …), over
// every Protections the handler had.
func (h *Handler) CookieCounts() map[string]uint64 {
	out := make(map[string]uint64, len(h.cookieCounts))
	for st := range h.cookieCounts {
		if st != int(cookie.None) {
			out[cookie.Status(st).String()] = h.cookieCounts[st].Load()
		}
	}
	return out
}

// Protections returns the protections in use (never nil; a zero
// Protections when there are none).
func (h *Handler) Protections() *Protections { return h.prot.Load() }

// queryOpts is what the protections read of a query's OPT record.
type queryOpts struct {
	cookie    []byte // the first COOKIE option's data (a view of the query)
	hasCookie bool
	nsid      bool // an NSID option: the client asks for our identity
}

// admit makes the checks of a query before its lookup: the ACL and its
// cookie. It returns the rcode of the error reply the query gets instead of
// an answer (req.ede says why, when it should), or -1 to go on.
func (h *Handler) admit(req *request, qo *queryOpts) int {
	p := req.prot
	if p.Allow != nil && !p.Allow.All() && !p.Allow.Contains(req.client.Addr()) {
		req.setEDE(ednsopt.Prohibited)
		return dns.RcodeRefused
	}
	if qo.nsid && p.Identity.NSID() != nil {
		req.nsid = true
	}
	if !qo.hasCookie || p.Cookies == nil {
		return -1
	}
	if req.now.IsZero() {
		req.now = time.Now()
	}
	req.ckSt = p.Cookies.Check(qo.cookie, req.client.Addr(), req.now, &req.ck)
	if int(req.ckSt) < len(h.cookieCounts) {
		h.cookieCounts[req.ckSt].Add(1)
	}
	switch cookie.Decide(req.ckSt, req.tcp) {
	case cookie.FormErr:
		req.ckSt = cookie.None // the reply has no COOKIE (RFC 7873 §5.2.2)
		return dns.RcodeFormatError
	case cookie.BadCookie:
		return dns.RcodeBadCookie
	}
	return -1
}

// limit asks the rate limiter about a reply to req of class c about name
// (UDP only; TCP, TLS and valid cookies are never limited).
func (h *Handler) limit(req *request, c rrl.Class, name string) rrl.Verdict {
	p := req.prot
	if p.RRL == nil || req.tcp {
		return rrl.Send
	}
	if req.now.IsZero() {
		req.now = time.Now()
	}
	v := p.RRL.Decide(&rrl.Response{Client: req.client.Addr(), Class: c, Name: name, Type: req.q.Qtype,
		Verified: req.ckSt.Verified()}, req.now)
	if v == rrl.Slip && cookie.SlipAction(req.ckSt) == cookie.BadCookie {
		req.slipBadCookie = true
	}
	return v
}

// rrlClass is the rate limiter's class and name of a result's reply.
func rrlClass(r *Result) (rrl.Class, string) {
	switch r.Kind {
	case KindNoData:
		return rrl.NoData, r.Zone.Origin
	case KindNXDomain:
		return rrl.NXDomain, r.Zone.Origin
	case KindReferral:
		return rrl.Referral, r.Records[0].Header().Name
	case KindRefused:
		return rrl.Error, ""
	}
	return rrl.Answer, r.Name
}

// cookieLen is the length of the COOKIE option the reply carries.
func (req *request) cookieLen() int {
	if req.prot.Cookies == nil || !req.ckSt.HasClient() {
		return 0
	}
	return 4 + cookie.ClientLen + cookie.ServerLen
}

// nsidLen is the length of the NSID option the reply carries.
func (req *request) nsidLen() int {
	if !req.nsid {
		return 0
	}
	return 4 + len(req.prot.Identity.NSID())
}

// appendReplyOptions appends the reply's COOKIE and NSID options (code,
// length, data) to b.
func appendReplyOptions(b []byte, req *request) []byte {
	if req.ckSt == cookie.None && !req.nsid {
		return b
	}
	if req.cookieLen() > 0 {
		b = req.prot.Cookies.AppendOption(b, &req.ck, req.ckSt, req.client.Addr(), req.now)
	}
	if req.nsid {
		id := req.prot.Identity.NSID()
		b = binary.BigEndian.AppendUint16(b, ednsopt.CodeNSID)
		b = binary.BigEndian.AppendUint16(b, uint16(len(id)))
		b = append(b, id...)
	}
	return b
}

// addReplyOptions adds the reply's COOKIE, NSID and EDE options to m's OPT
// record.
func addReplyOptions(m *dns.Msg, req *request) {
	opt := m.IsEdns0()
	if opt == nil {
		return
	}
	if req.cookieLen() > 0 {
		opt.Option = append(opt.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE,
			Cookie: req.prot.Cookies.ReplyHex(&req.ck, req.ckSt, req.client.Addr(), req.now)})
	}
	if req.nsid {
		opt.Option = append(opt.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: hex.EncodeToString(req.prot.Identity.NSID())})
	}
	if req.edeSet {
		ednsopt.AddEDE(m, req.ede, req.edeText)
	}
}

// msgQueryOpts reads the options the protections use from miekg/dns's
// form of an OPT record (the UDP loop: readOptions).
func msgQueryOpts(opt *dns.OPT, qo *queryOpts) {
	if opt == nil {
		return
	}
	for _, o := range opt.Option {
		switch o := o.(type) {
		case *dns.EDNS0_COOKIE:
			if !qo.hasCookie {
				b, err := hex.DecodeString(o.Cookie)
				if err != nil {
					b = []byte{0} // cannot be: miekg/dns wrote the hex; Malformed
				}
				qo.cookie, qo.hasCookie = b, true
			}
		case *dns.EDNS0_NSID:
			qo.nsid = true
		}
	}
}

// chaos answers a CHAOS-class query: the identity names (id.server.,
// hostname.bind., version.bind.), REFUSED for the rest.
func (h *Handler) chaos(req *request) (rcode int, rr dns.RR) {
	rr, res := req.prot.Identity.ChaosRR(req.q)
	switch res {
	case identity.Answer:
		return dns.RcodeSuccess, rr
	case identity.NoData:
		return dns.RcodeSuccess, nil
	}
	return dns.RcodeRefused, nil
}
