package cookie

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"
)

// OptionCode is the EDNS option code of COOKIE (RFC 7873 §4).
const OptionCode = 10

// Lengths of the parts of a COOKIE option (RFC 7873 §4, RFC 9018 §4).
const (
	// ClientLen is the length of a client cookie.
	ClientLen = 8
	// ServerLen is the length of the server cookies this package makes
	// (RFC 9018 version 1): version, reserved, timestamp, hash.
	ServerLen = 16
	// minServerLen and maxServerLen bound any server cookie (RFC 7873 §4).
	minServerLen = 8
	maxServerLen = 32
)

// Times of RFC 9018 §4.3.
const (
	// Lifetime is how long a server cookie is accepted after its
	// timestamp: one hour.
	Lifetime = time.Hour
	// Renew is the age after which a valid server cookie is replaced by a
	// fresh one in the reply: half an hour.
	Renew = 30 * time.Minute
	// MaxSkew is how far in the future a timestamp may be (clock skew
	// between the registrars of a cluster): five minutes.
	MaxSkew = 5 * time.Minute
)

// version1 is the Version field of RFC 9018 server cookies.
const version1 = 1

// Secret is a 128-bit server secret, the SipHash-2-4 key of RFC 9018.
// Registrars that share it accept each other's server cookies.
type Secret [16]byte

// ParseSecret reads a secret written as 32 hexadecimal digits.
func ParseSecret(s string) (Secret, error) {
	var sec Secret
	s = strings.TrimSpace(s)
	if len(s) != 2*len(sec) {
		return sec, fmt.Errorf("cookie: secret has %d hex digits, want 32 (16 bytes)", len(s))
	}
	if _, err := hex.Decode(sec[:], []byte(s)); err != nil {
		return sec, errors.New("cookie: secret is not hexadecimal, want 32 hex digits (16 bytes)")
	}
	if sec == (Secret{}) {
		return sec, errors.New("cookie: secret is all zeros; make one with e.g. openssl rand -hex 16")
	}
	return sec, nil
}

// NewSecret returns a random secret.
func NewSecret() (Secret, error) {
	var s Secret
	if _, err := rand.Read(s[:]); err != nil {
		return s, fmt.Errorf("cookie: random secret: %w", err)
	}
	return s, nil
}

// String returns the secret in hex, as ParseSecret reads it.
func (s Secret) String() string { return hex.EncodeToString(s[:]) }

// Secrets are the secrets a server uses: it makes server cookies with
// Current and accepts those made with Current or Previous.
type Secrets struct {
	Current Secret
	// Previous, if not nil, is the secret before a rotation: cookies made
	// with it are still accepted (and replaced by fresh ones).
	Previous *Secret
}

// keys are Secrets as SipHash keys.
type keys struct {
	k0, k1  uint64 // the current secret
	p0, p1  uint64 // the previous one, if hasPrev
	hasPrev bool
}

func keysOf(s Secrets) *keys {
	k := &keys{
		k0: binary.LittleEndian.Uint64(s.Current[:8]),
		k1: binary.LittleEndian.Uint64(s.Current[8:]),
	}
	if s.Previous != nil {
		k.hasPrev = true
		k.p0 = binary.LittleEndian.Uint64(s.Previous[:8])
		k.p1 = binary.LittleEndian.Uint64(s.Previous[8:])
	}
	return k
}

// Jar checks and makes server cookies. It is safe for concurrent use; its
// secrets can be replaced while it is used (SetSecrets), and the queries
// after that use the new ones.
type Jar struct {
	keys atomic.Pointer[keys]
}

// NewJar returns a jar with secrets s.
func NewJar(s Secrets) *Jar {
	j := &Jar{}
	j.SetSecrets(s)
	return j
}

// SetSecrets replaces the jar's secrets (a rotation, or a reload).
func (j *Jar) SetSecrets(s Secrets) { j.keys.Store(keysOf(s)) }

// Option is a parsed COOKIE option: a client cookie and, perhaps, a server
// cookie. It holds copies, not views of the message.
type Option struct {
	// Client is the client cookie.
	Client    [ClientLen]byte
	server    [maxServerLen]byte
	serverLen uint8
}

// Server returns the server cookie, empty if the option had none.
func (o *Option) Server() []byte { return o.server[:o.serverLen] }

// ParseOption reads the data of a COOKIE option into o. It reports false
// for a malformed option: shorter than a client cookie, or with a server
// cookie shorter than 8 or longer than 32 bytes (RFC 7873 §5.2.2: FORMERR).
func ParseOption(data []byte, o *Option) bool {
	n := len(data)
	if n != ClientLen && (n < ClientLen+minServerLen || n > ClientLen+maxServerLen) {
		return false
	}
	copy(o.Client[:], data)
	o.serverLen = uint8(copy(o.server[:], data[ClientLen:]))
	return true
}

// Status is what a query's COOKIE option is (RFC 7873 §5.2).
type Status uint8

const (
	// None: no COOKIE option (or no OPT record) (§5.2.1).
	None Status = iota
	// Malformed: a COOKIE option of a bad length (§5.2.2).
	Malformed
	// ClientOnly: a client cookie without a server cookie (§5.2.3).
	ClientOnly
	// Invalid: a server cookie that is not one of ours: wrong length or
	// version, a hash that matches neither secret, or a timestamp more
	// than Lifetime in the past or MaxSkew in the future (§5.2.4, RFC
	// 9018 §4.3).
	Invalid
	// Valid: a server cookie of ours, made with the current secret less
	// than Renew ago: the reply may echo it (§5.2.5).
	Valid
	// ValidRenew: a valid server cookie that the reply replaces with a
	// fresh one: older than Renew, made with the previous secret, or with
	// Reserved bytes that are not zero (RFC 9018 §4.2, §4.3).
	ValidRenew
)

