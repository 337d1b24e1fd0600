package dnsupdate

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"

	"github.com/miekg/dns"
)

// Message is an UPDATE as the server reads it: what its checks and its
// application use of the message, read from the datagram's bytes by Read
// (without unpacking it into a dns.Msg) or taken from a dns.Msg by
// FromMsg. Both give the same Message for the same bytes (FuzzRead).
type Message struct {
	ID     uint16
	Opcode int
	// Zone is the zone section's first record, Zones the number of them.
	Zone  dns.Question
	Zones int
	// Prereq is the prerequisite section, as miekg/dns unpacks it (rare:
	// each of its records is unpacked apart).
	Prereq []dns.RR
	// Upd is the update section.
	Upd []Rec
	// The additional section: OPT is set when it has an OPT record, OptDO
	// is the last one's DO bit, OptVersion the first version other than 0
	// (0: none), Lease the last UPDATE-LEASE option (nil: none).
	OPT        bool
	OptDO      bool
	OptVersion uint8
	Lease      *dns.EDNS0_UL
	// TSIG is the request's TSIG record (tsigkey.Of), nil if none or
	// misplaced (TSIGErr says where); TSIGOff is the offset of its owner
	// name in the bytes Read read, 0 from FromMsg.
	TSIG    *dns.TSIG
	TSIGErr error
	TSIGOff int

	lease dns.EDNS0_UL // Lease's room
	tsig  dns.TSIG     // TSIG's room (Read's)
	room  *serveRoom   // Serve's, kept by Read and Clear
}

// Rec is a record of an update section: its header and, for the types
// an element holds (with data), its data.
type Rec struct {
	Name     string // as miekg/dns's presentation form has it
	Type     uint16
	Class    uint16
	TTL      uint32
	Rdlength uint16
	// SRV
	Priority, Weight, Port uint16
	Target                 string
	// A and AAAA (invalid: none)
	Addr netip.Addr
	// TXT
	Txt []string
}

// The errors of tsigkey.Of, the same words.
var (
	errTSIGNotLast = errors.New("TSIG record not last in the additional section")
	errTSIGOutside = errors.New("TSIG record outside the additional section")
)

// FromMsg returns the Message of an unpacked UPDATE r.
func FromMsg(r *dns.Msg) *Message {
	m := &Message{ID: r.Id, Opcode: r.Opcode, Zones: len(r.Question), Prereq: r.Answer}
	if len(r.Question) > 0 {
		m.Zone = r.Question[0]
	}
	if len(r.Ns) > 0 {
		m.Upd = make([]Rec, 0, len(r.Ns))
	}
	var notLast, outside bool
	for _, rr := range r.Answer {
		outside = outside || rr.Header().Rrtype == dns.TypeTSIG
	}
	for _, rr := range r.Ns {
		hd := rr.Header()
		outside = outside || hd.Rrtype == dns.TypeTSIG
		rec := Rec{Name: hd.Name, Type: hd.Rrtype, Class: hd.Class, TTL: hd.Ttl, Rdlength: hd.Rdlength}
		switch x := rr.(type) {
		case *dns.SRV:
			rec.Priority, rec.Weight, rec.Port, rec.Target = x.Priority, x.Weight, x.Port, x.Target
		case *dns.A:
			rec.Addr = ipv4(x.A)
		case *dns.AAAA:
			rec.Addr = ipv6(x.AAAA)
		case *dns.TXT:
			rec.Txt = x.Txt
		}
		m.Upd = append(m.Upd, rec)
	}
	for i, rr := range r.Extra {
		switch x := rr.(type) {
		case *dns.OPT:
			m.readOPT(x)
		case *dns.TSIG:
			notLast = notLast || i != len(r.Extra)-1
			m.TSIG = x
		}
	}
	m.tsigErr(notLast, outside)
	return m
}

// tsigErr sets TSIGErr as tsigkey.Of decides, the additional section
// first, and then clears TSIG.
func (m *Message) tsigErr(notLast, outside bool) {
	switch {
	case notLast:
		m.TSIGErr = errTSIGNotLast
	case outside:
		m.TSIGErr = errTSIGOutside
	}
	if m.TSIGErr != nil {
		m.TSIG, m.TSIGOff = nil, 0
	}
}

