package dnsfront

import (
	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/ednsopt"
)

// held answers req with holdReply and reports true when the view may not
// be answered from now.
func (h *Handler) held(w dns.ResponseWriter, req *request) bool {
	if h.current == nil || h.current() {
		return false
	}
	h.holdReply(w, req)
	return true
}

// holdReply answers req SERVFAIL with EDE 14 (Not Ready). SERVFAIL rather than
// silence: a resolver asks the zone's next server at once, where a
// dropped query would cost it a timeout; and it is not cached as an
// answer (RFC 2308 §7.1 allows a few minutes at most, for this server
// and question only).
func (h *Handler) holdReply(w dns.ResponseWriter, req *request) {
	req.SetEDE(ednsopt.NotReady)
	h.errorReply(w, req, dns.RcodeServerFailure)
}
