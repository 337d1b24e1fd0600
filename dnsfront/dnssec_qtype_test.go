package dnsfront

import (
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnssec"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/ednsopt"
)

// replySummary writes a reply's rcode, AA bit, answer and authority
// sections in short: each record by its type, an RRSIG by what it covers,
// an NSEC with its type bit map. "NOERROR aa | DS RRSIG(DS) |".
func replySummary(m *dns.Msg) string {
	var b strings.Builder
	b.WriteString(dns.RcodeToString[m.Rcode])
	if m.Authoritative {
		b.WriteString(" aa")
	}
	for _, sec := range [][]dns.RR{m.Answer, m.Ns} {
		b.WriteString(" |")
		for _, rr := range sec {
			switch r := rr.(type) {
			case *dns.RRSIG:
				fmt.Fprintf(&b, " RRSIG(%s)", dns.Type(r.TypeCovered))
			case *dns.NSEC:
				fmt.Fprintf(&b, " NSEC(%s)", typeNames(r.TypeBitMap))
			default:
				fmt.Fprintf(&b, " %s", dns.Type(rr.Header().Rrtype))
			}
		}
	}
	return b.String()
}

// TestSignedDNSSECTypes: queries for the DNSSEC types (DNSKEY, DS, NSEC,
// RRSIG, NXNAME, CDS, CDNSKEY) at the apex, a pool's name, an element's name, a missing
// name, a delegation without and with DS and below a delegation, with and
// without DO, in a signed zone and in the same zone unsigned. The rules
// (docs/dnssec.md, "Queries for the DNSSEC types"):
//   - DNSKEY at the apex: the keys, also without DO (zone data);
//     elsewhere NODATA;
//   - DS: at a delegation the parent's answer, authoritative, also without
//     DO and unsigned (RFC 4035 §3.1.4.1), never a referral; below one, a
//     referral; at the apex, NODATA (the parent is not here);
//   - NSEC: the name's NSEC as the answer, also without DO (RFC 3225 §3)
//     where the name exists; at a CNAME's owner, the alias's own NSEC
//     (RFC 4035 §2.5); at a delegation, the referral;
//   - RRSIG: REFUSED in a signed zone with or without DO, NODATA in an
//     unsigned one; below a delegation, the referral;
//   - NXNAME: FORMERR in every zone (RFC 9824 §3.5), with EDE 30;
//   - CDS, CDNSKEY: at the apex the signer's (RFC 7344), also without DO
//     (zone data); elsewhere NODATA; none in an unsigned zone.
func TestSignedDNSSECTypes(t *testing.T) {
	signer, key := newTestSigner(t, dns.ECDSAP256SHA256)
	signed := NewHandler(newSignedSpace(t, 3), Config{Signer: signer})
	plain := NewHandler(newSignedSpace(t, 3), Config{})
	const (
		apexTypes  = "NSEC(CDNSKEY CDS DNSKEY NS NSEC RRSIG SOA)"
		webTypes   = "NSEC(A AAAA NSEC RRSIG SRV)"
		w1Types    = "NSEC(A NSEC RRSIG)"
		nxTypes    = "NSEC(NSEC NXNAME RRSIG)"
		cutTypes   = "NSEC(NS NSEC RRSIG)"
		aliasTypes = "NSEC(CNAME NSEC RRSIG)"
		soaDenial  = "SOA RRSIG(SOA) "
		refused    = "REFUSED | |"
		formerr    = "FORMERR | |"
	)
	for _, c := range []struct {
		name  string
		qtype uint16
		// the replies of the signed zone with DO and without, and of the
		// unsigned zone (with DO: the same without).
		do, noDO, unsigned string
	}{
		{"pool.test.", dns.TypeDNSKEY, "NOERROR aa | DNSKEY RRSIG(DNSKEY) |", "NOERROR aa | DNSKEY |", "NOERROR aa | | SOA"},
		{"pool.test.", dns.TypeDS, "NOERROR aa | | " + soaDenial + apexTypes + " RRSIG(NSEC)", "NOERROR aa | | SOA", "NOERROR aa | | SOA"},
		{"pool.test.", dns.TypeNSEC, "NOERROR aa | " + apexTypes + " RRSIG(NSEC) |", "NOERROR aa | " + apexTypes + " |", "NOERROR aa | | SOA"},
		{"pool.test.", dns.TypeRRSIG, refused, refused, "NOERROR aa | | SOA"},
		{"pool.test.", dnssec.TypeNXNAME, formerr, formerr, formerr},
		{"pool.test.", dns.TypeCDS, "NOERROR aa | CDS RRSIG(CDS) |", "NOERROR aa | CDS |", "NOERROR aa | | SOA"},
		{"POOL.test.", dns.TypeCDNSKEY, "NOERROR aa | CDNSKEY RRSIG(CDNSKEY) |", "NOERROR aa | CDNSKEY |", "NOERROR aa | | SOA"},

		{"web.pool.test.", dns.TypeDNSKEY, "NOERROR aa | | " + soaDenial + webTypes + " RRSIG(NSEC)", "NOERROR aa | | SOA", "NOERROR aa | | SOA"},
		{"web.pool.test.", dns.TypeDS, "NOERROR aa | | " + soaDenial + webTypes + " RRSIG(NSEC)", "NOERROR aa | | SOA", "NOERROR aa | | SOA"},
		{"web.pool.test.", dns.TypeNSEC, "NOERROR aa | " + webTypes + " RRSIG(NSEC) |", "NOERROR aa | " + webTypes + " |", "NOERROR aa | | SOA"},
		{"web.pool.test.", dns.TypeRRSIG, refused, refused, "NOERROR aa | | SOA"},
		{"web.pool.test.", dnssec.TypeNXNAME, formerr, formerr, formerr},
		{"web.pool.test.", dns.TypeCDS, "NOERROR aa | | " + soaDenial + webTypes + " RRSIG(NSEC)", "NOERROR aa | | SOA", "NOERROR aa | | SOA"},
		{"web.pool.test.", dns.TypeCDNSKEY, "NOERROR aa | | " + soaDenial + webTypes + " RRSIG(NSEC)", "NOERROR aa | | SOA", "NOERROR aa | | SOA"},

		{"w1.web.pool.test.", dns.TypeDS, "NOERROR aa | | " + soaDenial + w1Types + " RRSIG(NSEC)", "NOERROR aa | | SOA", "NOERROR aa | | SOA"},
		{"w1.web.pool.test.", dns.TypeNSEC, "NOERROR aa | " + w1Types + " RRSIG(NSEC) |", "NOERROR aa | " + w1Types + " |", "NOERROR aa | | SOA"},
		{"w1.web.pool.test.", dns.TypeRRSIG, refused, refused, "NOERROR aa | | SOA"},

		{"nope.pool.test.", dns.TypeDNSKEY, "NOERROR aa | | " + soaDenial + nxTypes + " RRSIG(NSEC)", "NXDOMAIN aa | | SOA", "NXDOMAIN aa | | SOA"},
		{"nope.pool.test.", dns.TypeDS, "NOERROR aa | | " + soaDenial + nxTypes + " RRSIG(NSEC)", "NXDOMAIN aa | | SOA", "NXDOMAIN aa | | SOA"},
		{"nope.pool.test.", dns.TypeNSEC, "NOERROR aa | " + nxTypes + " RRSIG(NSEC) |", "NXDOMAIN aa | | SOA", "NXDOMAIN aa | | SOA"},
		{"nope.pool.test.", dns.TypeRRSIG, refused, refused, "NXDOMAIN aa | | SOA"},
		{"nope.pool.test.", dnssec.TypeNXNAME, formerr, formerr, formerr},
		{"nope.pool.test.", dns.TypeCDS, "NOERROR aa | | " + soaDenial + nxTypes + " RRSIG(NSEC)", "NXDOMAIN aa | | SOA", "NXDOMAIN aa | | SOA"},

		{"sub.pool.test.", dns.TypeDS, "NOERROR aa | | " + soaDenial + cutTypes + " RRSIG(NSEC)", "NOERROR aa | | SOA", "NOERROR aa | | SOA"},
		{"Sub.Pool.Test.", dns.TypeDS, "NOERROR aa | | " + soaDenial + cutTypes + " RRSIG(NSEC)", "NOERROR aa | | SOA", "NOERROR aa | | SOA"},
		{"sub.pool.test.", dns.TypeDNSKEY, "NOERROR | | NS " + cutTypes + " RRSIG(NSEC)", "NOERROR | | NS", "NOERROR | | NS"},
		{"sub.pool.test.", dns.TypeNSEC, "NOERROR | | NS " + cutTypes + " RRSIG(NSEC)", "NOERROR | | NS", "NOERROR | | NS"},
		{"sub.pool.test.", dns.TypeRRSIG, "NOERROR | | NS " + cutTypes + " RRSIG(NSEC)", "NOERROR | | NS", "NOERROR | | NS"},
		{"sub.pool.test.", dnssec.TypeNXNAME, formerr, formerr, formerr},
		{"x.sub.pool.test.", dns.TypeDS, "NOERROR | | NS " + cutTypes + " RRSIG(NSEC)", "NOERROR | | NS", "NOERROR | | NS"},
		{"sub.pool.test.", dns.TypeCDS, "NOERROR | | NS " + cutTypes + " RRSIG(NSEC)", "NOERROR | | NS", "NOERROR | | NS"},
		{"x.sub.pool.test.", dns.TypeRRSIG, "NOERROR | | NS " + cutTypes + " RRSIG(NSEC)", "NOERROR | | NS", "NOERROR | | NS"},

		// At a CNAME's owner: the alias's own NSEC (RFC 4035 §2.5), not
		// the target's; an unsigned zone follows the CNAME.
		{"alias.pool.test.", dns.TypeNSEC, "NOERROR aa | " + aliasTypes + " RRSIG(NSEC) |", "NOERROR aa | " + aliasTypes + " |", "NOERROR aa | CNAME | SOA"},
		{"gone.pool.test.", dns.TypeNSEC, "NOERROR aa | " + aliasTypes + " RRSIG(NSEC) |", "NOERROR aa | " + aliasTypes + " |", "NXDOMAIN aa | CNAME | SOA"},
		{"x.wild.pool.test.", dns.TypeNSEC, "NOERROR aa | NSEC(NSEC RRSIG TXT) RRSIG(NSEC) |", "NOERROR aa | NSEC(NSEC RRSIG TXT) |", "NOERROR aa | | SOA"},
		{"alias.pool.test.", dns.TypeRRSIG, refused, refused, "NOERROR aa | CNAME | SOA"},

		{"secure.pool.test.", dns.TypeDS, "NOERROR aa | DS RRSIG(DS) |", "NOERROR aa | DS |", "NOERROR aa | DS |"},
		{"secure.pool.test.", dns.TypeDNSKEY, "NOERROR | | NS DS RRSIG(DS)", "NOERROR | | NS", "NOERROR | | NS"},
		{"x.secure.pool.test.", dns.TypeDS, "NOERROR | | NS DS RRSIG(DS)", "NOERROR | | NS", "NOERROR | | NS"},
	} {
		for _, r := range []struct {
			h    *Handler
			do   bool
			want string
			what string
		}{{signed, true, c.do, "signed, DO"}, {signed, false, c.noDO, "signed, no DO"},
			{plain, false, c.unsigned, "unsigned"}, {plain, true, c.unsigned, "unsigned, DO"}} {
			for _, tcp := range []bool{false, true} {
				where := fmt.Sprintf("%s %s (%s, tcp %v)", c.name, dns.Type(c.qtype), r.what, tcp)
				m := queryDO(t, r.h, c.name, c.qtype, tcp, 1232, r.do)
				if got := replySummary(m); got != r.want {
					t.Errorf("%s:\n got %s\nwant %s", where, got, r.want)
					continue
				}
				if r.h == signed && r.do {
					checkSigs(t, m, key, func(rrsetKey) bool { return false })
				}
				wantEDE := -1
				switch r.want {
				case refused:
					wantEDE = int(ednsopt.NotSupported)
				case formerr:
					wantEDE = int(ednsopt.InvalidQueryType)
				}
				if got := edeCode(m); got != wantEDE {
					t.Errorf("%s: EDE %d, want %d", where, got, wantEDE)
				}
			}
		}
	}
}

