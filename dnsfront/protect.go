package dnsfront

import (
	"github.com/poolnsd/poolnsd/dnsfront/protect"
	"github.com/poolnsd/poolnsd/internal/rrl"
)

// Protections are the checks a public authoritative server makes of each
// query, and the options it adds to replies (protect.Protections).
type Protections = protect.Protections

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
func (h *Handler) CookieCounts() map[string]uint64 { return h.cookieCounts.Map() }

// Protections returns the protections in use (never nil; a zero
// Protections when there are none).
func (h *Handler) Protections() *Protections { return h.prot.Load() }

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
