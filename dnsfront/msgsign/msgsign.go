package msgsign

import (
	"slices"
	"strings"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/lookup"
	"github.com/poolnsd/poolnsd/dnssec"
	"github.com/poolnsd/poolnsd/handlespace"
)

// Sign signs m, the reply that the dns.Msg renderer built for r (a
// question of type qtype) in zone z, in place: each RRset of the answer
// section followed by its RRSIGs; a negative answer made a compact denial
// (NOERROR, the SOA and the name's NSEC record, each signed); a
// referral's DS RRset, signed, or the NSEC record proving it has none;
// the additional data of the zone's own signed, glue below a delegation
// left as it is.
func Sign(z *dnssec.Zone, r *lookup.Result, m *dns.Msg, qtype uint16) error {
	var err error
	if m.Answer, err = signRuns(z, m.Answer[:0:0], m.Answer); err != nil {
		return err
	}
	switch r.Kind {
	case lookup.KindNXDomain, lookup.KindNoData:
		// Compact denial: NOERROR (RFC 9824 §3.1), the SOA and the NSEC
		// record of the name, each signed.
		m.Rcode = dns.RcodeSuccess
		if m.Ns, err = signRuns(z, m.Ns[:0:0], m.Ns); err != nil {
			return err
		}
		sigs, err := Denial(z, r, qtype)
		if err != nil {
			return err
		}
		m.Ns = sigs.AppendTo(append(m.Ns, sigs.NSEC))
	case lookup.KindReferral:
		// The NS RRset and glue are the child's, unsigned; the DS RRset is
		// ours, signed, or an NSEC proving that there is none (RFC 4035
		// §3.1.4).
		if m.Ns, err = appendDS(z, m.Ns, r); err != nil {
			return err
		}
	default:
		// Additional data of our own is signed; glue below a delegation
		// (an NS or MX target there) is not ours to sign.
		if m.Extra, err = signRunsIn(z, r.Zone, m.Extra[:0:0], m.Extra); err != nil {
			return err
		}
	}
	return nil
}

// appendDS appends to a referral's authority section the delegation's DS
// RRset and its signatures, or the NSEC record that proves it has none.
func appendDS(z *dnssec.Zone, ns []dns.RR, r *lookup.Result) ([]dns.RR, error) {
	cut := cutName(r)
	if ds := r.Zone.Nodes[cut].RRs[dns.TypeDS]; len(ds) > 0 {
		return signRuns(z, ns, ds)
	}
	sigs, err := z.NoDS(cut, r.NegTTL)
	if err != nil {
		return nil, err
	}
	return sigs.AppendTo(append(ns, sigs.NSEC)), nil
}

// cutName is the delegation point of a referral, in lower case.
func cutName(r *lookup.Result) string {
	if len(r.Records) == 0 {
		return ""
	}
	return lookup.Lower(r.Records[0].Header().Name)
}

// Denial returns the signed NSEC record of a negative answer about the
// result's final name: a compact NXDOMAIN for a name that does not exist,
// else the types the name has (or, for a pool's names, can answer) less
// qtype.
func Denial(z *dnssec.Zone, r *lookup.Result, qtype uint16) (*dnssec.Sigs, error) {
	name := lookup.Lower(r.Name)
	if r.Kind == lookup.KindNXDomain {
		return z.NXDomain(name, r.NegTTL)
	}
	if n := r.Zone.Nodes[name]; qtype == dns.TypeDS && n != nil && n.RRs[dns.TypeNS] != nil && name != r.Zone.Origin {
		return z.NoDS(name, r.NegTTL) // a delegation's: the referral's NSEC
	}
	if r.Signal != lookup.SignalNone {
		return z.NoData(name, qtype, lookup.SignalTypes(r.Signal), r.NegTTL)
	}
	return z.NoData(name, qtype, nameTypes(r.Zone, name), r.NegTTL)
}

// nameTypes returns the types a name of zone z that exists has: at a name
// of the zone file (or one a wildcard matches), the types of its node (none
// at an empty non-terminal); at a pool's names, the types that the name
// answers whether or not an element is up now, so that a resolver's cached
// NSEC (RFC 8198) never denies what comes back with the elements.
func nameTypes(z *handlespace.Zone, name string) []uint16 {
	t := lookup.Classify(z, name)
	var types []uint16
	switch t.Kind {
	case lookup.NameStatic:
		n := z.Nodes[name]
		if n == nil {
			n = lookup.Wildcard(z, name)
		}
		if n != nil {
			for typ, rrs := range n.RRs {
				if len(rrs) > 0 {
					types = append(types, typ)
				}
			}
		}
	case lookup.NamePool:
		types = append(types, dns.TypeA, dns.TypeAAAA, dns.TypeSRV)
		if t.Pool.Spec.HTTPS != "" {
			types = append(types, dns.TypeHTTPS)
		}
		if t.Pool.Spec.NAPTR != "" {
			types = append(types, dns.TypeNAPTR)
		}
	case lookup.NameService:
		types = append(types, dns.TypeSRV)
		if t.Pool.Spec.URI != "" {
			types = append(types, dns.TypeURI)
		}
	case lookup.NameElement:
		if t.Elem.HasV4() {
			types = append(types, dns.TypeA)
		}
		if t.Elem.HasV6() {
			types = append(types, dns.TypeAAAA)
		}
	case lookup.NameSVCB:
		types = append(types, lookup.SVCBType(t.Pool))
	}
	slices.Sort(types)
	return types
}

// signRuns appends rrs to out, each RRset (a run of records of one owner
// name and type) followed by its signatures.
func signRuns(z *dnssec.Zone, out, rrs []dns.RR) ([]dns.RR, error) {
	return signRunsIn(z, nil, out, rrs)
}

// signRunsIn is signRuns that, given zone hz, leaves the RRsets at or below
// a delegation of hz unsigned.
func signRunsIn(z *dnssec.Zone, hz *handlespace.Zone, out, rrs []dns.RR) ([]dns.RR, error) {
	for i := 0; i < len(rrs); {
		h := rrs[i].Header()
		j := i + 1
		for j < len(rrs) && rrs[j].Header().Rrtype == h.Rrtype && strings.EqualFold(rrs[j].Header().Name, h.Name) {
			j++
		}
		run := rrs[i:j]
		i = j
		if h.Rrtype == dns.TypeOPT || h.Rrtype == dns.TypeRRSIG ||
			(hz != nil && lookup.FindCut(hz, lookup.Lower(h.Name)) != nil) { // glue
			out = append(out, run...)
			continue
		}
		run = sameTTL(run)
		out = append(out, run...)
		sigs, err := z.Sign(run)
		if err != nil {
			return nil, err
		}
		out = sigs.AppendTo(out)
	}
	return out, nil
}

// sameTTL returns an RRset whose records all have the first one's TTL: run
// itself, or copies when a zone file gave its records different TTLs (the
// signed TTL is the first one's, RFC 2181 §5.2).
func sameTTL(run []dns.RR) []dns.RR {
	ttl := run[0].Header().Ttl
	for _, rr := range run[1:] {
		if rr.Header().Ttl != ttl {
			out := make([]dns.RR, len(run))
			for i, rr := range run {
				out[i] = dns.Copy(rr)
				out[i].Header().Ttl = ttl
			}
			return out
		}
	}
	return run
}
