package dnssec

import (
	"github.com/miekg/dns"
)

// CDS and CDNSKEY (RFC 7344): a signed zone tells its parent, at its
// apex, which DS RRset it wants there. The records follow the keys'
// timing: they are the DS records (SHA-256) and DNSKEYs of the keys that
// ZoneKeys.ParentDS gives, the set `poolnsd dnssec ds` prints. Through a
// rollover (docs/dnssec.md) the set gains the new key when it is
// published (step 1) and loses the old one when that is retired (step 3):
// a parent that reads them does steps 2 and 4 itself. Both RRsets are
// signed like the DNSKEY RRset, by every published key, so by a key of
// the parent's DS set at every step of a rollover (RFC 7344 §4.1).

// CDSMode says what CDS and CDNSKEY records a signed zone publishes.
type CDSMode uint8

const (
	// CDSKeys: the CDS and CDNSKEY records of the keys whose DS the
	// parent should hold (ZoneKeys.ParentDS): the default.
	CDSKeys CDSMode = iota
	// CDSOff: none (the zone file's, if it has any, as any other
	// records).
	CDSOff
	// CDSDelete: the records that ask the parent to delete the zone's DS
	// RRset (RFC 8078 §4): CDS 0 0 0 00 and CDNSKEY 0 3 0 AA==, the first
	// step of serving the zone unsigned.
	CDSDelete
)

var cdsModeNames = [...]string{"keys", "off", "delete"}

func (m CDSMode) String() string { return cdsModeNames[m] }

// CDSRecords returns the CDS and CDNSKEY RRsets that zone zk publishes in
// mode m, each record with TTL ttl; none (nil, nil) for CDSOff.
func CDSRecords(zk *ZoneKeys, m CDSMode, ttl uint32) (cds, cdnskey []dns.RR) {
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: zk.Zone, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	switch m {
	case CDSOff:
		return nil, nil
	case CDSDelete:
		// RFC 8078 §4: algorithm 0, digest type 0 and a digest of one
		// zero byte; a CDNSKEY of algorithm 0 and a key of one zero byte.
		cds = []dns.RR{&dns.CDS{DS: dns.DS{Hdr: hdr(dns.TypeCDS), Digest: "00"}}}
		cdnskey = []dns.RR{&dns.CDNSKEY{DNSKEY: dns.DNSKEY{Hdr: hdr(dns.TypeCDNSKEY), Protocol: 3, PublicKey: "AA=="}}}
		return cds, cdnskey
	}
	for _, k := range zk.ParentDS() {
		ds := k.DS()
		c := &dns.CDS{DS: *ds}
		c.Hdr = hdr(dns.TypeCDS)
		cds = append(cds, c)
		ck := &dns.CDNSKEY{DNSKEY: *k.DNSKEY}
		ck.Hdr = hdr(dns.TypeCDNSKEY)
		cdnskey = append(cdnskey, ck)
	}
	return cds, cdnskey
}

// cdsSets makes the zone's CDS and CDNSKEY RRsets (the mode of
// Options.CDS), sorted, in z.cds.
func (z *Zone) cdsSets(zk *ZoneKeys) {
	m := CDSKeys
	if z.s.opts.CDS != nil {
		m = z.s.opts.CDS(zk.Zone)
	}
	cds, cdnskey := CDSRecords(zk, m, z.s.opts.DNSKEYTTL)
	z.cdsMode = m
	for i, rrs := range [2][]dns.RR{cds, cdnskey} {
		if len(rrs) == 0 {
			continue
		}
		set := new(RRset)
		h := rrs[0].Header()
		set.Reset(h.Name, h.Rrtype, h.Ttl)
		for _, rr := range rrs {
			set.AddRR(rr)
		}
		set.sort()
		z.cds[i] = cdsSet{rrs: rrs, set: set}
	}
}

// cdsSet is one of a zone's CDS and CDNSKEY RRsets, as records and
// canonical (read-only).
type cdsSet struct {
	rrs []dns.RR
	set *RRset
}

// PublishesCDS reports whether the zone publishes CDS and CDNSKEY RRsets at
// its apex (a denial there lists their types).
func (z *Zone) PublishesCDS() bool { return z.cds[0].set != nil }

// CDS returns the zone's CDS RRset (typ dns.TypeCDS) or CDNSKEY RRset
// (dns.TypeCDNSKEY) and their signatures, by every published key; nil
// records when the zone publishes none (CDSOff). The records are shared:
// never change them.
func (z *Zone) CDS(typ uint16) ([]dns.RR, *Sigs, error) {
	c := z.cds[0]
	if typ == dns.TypeCDNSKEY {
		c = z.cds[1]
	}
	if c.set == nil {
		return nil, nil, nil
	}
	set := z.s.pool.Get().(*RRset)
	defer z.s.pool.Put(set)
	set.copyFrom(c.set)
	sigs, err := z.SignSet(set)
	return c.rrs, sigs, err
}
