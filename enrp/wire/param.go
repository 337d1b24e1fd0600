package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Decoding errors. A *DecodeError wraps one of these; errors.Is tells them
// apart.
var (
	// ErrMalformed: the bytes are not a well-formed ENRP message (a length
	// that does not fit, a parameter of the wrong size, a required
	// parameter missing). The connection it came on cannot be trusted to
	// be in step any more: answer with an ERROR and close it.
	ErrMalformed = errors.New("enrp: malformed message")
	// ErrUnknownType: a well-formed message of a type this code does not
	// know. Answer with an ERROR (Unrecognized Message) and go on.
	ErrUnknownType = errors.New("enrp: unknown message type")
	// ErrDiscarded: the message holds a parameter of unknown type whose top
	// bits say to discard the whole message (00, or 01 with a report).
	ErrDiscarded = errors.New("enrp: message discarded for an unknown parameter")
)

// DecodeError says what is wrong with a message and where.
type DecodeError struct {
	// Kind is ErrMalformed, ErrUnknownType or ErrDiscarded.
	Kind error
	// Offset is the byte offset of the problem in the message.
	Offset int
	// What says what is wrong, for logs and the ERROR's diagnostic.
	What string
	// Report holds what the ERROR in answer should carry: the unknown
	// parameters to report (ErrDiscarded with top bits 01), or the message
	// header (ErrUnknownType).
	Report [][]byte
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("%v: %s (at byte %d)", e.Kind, e.What, e.Offset)
}

func (e *DecodeError) Unwrap() error { return e.Kind }

// Malformed returns a *DecodeError of kind ErrMalformed at byte off of
// a message, saying what is wrong.
func Malformed(off int, format string, a ...any) error {
	return &DecodeError{Kind: ErrMalformed, Offset: off, What: fmt.Sprintf(format, a...)}
}

// Pad4 rounds n up to a multiple of 4: a parameter's padded length.
func Pad4(n int) int { return (n + 3) &^ 3 }

// param is one parameter (TLV) of a list.
type param struct {
	typ uint16
	val []byte // the value, without header and padding
	raw []byte // header and value, without padding
	off int    // offset of the header in the message
}

// walker handles the unknown parameters of a list as their top bits say.
type walker struct {
	report [][]byte // parameters to report (top bits 01 and 11)
}

// splitParams splits b (at message offset base) into parameters. Each one
// but the last must be padded to a multiple of 4; the last may stop short
// of its padding.
func splitParams(b []byte, base int) ([]param, error) {
	var out []param
	for off := 0; off < len(b); {
		if len(b)-off < ParamHeaderLen {
			return nil, Malformed(base+off, "%d stray bytes after the last parameter", len(b)-off)
		}
		typ := binary.BigEndian.Uint16(b[off:])
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		if n < ParamHeaderLen {
			return nil, Malformed(base+off+2, "parameter 0x%04x has length %d, below 4", typ, n)
		}
		if n > len(b)-off {
			return nil, Malformed(base+off+2, "parameter 0x%04x has length %d, beyond the %d bytes left", typ, n, len(b)-off)
		}
		out = append(out, param{typ: typ, val: b[off+ParamHeaderLen : off+n], raw: b[off : off+n], off: base + off})
		off += min(Pad4(n), len(b)-off)
	}
	return out, nil
}

// filter keeps the parameters of ps whose type known accepts and handles
// the others by their top bits: 10 skips, 11 skips and reports, 00 and 01
// discard the message (01 with a report).
func (w *walker) filter(ps []param, known func(uint16) bool) ([]param, error) {
	out := ps[:0:0]
	for _, p := range ps {
		if known(p.typ) {
			out = append(out, p)
			continue
		}
		switch p.typ & actionMask {
		case actionStop:
			return nil, &DecodeError{Kind: ErrDiscarded, Offset: p.off, What: fmt.Sprintf("parameter 0x%04x is not known here", p.typ)}
		case actionStopReport:
			return nil, &DecodeError{Kind: ErrDiscarded, Offset: p.off, What: fmt.Sprintf("parameter 0x%04x is not known here", p.typ),
				Report: [][]byte{clone(p.raw)}}
		case actionSkipReport:
			w.report = append(w.report, clone(p.raw))
		}
	}
	return out, nil
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

func is(types ...uint16) func(uint16) bool {
	return func(t uint16) bool {
		for _, x := range types {
			if t == x {
				return true
			}
		}
		return false
	}
}

// Encoding.

// errTooLong is returned when a parameter or message would exceed 65 535
// bytes, the most its 16-bit length can say.
var errTooLong = errors.New("enrp: message or parameter longer than 65535 bytes")

// enc appends parameters to a buffer. The first length overflow sticks in
// err.
type enc struct {
	b   []byte
	err error
}

func (e *enc) u8(v uint8)   { e.b = append(e.b, v) }
func (e *enc) u16(v uint16) { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *enc) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }

// param appends a parameter of type typ whose value body writes, padded
// with zeros to a multiple of 4.
func (e *enc) param(typ uint16, body func()) {
	start := len(e.b)
	e.u16(typ)
	e.u16(0)
	body()
	n := len(e.b) - start
	if n > maxMessage {
		e.err = errTooLong
		n = maxMessage
	}
	binary.BigEndian.PutUint16(e.b[start+2:], uint16(n))
	for i := n; i < Pad4(n); i++ {
		e.b = append(e.b, 0)
	}
}

// bytesParam appends a parameter whose value is v.
func (e *enc) bytesParam(typ uint16, v []byte) {
	e.param(typ, func() { e.b = append(e.b, v...) })
}
