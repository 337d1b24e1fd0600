package dnsfront

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"slices"
	"strings"
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

// allows reports whether the key may change pool (a lower-case FQDN).
func (k *Key) allows(pool string) bool {
	if len(k.Pools) == 0 {
		return true
	}
	handle, _, _ := strings.Cut(pool, ".")
	for _, p := range k.Pools {
		p = strings.ToLower(p)
		if p == handle || dns.Fqdn(p) == pool {
			return true
		}
	}
	return false
}

// TSIG verification errors, as the keyring returns them to miekg/dns's
// server (ResponseWriter.TsigStatus). dns.ErrTime (BADTIME) comes from the
// server's own time check, after the MAC passed.
var (
	errBadKey   = errors.New("dnsfront: TSIG key unknown or of another algorithm")
	errBadSig   = errors.New("dnsfront: TSIG MAC does not verify")
	errBadTrunc = errors.New("dnsfront: TSIG MAC truncated below the allowed length")
)

// keyring is the server's dns.TsigProvider: it knows the configured keys
// by name. The set is replaced whole (Handler.SetTSIG); a lookup sees the
// old set or the new one.
type keyring struct {
	keys atomic.Pointer[map[string]*Key] // by lower-case FQDN
}

var _ dns.TsigProvider = (*keyring)(nil)

// newKeyring checks the keys and indexes them.
func newKeyring(keys []Key) (*keyring, error) {
	m, err := indexKeys(keys)
	if err != nil {
		return nil, err
	}
	kr := &keyring{}
	kr.keys.Store(&m)
	return kr, nil
}

// set replaces the keys with keys, if they are all good; else nothing
// changes.
func (kr *keyring) set(keys []Key) error {
	m, err := indexKeys(keys)
	if err != nil {
		return err
	}
	kr.keys.Store(&m)
	return nil
}

