package tsigkey

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Key is a TSIG key (RFC 8945) that may sign DNS UPDATEs (and queries,
// whose replies are then signed).
type Key struct {
	// Name is the key's name, a domain name ("pe-key.").
	Name string
	// Algorithm is dns.HmacSHA256 or dns.HmacSHA512.
	Algorithm string
	// Secret is the shared secret (raw bytes, not base64).
	Secret []byte
	// Pools limits the key to some pools: a handle ("web", that handle in
	// any zone) or a pool's name ("web.pool.example."). Empty: every pool.
	Pools []string
}

// Allows reports whether the key may change pool (a lower-case FQDN).
func (k *Key) Allows(pool string) bool {
	if len(k.Pools) == 0 {
		return true
	}
	handle, _, _ := strings.Cut(pool, ".")
	name := strings.TrimSuffix(pool, ".")
	for _, p := range k.Pools {
		// Compared without case and without the root's dot, so that
		// an UPDATE's check allocates nothing.
		if strings.EqualFold(p, handle) || strings.EqualFold(strings.TrimSuffix(p, "."), name) {
			return true
		}
	}
	return false
}

// TSIG verification errors, as the keyring returns them to miekg/dns's
// server (ResponseWriter.TsigStatus). dns.ErrTime (BADTIME) comes from the
// server's own time check, after the MAC passed.
var (
	// ErrBadKey: the key is unknown, or known with another algorithm
	// (BADKEY).
	ErrBadKey = errors.New("tsigkey: key unknown or of another algorithm")
	// ErrBadSig: the MAC does not verify (BADSIG).
	ErrBadSig = errors.New("tsigkey: MAC does not verify")
	// ErrBadTrunc: the MAC is truncated below the allowed length
	// (BADTRUNC).
	ErrBadTrunc = errors.New("tsigkey: MAC truncated below the allowed length")
)

// Keyring is the server's dns.TsigProvider: it knows the configured keys
// by name. The set is replaced whole (Set); a lookup sees the old set or
// the new one.
type Keyring struct {
	keys atomic.Pointer[map[string]*entry] // by lower-case FQDN
}

// entry is a known key and its MAC computers: an HMAC of the key's secret
// is made once and reset after each use (hmac.New allocates its two
// hashes and their pads each time).
type entry struct {
	Key
	macs sync.Pool // *macState
}

// macState is an HMAC of an entry's key and room for its sum.
type macState struct {
	h   hash.Hash
	sum [sha512.Size]byte
	// buf holds what AppendSigned writes to h besides the reply (the
	// request's MAC, the TSIG variables): bytes handed to an interface's
	// method would escape from the stack.
	buf [2 + sha512.Size + 2*256 + 16]byte
}

// get returns a MAC computer of e's key, reset.
func (e *entry) get() *macState {
	if m, ok := e.macs.Get().(*macState); ok {
		return m
	}
	return &macState{h: hmac.New(newHash(e.Algorithm), e.Secret)}
}

// put resets m and keeps it for the next MAC of e's key.
func (e *entry) put(m *macState) {
	m.h.Reset()
	e.macs.Put(m)
}

// mac is the MAC of the bytes written to m, in m's room.
func (m *macState) mac() []byte { return m.h.Sum(m.sum[:0]) }

var _ dns.TsigProvider = (*Keyring)(nil)

// New checks the keys and returns a keyring of them.
func New(keys []Key) (*Keyring, error) {
	m, err := indexKeys(keys)
	if err != nil {
		return nil, err
	}
	kr := &Keyring{}
	kr.keys.Store(&m)
	return kr, nil
}

// Set replaces the keys with keys, if they are all good; else nothing
// changes.
func (kr *Keyring) Set(keys []Key) error {
	m, err := indexKeys(keys)
	if err != nil {
		return err
	}
	kr.keys.Store(&m)
	return nil
}

// indexKeys checks keys and indexes them by lower-case FQDN.
func indexKeys(keys []Key) (map[string]*entry, error) {
	m := map[string]*entry{}
	for i := range keys {
		k := keys[i]
		k.Name = strings.ToLower(dns.Fqdn(k.Name))
		k.Algorithm = strings.ToLower(dns.Fqdn(k.Algorithm))
		if _, ok := dns.IsDomainName(k.Name); !ok || k.Name == "." {
			return nil, fmt.Errorf("tsigkey: key %d: bad name %q", i, keys[i].Name)
		}
		if newHash(k.Algorithm) == nil {
			return nil, fmt.Errorf("tsigkey: key %s: unsupported algorithm %q; want hmac-sha256 or hmac-sha512", k.Name, keys[i].Algorithm)
		}
		if len(k.Secret) == 0 {
			return nil, fmt.Errorf("tsigkey: key %s: empty secret", k.Name)
		}
		if _, dup := m[k.Name]; dup {
			return nil, fmt.Errorf("tsigkey: key %s is defined twice", k.Name)
		}
		k.Secret = bytes.Clone(k.Secret)
		k.Pools = slices.Clone(k.Pools)
		m[k.Name] = &entry{Key: k}
	}
	return m, nil
}

func newHash(alg string) func() hash.Hash {
	switch alg {
	case dns.HmacSHA256:
		return sha256.New
	case dns.HmacSHA512:
		return sha512.New
	}
	return nil
}

// Key returns the key that t names with t's algorithm, or nil.
func (kr *Keyring) Key(t *dns.TSIG) *Key {
	if e := kr.entry(t); e != nil {
		return &e.Key
	}
	return nil
}

// entry is Key's, with the key's MAC computers.
func (kr *Keyring) entry(t *dns.TSIG) *entry {
	e := (*kr.keys.Load())[lower(t.Hdr.Name)]
	if e == nil || !sameAlgorithm(t.Algorithm, e.Algorithm) {
		return nil
	}
	return e
}

// sameAlgorithm reports whether the algorithm name a (as a TSIG record
// has it, maybe not fully qualified) names alg (lower case, an FQDN).
// strings.EqualFold(dns.Fqdn(a), alg), without building a's FQDN.
func sameAlgorithm(a, alg string) bool {
	if !strings.HasSuffix(a, ".") {
		return strings.EqualFold(a, alg[:len(alg)-1])
	}
	return strings.EqualFold(a, alg)
}

// lower is s in lower case, s itself when it has no upper-case letter.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// Generate signs a reply. A MACSize set in t below the full length
// truncates the MAC to it (RFC 8945 §5.2.2.1: a reply to a request with a
// truncated MAC is truncated alike).
func (kr *Keyring) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	e := kr.entry(t)
	if e == nil {
		return nil, ErrBadKey
	}
	m := e.get()
	m.h.Write(msg)
	mac := bytes.Clone(m.mac())
	e.put(m)
	if n := int(t.MACSize); n > 0 && n < len(mac) {
		mac = mac[:n]
	}
	return mac, nil
}

