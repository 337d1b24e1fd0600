package dnsfront

import (
	"strings"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/lookup"
)

// DNSSEC bootstrapping signals (RFC 9615). A signed zone served here
// whose apex NS RRset names a name server in another signed zone served
// here has its CDS and CDNSKEY RRsets published there too, at
// `_dsboot.<child>._signal.<name server>`, signed by that zone's keys: a
// parent that has no DS for the child yet validates them through the
// name server's zone and takes the child's apex RRsets they equal. The
// records are the signer's (dnssec.Zone.SignalRecords), so they follow
// the child's keys and dnssec.* settings as its apex does; which names
// exist is lookup.FindSignal's, read from the current view.

// signalHint is what a name must hold to be a signal name or above one:
// the only cost to the other names of the negative path.
const signalHint = "_signal."

// mayBeSignal reports whether a result may be turned by signal into a
// signal name's: a name the zone file does not hold (not found, matched
// by a wildcard, or a pool's name that does not answer the type), in a
// zone of a signer, asked directly, with a `_signal` label.
func (h *Handler) mayBeSignal(req *request, r *Result) bool {
	switch r.Kind {
	case KindNXDomain, KindNoData, KindWildcard:
	default:
		return false
	}
	return h.sign != nil && len(r.Chain) == 0 && strings.Contains(req.qname, signalHint)
}

// signal makes r the answer at a signal name (RFC 9615) or at an empty
// non-terminal above one, when req's name is one in a signed zone and the
// zone file does not hold it; else it leaves r as it is.
func (h *Handler) signal(req *request, r *Result) {
	if r.Zone == nil || r.Zone.Nodes[req.qname] != nil || h.sign.Zone(r.Zone.Origin) == nil {
		return // the zone file's own name, or an unsigned zone (no signal can validate)
	}
	kind, child := lookup.FindSignal(h.src.View(), r.Zone, req.qname, func(origin string) bool {
		z := h.sign.Zone(origin)
		return z != nil && z.Signals()
	})
	if kind == lookup.SignalNone {
		return
	}
	*r = Result{Kind: KindNoData, Zone: r.Zone, Name: r.Name, Qtype: r.Qtype, Signal: kind, NegTTL: r.Zone.NegTTL}
	if kind != lookup.SignalRRsets {
		return
	}
	qt := r.Qtype
	if qt == dns.TypeANY {
		qt = dns.TypeCDS // RFC 8482: one RRset
	}
	if qt != dns.TypeCDS && qt != dns.TypeCDNSKEY {
		return
	}
	cz := h.sign.Zone(child.Origin)
	if cz == nil {
		return
	}
	if rrs := cz.SignalRecords(qt, r.Name); len(rrs) > 0 {
		r.Kind, r.Qtype, r.Records = KindStatic, qt, rrs
	}
}

// signalTypes returns the types that a signal result's name has (for its
// denial): CDS and CDNSKEY at a signal name, none above one.
func signalTypes(k lookup.SignalKind) []uint16 {
	if k == lookup.SignalRRsets {
		return []uint16{dns.TypeCDS, dns.TypeCDNSKEY}
	}
	return nil
}