// indexKeys checks keys and indexes them by lower-case FQDN.
func indexKeys(keys []Key) (map[string]*Key, error) {
	m := map[string]*Key{}
	for i := range keys {
		k := keys[i]
		k.Name = strings.ToLower(dns.Fqdn(k.Name))
		k.Algorithm = strings.ToLower(dns.Fqdn(k.Algorithm))
		if _, ok := dns.IsDomainName(k.Name); !ok || k.Name == "." {
			return nil, fmt.Errorf("dnsfront: TSIG key %d: bad name %q", i, keys[i].Name)
		}
		if newHash(k.Algorithm) == nil {
			return nil, fmt.Errorf("dnsfront: TSIG key %s: unsupported algorithm %q; want hmac-sha256 or hmac-sha512", k.Name, keys[i].Algorithm)
		}
		if len(k.Secret) == 0 {
			return nil, fmt.Errorf("dnsfront: TSIG key %s: empty secret", k.Name)
		}
		if _, dup := m[k.Name]; dup {
			return nil, fmt.Errorf("dnsfront: TSIG key %s is defined twice", k.Name)
		}
		k.Secret = bytes.Clone(k.Secret)
		k.Pools = slices.Clone(k.Pools)
		m[k.Name] = &k
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

// key returns the key that t names with t's algorithm, or nil.
func (kr *keyring) key(t *dns.TSIG) *Key {
	k := (*kr.keys.Load())[strings.ToLower(t.Hdr.Name)]
	if k == nil || !strings.EqualFold(dns.Fqdn(t.Algorithm), k.Algorithm) {
		return nil
	}
	return k
}

func (kr *keyring) mac(k *Key, msg []byte) []byte {
	h := hmac.New(newHash(k.Algorithm), k.Secret)
	h.Write(msg)
	return h.Sum(nil)
}

// Generate signs a reply. A MACSize set in t below the full length
// truncates the MAC to it (RFC 8945 §5.2.2.1: a reply to a request with a
// truncated MAC is truncated alike).
func (kr *keyring) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	k := kr.key(t)
	if k == nil {
		return nil, errBadKey
	}
	mac := kr.mac(k, msg)
	if n := int(t.MACSize); n > 0 && n < len(mac) {
		mac = mac[:n]
	}
	return mac, nil
}

// Verify checks a request's MAC (RFC 8945 §5.2.2): an unknown key or
// another algorithm is BADKEY, a MAC that differs BADSIG; a truncated MAC
// is accepted down to max(10 bytes, half the full length), below that it is
// BADTRUNC.
func (kr *keyring) Verify(msg []byte, t *dns.TSIG) error {
	k := kr.key(t)
	if k == nil {
		return errBadKey
	}
	got, err := hex.DecodeString(t.MAC)
	if err != nil {
		return errBadSig
	}
	want := kr.mac(k, msg)
	switch {
	case len(got) > len(want), len(got) == 0:
		return errBadSig
	case len(got) < len(want) && len(got) < max(10, len(want)/2):
		return errBadTrunc
	}
	if !hmac.Equal(got, want[:len(got)]) {
		return errBadSig
	}
	return nil
}

// tsigError maps a TsigStatus to the TSIG error of the reply.
func tsigError(err error) uint16 {
	switch {
	case errors.Is(err, errBadKey), errors.Is(err, dns.ErrSecret), errors.Is(err, dns.ErrKeyAlg):
		return dns.RcodeBadKey
	case errors.Is(err, dns.ErrTime):
		return dns.RcodeBadTime
	case errors.Is(err, errBadTrunc):
		return dns.RcodeBadTrunc
	}
	return dns.RcodeBadSig
}

// signReply adds a TSIG record for the key and algorithm of the request's
// t to m; the server's keyring computes the MAC when m is written. A
// truncated request MAC truncates the reply's (RFC 8945 §5.2.2.1).
func signReply(m *dns.Msg, t *dns.TSIG) {
	m.SetTsig(t.Hdr.Name, t.Algorithm, t.Fudge, time.Now().Unix())
	if rt := m.IsTsig(); rt != nil && t.MACSize > 0 {
		rt.MACSize = t.MACSize
	}
}

// tsigLen is the wire length of the TSIG record that signReply adds for a
// request signed with t: owner and algorithm names uncompressed, the MAC
// as long as the request's (or the algorithm's full length).
func tsigLen(t *dns.TSIG) int {
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

// verified returns the key of the request's TSIG t, which the server has
// verified, or why it failed: the server's TsigStatus, or errBadKey.
func (h *Handler) verified(w dns.ResponseWriter, t *dns.TSIG) (*Key, error) {
	if st := w.TsigStatus(); st != nil {
		return nil, st
	}
	if k := h.keys.key(t); k != nil {
		return k, nil
	}
	return nil, errBadKey // the server verified with a keyring that knows it
}

// signedQuery reports whether a query (whose answer and authority
// sections acceptMsg found empty) has a TSIG record: the unsigned majority
// pays a type check per additional record, at most two.
func signedQuery(r *dns.Msg) bool {
	for _, rr := range r.Extra {
		if _, ok := rr.(*dns.TSIG); ok {
			return true
		}
	}
	return false
}

// checkSigned handles the TSIG of a query (RFC 8945): none, true; one that
// the server verified with a known key, true and req.tsig set, so that
// the reply is signed; a TSIG elsewhere than last, FORMERR; a failed one
// (unknown key, bad MAC, time outside the fudge), NOTAUTH with the TSIG
// error, and false. Failures are logged at debug: queries are not
// authenticated, so a flood of them must not flood the log.
func (h *Handler) checkSigned(w dns.ResponseWriter, r *dns.Msg, req *request) bool {
	t, err := tsigOf(r)
	switch {
	case err != nil:
		h.reply(w, r, req, dns.RcodeFormatError)
		return false
	case t == nil:
		return true
	}
	if _, st := h.verified(w, t); st != nil {
		h.account(w, req, dns.RcodeNotAuth, false, 0)
		h.tsigFail(w, r, t, st, remoteAddr(w), "signed query refused", slog.LevelDebug)
		return false
	}
	req.tsig = t
	if !req.tcp {
		req.maxSize -= tsigLen(t) // room for the reply's signature
	}
	return true
}

// writeSigned writes the fast path's reply b to a signed query, signed:
// unpacked into a message that the server signs as it writes it. Signed
// queries are rare; the cost of the round trip is theirs alone.
func (h *Handler) writeSigned(w dns.ResponseWriter, req *request, b []byte) {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		h.log.Error("internal error unpacking a reply to sign", "err", err.Error())
		return
	}
	m.Compress = true
	signReply(m, req.tsig)
	if err := w.WriteMsg(m); err != nil {
		h.log.Debug("writing reply", "err", err)
	}
}
