package lookup

import (
	"slices"
	"strings"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
)

// Kind says what a lookup found, and so how the reply is formed: its rcode,
// its AA bit and which sections it fills.
type Kind uint8

const (
	// KindRefused: not ours to answer (outside every served zone, a zone
	// transfer, a class other than IN). REFUSED, not authoritative.
	KindRefused Kind = iota
	// KindPool: a pool's answer, chosen by its policy from a set of its
	// served elements (A, AAAA, SRV, URI).
	KindPool
	// KindElement: one element's own addresses (the SRV targets' names).
	KindElement
	// KindStatic: an RRset of the zone file, as written.
	KindStatic
	// KindWildcard: an RRset of the zone file synthesised from a wildcard
	// (RFC 4592): written with the query's name as owner.
	KindWildcard
	// KindCNAME: a CNAME chain that leaves the zone, reaches a delegation
	// or is too long to follow: the resolver follows it.
	KindCNAME
	// KindReferral: below a delegation: its NS RRset and glue, not
	// authoritative.
	KindReferral
	// KindNXDomain: the name does not exist. NXDOMAIN, the SOA.
	KindNXDomain
	// KindNoData: the name exists without records of the type. NOERROR,
	// the SOA.
	KindNoData
)

var kindNames = [...]string{"refused", "pool", "element", "static", "wildcard", "cname", "referral", "nxdomain", "nodata"}

func (k Kind) String() string { return kindNames[k] }

// Rcode is the reply's rcode for a result of this kind.
func (k Kind) Rcode() int {
	switch k {
	case KindRefused:
		return dns.RcodeRefused
	case KindNXDomain:
		return dns.RcodeNameError
	}
	return dns.RcodeSuccess
}

// Authoritative reports whether the reply has the AA bit.
func (k Kind) Authoritative() bool { return k != KindRefused && k != KindReferral }

// Result is what a lookup found for a question: the meaning of the reply,
// which a renderer writes (as packed bytes or as a dns.Msg). It refers to
// the view's records and elements, which it never changes: a renderer
// copies what it must change (an owner name, a TTL).
type Result struct {
	Kind Kind
	Zone *handlespace.Zone // nil for KindRefused

	// Chain holds the CNAME records followed inside the zone before the
	// final name, in order, as written in the zone file; the rest of the
	// result is the final name's.
	Chain []dns.RR
	// Name is the final name as the answer writes it: the question's name
	// as the client wrote it, or the last CNAME's target as the zone file
	// wrote it.
	Name string
	// Qtype is the type answered: the question's, or for ANY at a name of
	// the zone file, the one type that RFC 8482's minimal answer gives.
	Qtype uint16

	// Records is the answer's RRset (KindStatic, KindWildcard: owner
	// replaced by Name) or the delegation's NS RRset (KindReferral).
	Records []dns.RR
	// Glue holds the zone's addresses of the names Records point to (NS,
	// MX and SRV targets), for the additional section.
	Glue []dns.RR

	// Pool is the pool of KindPool and KindElement, and of negative
	// answers at or below a pool's name.
	Pool *handlespace.PoolView
	// Set is the set a KindPool answer chooses from (never empty), and K
	// how many elements it takes (0: all of them, SRV and URI).
	Set *handlespace.ElementSet
	K   int
	// Elem is KindElement's element.
	Elem *handlespace.Element

	// Signal is what the name is among the RFC 9615 signal names
	// (FindSignal), which the DNS front finds for the names the zone file
	// does not hold: KindStatic (the child's CDS or CDNSKEY RRset, owner
	// Name) or KindNoData at a signal name, KindNoData at an empty
	// non-terminal above one; a denial lists their types. Lookup leaves
	// it SignalNone.
	Signal SignalKind

	// NegTTL is the TTL of the SOA of a negative answer (KindNXDomain,
	// KindNoData): the zone's negative TTL, at most the pool's TTL at or
	// above the name (a pool that comes back from all-down must not stay
	// hidden behind a resolver for the zone's negative TTL).
	NegTTL uint32
}

// SOA returns the SOA record of a negative answer, with its TTL: a copy of
// the zone's.
func (r *Result) SOA() *dns.SOA {
	soa := dns.Copy(r.Zone.SOA).(*dns.SOA)
	soa.Hdr.Ttl = r.NegTTL
	return soa
}

// maxChase bounds CNAME chains followed inside a zone.
const maxChase = 8

