package lookup

import (
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
// already; §4.1 wants no cut at a signal name). It costs nothing to a
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

// Signal makes r, a result of zone r.Zone for qname (lower case) in view
// v, the answer at a signal name, or at an empty non-terminal above one,
// when qname is one and the zone file lacks it (r.Signal set); else it
// leaves r as it is. signalled is FindSignal's; records returns the CDS
// (typ dns.TypeCDS) or CDNSKEY RRset of a signalled zone with owner as
// their name.
func Signal(v *handlespace.View, qname string, r *Result, signalled func(origin string) bool,
	records func(child string, typ uint16, owner string) []dns.RR) {
	if r.Zone == nil || r.Zone.Nodes[qname] != nil {
		return // the zone file's own name
	}
	kind, child := FindSignal(v, r.Zone, qname, signalled)
	if kind == SignalNone {
		return
	}
	*r = Result{Kind: KindNoData, Zone: r.Zone, Name: r.Name, Qtype: r.Qtype, Signal: kind, NegTTL: r.Zone.NegTTL}
	qt := r.Qtype
	if qt == dns.TypeANY {
		qt = dns.TypeCDS // RFC 8482: one RRset
	}
	if kind == SignalRRsets && (qt == dns.TypeCDS || qt == dns.TypeCDNSKEY) {
		if rrs := records(child.Origin, qt, r.Name); len(rrs) > 0 {
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
	if dns.IsSubDomain(c.Origin, ns) || !signalled(c.Origin) {
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
	name, ok := SignalName(c.Origin, ns)
	return ok && v.FindZone(name) == z && FindCut(z, name) == nil
}

// SignalLabel and DSBootLabel are the labels of RFC 9615's names.
const (
	SignalLabel = "_signal"
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
