package dnsupdate

import (
	"slices"
	"strings"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
)

// names is what an UPDATE's prerequisites see of zone z of view v: the
// records the DNS front answers with, by its lookup and, at RFC 9615's
// signal names, its signals (nil: none).
type names struct {
	lookup  Lookup
	signals Signals
	v       *handlespace.View
	z       *handlespace.Zone
}

// checkPrereqs evaluates an UPDATE's prerequisites (RFC 2136 §3.2) against
// n's zone: the first that fails gives the rcode, value-dependent ones
// (§3.2.3) are compared after the others. Their form was checked by
// parseUpdate.
func (n names) checkPrereqs(prereqs []dns.RR) error {
	type setKey struct {
		name string
		t    uint16
	}
	var order []setKey
	temp := map[setKey][]dns.RR{}
	for _, rr := range prereqs {
		hd := rr.Header()
		name := lower(hd.Name)
		switch hd.Class {
		case dns.ClassANY:
			types := n.typesAt(name)
			if hd.Rrtype == dns.TypeANY {
				if len(types) == 0 {
					return updErr(dns.RcodeNameError, "prerequisite failed: name %s is not in use", hd.Name)
				}
			} else if !types[hd.Rrtype] {
				return updErr(dns.RcodeNXRrset, "prerequisite failed: %s has no %s records", hd.Name, dns.TypeToString[hd.Rrtype])
			}
		case dns.ClassNONE:
			types := n.typesAt(name)
			if hd.Rrtype == dns.TypeANY {
				if len(types) > 0 {
					return updErr(dns.RcodeYXDomain, "prerequisite failed: name %s is in use", hd.Name)
				}
			} else if types[hd.Rrtype] {
				return updErr(dns.RcodeYXRrset, "prerequisite failed: %s has %s records", hd.Name, dns.TypeToString[hd.Rrtype])
			}
		case dns.ClassINET:
			k := setKey{name, hd.Rrtype}
			if _, ok := temp[k]; !ok {
				order = append(order, k)
			}
			temp[k] = append(temp[k], rr)
		}
	}
	for _, k := range order {
		have := n.rrsetsAt(k.name)[k.t]
		if !sameRdata(have, temp[k]) {
			return updErr(dns.RcodeNXRrset, "prerequisite failed: the %s records of %s differ", dns.TypeToString[k.t], k.name)
		}
	}
	return nil
}

// typesAt returns the types of the RRsets that rrsetsAt would return at
// name, for the prerequisites that ask only whether a name or an RRset
// exists (§3.2.1, §3.2.2, §3.2.4): a pool's and a service name's from the
// sizes of the pool's served sets, O(1) where rrsetsAt builds a record of
// every served element (a million of them in a large pool).
func (n names) typesAt(name string) map[uint16]bool {
	kind, pv, _ := n.lookup(n.z, name)
	if kind == KindPool || kind == KindService {
		if pv.All.Len() == 0 {
			return nil
		}
		types := map[uint16]bool{dns.TypeSRV: true}
		if kind == KindPool {
			// V4 and V6 are the served elements with an address of the
			// family, which rrsetsAt's A and AAAA records come from.
			if pv.V4.Len() > 0 {
				types[dns.TypeA] = true
			}
			if pv.V6.Len() > 0 {
				types[dns.TypeAAAA] = true
			}
		}
		return types
	}
	var types map[uint16]bool
	for t, rrs := range n.rrsetsAt(name) {
		if len(rrs) > 0 {
			if types == nil {
				types = map[uint16]bool{}
			}
			types[t] = true
		}
	}
	return types
}

// rrsetsAt returns the records at name (lower case, in z) as prerequisites
// see them, by type: a zone file's records as written; a pool element's
// name as its registration wrote it (SRV, A/AAAA, TXT of its key=value
// state); a pool's name and service name as answers give them, every
// served element; a signal's name (RFC 9615), that no zone file or pool
// names, as the signer publishes it (its CDS and CDNSKEY RRsets). Names
// that hold no record (empty non-terminals, pools with no element to
// serve, the names above a signal) have none: they are "not in use".
// Wildcards are not expanded (§3.2.5).
func (n names) rrsetsAt(name string) map[uint16][]dns.RR {
	z := n.z
	kind, pv, e := n.lookup(z, name)
	if n.signals != nil && (kind == KindOther || (kind == KindStatic && z.Nodes[name] == nil)) && signalName(name) {
		if rrs := n.signals(n.v, z, name); len(rrs) > 0 {
			return rrs
		}
	}
	switch kind {
	case KindStatic:
		if n := z.Nodes[name]; n != nil && len(n.RRs) > 0 {
			return n.RRs
		}
		return nil
	case KindElement:
		out := map[uint16][]dns.RR{}
		hdr := func(typ uint16) dns.RR_Header { return dns.RR_Header{Name: name, Rrtype: typ, Class: dns.ClassINET} }
		st := stateOf(e, name)
		out[dns.TypeSRV] = []dns.RR{&dns.SRV{Hdr: hdr(dns.TypeSRV), Priority: st.srv.Priority, Weight: st.srv.Weight, Port: st.srv.Port, Target: name}}
		for _, a := range e.Addrs.All() {
			if a.Is4() {
				out[dns.TypeA] = append(out[dns.TypeA], &dns.A{Hdr: hdr(dns.TypeA), A: a.AsSlice()})
			} else {
				out[dns.TypeAAAA] = append(out[dns.TypeAAAA], &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: a.AsSlice()})
			}
		}
		if !st.txt.empty() {
			var strs []string
			for i := range txtKeys {
				if k, v, ok := st.txt.pair(i); ok {
					strs = append(strs, k+"="+v)
				}
			}
			out[dns.TypeTXT] = []dns.RR{&dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: strs}}
		}
		return out
	case KindPool, KindService:
		out := map[uint16][]dns.RR{}
		for _, e := range pv.All.Elements() {
			out[dns.TypeSRV] = append(out[dns.TypeSRV], &dns.SRV{
				Hdr:      dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET},
				Priority: uint16(min(e.Priority, 0xFFFF)), Weight: uint16(min(e.Weight, 0xFFFF)),
				Port: e.Port, Target: e.Label.String() + "." + pv.Name,
			})
			if kind != KindPool {
				continue
			}
			for _, a := range e.Addrs.All() {
				if a.Is4() {
					out[dns.TypeA] = append(out[dns.TypeA], &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET}, A: a.AsSlice()})
				} else {
					out[dns.TypeAAAA] = append(out[dns.TypeAAAA], &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET}, AAAA: a.AsSlice()})
				}
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return nil
}

// sameRdata reports whether two RRsets hold the same records, ignoring
// owner case, TTL and order; TXT records compare as sets of key=value
// pairs when both parse as such.
func sameRdata(a, b []dns.RR) bool {
	ca, cb := canonical(a), canonical(b)
	return slices.Equal(ca, cb)
}

func canonical(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if t, ok := rr.(*dns.TXT); ok {
			if pairs, err := parseTXT(t.Txt); err == nil {
				for _, p := range pairs {
					out = append(out, "txt:"+p[0]+"="+p[1])
				}
				continue
			}
		}
		c := dns.Copy(rr)
		h := c.Header()
		h.Name, h.Ttl, h.Class = lower(h.Name), 0, dns.ClassINET
		s := c.String()
		out = append(out, strings.ToLower(strings.TrimPrefix(s, h.String())))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// lower returns s in lower case, without allocating when it already is.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