// Verify checks a request's MAC (RFC 8945 §5.2.2): an unknown key or
// another algorithm is BADKEY, a MAC that differs BADSIG; a truncated MAC
// is accepted down to max(10 bytes, half the full length), below that it is
// BADTRUNC.
func (kr *Keyring) Verify(msg []byte, t *dns.TSIG) error {
	e := kr.entry(t)
	if e == nil {
		return ErrBadKey
	}
	m := e.get()
	defer e.put(m)
	m.h.Write(msg)
	return checkMAC(m.mac(), t.MAC)
}

// checkMAC compares the MAC computed, want, with a request's (hex), as
// Verify says.
func checkMAC(want []byte, mac string) error {
	var gotBuf [sha512.Size]byte
	got, ok := decodeHex(gotBuf[:0], mac, len(want))
	if !ok {
		return ErrBadSig // not hex, or longer than the MAC
	}
	switch {
	case len(got) > len(want), len(got) == 0:
		return ErrBadSig
	case len(got) < len(want) && len(got) < max(10, len(want)/2):
		return ErrBadTrunc
	}
	if !hmac.Equal(got, want[:len(got)]) {
		return ErrBadSig
	}
	return nil
}

// VerifyRequest verifies the request raw signed with t, its last record,
// which starts at offset tsigOff, at time now: the verdict of miekg/dns's
// TsigVerifyWithProvider(raw, kr, "", false) (the server's, for a
// request), without unpacking the message again or copying it. nil, or
// ErrBadKey, ErrBadSig, ErrBadTrunc (Verify's), dns.ErrTime (the MAC
// verified, the time is outside the fudge), dns.ErrAuth (a request whose
// RCODE is NOTAUTH); an error of another kind for TSIG variables that do
// not pack, which ErrorCode takes for BADSIG as it took miekg/dns's.
func (kr *Keyring) VerifyRequest(raw []byte, tsigOff int, t *dns.TSIG, now time.Time) error {
	if len(raw) < 12 || tsigOff < 12 || tsigOff > len(raw) {
		return errors.New("tsigkey: no TSIG record where it was said to be")
	}
	if int(raw[3]&0xF) == dns.RcodeNotAuth {
		return dns.ErrAuth
	}
	e := kr.entry(t)
	if e == nil {
		return ErrBadKey
	}
	m := e.get()
	defer e.put(m)
	// The message as it was before the TSIG was added: the original ID,
	// ARCOUNT without the TSIG.
	hdr := append(m.buf[:0], raw[:12]...)
	binary.BigEndian.PutUint16(hdr, t.OrigId)
	binary.BigEndian.PutUint16(hdr[10:], binary.BigEndian.Uint16(hdr[10:])-1)
	m.h.Write(hdr)
	m.h.Write(raw[12:tsigOff])
	// The TSIG variables (RFC 8945 §4.3.3), as the request has them (a
	// time of 0 taken as now, a fudge of 0 as 300 s, as miekg/dns does).
	signed, fudge := t.TimeSigned, t.Fudge
	if signed == 0 {
		signed = uint64(now.Unix())
	}
	if fudge == 0 {
		fudge = 300
	}
	vars := m.buf[:]
	off, err := dns.PackDomainName(dns.CanonicalName(t.Hdr.Name), vars, 0, nil, false)
	if err != nil {
		return err
	}
	if off+6 > len(vars) {
		return errors.New("tsigkey: TSIG variables too long")
	}
	binary.BigEndian.PutUint16(vars[off:], dns.ClassANY)
	binary.BigEndian.PutUint32(vars[off+2:], t.Hdr.Ttl)
	if off, err = dns.PackDomainName(dns.CanonicalName(t.Algorithm), vars, off+6, nil, false); err != nil {
		return err
	}
	v := appendTimers(vars[:off], signed, fudge)
	v = binary.BigEndian.AppendUint16(v, t.Error)
	v = binary.BigEndian.AppendUint16(v, t.OtherLen)
	m.h.Write(v)
	for od := t.OtherData; len(od) > 0; {
		chunk := od[:min(len(od), 2*sha512.Size)]
		d, ok := decodeHex(m.buf[:0], chunk, sha512.Size)
		if !ok {
			return errors.New("tsigkey: TSIG other data not hex")
		}
		m.h.Write(d)
		od = od[len(chunk):]
	}
	if err := checkMAC(m.mac(), t.MAC); err != nil {
		return err
	}
	n := uint64(now.Unix())
	ti := n - signed
	if n < signed {
		ti = signed - n
	}
	if uint64(fudge) < ti {
		return dns.ErrTime
	}
	return nil
}

