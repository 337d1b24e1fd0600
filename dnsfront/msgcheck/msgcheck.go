package msgcheck

import (
	"encoding/binary"

	"github.com/miekg/dns"
)

// Lengths of the wire format.
const (
	headerLen  = 12
	rrFixedLen = 10 // type, class, TTL, RDLENGTH
)

// Verdict is what Check decided about a message.
type Verdict uint8

// The verdicts.
const (
	Serve   Verdict = iota // a well-formed message for the handler
	Drop                   // no reply: a response, or shorter than a header
	FormErr                // answer FORMERR
	NotImp                 // answer NOTIMP: an opcode poolnsd does not implement
)

// Header bits of the second header word (Msg.Bits).
const (
	BitQR = 1 << 15
	BitAA = 1 << 10
	BitTC = 1 << 9
	BitRD = 1 << 8
	BitRA = 1 << 7
	BitAD = 1 << 5
	BitCD = 1 << 4
)

// Msg is what Check read of a message: without allocating, unless the
// message has records other than an OPT (Unpacked).
type Msg struct {
	ID     uint16
	Bits   uint16 // the second header word: QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode
	QStart int    // offset of the first question's name
	QEnd   int    // offset after the first question; 0: no question parsed
	NOPT   int    // OPT records seen (in any section)
	OptOK  bool   // exactly one OPT, in the additional section, well formed
	OptDO  bool   // its DO bit
	Others bool   // records other than an OPT (a TSIG, an update's)
	// The OPT record's fields: its RDATA is b[OptData:OptData+OptLen].
	OptSize, OptVersion uint16
	OptData, OptLen     int
	// LastRR is the offset of the last record's owner name (a signed
	// message's TSIG), 0 for a message of no records.
	LastRR int
	// Unpacked is the message as miekg/dns unpacked it, when Check did
	// (a query with Others: a TSIG; nil otherwise): the caller's to use
	// instead of unpacking the bytes again. An UPDATE is not unpacked:
	// its reader (dnsupdate.Read) checks its records as Unpack would.
	Unpacked *dns.Msg
}

// Opcode returns the message's opcode.
func (m *Msg) Opcode() int { return int(m.Bits>>11) & 0xF }

// Check reads the raw message b and decides what to do with it. A query
// it hands to the handler (Serve) unpacks with miekg/dns: its names,
// records and OPT options are checked here as miekg/dns would check them,
// and a query with records other than an OPT (a TSIG) is unpacked here
// once to be sure. An UPDATE it serves has its names and records in
// bounds; the data of its records is its reader's to check (package
// dnsupdate's Read, whose verdicts are Unpack's), which reads it from the
// bytes without unpacking the message.
func Check(b []byte, m *Msg) Verdict {
	*m = Msg{}
	if len(b) < headerLen {
		return Drop
	}
	m.ID = binary.BigEndian.Uint16(b)
	m.Bits = binary.BigEndian.Uint16(b[2:])
	if m.Bits&BitQR != 0 {
		return Drop // a response: never answer it
	}
	qd := int(binary.BigEndian.Uint16(b[4:]))
	an := int(binary.BigEndian.Uint16(b[6:]))
	ns := int(binary.BigEndian.Uint16(b[8:]))
	ar := int(binary.BigEndian.Uint16(b[10:]))
	off := headerLen
	if qd > 0 {
		end, ok := skipName(b, off)
		if ok && end+4 <= len(b) {
			m.QStart, m.QEnd = off, end+4
		}
	}
	op := m.Opcode()
	if op != dns.OpcodeQuery && op != dns.OpcodeUpdate {
		// Still read the rest, to know whether the reply may carry an OPT.
		if m.QEnd != 0 && qd == 1 {
			_, ok := walkRRs(b, m.QEnd, an, ns, ar, m)
			m.OptOK = m.OptOK && ok && m.NOPT == 1
		}
		return NotImp
	}
	if m.QEnd == 0 && qd > 0 {
		return FormErr
	}
	off = m.QEnd
	if qd == 0 {
		off = headerLen
	}
	for i := 1; i < qd; i++ {
		end, ok := skipName(b, off)
		if !ok || end+4 > len(b) {
			return FormErr
		}
		off = end + 4
	}
	others, ok := walkRRs(b, off, an, ns, ar, m)
	m.OptOK = m.OptOK && ok && m.NOPT == 1
	m.Others = others
	if !ok {
		return FormErr
	}
	if m.NOPT > 0 && !m.OptOK {
		return FormErr // RFC 6891 §6.1.1: one OPT, in the additional section
	}
	if op == dns.OpcodeQuery && (qd != 1 || an != 0 || ns != 0 || ar > 2) {
		return FormErr
	}
	if others && op == dns.OpcodeQuery {
		// A TSIG record: its RDATA must unpack too. The caller gets the
		// message, unpacked once.
		r := new(dns.Msg)
		if err := r.Unpack(b); err != nil {
			return FormErr
		}
		m.Unpacked = r
	}
	return Serve
}

