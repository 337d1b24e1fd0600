package dnssec

import (
	"github.com/miekg/dns"
)

// DNSSEC bootstrapping signals (RFC 9615). A parent cannot validate the
// first CDS and CDNSKEY RRsets of a zone that it delegates without a DS:
// the zone's operator also publishes them, in a zone that is signed and
// has a chain of trust, under each of the child's name servers' names:
//
//	_dsboot.<child>._signal.<name server>   CDS, CDNSKEY
//
// signed by the keys of the zone that holds that name (the signal zone).
// The records equal the child's apex RRsets (§4.1); a signal name in the
// child itself (a name server inside it) is never used (§4.2), and a
// zone cut must not be at a signal name.
//
// The signer gives what the child's side makes: whether a zone is
// signalled (Zone.Signals) and its records under a signal name
// (Zone.SignalRecords); it signs them as the signal zone's own data.
// Which signal names exist is the DNS front's (dnsfront/lookup's
// FindSignal and SignalPlaces): it reads the served zones' NS RRsets, and
// the DS RRset of a child's delegation in a parent served here (which
// withdraws the child's signals).

// Signals reports whether the zone's CDS and CDNSKEY RRsets are also
// published as signals (RFC 9615) in the signed zones that hold its name
// servers' names: the zone publishes those of its keys (CDSKeys; not the
// deletion records of CDSDelete, nor a zone file's own with CDSOff) and
// Options.Signals does not turn it off.
func (z *Zone) Signals() bool { return z.signals }

// SignalRecords returns copies of the zone's CDS RRset (typ dns.TypeCDS)
// or CDNSKEY RRset (dns.TypeCDNSKEY) with owner as their name: the
// records of its signals, which the signal zone signs as any RRset of
// its own; nil when the zone has no signals.
func (z *Zone) SignalRecords(typ uint16, owner string) []dns.RR {
	if !z.signals {
		return nil
	}
	c := z.cds[0]
	if typ == dns.TypeCDNSKEY {
		c = z.cds[1]
	}
	out := make([]dns.RR, len(c.rrs))
	for i, rr := range c.rrs {
		out[i] = dns.Copy(rr)
		out[i].Header().Name = owner
	}
	return out
}

// Signed reports whether zone origin (lower case, final dot) has keys.
func (s *Signer) Signed(origin string) bool { return s.Zone(origin) != nil }

// Signalled reports whether zone origin is signed and signalled
// (Zone.Signals).
func (s *Signer) Signalled(origin string) bool {
	z := s.Zone(origin)
	return z != nil && z.Signals()
}

// SignalRecords is Zone.SignalRecords of zone origin: nil when it is not
// signed or not signalled.
func (s *Signer) SignalRecords(origin string, typ uint16, owner string) []dns.RR {
	if z := s.Zone(origin); z != nil {
		return z.SignalRecords(typ, owner)
	}
	return nil
}
