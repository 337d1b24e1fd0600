package poolrr

import (
	"encoding/binary"
	"strings"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
)

// Svc is an element's packed HTTPS/SVCB and U-NAPTR records.
type Svc struct {
	// HTTPS is the HTTPS record of the pool's name (port left out when
	// it is 443), SVCB the one of its SVCB names (port always there; the
	// same slice when the port is not 443). Owner a pointer to the
	// question, type HTTPS (patched to SVCB per query), SvcPriority
	// patched per query, TargetName in full (RFC 9460 §2.2 forbids
	// compressing it) at offset SvcTarget.
	HTTPS, SVCB []byte
	// NAPTR is the element's U-NAPTR records, one per services field,
	// each starting at an offset of NAPTRAt; preference patched per query.
	NAPTR   []byte
	NAPTRAt []uint16
}

// SvcTarget is the offset of an HTTPS/SVCB record's TargetName: owner
// pointer (2), fixed part (10), SvcPriority (2).
const SvcTarget = 2 + fixedLen + 2

// naptrOrder is the order of every NAPTR record of a pool: one order, so
// that a client tries the next preference when one fails (RFC 3403 §4.1).
const naptrOrder = 100

// BuildSvc packs element e's HTTPS/SVCB and U-NAPTR records for a
// pool (key, its name on the wire).
func BuildSvc(e *handlespace.Element, key Key, poolWireName []byte) *Svc {
	sw := &Svc{}
	if key.HTTPS != "" {
		rd := appendSvcRdata(nil, e, key.HTTPS, poolWireName, e.Port != 443)
		sw.HTTPS = AppendRR(nil, QnamePtr, dns.TypeHTTPS, key.TTL, rd)
		sw.SVCB = sw.HTTPS
		if e.Port == 443 {
			rd = appendSvcRdata(rd[:0], e, key.HTTPS, poolWireName, true)
			sw.SVCB = AppendRR(nil, QnamePtr, dns.TypeHTTPS, key.TTL, rd)
		}
	}
	if key.NAPTR != "" && key.URI != "" {
		u := ExpandURI(key.URI, e, key.Name)
		d := naptrDelim(u)
		re := d + ".*" + d + u + d
		for _, f := range strings.Split(key.NAPTR, ",") {
			if len(re) > 255 {
				break // the zone grammar keeps it within a character-string
			}
			sw.NAPTRAt = append(sw.NAPTRAt, uint16(len(sw.NAPTR)))
			sw.NAPTR = AppendRR(sw.NAPTR, QnamePtr, dns.TypeNAPTR, key.TTL, appendNAPTRRdata(nil, 0, "U", f, re, []byte{0}))
		}
	}
	return sw
}

// appendSvcRdata appends the RDATA of element e's ServiceMode record
// (SvcPriority 0, patched per query): its name as TargetName and the
// SvcParams in key order, alpn (1), port (3) if withPort, ipv4hint (4)
// and ipv6hint (6).
func appendSvcRdata(rd []byte, e *handlespace.Element, alpn string, poolWireName []byte, withPort bool) []byte {
	rd = append(rd, 0, 0)
	rd = append(rd, byte(len(e.Label.String())))
	rd = append(rd, e.Label.String()...)
	rd = append(rd, poolWireName...)
	rd = binary.BigEndian.AppendUint16(rd, 1) // alpn
	rd = binary.BigEndian.AppendUint16(rd, uint16(len(alpn)+1))
	for id := range strings.SplitSeq(alpn, ",") {
		rd = append(rd, byte(len(id)))
		rd = append(rd, id...)
	}
	if withPort {
		rd = binary.BigEndian.AppendUint16(rd, 3)
		rd = binary.BigEndian.AppendUint16(rd, 2)
		rd = binary.BigEndian.AppendUint16(rd, e.Port)
	}
	var v4, v6 []byte
	for _, a := range e.Addrs.All() {
		if a.Is4() {
			b := a.As4()
			v4 = append(v4, b[:]...)
		} else {
			b := a.As16()
			v6 = append(v6, b[:]...)
		}
	}
	if len(v4) > 0 {
		rd = binary.BigEndian.AppendUint16(rd, 4)
		rd = binary.BigEndian.AppendUint16(rd, uint16(len(v4)))
		rd = append(rd, v4...)
	}
	if len(v6) > 0 {
		rd = binary.BigEndian.AppendUint16(rd, 6)
		rd = binary.BigEndian.AppendUint16(rd, uint16(len(v6)))
		rd = append(rd, v6...)
	}
	return rd
}

// appendNAPTRRdata appends a NAPTR RDATA (order naptrOrder): preference,
// flags, services, regexp and the replacement on the wire (uncompressed,
// RFC 3403 §4.1).
func appendNAPTRRdata(rd []byte, pref uint16, flags, services, re string, replacement []byte) []byte {
	rd = binary.BigEndian.AppendUint16(rd, naptrOrder)
	rd = binary.BigEndian.AppendUint16(rd, pref)
	for _, s := range [3]string{flags, services, re} {
		rd = append(rd, byte(len(s)))
		rd = append(rd, s...)
	}
	return append(rd, replacement...)
}

// naptrDelim returns a delimiter of a U-NAPTR regexp that uri does not
// hold (RFC 3402 §3.2: any character but a digit, a flag or a backslash).
func naptrDelim(uri string) string {
	for _, d := range []string{"!", "#", "|", "~", "%", "^", "&", ";", "=", "@", "+", ","} {
		if !strings.Contains(uri, d) {
			return d
		}
	}
	return "!" // no URI the zone grammar takes holds them all
}

// SNAPTR packs a pool's S-NAPTR records (one per services field),
// owner a pointer to the question.
func SNAPTR(pv *handlespace.PoolView) (b []byte, n int) {
	srv := srvName(pv)
	wire := make([]byte, 256)
	m, err := dns.PackDomainName(srv, wire, 0, nil, false)
	if err != nil {
		panic("poolrr: SRV name does not pack: " + err.Error()) // handlespace names are valid
	}
	for i, f := range strings.Split(pv.Spec.NAPTR, ",") {
		b = AppendRR(b, QnamePtr, dns.TypeNAPTR, pv.Spec.TTL, appendNAPTRRdata(nil, uint16(10*(i+1)), "S", f, "", wire[:m]))
		n++
	}
	return b, n
}

// srvName is the name of a pool's SRV records that S-NAPTR points at: its
// service's name, else its own.
func srvName(pv *handlespace.PoolView) string {
	if pv.Spec.Service != "" {
		return pv.Spec.Service + "." + pv.Name
	}
	return pv.Name
}
