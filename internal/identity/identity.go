// Package identity tells which registrar answered: the NSID option (RFC
// 5001) and the CHAOS-class TXT names id.server. and hostname.bind. (RFC
// 4892), and the version at version.bind. and version.server. when the
// operator chose to publish one.
//
// # Basics
//
// New turns dns.nsid and dns.version into an Identity. dns.nsid is off
// (""), "auto" (this registrar's ID, as the logs and /v1/status show it),
// a string, or "0x" and hex digits for arbitrary bytes. The same identity
// answers id.server. and hostname.bind.; version.bind. and
// version.server. answer only when dns.version is set. Nothing of the
// server is published by default.
//
// Per query (the DNS front reads the NSID option with the OPT record's
// other options):
//
//	if nsidAsked && id.NSID() != nil {
//		reply, _ = ednsopt.AppendOption(reply, rdlenOff, ednsopt.CodeNSID, id.NSID())
//	}
//	if qclass == dns.ClassCHAOS {
//		rr, res := id.ChaosRR(q)
//		// Refused: REFUSED. NoData: NOERROR, no records. Answer: NOERROR,
//		// AA, rr in the answer section.
//	}
//
// Chaos answers the same as text. NSID and Chaos do not allocate; ChaosRR
// does (it is for replies built as a dns.Msg).
//
// # Caveats
//
// The CHAOS names are answered with TTL 0 and AA set, no authority
// section; any other CHAOS name, or one not configured, is REFUSED, as a
// server that serves no CHAOS zone should answer.
package identity

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/miekg/dns"
)

// MaxLen is the longest identity or version, in bytes.
const MaxLen = 128

// Config is what New needs.
type Config struct {
	// NSID is dns.nsid: "", "auto", a string, or "0x" and hex digits.
	NSID string
	// Version is dns.version: "" publishes no version.
	Version string
	// AutoID is what "auto" stands for: this registrar's ID in hex.
	AutoID string
}

// Identity is what a server tells about itself. The zero value and a nil
// *Identity tell nothing. It is immutable and safe for concurrent use.
type Identity struct {
	nsid    []byte // the NSID option's payload, nil when off
	idText  string // the TXT of id.server. and hostname.bind.
	version string // the TXT of version.bind. and version.server.
	// Precomputed answer records, owner a pointer to the question.
	idRR, versionRR []byte
}

// Validate checks dns.nsid (key "dns.nsid") or dns.version (key
// "dns.version") as New reads them; config's validation calls it.
func Validate(key, v string) error {
	switch key {
	case "dns.nsid":
		_, _, err := parseNSID(v, "00000000")
		return err
	default:
		return checkText(v)
	}
}

// New returns the identity of c. Its errors name the key.
func New(c Config) (*Identity, error) {
	id := &Identity{}
	var err error
	if id.nsid, id.idText, err = parseNSID(c.NSID, c.AutoID); err != nil {
		return nil, fmt.Errorf("dns.nsid: %v", err)
	}
	if err := checkText(c.Version); err != nil {
		return nil, fmt.Errorf("dns.version: %v", err)
	}
	id.version = c.Version
	if id.idText != "" {
		id.idRR = txtRR(id.idText)
	}
	if id.version != "" {
		id.versionRR = txtRR(id.version)
	}
	return id, nil
}

// parseNSID reads dns.nsid: the NSID payload and the text of the CHAOS
// names.
func parseNSID(v, auto string) (payload []byte, text string, err error) {
	switch {
	case v == "":
		return nil, "", nil
	case v == "auto":
		v = auto
		if v == "" {
			return nil, "", errors.New(`"auto" but the registrar ID is unknown`)
		}
	case strings.HasPrefix(v, "0x") || strings.HasPrefix(v, "0X"):
		h := v[2:]
		b, err := hex.DecodeString(h)
		switch {
		case err != nil || len(b) == 0:
			return nil, "", fmt.Errorf("%q is not 0x and an even number of hex digits", v)
		case len(b) > MaxLen:
			return nil, "", fmt.Errorf("%d bytes, want at most %d", len(b), MaxLen)
		}
		return b, strings.ToLower(h), nil
	}
	if err := checkText(v); err != nil {
		return nil, "", err
	}
	return []byte(v), v, nil
}

// checkText checks an identity or version given as text: UTF-8 without
// control characters, at most MaxLen bytes.
func checkText(v string) error {
	if len(v) > MaxLen {
		return fmt.Errorf("%d bytes, want at most %d", len(v), MaxLen)
	}
	if !utf8.ValidString(v) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%q has a control character", v)
		}
	}
	return nil
}

// txtRR returns a CH TXT record of text, TTL 0, whose owner is a pointer
// to the question's name (offset 12).
func txtRR(text string) []byte {
	rr := []byte{0xC0, 12}
	rr = binary.BigEndian.AppendUint16(rr, dns.TypeTXT)
	rr = binary.BigEndian.AppendUint16(rr, dns.ClassCHAOS)
	rr = binary.BigEndian.AppendUint32(rr, 0)
	rdlen := len(rr)
	rr = append(rr, 0, 0)
	// One character-string (MaxLen < 256).
	rr = append(rr, byte(len(text)))
	rr = append(rr, text...)
	binary.BigEndian.PutUint16(rr[rdlen:], uint16(len(rr)-rdlen-2))
	return rr
}

// NSID returns the NSID option's payload, nil when dns.nsid is off. The
// slice is shared: do not change it.
func (id *Identity) NSID() []byte {
	if id == nil {
		return nil
	}
	return id.nsid
}

// Result is what a CHAOS query gets.
type Result uint8

const (
	// Refused: not a name this server answers (or not configured).
	Refused Result = iota
	// NoData: a known name, but the type is not TXT (or ANY): NOERROR
	// without records.
	NoData
	// Answer: NOERROR with the one TXT record.
	Answer
)

// Chaos returns the TXT text for a CHAOS query of qname (any case,
// absolute) and qtype, and what the reply is.
func (id *Identity) Chaos(qname string, qtype uint16) (string, Result) {
	text, _ := id.lookup(qname)
	return text, result(text, qtype)
}

// ChaosRR returns the answer record of Chaos as a dns.RR (nil unless the
// Result is Answer). It allocates: it is for replies built as a dns.Msg.
func (id *Identity) ChaosRR(q dns.Question) (dns.RR, Result) {
	text, res := id.Chaos(q.Name, q.Qtype)
	if res != Answer {
		return nil, res
	}
	return &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassCHAOS, Ttl: 0}, Txt: []string{text}}, res
}

func result(text string, qtype uint16) Result {
	switch {
	case text == "":
		return Refused
	case qtype == dns.TypeTXT || qtype == dns.TypeANY:
		return Answer
	}
	return NoData
}

// The CHAOS names.
var (
	idNames      = []string{"id.server.", "hostname.bind."}
	versionNames = []string{"version.bind.", "version.server."}
)

func (id *Identity) lookup(qname string) (string, []byte) {
	if id == nil {
		return "", nil
	}
	for _, n := range idNames {
		if strings.EqualFold(qname, n) {
			return id.idText, id.idRR
		}
	}
	for _, n := range versionNames {
		if strings.EqualFold(qname, n) {
			return id.version, id.versionRR
		}
	}
	return "", nil
}
