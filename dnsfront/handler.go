package dnsfront

import (
	"github.com/miekg/dns"
)

// Handler answers DNS queries from the current handlespace view.
type Handler struct {
	src Source
	cfg Config
}

// NewHandler returns a handler serving src.
func NewHandler(src Source, cfg Config) *Handler {
	if cfg.UDPSize <= 0 {
		cfg.UDPSize = 1232
	}
	return &Handler{src: src, cfg: cfg}
}

// ServeDNS implements dns.Handler. (Work in progress.)
func (h *Handler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeRefused)
	w.WriteMsg(m)
}

func acceptMsg(dh dns.Header) dns.MsgAcceptAction { return dns.MsgAccept }