// Lookup finds what view v holds for a question, into r: name as the
// client wrote it, qname the same in lower case, qtype and the class (IN
// or ANY; the caller answers the others). It is pure: it reads the view and changes
// nothing, and for a name whose answer needs no allocation (pool and
// element answers, static answers, negative answers) it makes none. A pool
// answer's elements are chosen by the pool's policy when the answer is
// written (Result.Set, Result.K): a selection changes the policy's
// per-query state, and a UDP answer that cannot fit is not chosen at all.
func Lookup(v *handlespace.View, name, qname string, qtype uint16, r *Result) {
	*r = Result{Kind: KindRefused, Name: name, Qtype: qtype}
	switch qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		return // no zone transfers
	}
	z := v.FindZone(qname)
	if z == nil {
		return
	}
	if qtype == dns.TypeDS && qname == z.Origin {
		if p := delegatingZone(v, qname); p != nil {
			z = p // the DS RRset is the parent's (RFC 4035 §3.1.4.1)
		}
	}
	r.Zone, r.NegTTL = z, z.NegTTL
	for chase := 0; ; chase++ {
		t := Classify(z, qname)
		if t.Kind != NameStatic {
			lookupPool(r, &t)
			return
		}
		// A DS query at the delegation itself is the parent's to answer,
		// with the DS RRset or NODATA (RFC 4035 §3.1.4.1), not a referral.
		if cut := FindCut(z, qname); cut != nil && !(qtype == dns.TypeDS && len(r.Chain) == 0 && z.Nodes[qname] == cut) {
			if len(r.Chain) > 0 {
				r.Kind = KindCNAME // the resolver asks for the target itself
				return
			}
			// Below a delegation: refer (RFC 1034 §4.3.2).
			r.Kind, r.Records = KindReferral, cut.RRs[dns.TypeNS]
			r.Glue = addGlue(nil, z, r.Records)
			return
		}
		node := z.Nodes[qname]
		r.Kind = KindStatic
		if node == nil {
			if node = Wildcard(z, qname); node == nil {
				r.Kind = KindNXDomain // after a CNAME too: the last name's rcode (RFC 6604)
				return
			}
			r.Kind = KindWildcard
		}
		cn := node.RRs[dns.TypeCNAME]
		if cn == nil || qtype == dns.TypeCNAME {
			r.Records = node.RRs[r.Qtype]
			if r.Qtype == dns.TypeANY && len(node.RRs) > 0 {
				// RFC 8482: one RRset, not all of them.
				r.Qtype = slices.Min(slices.Collect(func(yield func(uint16) bool) {
					for t := range node.RRs {
						if !yield(t) {
							return
						}
					}
				}))
				r.Records = node.RRs[r.Qtype]
			}
			if len(r.Records) == 0 {
				r.Kind, r.Records = KindNoData, nil
				return
			}
			r.Glue = addGlue(nil, z, r.Records)
			return
		}
		if r.Kind == KindWildcard {
			cn = Synthesise(cn, r.Name)
		}
		r.Chain = append(r.Chain, cn...)
		target := cn[0].(*dns.CNAME).Target
		next := Lower(target)
		if chase+1 >= maxChase || !dns.IsSubDomain(z.Origin, next) {
			r.Kind = KindCNAME // out of the zone, or too long: the resolver follows it
			return
		}
		qname, r.Name = next, target
	}
}

// lookupPool fills r for a name at or below a pool (t: what the name is).
func lookupPool(r *Result, t *Target) {
	pv := t.Pool
	r.Pool = pv
	r.NegTTL = min(r.NegTTL, pv.Spec.TTL)
	qt := r.Qtype
	if t.Kind == NameNone {
		r.Kind = KindNXDomain
		return
	}
	if qt == dns.TypeANY {
		// RFC 8482: a minimal, synthesised answer rather than everything.
		r.Kind = KindStatic
		r.Records = []dns.RR{&dns.HINFO{
			Hdr: dns.RR_Header{Name: r.Name, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: pv.Spec.TTL},
			Cpu: "RFC8482",
		}}
		return
	}
	r.Kind = KindNoData
	var set *handlespace.ElementSet
	switch t.Kind {
	case NamePool:
		switch qt {
		case dns.TypeA:
			set, r.K = &pv.V4, pv.Spec.Answers
		case dns.TypeAAAA:
			set, r.K = &pv.V6, pv.Spec.Answers
		case dns.TypeSRV:
			set = &pv.All
		case dns.TypeHTTPS, dns.TypeNAPTR:
			set, r.K = svcSet(pv, NamePool, qt)
		}
	case NameSVCB:
		set, r.K = svcSet(pv, NameSVCB, qt)
	case NameService:
		if qt == dns.TypeSRV || (qt == dns.TypeURI && pv.Spec.URI != "") {
			set = &pv.All
		}
	case NameElement:
		if (qt == dns.TypeA && t.Elem.HasV4()) || (qt == dns.TypeAAAA && t.Elem.HasV6()) {
			r.Kind, r.Elem = KindElement, t.Elem
		}
		return
	}
	if set != nil && set.Len() > 0 {
		r.Kind, r.Set = KindPool, set
	}
}

// NameKind says what a name in a zone is, whatever the type asked: the
// lookup's first step, which the UPDATE server (which names it may change)
// and the signer (which types a name has, for a denial) share.
type NameKind uint8

