package dnssec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/miekg/dns"
)

// RRset is one RRset in the form that RFC 4034 §6 signs: the owner name
// and the domain names inside the RDATA of the types §6.2 lists (less
// NSEC and RRSIG, RFC 6840 §5.1, and HINFO, which holds none) in lower
// case, one TTL, the RDATA in canonical order, duplicates once. A
// renderer fills it record by record (Add with the RDATA it has packed, or
// AddRR) and hands it to Zone.SignSet; it is reusable (Reset) and, reused,
// allocates nothing. Not safe for concurrent use.
type RRset struct {
	owner  []byte // wire form, lower case
	typ    uint16
	ttl    uint32
	labels uint8
	rdata  []byte
	offs   []int // start of each RDATA in rdata, in the order added (sorted by sort)
	sorted bool
	err    error

	spans []span    // sort's scratch
	alt   []byte    // sort's other rdata buffer
	tmp   []byte    // AddRR's packing buffer
	key   []byte    // the cache key, built by appendKey
	msg   dns.Msg   // AddRR packs through it (see there)
	one   [1]dns.RR // msg's answer section
}

// Reset starts an RRset of owner (presentation form, any case), type and
// TTL. The TTL is the one the records are sent with: it is signed (the
// RRSIG's original TTL) and part of the cache key.
func (s *RRset) Reset(owner string, rrtype uint16, ttl uint32) {
	s.reset(rrtype, ttl)
	s.owner = slices.Grow(s.owner[:0], 255)[:255]
	n, err := dns.PackDomainName(dns.Fqdn(owner), s.owner, 0, nil, false)
	if err != nil {
		s.owner, s.err = s.owner[:0], fmt.Errorf("dnssec: owner %q: %v", owner, err)
		return
	}
	s.owner = s.owner[:n]
	s.setOwner()
}

// ResetWire is Reset with the owner in wire form (uncompressed, any case),
// as a renderer has it from the question.
func (s *RRset) ResetWire(owner []byte, rrtype uint16, ttl uint32) {
	s.reset(rrtype, ttl)
	s.owner = append(s.owner[:0], owner...)
	if n, ok := nameLen(s.owner, 0); !ok || n != len(owner) {
		s.owner, s.err = s.owner[:0], errors.New("dnssec: owner is not an uncompressed wire name")
		return
	}
	s.setOwner()
}

func (s *RRset) reset(rrtype uint16, ttl uint32) {
	s.typ, s.ttl, s.err, s.sorted = rrtype, ttl, nil, false
	s.rdata, s.offs = s.rdata[:0], s.offs[:0]
}

// setOwner lowercases the owner and counts its labels; a wildcard's "*"
// label is not counted (RFC 4034 §3.1.3).
func (s *RRset) setOwner() {
	lowerName(s.owner)
	s.labels = 0
	for i := 0; s.owner[i] != 0; i += int(s.owner[i]) + 1 {
		s.labels++
	}
	if len(s.owner) > 2 && s.owner[0] == 1 && s.owner[1] == '*' {
		s.labels--
	}
}

// Add adds a record's RDATA as on the wire: domain names uncompressed, in
// any case (the copy is lowercased as §6.2 says).
func (s *RRset) Add(rdata []byte) {
	if len(rdata) > 0xFFFF {
		s.err = errors.New("dnssec: RDATA longer than 65535 bytes")
		return
	}
	off := len(s.rdata)
	s.offs = append(s.offs, off)
	s.rdata = append(s.rdata, rdata...)
	canonRdata(s.typ, s.rdata[off:])
	s.sorted = false
}

// dnsHeaderLen is the length of a message's header.
const dnsHeaderLen = 12

// AddRR adds a record, which must have the RRset's owner (in any case) and
// type. Its TTL is not read: the RRset's is signed.
func (s *RRset) AddRR(rr dns.RR) {
	if rr.Header().Rrtype != s.typ {
		s.err = fmt.Errorf("dnssec: a %s record in a %s RRset", dns.TypeToString[rr.Header().Rrtype], dns.TypeToString[s.typ])
		return
	}
	// Packed as the only record of a message, not with dns.PackRR, which
	// writes the record's Rdlength: the records are shared (a zone's,
	// read by concurrent queries) and must not be written.
	need := dnsHeaderLen + dns.Len(rr) + 1
	if cap(s.tmp) < need {
		s.tmp = make([]byte, need+256)
	}
	s.one[0] = rr
	s.msg.Answer = s.one[:]
	m, err := s.msg.PackBuffer(s.tmp[:cap(s.tmp)])
	s.one[0] = nil
	if err != nil {
		s.err = fmt.Errorf("dnssec: packing %s: %v", rr.Header().Name, err)
		return
	}
	b := m[dnsHeaderLen:]
	n := len(b)
	on, ok := nameLen(b, 0)
	if !ok || on+10 > n {
		s.err = fmt.Errorf("dnssec: packing %s: bad wire form", rr.Header().Name)
		return
	}
	lowerName(b[:on])
	if !bytes.Equal(b[:on], s.owner) {
		s.err = fmt.Errorf("dnssec: %s in the RRset of another owner name", rr.Header().Name)
		return
	}
	s.Add(b[on+10:])
}

func (s *RRset) rd(i int) []byte {
	end := len(s.rdata)
	if i+1 < len(s.offs) {
		end = s.offs[i+1]
	}
	return s.rdata[s.offs[i]:end]
}