// readOPT notes an OPT record of the additional section.
func (m *Message) readOPT(o *dns.OPT) {
	m.OPT, m.OptDO = true, o.Do()
	if v := o.Version(); v != 0 && m.OptVersion == 0 {
		m.OptVersion = v
	}
	for _, opt := range o.Option {
		if ul, ok := opt.(*dns.EDNS0_UL); ok {
			m.lease = *ul
			m.Lease = &m.lease
		}
	}
}

// Read reads the UPDATE b (a message that msgcheck.Check served) into m,
// as FromMsg reads what miekg/dns's Unpack makes of b, and reports false
// where Unpack fails: such a message is answered FORMERR, as a message
// that msgcheck.Check finds malformed. The records an element holds (SRV,
// A, AAAA, TXT) and the OPT record are read here, from the bytes; the
// rest (prerequisites, a TSIG, other types, TXT strings that presentation
// form escapes) are unpacked one record at a time by miekg/dns, so that
// every verdict is its own.
//
// Read reuses the room of m's update section (m.Upd's array): a caller
// that reads into m again must be done with the Upd of the message before.
func Read(b []byte, m *Message) bool {
	room := m.Upd
	clear(room)
	*m = Message{room: m.room}
	if len(b) < 12 {
		return false
	}
	m.ID = binary.BigEndian.Uint16(b)
	m.Opcode = int(b[2]>>3) & 0xF
	qd := int(binary.BigEndian.Uint16(b[4:]))
	an := int(binary.BigEndian.Uint16(b[6:]))
	ns := int(binary.BigEndian.Uint16(b[8:]))
	ar := int(binary.BigEndian.Uint16(b[10:]))
	off := 12
	if off == len(b) {
		// What Unpack makes of a bare header: no section at all.
		return true
	}
	for i := 0; i < qd; i++ {
		name, end, err := dns.UnpackDomainName(b, off)
		if err != nil {
			return false
		}
		var q dns.Question
		q.Name = name
		// Unpack's question ends where the message does.
		if end < len(b) {
			if end+2 > len(b) {
				return false
			}
			q.Qtype, end = binary.BigEndian.Uint16(b[end:]), end+2
			if end < len(b) {
				if end+2 > len(b) {
					return false
				}
				q.Qclass, end = binary.BigEndian.Uint16(b[end:]), end+2
			}
		}
		if end == off {
			break // cannot happen: a name takes a byte at least
		}
		if i == 0 {
			m.Zone = q
		}
		m.Zones++
		off = end
	}
	// The records: Unpack stops at the end of the message (the counts
	// may say more).
	var lastName string
	lastNameOff := -1
	extraLast, notLast, outside := false, false, false
	for i := 0; i < an+ns+ar && off < len(b); i++ {
		start := off
		// The owner's name: the one before again when it is a pointer to
		// it, or to where it pointed (the usual compression).
		var name string
		nameOff := start
		ptr := b[off]&0xC0 == 0xC0
		if ptr && off+2 <= len(b) {
			nameOff = int(binary.BigEndian.Uint16(b[off:]) & 0x3FFF)
		}
		if ptr && nameOff == lastNameOff && validName(b, off) {
			name, off = lastName, off+2
		} else {
			var err error
			if name, off, err = dns.UnpackDomainName(b, off); err != nil {
				return false
			}
			lastName, lastNameOff = name, nameOff
		}
		if off+10 > len(b) {
			return false
		}
		hd := dns.RR_Header{Name: name, Rrtype: binary.BigEndian.Uint16(b[off:]), Class: binary.BigEndian.Uint16(b[off+2:]),
			Ttl: binary.BigEndian.Uint32(b[off+4:]), Rdlength: binary.BigEndian.Uint16(b[off+8:])}
		rd := off + 10
		end := rd + int(hd.Rdlength)
		if end > len(b) {
			return false
		}
		msg := b[:end] // Unpack's RDATA ends where the record does
		section := 2
		switch {
		case i < an:
			section = 0
		case i < an+ns:
			section = 1
		}
		outside = outside || (section < 2 && hd.Rrtype == dns.TypeTSIG)
		switch section {
		case 0:
			rr, _, err := dns.UnpackRRWithHeader(hd, msg, rd)
			if err != nil {
				return false
			}
			m.Prereq = append(m.Prereq, rr)
		case 1:
			if m.Upd == nil {
				// Room for the section at once: its records are all there
				// when msgcheck served the message, at least 11 bytes each.
				if n := min(ns, (len(b)-off)/11+1); cap(room) >= n {
					m.Upd = room[:0]
				} else {
					m.Upd = make([]Rec, 0, n)
				}
			}
			rec := Rec{Name: name, Type: hd.Rrtype, Class: hd.Class, TTL: hd.Ttl, Rdlength: hd.Rdlength}
			if !readRdata(msg, rd, hd, &rec, lastName, lastNameOff) {
				return false
			}
			m.Upd = append(m.Upd, rec)
		case 2:
			extraLast = false
			switch hd.Rrtype {
			case dns.TypeOPT:
				if !m.readOPTBytes(msg, rd, hd) {
					return false
				}
			case dns.TypeTSIG:
				notLast = notLast || m.TSIG != nil // the one before was not last
				if !readTSIG(msg, rd, hd, &m.tsig) {
					return false
				}
				m.TSIG, m.TSIGOff, extraLast = &m.tsig, start, true
			default:
				if hd.Rdlength != 0 {
					if _, _, err := dns.UnpackRRWithHeader(hd, msg, rd); err != nil {
						return false
					}
				}
			}
		}
		off = end
	}
	m.tsigErr(notLast || (m.TSIG != nil && !extraLast), outside)
	return true
}

