package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// The body of a registration (PUT /v1/pools/{pool}/elements/{pe}) is read
// without encoding/json when it has the usual form, since registrations
// come by the thousand a second and encoding/json's decoder took about a
// kilobyte of garbage for each (bench/RESULTS.md, gc10): a JSON object of
// the known fields, spelled as registerRequest's tags, each once, with
// plain strings (printable ASCII, no escapes) and numbers, at most maxBody
// bytes. Anything else, and every error, takes decodeBody's path over the
// same bytes, so that what a body means and the messages of a bad one are
// encoding/json's as before.

// bodyBuffers holds the buffers that registration bodies are read into.
var bodyBuffers = sync.Pool{New: func() any { return new([]byte) }}

// decodeRegister reads the request's body into req as decodeBody does; on
// error it writes the reply and returns false.
func decodeRegister(w http.ResponseWriter, r *http.Request, req *registerRequest) bool {
	bp := bodyBuffers.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= bufferKeep {
			bodyBuffers.Put(bp)
		}
	}()
	b, err := readUpTo(r.Body, (*bp)[:0], maxBody+1)
	*bp = b[:0]
	if err == nil && len(b) <= maxBody && parseRegister(b, req) {
		return true
	}
	// The general path, over what was read and then the rest of the
	// body (or the error that ended the reading).
	rest := r.Body
	if err != nil {
		rest = io.NopCloser(errReader{err})
	}
	// Into a request of its own: req, given to encoding/json as an
	// interface, would be on the heap on the usual path too.
	var slow registerRequest
	ok := decodeBodyFrom(w, r, readCloser{io.MultiReader(bytes.NewReader(b), rest), r.Body}, &slow, registerFields)
	*req = slow
	return ok
}

// readUpTo appends what rd gives to b, until io.EOF (not an error here) or
// until b holds limit bytes more than it did.
func readUpTo(rd io.Reader, b []byte, limit int) ([]byte, error) {
	end := len(b) + limit
	for len(b) < end {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := rd.Read(b[len(b):min(cap(b), end)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// readCloser reads from Reader and closes Closer.
type readCloser struct {
	io.Reader
	io.Closer
}

// parseRegister parses b into req if b is a body of the usual form (see
// above) and reports whether it was. On false, req is partly filled.
func parseRegister(b []byte, req *registerRequest) bool {
	p := jsonScan{b: b}
	p.space()
	if !p.byte('{') {
		return false
	}
	p.space()
	if p.byte('}') {
		return p.end()
	}
	var seen uint16
	for {
		key, ok := p.plainString()
		if !ok {
			return false
		}
		p.space()
		if !p.byte(':') {
			return false
		}
		p.space()
		f := registerField(key)
		if f < 0 || seen&(1<<f) != 0 {
			return false
		}
		seen |= 1 << f
		switch f {
		case fieldAddresses:
			if !p.byte('[') {
				return false
			}
			p.space()
			if p.byte(']') {
				return false // empty: encoding/json's path says what it means
			}
			req.Addresses = req.Addresses[:0]
			for {
				s, ok := p.plainString()
				if !ok {
					return false
				}
				req.Addresses = append(req.Addresses, string(s))
				p.space()
				if p.byte(']') {
					break
				}
				if !p.byte(',') {
					return false
				}
				p.space()
			}
		case fieldPort:
			n, ok := p.uint(1<<16 - 1)
			if !ok {
				return false
			}
			req.Port = uint16(n)
		case fieldWeight, fieldPrio:
			n, ok := p.uint(1<<32 - 1)
			if !ok {
				return false
			}
			if f == fieldWeight {
				req.Weight = uint32(n)
			} else {
				req.Prio = uint32(n)
			}
		case fieldLoad, fieldLoadDeg, fieldLease:
			x, ok := p.float()
			if !ok {
				return false
			}
			switch f {
			case fieldLoad:
				req.Load = x
			case fieldLoadDeg:
				req.LoadDeg = x
			default:
				req.Lease = x
			}
		case fieldTransport, fieldSite, fieldPolicy:
			s, ok := p.plainString()
			if !ok {
				return false
			}
			switch f {
			case fieldTransport:
				req.Transport = string(s)
			case fieldSite:
				req.Site = string(s)
			default:
				req.Policy = string(s)
			}
		}
		p.space()
		if p.byte('}') {
			return p.end()
		}
		if !p.byte(',') {
			return false
		}
		p.space()
	}
}

// The fields of registerRequest, by their JSON names.
const (
	fieldAddresses = iota
	fieldPort
	fieldTransport
	fieldWeight
	fieldPrio
	fieldLoad
	fieldLoadDeg
	fieldSite
	fieldPolicy
	fieldLease
)

func registerField(key []byte) int {
	switch string(key) { // no allocation: the compiler compares in place
	case "addresses":
		return fieldAddresses
	case "port":
		return fieldPort
	case "transport":
		return fieldTransport
	case "weight":
		return fieldWeight
	case "prio":
		return fieldPrio
	case "load":
		return fieldLoad
	case "loaddeg":
		return fieldLoadDeg
	case "site":
		return fieldSite
	case "policy":
		return fieldPolicy
	case "lease":
		return fieldLease
	}
	return -1
}

// jsonScan reads the subset of JSON that parseRegister takes from b, from
// i on.
type jsonScan struct {
	b []byte
	i int
}

// space skips JSON's white space.
func (p *jsonScan) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte consumes c if it comes next.
func (p *jsonScan) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end reports whether nothing but white space is left.
func (p *jsonScan) end() bool {
	p.space()
	return p.i == len(p.b)
}

// plainString reads a string of printable ASCII without escapes and
// returns its bytes (in b).
func (p *jsonScan) plainString() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			return p.b[start : p.i-1], true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// number reads a JSON number and returns its text.
func (p *jsonScan) number() ([]byte, bool) {
	start := p.i
	p.byte('-')
	switch {
	case p.byte('0'):
	case p.digits() > 0:
	default:
		return nil, false
	}
	if p.byte('.') && p.digits() == 0 {
		return nil, false
	}
	if p.byte('e') || p.byte('E') {
		if !p.byte('+') {
			p.byte('-')
		}
		if p.digits() == 0 {
			return nil, false
		}
	}
	return p.b[start:p.i], true
}

func (p *jsonScan) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

// uint reads a number written as an integer of at most max, no sign, no
// fraction, no exponent (anything else: encoding/json's path decides).
func (p *jsonScan) uint(max uint64) (uint64, bool) {
	s, ok := p.number()
	if !ok || len(s) > 10 {
		return 0, false
	}
	var n uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, n <= max
}

// float reads a number as encoding/json does (strconv.ParseFloat); one out
// of float64's range is left to encoding/json's path.
func (p *jsonScan) float() (float64, bool) {
	s, ok := p.number()
	if !ok || len(s) > 32 {
		return 0, false
	}
	x, err := strconv.ParseFloat(string(s), 64)
	return x, err == nil
}