// edeCode returns the info code of a reply's Extended DNS Error, -1 if it
// has none.
func edeCode(m *dns.Msg) int {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				return int(e.InfoCode)
			}
		}
	}
	return -1
}

// TestSignedDSOfServedChild: with the child zone served here too, a DS
// query at its apex is answered by the signed parent (RFC 4035
// §3.1.4.1): the parent's DS RRset, signed with the parent's key, with or
// without DO; other queries there are the child's.
func TestSignedDSOfServedChild(t *testing.T) {
	signer, key := newTestSigner(t, dns.ECDSAP256SHA256) // pool.test. only
	hs := newSignedSpace(t, 3)
	v := hs.View()
	child := `$ORIGIN secure.pool.test.
@  300 IN SOA ns hostmaster 1 3600 600 86400 60
@  300 IN NS ns
ns 300 IN A 192.0.2.98
`
	defs := []handlespace.ZoneDef{{Origin: "secure.pool.test.", File: "c.zone", Records: mustRRs(t, child)}}
	pz := v.Zone("pool.test.")
	var pools []handlespace.PoolDef
	for _, h := range []string{"web", "dead", "big"} {
		pv := pz.Pool(h)
		pools = append(pools, handlespace.PoolDef{Handle: h, Spec: pv.Spec, Elements: pv.Elements()})
	}
	defs = append(defs, handlespace.ZoneDef{Origin: "pool.test.", File: "test.zone", Records: mustRRs(t, secureZone), Pools: pools})
	if err := hs.ApplyZones(defs); err != nil {
		t.Fatal(err)
	}
	h := NewHandler(hs, Config{Signer: signer})
	for _, do := range []bool{true, false} {
		m := queryDO(t, h, "secure.pool.test.", dns.TypeDS, false, 1232, do)
		want := "NOERROR aa | DS |"
		if do {
			want = "NOERROR aa | DS RRSIG(DS) |"
			checkSigs(t, m, key, nil)
		}
		if got := replySummary(m); got != want {
			t.Errorf("DS at the served child's apex, DO %v: %s, want %s", do, got, want)
		}
		// The child's own apex: its NS RRset, unsigned (the child has no key).
		if got := replySummary(queryDO(t, h, "secure.pool.test.", dns.TypeNS, false, 1232, do)); got != "NOERROR aa | NS |" {
			t.Errorf("NS at the served child's apex, DO %v: %s", do, got)
		}
	}
}

