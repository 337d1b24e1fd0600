// Package ednsopt adds EDNS options to replies: Extended DNS Errors (RFC
// 8914) and any option, to a reply written as bytes or as a dns.Msg.
//
// # Basics
//
// A reply written as bytes ends with its OPT record (poolnsd writes it
// last, before a TSIG that signs the finished reply). AppendOption appends
// an option to that OPT: the option's bytes go at the end of the message
// and the OPT's RDLENGTH grows by as much. The writer knows where the
// RDLENGTH is (the OPT is 11 bytes: root name, TYPE, CLASS, TTL, RDLENGTH
// at offset 9).
//
//	reply, err = ednsopt.AppendEDE(reply, rdlenOff, ednsopt.Prohibited, "")
//
// A reply built as a dns.Msg gets the same through AddEDE.
//
// # Caveats
//
//   - Only a reply to a query with EDNS (an OPT record) may carry options:
//     AddEDE does nothing without an OPT, and a raw writer must not add one
//     for a client that sent none.
//   - An option makes the reply longer: add it before fitting the reply to
//     the client's UDP size, and keep EXTRA-TEXT short (or empty).
//   - A TSIG record must stay last: add options before signing.
package ednsopt

import (
	"encoding/binary"
	"errors"

	"github.com/miekg/dns"
)

// Option codes (IANA DNS EDNS0 Option Codes).
const (
	CodeNSID   = 3  // RFC 5001
	CodeCookie = 10 // RFC 7873
	CodeEDE    = 15 // RFC 8914
)

// Info codes of Extended DNS Errors (RFC 8914 §4) that poolnsd sends.
const (
	// Other: SERVFAIL for an internal error (EXTRA-TEXT says which).
	Other uint16 = 0
	// NotReady: SERVFAIL while the server cannot answer yet (starting,
	// not synchronised with its peers).
	NotReady uint16 = 14
	// Prohibited: REFUSED to a client outside dns.allow_query.
	Prohibited uint16 = 18
	// NotAuthoritative: REFUSED for a name outside every served zone.
	NotAuthoritative uint16 = 20
	// NotSupported: a query for something the server does not do (a
	// meta type, a class it does not serve).
	NotSupported uint16 = 21
	// InvalidData: a query whose data cannot be used (SERVFAIL of an
	// update whose records a peer rejected, for instance).
	InvalidData uint16 = 24
	// InvalidQueryType: FORMERR to a query for NXNAME (RFC 9824 §3.5).
	InvalidQueryType uint16 = 30
)

// maxExtraText bounds EXTRA-TEXT: a reply must still fit a small UDP size.
const maxExtraText = 128

// errNoOPT is AppendOption's error for an offset that is not an OPT's.
var errNoOPT = errors.New("ednsopt: no OPT record's RDLENGTH at that offset")

// AppendOption appends the option (code, data) to the OPT record whose
// RDLENGTH field starts at msg[rdlenOff], which must be the message's last
// record: the option goes at the end of msg and RDLENGTH grows by its
// length. It allocates only when msg has too little capacity.
func AppendOption(msg []byte, rdlenOff int, code uint16, data []byte) ([]byte, error) {
	if rdlenOff < 9 || rdlenOff+2 > len(msg) ||
		binary.BigEndian.Uint16(msg[rdlenOff-8:]) != dns.TypeOPT ||
		rdlenOff+2+int(binary.BigEndian.Uint16(msg[rdlenOff:])) != len(msg) {
		return msg, errNoOPT
	}
	n := int(binary.BigEndian.Uint16(msg[rdlenOff:])) + 4 + len(data)
	if n > 0xFFFF || len(data) > 0xFFFF {
		return msg, errors.New("ednsopt: the OPT record would exceed 65535 bytes")
	}
	binary.BigEndian.PutUint16(msg[rdlenOff:], uint16(n))
	msg = binary.BigEndian.AppendUint16(msg, code)
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(data)))
	return append(msg, data...), nil
}

// AppendEDE appends an Extended DNS Error option (info code, EXTRA-TEXT,
// cut to 128 bytes) to the OPT record as AppendOption does. It does not
// allocate when msg has room.
func AppendEDE(msg []byte, rdlenOff int, info uint16, text string) ([]byte, error) {
	if len(text) > maxExtraText {
		text = text[:maxExtraText]
	}
	var buf [2 + maxExtraText]byte
	binary.BigEndian.PutUint16(buf[:], info)
	n := 2 + copy(buf[2:], text)
	return AppendOption(msg, rdlenOff, CodeEDE, buf[:n])
}

// AddEDE adds an Extended DNS Error option to m's OPT record and reports
// whether it did: a message without an OPT record (a reply to a query
// without EDNS) gets none.
func AddEDE(m *dns.Msg, info uint16, text string) bool {
	opt := m.IsEdns0()
	if opt == nil {
		return false
	}
	if len(text) > maxExtraText {
		text = text[:maxExtraText]
	}
	opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: info, ExtraText: text})
	return true
}
