package identity

import (
	"encoding/binary"

	"github.com/miekg/dns"
)

// NSIDRequested reports whether the RDATA of a query's OPT record holds an
// NSID option (RFC 5001 §2.1: the client asks with an empty one; a
// non-empty one asks too).
func NSIDRequested(optRData []byte) bool {
	for len(optRData) >= 4 {
		code := binary.BigEndian.Uint16(optRData)
		n := int(binary.BigEndian.Uint16(optRData[2:]))
		if 4+n > len(optRData) {
			return false
		}
		if code == dns.EDNS0NSID {
			return true
		}
		optRData = optRData[4+n:]
	}
	return false
}

// ChaosWire is Chaos for the question's name in wire format: it returns
// the answer record to append after the question (shared: do not change
// it), nil unless the Result is Answer.
func (id *Identity) ChaosWire(qname []byte, qtype uint16) ([]byte, Result) {
	text, rr := id.lookupWire(qname)
	res := result(text, qtype)
	if res != Answer {
		rr = nil
	}
	return rr, res
}

func (id *Identity) lookupWire(qname []byte) (string, []byte) {
	if id == nil {
		return "", nil
	}
	for _, n := range idWire {
		if equalFoldWire(qname, n) {
			return id.idText, id.idRR
		}
	}
	for _, n := range versionWire {
		if equalFoldWire(qname, n) {
			return id.version, id.versionRR
		}
	}
	return "", nil
}

// equalFoldWire compares two uncompressed wire names, ASCII letters in
// any case (the length bytes are below 'A', so folding them is harmless:
// lengths of the names compared here are below 0x40).
func equalFoldWire(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// The CHAOS names in wire format.
var (
	idWire      = [][]byte{[]byte("\x02id\x06server\x00"), []byte("\x08hostname\x04bind\x00")}
	versionWire = [][]byte{[]byte("\x07version\x04bind\x00"), []byte("\x07version\x06server\x00")}
)