// sort puts the RDATA in canonical order (RFC 4034 §6.3) and drops
// duplicates, rewriting rdata.
func (s *RRset) sort() {
	if s.sorted {
		return
	}
	s.sorted = true
	if len(s.offs) < 2 {
		return
	}
	// Sort (start, end) pairs, then lay the RDATA out again in order.
	spans := s.spans[:0]
	for i := range s.offs {
		end := len(s.rdata)
		if i+1 < len(s.offs) {
			end = s.offs[i+1]
		}
		spans = append(spans, span{s.offs[i], end})
	}
	s.spans = spans
	rdata := s.rdata
	slices.SortFunc(spans, func(x, y span) int { return bytes.Compare(rdata[x.a:x.b], rdata[y.a:y.b]) })
	out := s.alt[:0]
	s.offs = s.offs[:0]
	var prev []byte
	for i, sp := range spans {
		cur := rdata[sp.a:sp.b]
		if i > 0 && bytes.Equal(cur, prev) {
			continue
		}
		s.offs = append(s.offs, len(out))
		out = append(out, cur...)
		prev = cur
	}
	s.rdata, s.alt = out, rdata[:0]
}

// span is one RDATA's place in RRset.rdata.
type span struct{ a, b int }

// appendKey appends the cache key of the RRset signed by the keys of
// fingerprint fp: fp, owner, type, TTL, then each RDATA with its length.
func (s *RRset) appendKey(dst []byte, fp uint64) []byte {
	s.sort()
	dst = binary.BigEndian.AppendUint64(dst, fp)
	dst = append(dst, s.owner...)
	dst = binary.BigEndian.AppendUint16(dst, s.typ)
	dst = binary.BigEndian.AppendUint32(dst, s.ttl)
	for i := range s.offs {
		rd := s.rd(i)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(rd)))
		dst = append(dst, rd...)
	}
	return dst
}

// appendSigned appends the data that an RRSIG with RDATA prefix pre (its
// fields before the signature) signs: pre, then each record in canonical
// form (RFC 4034 §3.1.8.1).
func (s *RRset) appendSigned(dst, pre []byte) []byte {
	s.sort()
	dst = append(dst, pre...)
	for i := range s.offs {
		rd := s.rd(i)
		dst = append(dst, s.owner...)
		dst = binary.BigEndian.AppendUint16(dst, s.typ)
		dst = binary.BigEndian.AppendUint16(dst, dns.ClassINET)
		dst = binary.BigEndian.AppendUint32(dst, s.ttl)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(rd)))
		dst = append(dst, rd...)
	}
	return dst
}

// nameLen returns the length of the uncompressed wire name at b[off:].
func nameLen(b []byte, off int) (int, bool) {
	i := off
	for {
		if i >= len(b) {
			return 0, false
		}
		l := int(b[i])
		if l == 0 {
			if i+1-off > 255 {
				return 0, false
			}
			return i + 1 - off, true
		}
		if l > 63 {
			return 0, false // a compression pointer or an extended label
		}
		i += l + 1
	}
}

// lowerName lowercases an uncompressed wire name in place: b is the
// name's bytes, the root label's included. Length bytes (at most 63) are
// below 'A', so every byte can be treated alike, eight at a time.
func lowerName(b []byte) {
	const ones = 0x0101010101010101
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		h := x & (0x7F * ones)
		ge := h + (0x80-'A')*ones   // high bit: at least 'A' (no carry out of a byte)
		gt := h + (0x80-'Z'-1)*ones // high bit: above 'Z'
		if m := ge &^ gt &^ x & (0x80 * ones); m != 0 {
			binary.LittleEndian.PutUint64(b, x|m>>2) // 0x80>>2: the case bit
		}
		b = b[8:]
	}
	for i, c := range b {
		if c-'A' < 26 {
			b[i] = c + 'a' - 'A'
		}
	}
}

// lowerNameAt lowercases the name at rd[off:] and returns the offset after
// it, or -1 if there is no whole name there.
func lowerNameAt(rd []byte, off int) int {
	if off < 0 || off >= len(rd) {
		return -1
	}
	n, ok := nameLen(rd, off)
	if !ok {
		return -1
	}
	lowerName(rd[off : off+n])
	return off + n
}

// canonRdata lowercases the domain names in rd, a record of type typ
// (RFC 4034 §6.2 item 3, as RFC 6840 §5.1 corrects it), as validators do.
func canonRdata(typ uint16, rd []byte) {
	switch typ {
	case dns.TypeNS, dns.TypeMD, dns.TypeMF, dns.TypeCNAME, dns.TypeMB, dns.TypeMG, dns.TypeMR,
		dns.TypePTR, dns.TypeDNAME, dns.TypeNXT:
		lowerNameAt(rd, 0)
	case dns.TypeSOA, dns.TypeMINFO, dns.TypeRP:
		lowerNameAt(rd, lowerNameAt(rd, 0))
	case dns.TypeMX, dns.TypeAFSDB, dns.TypeRT, dns.TypeKX:
		lowerNameAt(rd, 2)
	case dns.TypePX:
		lowerNameAt(rd, lowerNameAt(rd, 2))
	case dns.TypeSRV:
		lowerNameAt(rd, 6)
	case dns.TypeNAPTR:
		off := 4
		for range 3 { // flags, services, regexp
			if off >= len(rd) {
				return
			}
			off += 1 + int(rd[off])
		}
		lowerNameAt(rd, off)
	}
}
