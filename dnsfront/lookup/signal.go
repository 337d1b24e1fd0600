package lookup

import (
	"slices"
	"strings"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
)

// SignalKind says what a name is among the RFC 9615 signal names that a
// zone holds: `_dsboot.<child>._signal.<ns>` for each signed zone
// (child) served here whose apex NS RRset names ns, a name server outside
// the child, whose CDS and CDNSKEY RRsets are published there (package
// dnssec, signal.go), and the empty non-terminals above them.
type SignalKind uint8

const (
	// SignalNone: not a signal name (the lookup's result stands).
	SignalNone SignalKind = iota
	// SignalENT: a name above signal names (`_signal.<ns>`,
	// `<labels of a child>._signal.<ns>`): exists, holds nothing.
	SignalENT
	// SignalRRsets: `_dsboot.<child>._signal.<ns>`: the child's CDS and
	// CDNSKEY RRsets.
	SignalRRsets
)

// FindSignal finds what qname (lower case, a name of zone z of view v
// that is none of z's zone file's names) is among the signal names:
// SignalRRsets and the child zone signalled there, SignalENT, or
// SignalNone. signalled reports whether a served zone publishes signals
// (signed, its CDS those of its keys, signals not turned off).
//
// A child is signalled at `_dsboot.<child>._signal.<ns>` when ns is a
// target of its apex NS RRset not at or below the child (RFC 9615 §4.1:
// a signal inside the child is never used) and the name's closest served
// zone is z, with no cut above it in z (Lookup referred such names
// already; §4.1 wants no cut at a signal name), and the child's parent,
// when served here, holds no DS for it (ParentDS). It costs nothing to a
// name without a `_signal` label, and otherwise a walk of the served
// zones only for an empty non-terminal's question.
func FindSignal(v *handlespace.View, z *handlespace.Zone, qname string, signalled func(origin string) bool) (SignalKind, *handlespace.Zone) {
	for at := 0; ; {
		prefix, ns, next, ok := SplitSignal(qname, at)
		if !ok {
			return SignalNone, nil
		}
		at = next
		if child, ok := strings.CutPrefix(prefix, DSBootLabel+"."); ok {
			if child == "" {
				child = "."
			}
			if c := v.Zone(child); c != nil && signalsAt(v, z, c, ns, signalled) {
				return SignalRRsets, c
			}
		}
		// An empty non-terminal: prefix is "" or the last labels of a
		// signalled child's name.
		for _, c := range v.Zones() {
			if (prefix == "" || dns.IsSubDomain(prefix, c.Origin)) && signalsAt(v, z, c, ns, signalled) {
				return SignalENT, nil
			}
		}
	}
}

// Signaller is what Signal asks of the signer (*dnssec.Signer is one):
// whether a zone is signed, whether a zone is signalled (signed, its CDS
// those of its keys, signals not turned off), and a signalled zone's CDS
// (typ dns.TypeCDS) or CDNSKEY RRset with owner as their name.
type Signaller interface {
	Signed(origin string) bool
	Signalled(origin string) bool
	SignalRecords(origin string, typ uint16, owner string) []dns.RR
}

// MayBeSignal reports whether a result of kind k may be turned into a
// signal's: a name that the zone file does not answer (NXDOMAIN; NODATA,
// as at a pool's name; a wildcard's). Small, to be inlined: the one cost
// of signals to the other answers.
func MayBeSignal(k Kind) bool { return k == KindNXDomain || k == KindNoData || k == KindWildcard }

// Signal makes r, a result for qname (lower case) in view v of a kind
// MayBeSignal allows, the answer at a signal name, or at an empty
// non-terminal above one (r.Signal set), when qname is one in a zone
// that s signs and that the zone file lacks; else it leaves r as it is.
// A name without an underscore costs an IndexByte.
func Signal(v *handlespace.View, qname string, r *Result, s Signaller) {
	if len(r.Chain) > 0 || r.Zone == nil || strings.IndexByte(qname, '_') < 0 || !strings.Contains(qname, SignalLabel+".") ||
		r.Zone.Nodes[qname] != nil || !s.Signed(r.Zone.Origin) { // the zone file's own name; no signal could validate
		return
	}
	kind, child := FindSignal(v, r.Zone, qname, s.Signalled)
	if kind == SignalNone {
		return
	}
	*r = Result{Kind: KindNoData, Zone: r.Zone, Name: r.Name, Qtype: r.Qtype, Signal: kind, NegTTL: r.Zone.NegTTL}
	qt := r.Qtype
	if qt == dns.TypeANY {
		qt = dns.TypeCDS // RFC 8482: one RRset
	}
	if kind == SignalRRsets && (qt == dns.TypeCDS || qt == dns.TypeCDNSKEY) {
		if rrs := s.SignalRecords(child.Origin, qt, r.Name); len(rrs) > 0 {
			r.Kind, r.Qtype, r.Records = KindStatic, qt, rrs
		}
	}
}