// ErrorCode maps a TsigStatus to the TSIG error of the reply.
func ErrorCode(err error) uint16 {
	switch {
	case errors.Is(err, ErrBadKey), errors.Is(err, dns.ErrSecret), errors.Is(err, dns.ErrKeyAlg):
		return dns.RcodeBadKey
	case errors.Is(err, dns.ErrTime):
		return dns.RcodeBadTime
	case errors.Is(err, ErrBadTrunc):
		return dns.RcodeBadTrunc
	}
	return dns.RcodeBadSig
}

// SignReply adds a TSIG record for the key and algorithm of the request's
// t to m; the server's keyring computes the MAC when m is written. A
// truncated request MAC truncates the reply's (RFC 8945 §5.2.2.1).
func SignReply(m *dns.Msg, t *dns.TSIG) {
	m.SetTsig(t.Hdr.Name, t.Algorithm, t.Fudge, time.Now().Unix())
	if rt := m.IsTsig(); rt != nil && t.MACSize > 0 {
		rt.MACSize = t.MACSize
	}
}

// Len is the wire length of the TSIG record that SignReply adds for a
// request signed with t: owner and algorithm names uncompressed, the MAC
// as long as the request's (or the algorithm's full length).
func Len(t *dns.TSIG) int {
	mac := int(t.MACSize)
	if mac == 0 {
		mac = 64 // hmac-sha512's, the longest we verify
	}
	name := func(s string) int {
		if s == "." || s == "" {
			return 1
		}
		return len(dns.Fqdn(s)) + 1
	}
	// type, class, TTL, RDLENGTH; time (6), fudge, MAC size; original ID,
	// error, other length.
	return name(t.Hdr.Name) + 10 + name(t.Algorithm) + 6 + 2 + 2 + mac + 2 + 2 + 2
}