// TestSignedCDSModes: with dnssec.cds_off the apex has no CDS or CDNSKEY
// of the signer's (NODATA, the apex's NSEC without their types), but a
// zone file's own are served as its other records, signed; with
// dnssec.cds_delete the records of RFC 8078 §4, signed, in place of a zone
// file's.
func TestSignedCDSModes(t *testing.T) {
	const own = "@ 300 IN CDS 4711 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n"
	for _, c := range []struct {
		mode       dnssec.CDSMode
		zoneCDS    bool
		do, noDO   string
		wantRecord string // the CDS record answered, "" for none
	}{
		{dnssec.CDSOff, false, "NOERROR aa | | SOA RRSIG(SOA) NSEC(DNSKEY NS NSEC RRSIG SOA) RRSIG(NSEC)", "NOERROR aa | | SOA", ""},
		{dnssec.CDSOff, true, "NOERROR aa | CDS RRSIG(CDS) |", "NOERROR aa | CDS |", "4711 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"},
		{dnssec.CDSDelete, false, "NOERROR aa | CDS RRSIG(CDS) |", "NOERROR aa | CDS |", "0 0 0 00"},
		{dnssec.CDSDelete, true, "NOERROR aa | CDS RRSIG(CDS) |", "NOERROR aa | CDS |", "0 0 0 00"},
	} {
		signer, key := newTestSignerOpts(t, dns.ECDSAP256SHA256, dnssec.Options{CDS: func(string) dnssec.CDSMode { return c.mode }})
		hs := newSignedSpace(t, 3)
		if c.zoneCDS {
			pz := hs.View().Zone("pool.test.")
			var pools []handlespace.PoolDef
			for _, h := range []string{"web", "dead", "big"} {
				pv := pz.Pool(h)
				pools = append(pools, handlespace.PoolDef{Handle: h, Spec: pv.Spec, Elements: pv.Elements()})
			}
			recs := mustRRs(t, secureZone+"$ORIGIN pool.test.\n"+own)
			if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "pool.test.", File: "test.zone", Records: recs, Pools: pools}}); err != nil {
				t.Fatal(err)
			}
		}
		h := NewHandler(hs, Config{Signer: signer})
		for _, do := range []bool{true, false} {
			where := fmt.Sprintf("mode %s, zone file's CDS %v, DO %v", c.mode, c.zoneCDS, do)
			m := queryDO(t, h, "pool.test.", dns.TypeCDS, false, 1232, do)
			want := c.noDO
			if do {
				want = c.do
				checkSigs(t, m, key, nil)
			}
			if got := replySummary(m); got != want {
				t.Errorf("%s:\n got %s\nwant %s", where, got, want)
				continue
			}
			if c.wantRecord != "" {
				if cds, ok := m.Answer[0].(*dns.CDS); !ok || strings.TrimPrefix(cds.String(), cds.Hdr.String()) != c.wantRecord {
					t.Errorf("%s: answer %v, want CDS %s", where, m.Answer[0], c.wantRecord)
				}
			}
		}
	}
}