// What names a zone has, besides its zone file's.
const (
	NameNone    NameKind = iota // does not exist
	NameStatic                  // a name of the zone file (or below a delegation, or a wildcard)
	NamePool                    // <handle>.<zone>
	NameService                 // <service>.<handle>.<zone>
	NameElement                 // <pe>.<handle>.<zone>
	NamePoolENT                 // <_proto>.<handle>.<zone>: exists, holds nothing
	NameSVCB                    // _<port>._<scheme>.<handle>.<zone> (svcb.go)
)

// Target is what a name is: its kind, the pool it is at or below (nil at a
// name of the zone file) and the element it names (NameElement).
type Target struct {
	Kind NameKind
	Pool *handlespace.PoolView
	Elem *handlespace.Element
}

// Classify finds what qname (lower case, inside z) names.
func Classify(z *handlespace.Zone, qname string) Target {
	rel := qname[:len(qname)-len(z.Origin)]
	if rel == "" || strings.IndexByte(rel, '\\') >= 0 {
		return Target{Kind: NameStatic}
	}
	// rel is "handle." or "prefix.handle.".
	i := strings.LastIndexByte(rel[:len(rel)-1], '.')
	handle, prefix := rel[i+1:len(rel)-1], rel[:i+1]
	pv := z.Pool(handle)
	if pv == nil {
		return Target{Kind: NameStatic}
	}
	switch {
	case prefix == "":
		return Target{Kind: NamePool, Pool: pv}
	case pv.Spec.Service != "" && len(prefix) == len(pv.Spec.Service)+1 && strings.HasPrefix(prefix, pv.Spec.Service):
		return Target{Kind: NameService, Pool: pv}
	case strings.IndexByte(prefix, '.') == len(prefix)-1:
		label := prefix[:len(prefix)-1]
		if e := pv.Label(label); e != nil {
			return Target{Kind: NameElement, Pool: pv, Elem: e}
		}
		if s := pv.Spec.Service; s != "" && s[strings.IndexByte(s, '.')+1:] == label {
			return Target{Kind: NamePoolENT, Pool: pv}
		}
	}
	if k := svcbName(pv, prefix); k != NameNone {
		return Target{Kind: k, Pool: pv}
	}
	return Target{Kind: NameNone, Pool: pv}
}

// delegatingZone returns the served zone that delegates the zone of origin
// (its parent side holds the DS RRset), nil when none is served here.
func delegatingZone(v *handlespace.View, origin string) *handlespace.Zone {
	if origin == "." {
		return nil // the root has no parent
	}
	parent := parentName(origin)
	p := v.FindZone(parent)
	if p == nil || p.Nodes[origin] == nil || FindCut(p, origin) != p.Nodes[origin] {
		return nil
	}
	return p
}

// FindCut returns the delegation point (a node with NS records strictly below
// the origin) at or above name, the highest one first, or nil.
func FindCut(z *handlespace.Zone, name string) *handlespace.Node {
	if len(name) <= len(z.Origin) {
		return nil
	}
	// Walk up from name, remembering the highest cut.
	var cut *handlespace.Node
	for s := name; len(s) > len(z.Origin); {
		if n := z.Nodes[s]; n != nil && n.RRs[dns.TypeNS] != nil {
			cut = n
		}
		s = parentName(s)
	}
	return cut
}

// parentName returns the name one label above name (a name with the final
// dot; "." for a name of one label), its first label ending at the first
// dot that is not escaped: the parent of `a\.b.example.` is "example.",
// not "b.example.".
func parentName(name string) string {
	i := strings.IndexByte(name, '.')
	if i >= 0 && strings.IndexByte(name[:i], '\\') >= 0 {
		// An escape before it: the dot may be one (dns.NextLabel tells,
		// byte by byte; the plain case costs two IndexByte).
		j, end := dns.NextLabel(name, 0)
		if end {
			return "."
		}
		return name[j:]
	}
	if i < 0 || i+1 >= len(name) {
		return "."
	}
	return name[i+1:]
}

// Wildcard returns the wildcard node that synthesises name (RFC 4592): the
// "*" child of name's closest encloser, or nil.
func Wildcard(z *handlespace.Zone, name string) *handlespace.Node {
	for s := name; len(s) > len(z.Origin); {
		s = parentName(s)
		if _, exists := z.Nodes[s]; exists || s == z.Origin {
			if w := z.Nodes["*."+s]; w != nil && len(w.RRs) > 0 {
				return w
			}
			return nil
		}
	}
	return nil
}

// Synthesise copies records with owner as their name.
func Synthesise(rrs []dns.RR, owner string) []dns.RR {
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
		out[i].Header().Name = owner
	}
	return out
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
		if n := z.Nodes[Lower(target)]; n != nil {
			extra = append(extra, n.RRs[dns.TypeA]...)
			extra = append(extra, n.RRs[dns.TypeAAAA]...)
		}
	}
	return extra
}

// Lower returns s in lower case, without allocating when it already is.
func Lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
