package poolrr

import (
	"net"
	"strings"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
)

// RRs appends the records of pool pv's answer of type qtype at name for
// the chosen elements (picks), in policy order, to answer, and their
// targets' addresses to extra: the same records as the packed material
// holds (the packed records of dnsfront's wire renderer).
func RRs(answer, extra []dns.RR, pv *handlespace.PoolView, name string, qtype uint16, picks []handlespace.Pick) ([]dns.RR, []dns.RR) {
	if qtype == dns.TypeHTTPS || qtype == dns.TypeSVCB || qtype == dns.TypeNAPTR {
		return svcRRs(answer, extra, pv, name, qtype, picks)
	}
	ttl := pv.Spec.TTL
	hdr := func(name string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	mode := ModeOf(pv.Spec.Policy)
	for rank, p := range picks {
		e := p.Elem()
		se := WeightsOf(e)
		prio, weight := Order(mode, rank, &se)
		target := e.Label.String() + "." + pv.Name
		switch qtype {
		case dns.TypeA, dns.TypeAAAA:
			answer = AppendAddrs(answer, name, e, qtype, ttl)
		case dns.TypeSRV:
			answer = append(answer, &dns.SRV{Hdr: hdr(name, dns.TypeSRV), Priority: prio, Weight: weight, Port: e.Port, Target: target})
			extra = AppendAddrs(extra, target, e, dns.TypeA, ttl)
			extra = AppendAddrs(extra, target, e, dns.TypeAAAA, ttl)
		case dns.TypeURI:
			answer = append(answer, &dns.URI{Hdr: hdr(name, dns.TypeURI), Priority: prio, Weight: weight, Target: ExpandURI(pv.Spec.URI, e, pv.Name)})
		}
	}
	return answer, extra
}

// AppendAddrs appends element e's addresses of type qtype (A or AAAA) as
// records of owner name.
func AppendAddrs(rrs []dns.RR, name string, e *handlespace.Element, qtype uint16, ttl uint32) []dns.RR {
	for _, a := range e.Addrs.All() {
		hdr := dns.RR_Header{Name: name, Rrtype: qtype, Class: dns.ClassINET, Ttl: ttl}
		switch {
		case qtype == dns.TypeA && a.Is4():
			rrs = append(rrs, &dns.A{Hdr: hdr, A: a.AsSlice()})
		case qtype == dns.TypeAAAA && !a.Is4():
			rrs = append(rrs, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
		}
	}
	return rrs
}

// svcRRs is RRs for an HTTPS, SVCB or NAPTR answer.
func svcRRs(answer, extra []dns.RR, pv *handlespace.PoolView, name string, qtype uint16, picks []handlespace.Pick) ([]dns.RR, []dns.RR) {
	ttl := pv.Spec.TTL
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	if qtype == dns.TypeNAPTR && pv.Spec.URI == "" { // S-NAPTR
		srv := srvName(pv)
		for i, f := range strings.Split(pv.Spec.NAPTR, ",") {
			answer = append(answer, &dns.NAPTR{Hdr: hdr(dns.TypeNAPTR), Order: naptrOrder, Preference: uint16(10 * (i + 1)),
				Flags: "S", Service: f, Replacement: srv})
		}
		return answer, extra
	}
	atPool := len(name) == len(pv.Name)
	for rank, p := range picks {
		e := p.Elem()
		target := e.Label.String() + "." + pv.Name
		if qtype == dns.TypeNAPTR {
			u := ExpandURI(pv.Spec.URI, e, pv.Name)
			d := naptrDelim(u)
			for f := range strings.SplitSeq(pv.Spec.NAPTR, ",") {
				answer = append(answer, &dns.NAPTR{Hdr: hdr(dns.TypeNAPTR), Order: naptrOrder, Preference: uint16(min(rank, 0xFFFF)),
					Flags: "U", Service: f, Regexp: d + ".*" + d + u + d, Replacement: "."})
			}
			continue
		}
		svcb := dns.SVCB{Hdr: hdr(qtype), Priority: uint16(min(rank+1, 0xFFFF)), Target: target}
		svcb.Value = append(svcb.Value, &dns.SVCBAlpn{Alpn: strings.Split(pv.Spec.HTTPS, ",")})
		if !atPool || e.Port != 443 {
			svcb.Value = append(svcb.Value, &dns.SVCBPort{Port: e.Port})
		}
		var v4, v6 []net.IP
		for _, a := range e.Addrs.All() {
			if a.Is4() {
				v4 = append(v4, a.AsSlice())
			} else {
				v6 = append(v6, a.AsSlice())
			}
		}
		if len(v4) > 0 {
			svcb.Value = append(svcb.Value, &dns.SVCBIPv4Hint{Hint: v4})
		}
		if len(v6) > 0 {
			svcb.Value = append(svcb.Value, &dns.SVCBIPv6Hint{Hint: v6})
		}
		if qtype == dns.TypeHTTPS {
			answer = append(answer, &dns.HTTPS{SVCB: svcb})
		} else {
			answer = append(answer, &svcb)
		}
		extra = AppendAddrs(extra, target, e, dns.TypeA, ttl)
		extra = AppendAddrs(extra, target, e, dns.TypeAAAA, ttl)
	}
	return answer, extra
}
