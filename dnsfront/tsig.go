package dnsfront

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/miekg/dns"
)

// Key is a TSIG key (RFC 8945) that may sign DNS UPDATEs.
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
// by name.
type keyring struct {
	keys map[string]*Key // by lower-case FQDN
}

var _ dns.TsigProvider = (*keyring)(nil)

// newKeyring checks the keys and indexes them.
func newKeyring(keys []Key) (*keyring, error) {
	kr := &keyring{keys: map[string]*Key{}}
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
		if _, dup := kr.keys[k.Name]; dup {
			return nil, fmt.Errorf("dnsfront: TSIG key %s is defined twice", k.Name)
		}
		kr.keys[k.Name] = &k
	}
	return kr, nil
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
	k := kr.keys[strings.ToLower(t.Hdr.Name)]
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