// walkRRs reads an, ns and ar records from off, noting OPT records in m.
// others reports records that are not OPT; ok is false when a record does
// not parse.
func walkRRs(b []byte, off, an, ns, ar int, m *Msg) (others, ok bool) {
	for i := 0; i < an+ns+ar; i++ {
		nameStart := off
		m.LastRR = nameStart
		end, ok := skipName(b, off)
		if !ok || end+rrFixedLen > len(b) {
			return others, false
		}
		typ := binary.BigEndian.Uint16(b[end:])
		rdlen := int(binary.BigEndian.Uint16(b[end+8:]))
		rdata := end + rrFixedLen
		if rdata+rdlen > len(b) {
			return others, false
		}
		if typ == dns.TypeOPT {
			m.NOPT++
			// The OPT's owner is the root, and it sits in the additional section.
			if m.NOPT == 1 && i >= an+ns && b[nameStart] == 0 && optionsOK(b[rdata:rdata+rdlen]) {
				m.OptOK = true
				m.OptSize = binary.BigEndian.Uint16(b[end+2:])
				m.OptVersion = uint16(b[end+5])
				m.OptDO = binary.BigEndian.Uint16(b[end+6:])&(1<<15) != 0
				m.OptData, m.OptLen = rdata, rdlen
			}
		} else {
			others = true
		}
		off = rdata + rdlen
	}
	return others, true
}

// optionsOK reports whether an OPT record's RDATA is a well-formed list of
// options, checking the options whose content miekg/dns reads as it
// reads them.
func optionsOK(rd []byte) bool {
	for len(rd) > 0 {
		if len(rd) < 4 {
			return false
		}
		code := binary.BigEndian.Uint16(rd)
		n := int(binary.BigEndian.Uint16(rd[2:]))
		if 4+n > len(rd) {
			return false
		}
		if !optionOK(code, rd[4:4+n]) {
			return false
		}
		rd = rd[4+n:]
	}
	return true
}

func optionOK(code uint16, v []byte) bool {
	switch code {
	case dns.EDNS0SUBNET:
		if len(v) < 4 {
			return false
		}
		family, source, scope := binary.BigEndian.Uint16(v), v[2], v[3]
		switch family {
		case 0:
			return source == 0
		case 1:
			return source <= 32 && scope <= 32
		case 2:
			return source <= 128 && scope <= 128
		}
		return false
	case dns.EDNS0UL:
		return len(v) == 4 || len(v) == 8
	case dns.EDNS0LLQ:
		return len(v) >= 18
	case dns.EDNS0EXPIRE:
		return len(v) == 0 || len(v) >= 4
	case dns.EDNS0TCPKEEPALIVE:
		return len(v) == 0 || len(v) == 2
	case dns.EDNS0EDE, dns.EDNS0ZONEVERSION:
		return len(v) >= 2
	case dns.EDNS0REPORTING:
		_, _, err := dns.UnpackDomainName(v, 0)
		return err == nil
	}
	return true
}

