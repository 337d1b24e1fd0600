package dnsfront

import (
	"net/netip"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/dnsupdate"
	"github.com/poolnsd/poolnsd/dnsfront/lookup"
	"github.com/poolnsd/poolnsd/dnsfront/tsigkey"
	"github.com/poolnsd/poolnsd/handlespace"
)

// TSIG (RFC 8945): the keyring (package tsigkey) verifies requests and
// signs replies for the DNS server; updates are package dnsupdate's. Here:
// signed queries, whose replies are signed, and the UPDATE server's view
// of names.

// Key is a TSIG key (RFC 8945) that may sign DNS UPDATEs (and queries,
// whose replies are then signed).
type Key = tsigkey.Key

// Updater is what applies registrations: the registrar (see
// dnsupdate.Updater).
type Updater = dnsupdate.Updater

// signReply signs m, the reply to a request signed with t
// (tsigkey.SignReply).
func signReply(m *dns.Msg, t *dns.TSIG) { tsigkey.SignReply(m, t) }

// updateLookup is the UPDATE server's view of names (dnsupdate.Lookup):
// what classify finds, the lookup's own.
func updateLookup(z *handlespace.Zone, name string) (dnsupdate.Kind, *handlespace.PoolView, *handlespace.Element) {
	t := classify(z, name)
	switch t.kind {
	case kindStatic:
		return dnsupdate.KindStatic, nil, nil
	case kindPool:
		return dnsupdate.KindPool, t.pool, nil
	case kindService:
		return dnsupdate.KindService, t.pool, nil
	case kindElement:
		return dnsupdate.KindElement, t.pool, t.elem
	}
	return dnsupdate.KindOther, t.pool, nil
}

// updateSignals is the UPDATE server's view of RFC 9615's signals
// (dnsupdate.Signals): at a signal's name in a signed zone, the CDS and
// CDNSKEY RRsets that the DNS front answers there (lookup.Signal), so
// that a prerequisite naming it sees what a query sees.
func (h *Handler) updateSignals(v *handlespace.View, z *handlespace.Zone, name string) map[uint16][]dns.RR {
	s := h.sign
	if s == nil || z.Nodes[name] != nil || !s.Signed(z.Origin) {
		return nil
	}
	kind, child := lookup.FindSignal(v, z, name, s.Signalled)
	if kind != lookup.SignalRRsets {
		return nil
	}
	var out map[uint16][]dns.RR
	for _, t := range lookup.SignalTypes(kind) {
		if rrs := s.SignalRecords(child.Origin, t, name); len(rrs) > 0 {
			if out == nil {
				out = make(map[uint16][]dns.RR, 2)
			}
			out[t] = rrs
		}
	}
	return out
}

// signedQuery reports whether a query (whose answer and authority
// sections msgcheck.Check found empty) has a TSIG record: the unsigned
// majority pays a type check per additional record, at most two.
func signedQuery(r *dns.Msg) bool {
	for _, rr := range r.Extra {
		if _, ok := rr.(*dns.TSIG); ok {
			return true
		}
	}
	return false
}

// checkSigned handles the TSIG of a query (RFC 8945): none, true; one that
// the server verified with a known key, true and req.tsig set, so that
// the reply is signed; a TSIG elsewhere than last, FORMERR; a failed one
// (unknown key, bad MAC, time outside the fudge), NOTAUTH with the TSIG
// error, and false. Failures are logged at debug: queries are not
// authenticated, so a flood of them must not flood the log.
func (h *Handler) checkSigned(w dns.ResponseWriter, r *dns.Msg, req *request) bool {
	t, err := tsigkey.Of(r)
	switch {
	case err != nil:
		h.reply(w, r, req, dns.RcodeFormatError)
		return false
	case t == nil:
		return true
	}
	if _, st := tsigkey.Verified(w, h.keys, t); st != nil {
		h.account(w, req, dns.RcodeNotAuth, false, 0)
		zone := ""
		if len(r.Question) > 0 {
			zone = r.Question[0].Name
		}
		h.log.Debug("signed query refused", "rcode", "NOTAUTH", "tsig_error", dns.RcodeToString[int(tsigkey.ErrorCode(st))],
			"key", t.Hdr.Name, "from", dnsupdate.RemoteAddr(w).String(), "zone", zone)
		if err := tsigkey.WriteFailure(w, r, t, st); err != nil {
			h.log.Debug("writing reply", "err", err)
		}
		return false
	}
	req.tsig = t
	if !req.tcp {
		req.maxSize -= tsigkey.Len(t) // room for the reply's signature
	}
	return true
}

// writeSigned writes the fast path's reply b to a signed query, signed:
// unpacked into a message that the server signs as it writes it. Signed
// queries are rare; the cost of the round trip is theirs alone.
func (h *Handler) writeSigned(w dns.ResponseWriter, req *request, b []byte) {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		h.log.Error("internal error unpacking a reply to sign", "err", err.Error())
		return
	}
	m.Compress = true
	signReply(m, req.tsig)
	if err := w.WriteMsg(m); err != nil {
		h.log.Debug("writing reply", "err", err)
	}
}

// updateWriter is the writer of the reply to an UPDATE r read from its
// bytes b (a UDP loop's datagram, a TCP message): w, made without the
// request (a writer that had it would verify its TSIG through miekg/dns,
// unpacking the message again), and for a signed r, the TSIG's verdict
// from the bytes at hand (tsigkey's VerifyRequest, miekg/dns's verdicts)
// in sw, around w.
func (h *Handler) updateWriter(sw *signedWriter, w dns.ResponseWriter, r *dnsupdate.Message, b []byte) dns.ResponseWriter {
	t := r.TSIG
	if t == nil {
		return w
	}
	*sw = signedWriter{ResponseWriter: w, keys: h.keys, reqMAC: t.MAC, status: h.keys.VerifyRequest(b, r.TSIGOff, t, time.Now())}
	return sw
}

// signedWriter is a writer of bytes (a DirectWriter, a streamWriter)
// whose request's TSIG was verified apart: it reports that verdict, and
// signs a message carrying a TSIG record (a BADTIME or BADTRUNC reply,
// tsigkey.WriteFailure) with the request's MAC, as miekg/dns's writers
// sign (the package dnsupdate signs its other replies itself and writes
// them as bytes).
type signedWriter struct {
	dns.ResponseWriter
	keys   *tsigkey.Keyring
	reqMAC string
	status error
}

func (w *signedWriter) TsigStatus() error { return w.status }

// RemoteAddrPort is the client's address (dnsupdate.RemoteAddr).
func (w *signedWriter) RemoteAddrPort() netip.AddrPort {
	return dnsupdate.RemoteAddrPort(w.ResponseWriter)
}

// WriteMsg packs m, signed when it carries a TSIG record, and sends it.
func (w *signedWriter) WriteMsg(m *dns.Msg) error {
	if m.IsTsig() == nil {
		return w.ResponseWriter.WriteMsg(m)
	}
	data, _, err := dns.TsigGenerateWithProvider(m, w.keys, w.reqMAC, false)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}