// readTSIG reads a TSIG record's data (its RDATA msg[rd:], msg ending
// with it) into t as miekg/dns's Unpack does: its fields in order, the
// record ending between two of them but for the MAC and the original ID;
// the MAC and the other data in hex.
func readTSIG(msg []byte, rd int, hd dns.RR_Header, t *dns.TSIG) bool {
	*t = dns.TSIG{Hdr: hd}
	if hd.Rdlength == 0 {
		return true
	}
	end := len(msg)
	alg, off, ok := algorithmName(msg, rd)
	if !ok {
		return false
	}
	t.Algorithm = alg
	if off == end {
		return true
	}
	if off+6 > end {
		return false
	}
	t.TimeSigned = uint64(binary.BigEndian.Uint16(msg[off:]))<<32 | uint64(binary.BigEndian.Uint32(msg[off+2:]))
	off += 6
	// u16s reads fields fs in turn: done says the record ended before or
	// after them (the rest left zero), ok false that it ended inside one.
	u16s := func(fs ...*uint16) (done, ok bool) {
		for _, f := range fs {
			if off == end {
				return true, true
			}
			if off+2 > end {
				return false, false
			}
			*f, off = binary.BigEndian.Uint16(msg[off:]), off+2
		}
		return off == end, true
	}
	// hexData reads n bytes in hex, which the record must hold.
	hexData := func(n uint16) (string, bool) {
		if off+int(n) > end {
			return "", false
		}
		h := hexString(msg[off : off+int(n)])
		off += int(n)
		return h, true
	}
	if done, ok := u16s(&t.Fudge, &t.MACSize); done || !ok {
		return ok
	}
	if t.MAC, ok = hexData(t.MACSize); !ok {
		return false
	}
	// The original ID follows the MAC in any case.
	if off+2 > end {
		return false
	}
	t.OrigId, off = binary.BigEndian.Uint16(msg[off:]), off+2
	if done, ok := u16s(&t.Error, &t.OtherLen); done || !ok {
		return ok
	}
	if t.OtherData, ok = hexData(t.OtherLen); !ok {
		return false
	}
	return off == end
}

// hexString is b in lower-case hex, one allocation.
func hexString(b []byte) string {
	if len(b) > 64 {
		return hex.EncodeToString(b)
	}
	var buf [128]byte
	return string(hex.AppendEncode(buf[:0], b))
}

// algorithms are the TSIG algorithm names in wire form (uncompressed,
// lower case) and presentation form: those a request spells so cost no
// string of their own.
var algorithms = func() (out []struct{ wire, name string }) {
	for _, a := range []string{dns.HmacSHA256, dns.HmacSHA512, dns.HmacSHA384, dns.HmacSHA224, dns.HmacSHA1, dns.HmacMD5} {
		var buf [256]byte
		n, err := dns.PackDomainName(a, buf[:], 0, nil, false)
		if err != nil {
			panic(err)
		}
		out = append(out, struct{ wire, name string }{string(buf[:n]), a})
	}
	return out
}()

// algorithmName reads the name at off as dns.UnpackDomainName does.
func algorithmName(msg []byte, off int) (string, int, bool) {
	for _, a := range algorithms {
		if len(msg)-off >= len(a.wire) && string(msg[off:off+len(a.wire)]) == a.wire {
			return a.name, off + len(a.wire), true
		}
	}
	name, off, err := dns.UnpackDomainName(msg, off)
	return name, off, err == nil
}

