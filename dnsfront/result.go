package dnsfront

import (
	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/lookup"
	"github.com/poolnsd/poolnsd/handlespace"
)

// What a question finds is package lookup's (dnsfront/lookup): the names
// below are its, under the names the renderers and the UPDATE server's
// view use.

// Result is what a lookup found for a question (lookup.Result).
type Result = lookup.Result

// Kind says what a lookup found (lookup.Kind).
type Kind = lookup.Kind

// The kinds of results (see lookup.Kind).
const (
	KindRefused  = lookup.KindRefused
	KindPool     = lookup.KindPool
	KindElement  = lookup.KindElement
	KindStatic   = lookup.KindStatic
	KindWildcard = lookup.KindWildcard
	KindCNAME    = lookup.KindCNAME
	KindReferral = lookup.KindReferral
	KindNXDomain = lookup.KindNXDomain
	KindNoData   = lookup.KindNoData
)

// Lookup finds what view v holds for a question, into r (lookup.Lookup).
func Lookup(v *handlespace.View, name, qname string, qtype uint16, r *Result) {
	lookup.Lookup(v, name, qname, qtype, r)
}

type nameKind = lookup.NameKind

const (
	kindStatic  = lookup.NameStatic
	kindPool    = lookup.NamePool
	kindService = lookup.NameService
	kindElement = lookup.NameElement
)

// target is what a name is (lookup.Target).
type target struct {
	kind nameKind
	pool *handlespace.PoolView
	elem *handlespace.Element
}

// classify finds what qname (lower case, inside z) names.
func classify(z *handlespace.Zone, qname string) target {
	t := lookup.Classify(z, qname)
	return target{kind: t.Kind, pool: t.Pool, elem: t.Elem}
}

func synthesise(rrs []dns.RR, owner string) []dns.RR { return lookup.Synthesise(rrs, owner) }

// lower returns s in lower case, without allocating when it already is.
func lower(s string) string { return lookup.Lower(s) }
