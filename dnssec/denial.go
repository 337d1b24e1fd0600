package dnssec

import (
	"fmt"
	"slices"

	"github.com/miekg/dns"
)

// Compact denial of existence (RFC 9824): a name's NSEC record is made for
// the question, with the name itself as owner and its immediate successor
// as next name, so that it covers nothing but the name and no zone can be
// walked. Every denial is one NSEC record and its signatures, cached like
// any other RRset.

// TypeNXNAME is the meta type that marks a name as nonexistent in a
// compact denial's type bit map (RFC 9824 §2).
const TypeNXNAME = 128

// The bit maps of NXDomain and NoDS (shared, never changed).
var (
	nxTypes   = []uint16{dns.TypeRRSIG, dns.TypeNSEC, TypeNXNAME}
	noDSTypes = []uint16{dns.TypeNS, dns.TypeRRSIG, dns.TypeNSEC}
)

// NXDomain returns the signed NSEC record that denies qname (RFC 9824
// §3.1): owner qname, next name "\000.<qname>", types RRSIG, NSEC and
// NXNAME. The reply is NOERROR (not NXDOMAIN) with the zone's SOA and its
// signatures in the authority section, and this NSEC and its signatures.
// ttl is the negative answer's TTL (the SOA's in the reply, RFC 9077).
func (z *Zone) NXDomain(qname string, ttl uint32) (*Sigs, error) {
	return z.denial(qname, ttl, false, nxTypes)
}

// NoData returns the signed NSEC record that says name exists without
// records of qtype (RFC 9824 §3.2): owner name, next name "\000.<name>",
// types: types (what the name holds, or can answer; see the package
// documentation) without qtype, plus RRSIG and NSEC, plus DNSKEY (and CDS
// and CDNSKEY when the zone publishes them) at the zone's apex. An empty
// non-terminal passes no types. ttl is the negative answer's TTL.
func (z *Zone) NoData(name string, qtype uint16, types []uint16, ttl uint32) (*Sigs, error) {
	return z.noData(name, qtype, types, ttl)
}

func (z *Zone) noData(name string, qtype uint16, types []uint16, ttl uint32) (*Sigs, error) {
	var buf [16]uint16
	ts := append(buf[:0], dns.TypeRRSIG, dns.TypeNSEC)
	for _, t := range types {
		if t != qtype && t != TypeNXNAME && t != dns.TypeOPT {
			ts = append(ts, t)
		}
	}
	if len(name) == len(z.origin) && equalFold(name, z.origin) {
		for _, t := range [...]uint16{dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY} {
			if t != qtype && (t == dns.TypeDNSKEY || z.PublishesCDS()) {
				ts = append(ts, t)
			}
		}
	}
	return z.denial(name, ttl, false, ts)
}

// NoDS returns the signed NSEC record at a delegation without DS
// (RFC 9824 §3.4): owner the cut, next name the cut's first label with a
// zero byte added ("sub\000.<zone>", which sorts after every name below
// the cut), types NS, RRSIG and NSEC. It goes with a referral (authority:
// the NS RRset, this NSEC and its signatures; the NS RRset and glue are
// not signed) and with a DS query at the cut (NODATA: the SOA and this
// NSEC, both signed).
func (z *Zone) NoDS(cut string, ttl uint32) (*Sigs, error) {
	return z.denial(cut, ttl, true, noDSTypes)
}

// denial signs the NSEC of owner with types (any order, duplicates
// allowed); sibling chooses the next name of a delegation.
func (z *Zone) denial(owner string, ttl uint32, sibling bool, types []uint16) (*Sigs, error) {
	set := z.s.pool.Get().(*RRset)
	defer z.s.pool.Put(set)
	set.Reset(owner, dns.TypeNSEC, ttl)
	if set.err != nil {
		return nil, set.err
	}
	rd, ok := successor(set.tmp[:0], set.owner, z.originWire, sibling)
	if !ok {
		return nil, fmt.Errorf("dnssec: no successor of %s in %s", owner, z.origin)
	}
	var tb [16]uint16
	ts := append(tb[:0], types...)
	slices.Sort(ts)
	ts = slices.Compact(ts)
	rd = appendBitmap(rd, ts)
	set.tmp = rd
	set.Add(rd)
	return z.SignSet(set)
}

// successor returns the next name of owner's compact NSEC (wire form, lower
// case): "\000.<owner>" (its immediate successor, RFC 9824 §3.1) or, for a
// delegation (sibling), owner with a zero byte added to its first label
// (after every name below it, §3.4). When that would be longer than 255
// bytes, it is a name after owner and its descendants made by raising the
// last byte of a label, from the first label up, as RFC 4471 describes;
// and the origin if none can be raised.
func successor(dst, owner, origin []byte, sibling bool) ([]byte, bool) {
	if !sibling && len(owner)+2 <= 255 {
		dst = append(dst, 1, 0)
		return append(dst, owner...), true
	}
	if len(owner) <= len(origin) {
		return append(dst, origin...), !sibling
	}
	for i := 0; len(owner)-i > len(origin); i += int(owner[i]) + 1 {
		l := int(owner[i])
		rest := owner[i+1+l:]
		label := owner[i+1 : i+1+l]
		if l < 63 && len(owner)-i+1 <= 255 {
			out := dst
			out = append(out, byte(l+1))
			out = append(out, label...)
			out = append(out, 0)
			return append(out, rest...), true
		}
		// Raise the last byte that is not 0xFF, dropping the 0xFF after it
		// (skipping the upper-case letters, which sort as lower case).
		j := l - 1
		for j >= 0 && label[j] == 0xFF {
			j--
		}
		if j < 0 {
			continue // all 0xFF: raise the label above instead
		}
		c := label[j] + 1
		if c == 'A' {
			c = 'Z' + 1
		}
		out := dst
		out = append(out, byte(j+1))
		out = append(out, label[:j]...)
		out = append(out, c)
		return append(out, rest...), true
	}
	return append(dst, origin...), true
}

// equalFold compares two ASCII names without regard to case.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