// Verified returns the key of the request's TSIG t, which the server has
// verified with kr, or why it failed: the server's TsigStatus (w's), or
// a BADKEY error.
func Verified(w dns.ResponseWriter, kr *Keyring, t *dns.TSIG) (*Key, error) {
	if st := w.TsigStatus(); st != nil {
		return nil, st
	}
	if k := kr.Key(t); k != nil {
		return k, nil
	}
	return nil, ErrBadKey // the server verified with a keyring that knows it
}

// Of returns the request's TSIG record: it must be the last record of
// the additional section and the only one (RFC 8945 §5.1).
func Of(r *dns.Msg) (*dns.TSIG, error) {
	var t *dns.TSIG
	for i, rr := range r.Extra {
		if ts, ok := rr.(*dns.TSIG); ok {
			if i != len(r.Extra)-1 {
				return nil, errors.New("TSIG record not last in the additional section")
			}
			t = ts
		}
	}
	for _, sec := range [][]dns.RR{r.Answer, r.Ns} {
		for _, rr := range sec {
			if rr.Header().Rrtype == dns.TypeTSIG {
				return nil, errors.New("TSIG record outside the additional section")
			}
		}
	}
	return t, nil
}

// WriteFailure answers a request whose TSIG t failed with st (RFC 8945
// §5.2): NOTAUTH with the TSIG error (ErrorCode(st)); unsigned for BADKEY
// and BADSIG, signed with the server's time in Other Data for BADTIME.
// The caller logs.
func WriteFailure(w dns.ResponseWriter, r *dns.Msg, t *dns.TSIG, st error) error {
	code := ErrorCode(st)
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeNotAuth)
	rt := &dns.TSIG{
		Hdr: dns.RR_Header{Name: t.Hdr.Name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		// A TSIG whose algorithm name is empty (malformed) would pack to
		// no name at all and shift every later field: "." instead.
		Algorithm: dns.Fqdn(t.Algorithm), TimeSigned: t.TimeSigned, Fudge: t.Fudge, OrigId: m.Id, Error: code,
	}
	switch code {
	case dns.RcodeBadTime:
		now := uint64(time.Now().Unix())
		rt.OtherLen = 6
		rt.OtherData = fmt.Sprintf("%012x", now&0xFFFFFFFFFFFF)
		m.Extra = append(m.Extra, rt)
		return w.WriteMsg(m) // signed by the server's keyring
	case dns.RcodeBadTrunc:
		m.Extra = append(m.Extra, rt)
		return w.WriteMsg(m)
	}
	// BADKEY, BADSIG: an empty MAC, written as bytes so that the server
	// does not try to sign it.
	rt.TimeSigned = t.TimeSigned
	m.Extra = append(m.Extra, rt)
	b, err := m.Pack()
	if err != nil {
		return fmt.Errorf("tsigkey: internal error packing a TSIG error reply: %w", err)
	}
	_, err = w.Write(b)
	return err
}

