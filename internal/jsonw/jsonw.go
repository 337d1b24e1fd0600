// Package jsonw appends JSON values to a byte slice as encoding/json
// writes them, byte for byte, for the few replies and records that are
// written a thousand times a second (an HTTP registration's reply, the
// store's record of the registered element): encoding/json's reflection
// was a tenth of the API's own CPU per registration (bench/RESULTS.md,
// reg11).
//
// # Basics
//
// String writes a string as json.Marshal does (HTML-safe: <, > and & as
// \u003c, \u003e, \u0026; invalid UTF-8 as \ufffd; U+2028 and U+2029
// escaped). Float writes a float64 as json.Marshal does (ES6 number
// form), reporting false for NaN and the infinities, which encoding/json
// refuses. Time writes a time.Time as its MarshalJSON does, reporting
// false for what that refuses (a year outside [0, 9999], a zone offset of
// 24 hours or more). The callers write the objects field by field, in
// their structs' order, and fall back to encoding/json when a value is
// refused; their tests compare the two on every field.
package jsonw

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// String appends s as a JSON string, quoted and escaped as
// encoding/json's Marshal (with its default HTML escaping) writes it.
func String[S []byte | string](b []byte, s S) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if htmlSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		// At most a rune's bytes converted: no copy of the rest.
		r, size := utf8.DecodeRuneInString(string(s[i : i+min(len(s)-i, utf8.UTFMax)]))
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// htmlSafe says which ASCII bytes are written as themselves: not the
// control characters, not '"' or '\\', not <, > or &.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for c := byte(0x20); c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// Float appends f as encoding/json writes a float64: the shortest
// decimal that reads back as f, in exponent form below 1e-6 and from
// 1e21 on. It reports false (and appends nothing) for NaN and the
// infinities.
func Float(b []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 && (f != 0 || !math.Signbit(f)) {
		// An integer that float64 holds exactly: its digits are the
		// shortest that read back as f (a lease in seconds, a load of 0).
		return strconv.AppendInt(b, int64(f), 10), true
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 as e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// Time appends t as its MarshalJSON writes it (RFC 3339 with
// nanoseconds, quoted). It reports false (and appends nothing) for what
// MarshalJSON refuses: a year outside [0, 9999], a zone offset of 24
// hours or more.
func Time(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

// Bool appends true or false.
func Bool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// Key appends a member's name (a constant of the caller's, with no
// character to escape), its colon, and the comma before it unless first.
func Key(b []byte, name string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}