// sameName reports whether the name at a in msg reads without an error
// (dns.UnpackDomainName's checks, as validName) and has the same labels,
// byte for byte, as the name at b (one that read without an error), and
// returns the offset after the one at a.
func sameName(msg []byte, a, b int) (end int, ok bool) {
	end = -1
	budget, ptrs, bptrs := 255, 0, 0
	for {
		for a < len(msg) && msg[a]&0xC0 == 0xC0 {
			if a+2 > len(msg) {
				return 0, false
			}
			if end < 0 {
				end = a + 2
			}
			if ptrs++; ptrs > 126 {
				return 0, false
			}
			a = int(binary.BigEndian.Uint16(msg[a:]) & 0x3FFF)
		}
		for b < len(msg) && msg[b]&0xC0 == 0xC0 {
			if b+2 > len(msg) {
				return 0, false
			}
			if bptrs++; bptrs > 126 {
				return 0, false
			}
			b = int(binary.BigEndian.Uint16(msg[b:]) & 0x3FFF)
		}
		if a >= len(msg) || b >= len(msg) {
			return 0, false
		}
		c := int(msg[a])
		if c&0xC0 != 0 || c != int(msg[b]) {
			return 0, false
		}
		if c == 0 {
			if end < 0 {
				end = a + 1
			}
			return end, true
		}
		if a+1+c > len(msg) || b+1+c > len(msg) {
			return 0, false
		}
		if budget -= c + 1; budget <= 0 {
			return 0, false
		}
		if string(msg[a+1:a+1+c]) != string(msg[b+1:b+1+c]) {
			return 0, false
		}
		a, b = a+1+c, b+1+c
	}
}

// validName reports whether the name at off is one that
// dns.UnpackDomainName reads without an error (the same checks: labels
// inside b, at most 126 compression pointers, 255 octets, no reserved
// label type), without making its string.
func validName(b []byte, off int) bool {
	budget, ptrs := 255, 0
	for {
		if off >= len(b) {
			return false
		}
		c := int(b[off])
		off++
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				return true
			}
			if off+c > len(b) {
				return false
			}
			if budget -= c + 1; budget <= 0 {
				return false
			}
			off += c
		case 0xC0:
			if off >= len(b) {
				return false
			}
			if ptrs++; ptrs > 126 {
				return false
			}
			off = (c^0xC0)<<8 | int(b[off])
		default:
			return false
		}
	}
}

// readRdata reads the data of an update record (its RDATA msg[rd:], msg
// ending with it) into rec: by hand for the types an element holds, by
// miekg/dns for the others (its verdict; their data is not used). An SRV
// target that points at ownerOff, where the name owner starts (the
// record's owner) and spells the same name is owner.
func readRdata(msg []byte, rd int, hd dns.RR_Header, rec *Rec, owner string, ownerOff int) bool {
	if hd.Rdlength == 0 {
		return true // Unpack's record of no data: a header
	}
	end := len(msg)
	switch hd.Rrtype {
	case dns.TypeA:
		if end-rd != 4 {
			return false
		}
		rec.Addr = netip.AddrFrom4([4]byte(msg[rd:end]))
		return true
	case dns.TypeAAAA:
		if end-rd != 16 {
			return false
		}
		rec.Addr = netip.AddrFrom16([16]byte(msg[rd:end]))
		return true
	case dns.TypeSRV:
		// Unpack's SRV stops where its data does, between two fields.
		var f [3]uint16
		off := rd
		for i := range f {
			if off == end {
				return true
			}
			if off+2 > end {
				return false
			}
			f[i], off = binary.BigEndian.Uint16(msg[off:]), off+2
			rec.Priority, rec.Weight, rec.Port = f[0], f[1], f[2]
		}
		if off == end {
			return true
		}
		if e, ok := sameName(msg, off, ownerOff); ok && e == end {
			rec.Target = owner // an element's SRV names itself
			return true
		}
		target, off, err := dns.UnpackDomainName(msg, off)
		if err != nil || off != end {
			return false
		}
		rec.Target = target
		return true
	case dns.TypeTXT:
		n := 0
		for off := rd; off < end; n++ {
			l := int(msg[off])
			if off+1+l > end {
				return false
			}
			for _, c := range msg[off+1 : off+1+l] {
				if c == '"' || c == '\\' || c < ' ' || c > '~' {
					return unpackTXT(msg, rd, hd, rec) // escaped: miekg/dns's words
				}
			}
			off += 1 + l
		}
		rec.Txt = make([]string, 0, n)
		for off := rd; off < end; {
			l := int(msg[off])
			rec.Txt = append(rec.Txt, string(msg[off+1:off+1+l]))
			off += 1 + l
		}
		return true
	}
	_, _, err := dns.UnpackRRWithHeader(hd, msg, rd)
	return err == nil
}