// decodeHex appends the bytes of the hex string s to dst, and reports
// false when s is not hex or holds more than max bytes.
func decodeHex(dst []byte, s string, max int) ([]byte, bool) {
	if len(s)%2 != 0 || len(s)/2 > max {
		return dst, false
	}
	for i := 0; i < len(s); i += 2 {
		hi, ok1 := fromHex(s[i])
		lo, ok2 := fromHex(s[i+1])
		if !ok1 || !ok2 {
			return dst, false
		}
		dst = append(dst, hi<<4|lo)
	}
	return dst, true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// AppendSigned signs reply, a packed reply (its ID the request's, no
// TSIG record yet) to a request signed with t and verified by kr: it
// appends the TSIG record of t's key and algorithm at time now, whose MAC
// covers the request's MAC, reply and the TSIG variables (RFC 8945 §4.3.3),
// and counts it in ARCOUNT. The record is SignReply's as the server's
// writer signs it (miekg/dns's TsigGenerateWithProvider), byte for byte:
// the fudge of the request (300 s if 0), its MAC's length when truncated
// (§5.2.2.1), the owner and algorithm names as the request had them. The
// MAC is computed with the key's reused HMAC and nothing is allocated but
// reply's growth. An unknown key is ErrBadKey.
func (kr *Keyring) AppendSigned(reply []byte, t *dns.TSIG, now time.Time) ([]byte, error) {
	if len(reply) < 12 {
		return reply, errors.New("tsigkey: a reply shorter than a header")
	}
	e := kr.entry(t)
	if e == nil {
		return reply, ErrBadKey
	}
	m := e.get()
	defer e.put(m)
	// The request's MAC, its length first.
	req, ok := decodeHex(m.buf[:2], t.MAC, sha512.Size)
	if !ok {
		return reply, errors.New("tsigkey: the request's MAC is not hex")
	}
	binary.BigEndian.PutUint16(req, uint16(len(req)-2))
	m.h.Write(req)
	m.h.Write(reply)
	// The TSIG variables (§4.3.3): the names canonical (lower case,
	// uncompressed), class ANY, TTL 0, time, fudge, error 0, no other data.
	fudge := t.Fudge
	if fudge == 0 {
		fudge = 300
	}
	signed := uint64(now.Unix())
	vars := m.buf[:]
	off, err := dns.PackDomainName(dns.CanonicalName(t.Hdr.Name), vars, 0, nil, false)
	if err != nil {
		return reply, err
	}
	binary.BigEndian.PutUint16(vars[off:], dns.ClassANY)
	binary.BigEndian.PutUint32(vars[off+2:], 0)
	if off, err = dns.PackDomainName(dns.CanonicalName(t.Algorithm), vars, off+6, nil, false); err != nil {
		return reply, err
	}
	v := appendTimers(vars[:off], signed, fudge)
	v = append(v, 0, 0, 0, 0) // error, other length
	m.h.Write(v)
	mac := m.mac()
	id := binary.BigEndian.Uint16(reply)
	if k := int(t.MACSize); k > 0 && k < len(mac) {
		mac = mac[:k]
	}
	// The record: owner, TSIG ANY 0, RDLENGTH, then algorithm, time,
	// fudge, MAC size and MAC, original ID, error, other length.
	start := len(reply)
	if reply, err = appendName(reply, t.Hdr.Name); err != nil {
		return reply[:start], err
	}
	reply = binary.BigEndian.AppendUint16(reply, dns.TypeTSIG)
	reply = binary.BigEndian.AppendUint16(reply, dns.ClassANY)
	reply = binary.BigEndian.AppendUint32(reply, 0)
	rdlen := len(reply)
	reply = append(reply, 0, 0)
	if reply, err = appendName(reply, t.Algorithm); err != nil {
		return reply[:start], err
	}
	reply = appendTimers(reply, signed, fudge)
	reply = binary.BigEndian.AppendUint16(reply, uint16(len(mac)))
	reply = append(reply, mac...)
	reply = binary.BigEndian.AppendUint16(reply, id)
	reply = append(reply, 0, 0, 0, 0) // error, other length
	binary.BigEndian.PutUint16(reply[rdlen:], uint16(len(reply)-rdlen-2))
	binary.BigEndian.PutUint16(reply[10:], binary.BigEndian.Uint16(reply[10:])+1)
	return reply, nil
}

// appendTimers appends a TSIG's time signed (48 bits) and fudge.
func appendTimers(b []byte, signed uint64, fudge uint16) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(signed>>32))
	b = binary.BigEndian.AppendUint32(b, uint32(signed))
	return binary.BigEndian.AppendUint16(b, fudge)
}

// appendName appends the domain name s, uncompressed, as miekg/dns packs
// it (an empty name as nothing at all, a name not fully qualified as an
// error).
func appendName(b []byte, s string) ([]byte, error) {
	var buf [256]byte
	n, err := dns.PackDomainName(s, buf[:], 0, nil, false)
	if err != nil {
		return b, err
	}
	return append(b, buf[:n]...), nil
}
