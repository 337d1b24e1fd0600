package protect

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"sync/atomic"
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

// Query is what the protections decided of one query, kept with its
// request: the Protections in use, the cookie and NSID options its reply
// carries and an Extended DNS Error for it, the rate limit's slip.
type Query struct {
	Prot          *Protections
	Now           time.Time     // when the query came, once needed
	Ck            cookie.Option // the query's COOKIE option
	CkSt          cookie.Status
	NSID          bool   // the reply carries our NSID
	EDE           uint16 // an Extended DNS Error for the reply, when EDESet
	EDEText       string // its EXTRA-TEXT
	EDESet        bool
	SlipBadCookie bool // a slipped reply is BADCOOKIE, not TC=1
	Slipped       bool // the reply is the rate limit's slip, not a truncation
}

// SetEDE gives the reply an Extended DNS Error (RFC 8914) of info code.
func (q *Query) SetEDE(code uint16) { q.EDE, q.EDESet = code, true }

// SetEDEText is SetEDE with an EXTRA-TEXT.
func (q *Query) SetEDEText(code uint16, text string) {
	q.EDE, q.EDEText, q.EDESet = code, text, true
}

// CookieCounts counts queries with a COOKIE option, by status.
type CookieCounts [cookie.ValidRenew + 1]atomic.Uint64

// Map returns the counts (cookie.Status names: "valid", "client-only",
// …).
func (c *CookieCounts) Map() map[string]uint64 {
	out := make(map[string]uint64, len(c))
	for st := range c {
		if st != int(cookie.None) {
			out[cookie.Status(st).String()] = c[st].Load()
		}
	}
	return out
}

// QueryOpts is what the protections read of a query's OPT record.
type QueryOpts struct {
	Cookie    []byte // the first COOKIE option's data (a view of the query)
	HasCookie bool
	NSID      bool // an NSID option: the client asks for our identity
}

// Admit makes the checks of a query from client (read only when needed)
// over TCP or not (tcp) before its lookup: the ACL and its cookie
// (counted in counts). It returns the rcode of the error reply the query
// gets instead of an answer (q.EDE says why, when it should), or -1 to go
// on.
func (q *Query) Admit(client *netip.AddrPort, tcp bool, qo *QueryOpts, counts *CookieCounts) int {
	p := q.Prot
	if p.Allow != nil && !p.Allow.All() && !p.Allow.Contains(client.Addr()) {
		q.SetEDE(ednsopt.Prohibited)
		return dns.RcodeRefused
	}
	if qo.NSID && p.Identity.NSID() != nil {
		q.NSID = true
	}
	if !qo.HasCookie || p.Cookies == nil {
		return -1
	}
	if q.Now.IsZero() {
		q.Now = time.Now()
	}
	q.CkSt = p.Cookies.Check(qo.Cookie, client.Addr(), q.Now, &q.Ck)
	if int(q.CkSt) < len(counts) {
		counts[q.CkSt].Add(1)
	}
	switch cookie.Decide(q.CkSt, tcp) {
	case cookie.FormErr:
		q.CkSt = cookie.None // the reply has no COOKIE (RFC 7873 §5.2.2)
		return dns.RcodeFormatError
	case cookie.BadCookie:
		return dns.RcodeBadCookie
	}
	return -1
}

// Limit asks the rate limiter about a reply to a query of type qtype from
// client (read only when needed) over TCP or not (tcp), of class c about
// name (UDP only; TCP, TLS and valid cookies are never limited).
func (q *Query) Limit(client *netip.AddrPort, tcp bool, qtype uint16, c rrl.Class, name string) rrl.Verdict {
	p := q.Prot
	if p.RRL == nil || tcp {
		return rrl.Send
	}
	if q.Now.IsZero() {
		q.Now = time.Now()
	}
	v := p.RRL.Decide(&rrl.Response{Client: client.Addr(), Class: c, Name: name, Type: qtype,
		Verified: q.CkSt.Verified()}, q.Now)
	if v == rrl.Slip && cookie.SlipAction(q.CkSt) == cookie.BadCookie {
		q.SlipBadCookie = true
	}
	return v
}

// CookieLen is the length of the COOKIE option the reply carries.
func (q *Query) CookieLen() int {
	if q.Prot.Cookies == nil || !q.CkSt.HasClient() {
		return 0
	}
	return 4 + cookie.ClientLen + cookie.ServerLen
}

// NSIDLen is the length of the NSID option the reply carries.
func (q *Query) NSIDLen() int {
	if !q.NSID {
		return 0
	}
	return 4 + len(q.Prot.Identity.NSID())
}

// AppendOptions appends the COOKIE and NSID options (code, length, data)
// of the reply to client to b.
func (q *Query) AppendOptions(b []byte, client netip.Addr) []byte {
	if q.CkSt == cookie.None && !q.NSID {
		return b
	}
	if q.CookieLen() > 0 {
		b = q.Prot.Cookies.AppendOption(b, &q.Ck, q.CkSt, client, q.Now)
	}
	if q.NSID {
		id := q.Prot.Identity.NSID()
		b = binary.BigEndian.AppendUint16(b, ednsopt.CodeNSID)
		b = binary.BigEndian.AppendUint16(b, uint16(len(id)))
		b = append(b, id...)
	}
	return b
}

// AddOptions adds the COOKIE, NSID and EDE options of the reply to client
// to m's OPT record.
func (q *Query) AddOptions(m *dns.Msg, client netip.Addr) {
	opt := m.IsEdns0()
	if opt == nil {
		return
	}
	if q.CookieLen() > 0 {
		opt.Option = append(opt.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE,
			Cookie: q.Prot.Cookies.ReplyHex(&q.Ck, q.CkSt, client, q.Now)})
	}
	if q.NSID {
		opt.Option = append(opt.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: hex.EncodeToString(q.Prot.Identity.NSID())})
	}
	if q.EDESet {
		ednsopt.AddEDE(m, q.EDE, q.EDEText)
	}
}

// MsgQueryOpts reads the options the protections use from miekg/dns's
// form of an OPT record (dnsfront's UDP loop reads them from the bytes).
func MsgQueryOpts(opt *dns.OPT, qo *QueryOpts) {
	if opt == nil {
		return
	}
	for _, o := range opt.Option {
		switch o := o.(type) {
		case *dns.EDNS0_COOKIE:
			if !qo.HasCookie {
				b, err := hex.DecodeString(o.Cookie)
				if err != nil {
					b = []byte{0} // cannot be: miekg/dns wrote the hex; Malformed
				}
				qo.Cookie, qo.HasCookie = b, true
			}
		case *dns.EDNS0_NSID:
			qo.NSID = true
		}
	}
}

// Chaos answers a CHAOS-class question: the identity names (id.server.,
// hostname.bind., version.bind.), REFUSED for the rest.
func (q *Query) Chaos(qq dns.Question) (rcode int, rr dns.RR) {
	rr, res := q.Prot.Identity.ChaosRR(qq)
	switch res {
	case identity.Answer:
		return dns.RcodeSuccess, rr
	case identity.NoData:
		return dns.RcodeSuccess, nil
	}
	return dns.RcodeRefused, nil
}