// maxPointers bounds the compression pointers followed in one name, as
// miekg/dns does: a longer chain cannot spell a name of 255 octets.
const maxPointers = 126

// skipName reads the (possibly compressed) name at off and returns the
// offset after it in place. ok is false for a name that does not parse:
// past the end, a reserved label type, a pointer loop, or over 255 octets.
func skipName(b []byte, off int) (end int, ok bool) {
	n, _, ok := walkName(b, off, nil)
	return n, ok
}

// walkName reads the name at off like skipName and, when dst is not nil,
// appends it to dst uncompressed.
func walkName(b []byte, off int, dst []byte) (end int, out []byte, ok bool) {
	end = -1
	ptrs, length := 0, 1
	for {
		if off >= len(b) {
			return 0, dst, false
		}
		c := int(b[off])
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				if end < 0 {
					end = off + 1
				}
				if dst != nil {
					dst = append(dst, 0)
				}
				return end, dst, true
			}
			if off+1+c > len(b) {
				return 0, dst, false
			}
			length += 1 + c
			if length > 255 {
				return 0, dst, false
			}
			if dst != nil {
				dst = append(dst, b[off:off+1+c]...)
			}
			off += 1 + c
		case 0xC0:
			if off+2 > len(b) {
				return 0, dst, false
			}
			if end < 0 {
				end = off + 2
			}
			ptrs++
			if ptrs > maxPointers {
				return 0, dst, false
			}
			off = int(binary.BigEndian.Uint16(b[off:]) & 0x3FFF)
		default:
			return 0, dst, false // 0x40, 0x80: label types no one uses
		}
	}
}

// Echoed reports whether AppendErrorReply repeats the first question of
// the message b that Check read into m: when it parsed, and for an UPDATE
// when its zone section is that one record (RFC 2136 §3.8).
func (m *Msg) Echoed(b []byte) bool {
	return m.QEnd != 0 && (m.Opcode() != dns.OpcodeUpdate || binary.BigEndian.Uint16(b[4:]) == 1)
}

// AppendErrorReply writes the reply with rcode to the message b that
// Check read into m: the ID; QR; the opcode; RD and CD copied for
// QUERY only (for an opcode poolnsd does not implement, nothing but QR
// and the rcode); AA, TC, RA and AD clear; the first question repeated
// when it parsed (uncompressed), but for an UPDATE only when its zone
// section is that one record (RFC 2136 §3.8: a count copied with its
// section, or 0; dnsupdate.EchoZone); an OPT record (our UDP size, DO copied)
// when the query had a well-formed one.
func AppendErrorReply(dst, b []byte, m *Msg, rcode int, udpSize int) []byte {
	bits := uint16(BitQR) | m.Bits&(0xF<<11) | uint16(rcode&0xF)
	if m.Opcode() == dns.OpcodeQuery {
		bits |= m.Bits & (BitRD | BitCD)
	}
	dst = binary.BigEndian.AppendUint16(dst, m.ID)
	dst = binary.BigEndian.AppendUint16(dst, bits)
	var qd, ar uint16
	if m.Echoed(b) {
		qd = 1
	}
	if m.OptOK {
		ar = 1
	}
	dst = binary.BigEndian.AppendUint16(dst, qd)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, ar)
	if qd == 1 {
		end, out, _ := walkName(b, m.QStart, dst)
		dst = append(out, b[end:end+4]...)
	}
	if m.OptOK {
		dst = append(dst, 0) // root owner
		dst = binary.BigEndian.AppendUint16(dst, dns.TypeOPT)
		dst = binary.BigEndian.AppendUint16(dst, uint16(udpSize))
		dst = append(dst, byte(rcode>>4), 0) // extended RCODE, version 0
		var flags uint16
		if m.OptDO {
			flags = 1 << 15
		}
		dst = binary.BigEndian.AppendUint16(dst, flags)
		dst = append(dst, 0, 0) // no options
	}
	return dst
}
