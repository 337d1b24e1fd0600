package dnsfront

import (
	"strings"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/lookup"
)

// signal makes r the answer at an RFC 9615 signal name (a signed child's
// CDS and CDNSKEY RRsets, the signer's, under
// `_dsboot.<child>._signal.<name server>`) or at an empty non-terminal
// above one (lookup.Signal), when req's name is one in a signed zone and
// the zone file lacks it. The handler calls it for the results that the
// zone file does not answer (isSignalKind); a name without an underscore
// costs an IndexByte more.
func (h *Handler) signal(req *request, r *Result) {
	if h.sign == nil || len(r.Chain) > 0 || r.Zone == nil || strings.IndexByte(req.qname, '_') < 0 ||
		!strings.Contains(req.qname, "_signal.") || h.sign.Zone(r.Zone.Origin) == nil { // unsigned: no signal could validate
		return
	}
	lookup.Signal(h.src.View(), req.qname, r, func(origin string) bool {
		z := h.sign.Zone(origin)
		return z != nil && z.Signals()
	}, func(child string, typ uint16, owner string) []dns.RR {
		if z := h.sign.Zone(child); z != nil {
			return z.SignalRecords(typ, owner)
		}
		return nil
	})
}

// isSignalKind reports whether a result of kind k may be a signal's: a
// name that the zone file lacks (NXDOMAIN; NODATA, as at a pool's name;
// a wildcard's).
func isSignalKind(k Kind) bool {
	return k == KindNXDomain || k == KindNoData || k == KindWildcard
}