// unpackTXT reads a TXT record whose strings presentation form escapes.
func unpackTXT(msg []byte, rd int, hd dns.RR_Header, rec *Rec) bool {
	rr, _, err := dns.UnpackRRWithHeader(hd, msg, rd)
	if err != nil {
		return false
	}
	rec.Txt = rr.(*dns.TXT).Txt
	return true
}

// readOPTBytes reads an OPT record of the additional section (its RDATA
// msg[rd:]) as readOPT reads the record Unpack makes: its options by hand
// when they are UPDATE-LEASE ones, by miekg/dns otherwise.
func (m *Message) readOPTBytes(msg []byte, rd int, hd dns.RR_Header) bool {
	plain := true
	for off := rd; off < len(msg); {
		if off+4 > len(msg) {
			return false
		}
		code, n := binary.BigEndian.Uint16(msg[off:]), int(binary.BigEndian.Uint16(msg[off+2:]))
		if off+4+n > len(msg) {
			return false
		}
		if code != dns.EDNS0UL || (n != 4 && n != 8) {
			plain = false
		}
		off += 4 + n
	}
	if !plain {
		rr, _, err := dns.UnpackRRWithHeader(hd, msg, rd)
		if err != nil {
			return false
		}
		m.readOPT(rr.(*dns.OPT))
		return true
	}
	o := dns.OPT{Hdr: hd}
	m.OPT, m.OptDO = true, o.Do()
	if v := o.Version(); v != 0 && m.OptVersion == 0 {
		m.OptVersion = v
	}
	for off := rd; off < len(msg); {
		n := int(binary.BigEndian.Uint16(msg[off+2:]))
		v := msg[off+4 : off+4+n]
		m.lease = dns.EDNS0_UL{Lease: binary.BigEndian.Uint32(v)} // no Code: as Unpack leaves it
		if n == 8 {
			m.lease.KeyLease = binary.BigEndian.Uint32(v[4:])
		}
		m.Lease = &m.lease
		off += 4 + n
	}
	return true
}

// Clear empties m, as Read does, keeping the room of its update section
// (up to maxKeptRecs records) for the next Read into m.
func (m *Message) Clear() {
	room := m.Upd
	clear(room)
	if cap(room) > maxKeptRecs {
		room = nil
	}
	*m = Message{Upd: room[:0], room: m.room}
	if m.room != nil {
		m.room.clear()
	}
}

// maxKeptRecs bounds the room of an update section that Clear keeps.
const maxKeptRecs = 16

// skeleton is a dns.Msg of m's header, zone record (when the zone section
// is one: see EchoZone) and OPT (of version 0, with m's DO bit): what the
// replies built as a dns.Msg (a TSIG failure's, a panic's) take from the
// request.
func (m *Message) skeleton() *dns.Msg {
	r := new(dns.Msg)
	r.Id, r.Opcode = m.ID, m.Opcode
	if EchoZone(m.Zones) {
		r.Question = []dns.Question{m.Zone}
	}
	if m.OPT {
		r.SetEdns0(dns.MinMsgSize, m.OptDO)
	}
	return r
}

// EchoZone reports whether the reply to an UPDATE whose zone section has
// zones records repeats it. RFC 2136 §3.8 lets a response either copy the
// counts and their sections or set them to zero and include no part of
// the update; replies here copy the zone section (as miekg/dns's SetReply
// and other servers do) when it is the one record an UPDATE must have,
// and otherwise (none, or several: FORMERR, or a panic's SERVFAIL) hold
// none: ZOCOUNT 0, never a count of one for a section of more.
func EchoZone(zones int) bool { return zones == 1 }

// Skeleton is the dns.Msg of m's header, zone record and OPT: what
// a reply built as a dns.Msg takes from the request (dns.Msg's
// SetReply, IsEdns0).
func (m *Message) Skeleton() *dns.Msg { return m.skeleton() }