// SignalTypes returns the types that a name of a signal result has, for
// its denial: CDS and CDNSKEY at a signal name, none above one.
func SignalTypes(k SignalKind) []uint16 {
	if k == SignalRRsets {
		return []uint16{dns.TypeCDS, dns.TypeCDNSKEY}
	}
	return nil
}

// signalsAt reports whether zone c has its signal under name server ns
// in zone z.
func signalsAt(v *handlespace.View, z, c *handlespace.Zone, ns string, signalled func(string) bool) bool {
	if !signalled(c.Origin) {
		return false
	}
	apex := c.Nodes[c.Origin]
	if apex == nil {
		return false
	}
	found := false
	for _, rr := range apex.RRs[dns.TypeNS] {
		if n, ok := rr.(*dns.NS); ok && Lower(n.Ns) == ns {
			found = true
			break
		}
	}
	if !found {
		return false
	}
	p := signalPlace(v, c, ns, nil) // ns inside c too
	return p.Why == SignalPublished && p.Zone == z
}

// SignalWhy says whether a signal of a zone under one of its name
// servers is published, or why not.
type SignalWhy uint8

const (
	// SignalPublished: the signal is served.
	SignalPublished SignalWhy = iota
	// SignalInside: the name server is at or below the zone (RFC 9615
	// §4.1: such a signal has no chain of trust, a parent never asks).
	SignalInside
	// SignalTooLong: the signal's name would be longer than 255 bytes
	// (RFC 9615 §4.4).
	SignalTooLong
	// SignalNotServed: no zone served here holds the signal's name: the
	// name server's operator publishes it.
	SignalNotServed
	// SignalUnsigned: the zone that holds the name is served unsigned
	// (nothing a parent could validate).
	SignalUnsigned
	// SignalBelowCut: the name is below a delegation of that zone: the
	// delegated zone's to serve (RFC 9615 §4.1: no cut at a signal).
	SignalBelowCut
	// SignalZoneFile: that zone's file has records at the name: served as
	// written instead.
	SignalZoneFile
	// SignalParentDS: the zone's parent is served here and holds a DS
	// RRset for it (ParentDS): its bootstrapping is done, and RFC 9615
	// §5.1 advises removing the signals then.
	SignalParentDS
)

func (w SignalWhy) String() string {
	switch w {
	case SignalPublished:
		return "published"
	case SignalInside:
		return "the name server is inside the zone (RFC 9615 §4.1)"
	case SignalTooLong:
		return "the name would be longer than 255 bytes (RFC 9615 §4.4)"
	case SignalNotServed:
		return "no zone served here holds it: the name server's operator publishes it"
	case SignalUnsigned:
		return "the zone that holds it is unsigned"
	case SignalBelowCut:
		return "below a delegation of the zone that holds it"
	case SignalZoneFile:
		return "the zone file has records there: served as written"
	case SignalParentDS:
		return "the parent zone served here holds the zone's DS: bootstrapping is done"
	}
	return "unknown"
}

// SignalPlace is where a zone's signal under one name server is: the
// name server NS (a target of the zone's apex NS RRset), the signal's
// Name ("" for SignalInside and SignalTooLong), the served Zone that
// holds it (nil when none does), and whether it is published (Why).
type SignalPlace struct {
	NS, Name string
	Zone     *handlespace.Zone
	Why      SignalWhy
}

