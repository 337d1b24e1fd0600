package dnsupdate

import (
	"strings"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
)

// signalLabel is the label under which RFC 9615's DNSSEC bootstrapping
// signals live: `_dsboot.<child>._signal.<name server>`, and the empty
// non-terminals above it. The DNSSEC signer makes those names' records
// (dnssec/signal.go, dnsfront/lookup/signal.go); an UPDATE may add
// nothing at or below a `_signal` label, so that no registration can
// shadow a signal or put records beside one (RFC 9615 §4.1: the signal's
// RRsets are the child's apex's, nothing else). Such a name is in the
// zone, so the refusal is REFUSED (policy, RFC 2136 §3.3), as for the
// other names an UPDATE may not touch, not NOTZONE.
const signalLabel = handlespace.SignalLabel

// signalName reports whether name (lower case, presentation form) has a
// `_signal` label: it is at or below `_signal.<something>`.
func signalName(name string) bool {
	if !strings.HasPrefix(name, signalLabel+".") && !strings.Contains(name, "."+signalLabel+".") {
		return false
	}
	if strings.IndexByte(name, '\\') < 0 {
		return true
	}
	// An escape: `a\._signal.x.` has no such label.
	for _, l := range dns.SplitDomainName(name) {
		if l == signalLabel {
			return true
		}
	}
	return false
}