var statusNames = [...]string{"none", "malformed", "client-only", "invalid", "valid", "valid-renew"}

// String names the status ("client-only").
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", s)
}

// Verified reports a valid server cookie (Valid or ValidRenew): the client
// has shown that it receives replies at its address, so the response rate
// limit does not apply to it.
func (s Status) Verified() bool { return s == Valid || s == ValidRenew }

// HasClient reports a well-formed option, which has a client cookie: the
// reply carries a COOKIE option.
func (s Status) HasClient() bool { return s >= ClientOnly }

// Check parses the data of the query's COOKIE option into o and checks its
// server cookie for a query from client at now. A caller without a COOKIE
// option has status None and need not call it. A nil Jar (cookies off)
// returns None: the option is ignored, as by a server without cookies
// (RFC 7873 §5.2.1). It does not allocate.
func (j *Jar) Check(data []byte, client netip.Addr, now time.Time, o *Option) Status {
	if j == nil {
		return None
	}
	if !ParseOption(data, o) {
		return Malformed
	}
	if o.serverLen == 0 {
		return ClientOnly
	}
	sc := o.server[:o.serverLen]
	if len(sc) != ServerLen || sc[0] != version1 {
		return Invalid
	}
	ts := binary.BigEndian.Uint32(sc[4:8])
	// RFC 1982 serial number arithmetic on the 32-bit timestamps.
	age := int64(int32(uint32(now.Unix()) - ts))
	if age > int64(Lifetime/time.Second) || age < -int64(MaxSkew/time.Second) {
		return Invalid
	}
	var msg [hashInputMax]byte
	in := hashInput(&msg, &o.Client, sc[:8], client)
	got := binary.LittleEndian.Uint64(sc[8:16])
	k := j.keys.Load()
	switch {
	case sipHash24(k.k0, k.k1, in) == got:
		if age > int64(Renew/time.Second) || sc[1]|sc[2]|sc[3] != 0 {
			return ValidRenew
		}
		return Valid
	case k.hasPrev && sipHash24(k.p0, k.p1, in) == got:
		return ValidRenew
	}
	return Invalid
}

// hashInputMax is the longest input of the hash: client cookie, version,
// reserved, timestamp and an IPv6 address.
const hashInputMax = ClientLen + 8 + 16

// hashInput writes the input of the RFC 9018 hash into buf and returns it:
// client cookie | version | reserved | timestamp | client IP (4 bytes for
// IPv4, IPv4-mapped IPv6 addresses included, 16 for IPv6).
func hashInput(buf *[hashInputMax]byte, client *[ClientLen]byte, head []byte, ip netip.Addr) []byte {
	copy(buf[:ClientLen], client[:])
	copy(buf[ClientLen:ClientLen+8], head)
	ip = ip.Unmap()
	if ip.Is4() {
		a := ip.As4()
		copy(buf[ClientLen+8:], a[:])
		return buf[:ClientLen+8+4]
	}
	a := ip.As16()
	copy(buf[ClientLen+8:], a[:])
	return buf[:]
}

// ServerCookie returns a fresh server cookie for the client cookie and
// client address at now, made with the current secret (RFC 9018 §4:
// version 1, reserved zero).
func (j *Jar) ServerCookie(clientCookie *[ClientLen]byte, client netip.Addr, now time.Time) [ServerLen]byte {
	var sc [ServerLen]byte
	sc[0] = version1
	binary.BigEndian.PutUint32(sc[4:8], uint32(now.Unix()))
	var msg [hashInputMax]byte
	k := j.keys.Load()
	h := sipHash24(k.k0, k.k1, hashInput(&msg, clientCookie, sc[:8], client))
	binary.LittleEndian.PutUint64(sc[8:], h)
	return sc
}

// AppendOption appends the reply's COOKIE option (code, length, data) to
// dst for a query whose option was checked into o with status st: the
// client cookie and the server cookie the query brought when it is Valid,
// else a fresh one. For None and Malformed it appends nothing (a reply
// carries no COOKIE then). It does not allocate when dst has room for
// 4+ClientLen+ServerLen more bytes. A nil Jar appends nothing.
func (j *Jar) AppendOption(dst []byte, o *Option, st Status, client netip.Addr, now time.Time) []byte {
	if j == nil || !st.HasClient() {
		return dst
	}
	var sc [ServerLen]byte
	if st == Valid {
		copy(sc[:], o.Server())
	} else {
		sc = j.ServerCookie(&o.Client, client, now)
	}
	dst = binary.BigEndian.AppendUint16(dst, OptionCode)
	dst = binary.BigEndian.AppendUint16(dst, ClientLen+ServerLen)
	dst = append(dst, o.Client[:]...)
	return append(dst, sc[:]...)
}

// ReplyHex returns the data of the reply's COOKIE option in hex, as
// miekg/dns's EDNS0_COOKIE holds it ("" for None and Malformed). It
// allocates: it is for replies built as a dns.Msg.
func (j *Jar) ReplyHex(o *Option, st Status, client netip.Addr, now time.Time) string {
	b := j.AppendOption(make([]byte, 0, 4+ClientLen+ServerLen), o, st, client, now)
	if len(b) == 0 {
		return ""
	}
	return hex.EncodeToString(b[4:])
}