// SignalPlaces lists the signals of zone c of view v, one per target of
// its apex NS RRset (lower case, in the RRset's order, each once), and
// whether each is published where the zone's signals are (what
// FindSignal finds for a zone that signalled reports true for; whether c
// itself is signalled is the caller's). signed reports whether a zone is
// signed.
func SignalPlaces(v *handlespace.View, c *handlespace.Zone, signed func(origin string) bool) []SignalPlace {
	apex := c.Nodes[c.Origin]
	if apex == nil {
		return nil
	}
	var out []SignalPlace
	for _, rr := range apex.RRs[dns.TypeNS] {
		n, ok := rr.(*dns.NS)
		if !ok {
			continue
		}
		ns := Lower(n.Ns)
		if slices.ContainsFunc(out, func(p SignalPlace) bool { return p.NS == ns }) {
			continue
		}
		out = append(out, signalPlace(v, c, ns, signed))
	}
	return out
}

// signalPlace is the signal of zone c under name server ns; signed nil
// skips the checks that Signal makes itself (the zone signed, its file
// without the name).
func signalPlace(v *handlespace.View, c *handlespace.Zone, ns string, signed func(string) bool) SignalPlace {
	p := SignalPlace{NS: ns}
	if dns.IsSubDomain(c.Origin, ns) {
		p.Why = SignalInside
		return p
	}
	name, ok := SignalName(c.Origin, ns)
	if !ok {
		p.Why = SignalTooLong
		return p
	}
	p.Name, p.Zone = name, v.FindZone(name)
	switch {
	case ParentDS(v, c) != nil:
		p.Why = SignalParentDS
	case p.Zone == nil:
		p.Why = SignalNotServed
	case signed != nil && !signed(p.Zone.Origin):
		p.Why = SignalUnsigned
	case FindCut(p.Zone, name) != nil:
		p.Why = SignalBelowCut
	case signed != nil && p.Zone.Nodes[name] != nil:
		p.Why = SignalZoneFile
	}
	return p
}

// ParentDS returns the zone served here that delegates zone c (the
// closest served zone above c's name, with a cut at that name) when the
// delegation has a DS RRset: the parent holds c's DS, so a parent's
// bootstrapping of c is done (RFC 9615 §4: signals are not for updates;
// §5.1 advises removing them once acted upon); nil otherwise, and for a
// parent that is not served here (poolnsd never asks another server).
func ParentDS(v *handlespace.View, c *handlespace.Zone) *handlespace.Zone {
	if c.Origin == "." {
		return nil
	}
	p := v.FindZone(parentName(c.Origin))
	if p == nil {
		return nil
	}
	n := p.Nodes[c.Origin]
	if n == nil || len(n.RRs[dns.TypeDS]) == 0 || FindCut(p, c.Origin) != n {
		return nil
	}
	return p
}

// SignalLabel and DSBootLabel are the labels of RFC 9615's names (the
// first is handlespace's, which registrations may not take).
const (
	SignalLabel = handlespace.SignalLabel
	DSBootLabel = "_dsboot"
)

// SignalName returns the name of the signal records of zone child (lower
// case FQDN) under name server ns: `_dsboot.<child>._signal.<ns>`, the
// root label of child left out; false if it is longer than a domain name
// may be (RFC 9615 §4.4: no signal then).
func SignalName(child, ns string) (string, bool) {
	c := child
	if c == "." {
		c = ""
	}
	if ns == "." {
		ns = ""
	}
	name := DSBootLabel + "." + c + SignalLabel + "." + ns
	if name[len(name)-1] != '.' {
		name += "."
	}
	if _, ok := dns.IsDomainName(name); !ok || wireLen(name) > 255 {
		return "", false
	}
	return name, true
}

// wireLen returns the length of a valid presentation name in wire form.
func wireLen(name string) int {
	b := make([]byte, 256+len(name))
	n, err := dns.PackDomainName(name, b, 0, nil, false)
	if err != nil {
		return 1 << 16
	}
	return n
}

// SplitSignal reads a lower-case name under a `_signal` label: prefix,
// the labels before that label (with their final dot, "" for none), and
// ns, the name server's name after it. A name with several `_signal`
// labels has as many splits: start with at 0, go on from next; ok is
// false when there is no further one.
func SplitSignal(name string, at int) (prefix, ns string, next int, ok bool) {
	for off := at; off < len(name); {
		// off is at a label's start: a dot there ends the label.
		if strings.HasPrefix(name[off:], SignalLabel+".") {
			ns = name[off+len(SignalLabel)+1:]
			if ns == "" {
				ns = "."
			}
			i, _ := dns.NextLabel(name, off)
			return name[:off], ns, i, true
		}
		i, end := dns.NextLabel(name, off)
		if end {
			break
		}
		off = i
	}
	return "", "", len(name), false
}
