package dnssec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Flags of the keys poolnsd makes.
const (
	// FlagsCSK: a combined signing key (zone key and SEP bits): the only
	// key of a zone, whose DS the parent holds.
	FlagsCSK = dns.ZONE | dns.SEP
	// FlagsZSK: a zone signing key, beside a KSK (FlagsCSK) that signs
	// only the DNSKEY RRset.
	FlagsZSK = dns.ZONE
)

// Generate makes a new key for zone: algorithm alg (ECDSAP256SHA256 or
// ED25519), flags (FlagsCSK or FlagsZSK), timing t. Its File is empty
// until Write.
func Generate(zone string, alg uint8, flags uint16, t Timing) (*Key, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case dns.ECDSAP256SHA256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case dns.ECDSAP384SHA384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case dns.ED25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("dnssec: poolnsd makes keys of algorithm 13 (ECDSAP256SHA256), 14 or 15 (ED25519), not %d", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("dnssec: generating a key: %v", err)
	}
	return newKey(zone, alg, flags, priv, t)
}

// newKey makes the Key of a private key.
func newKey(zone string, alg uint8, flags uint16, priv crypto.Signer, t Timing) (*Key, error) {
	pub, err := publicKeyBytes(alg, priv.Public())
	if err != nil {
		return nil, fmt.Errorf("dnssec: %v", err)
	}
	zone = strings.ToLower(dns.Fqdn(zone))
	if _, ok := dns.IsDomainName(zone); !ok {
		return nil, fmt.Errorf("dnssec: %q is not a domain name", zone)
	}
	key := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET},
		Flags:     flags,
		Protocol:  3,
		Algorithm: alg,
		PublicKey: base64.StdEncoding.EncodeToString(pub),
	}
	return &Key{Zone: zone, DNSKEY: key, Tag: key.KeyTag(), Algorithm: alg, Timing: t, priv: priv}, nil
}

// ImportPEM makes a key of zone from a PKCS#8 PEM private key, as Knot's
// keymgr keeps them (<kasp-db>/keys/<key id>.pem): ECDSA P-256 or P-384,
// Ed25519 or RSA (then alg says RSASHA256); flags and timing as Generate.
func ImportPEM(zone string, pemData []byte, flags uint16, t Timing) (*Key, error) {
	block, _ := pem.Decode(pemData)
	if block == nil {
		return nil, errors.New("dnssec: no PEM block")
	}
	p, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		if p2, err2 := x509.ParseECPrivateKey(block.Bytes); err2 == nil {
			p, err = p2, nil
		} else if p3, err3 := x509.ParsePKCS1PrivateKey(block.Bytes); err3 == nil {
			p, err = p3, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("dnssec: PEM private key: %v", err)
	}
	var alg uint8
	switch k := p.(type) {
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			alg = dns.ECDSAP256SHA256
		case elliptic.P384():
			alg = dns.ECDSAP384SHA384
		default:
			return nil, fmt.Errorf("dnssec: ECDSA curve %s; want P-256 or P-384", k.Curve.Params().Name)
		}
	case ed25519.PrivateKey:
		alg = dns.ED25519
	case *rsa.PrivateKey:
		alg = dns.RSASHA256
	default:
		return nil, fmt.Errorf("dnssec: a %T private key; want ECDSA, Ed25519 or RSA", p)
	}
	return newKey(zone, alg, flags, p.(crypto.Signer), t)
}

// Write writes the key's files into dir as BIND does (.key readable by
// all, .private 0600), and sets File. It never overwrites a file.
func (k *Key) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("dnssec: %w", fileErr(dir, err))
	}
	base := filepath.Join(dir, BaseName(k.Zone, k.Algorithm, k.Tag))
	priv := k.privateText()
	pub := k.publicText()
	if err := writeNew(base+".private", priv, 0o600); err != nil {
		return err
	}
	if err := writeNew(base+".key", pub, 0o644); err != nil {
		os.Remove(base + ".private")
		return err
	}
	k.File = base + ".key"
	return nil
}

func writeNew(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("dnssec: %w", fileErr(path, err))
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("dnssec: %w", fileErr(path, err))
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("dnssec: %w", fileErr(path, err))
	}
	return nil
}

// kind names the key for the comment of its .key file.
func (k *Key) kind() string {
	if k.SEP() {
		return "key-signing key (a combined signing key when it is the zone's only one)"
	}
	return "zone-signing key"
}

func (k *Key) publicText() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "; This is a %s, keyid %d, for %s\n", k.kind(), k.Tag, k.Zone)
	b.WriteString(timingComments(k.Timing))
	fmt.Fprintf(&b, "%s IN DNSKEY %d %d %d %s\n", k.Zone, k.DNSKEY.Flags, k.DNSKEY.Protocol, k.Algorithm, k.DNSKEY.PublicKey)
	return []byte(b.String())
}

func timingComments(t Timing) string {
	var b strings.Builder
	for _, name := range timingFields {
		if v := *t.field(name); !v.IsZero() {
			v = v.UTC()
			fmt.Fprintf(&b, "; %s: %s (%s)\n", name, v.Format(timeFormat), v.Format(time.ANSIC))
		}
	}
	return b.String()
}

func timingLines(t Timing) string {
	var b strings.Builder
	for _, name := range timingFields {
		if v := *t.field(name); !v.IsZero() {
			fmt.Fprintf(&b, "%s: %s\n", name, v.UTC().Format(timeFormat))
		}
	}
	return b.String()
}

func (k *Key) privateText() []byte {
	s := k.DNSKEY.PrivateKeyString(k.priv)
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return []byte(s + timingLines(k.Timing))
}

// SetTiming writes new timing metadata into the key's two files (each
// replaced whole, by a rename), keeping everything else in them.
func (k *Key) SetTiming(t Timing) error {
	priv, err := os.ReadFile(k.PrivateFile())
	if err != nil {
		return fmt.Errorf("dnssec: %w", fileErr(k.PrivateFile(), err))
	}
	pub, err := os.ReadFile(k.File)
	if err != nil {
		return fmt.Errorf("dnssec: %w", fileErr(k.File, err))
	}
	isTiming := func(line string, comment bool) bool {
		line = strings.TrimSpace(line)
		if comment {
			if !strings.HasPrefix(line, ";") {
				return false
			}
			line = strings.TrimSpace(line[1:])
		}
		name, _, ok := strings.Cut(line, ":")
		return ok && (&Timing{}).field(strings.TrimSpace(name)) != nil
	}
	var np strings.Builder
	for line := range strings.Lines(string(priv)) {
		if !isTiming(line, false) {
			np.WriteString(line)
			if !strings.HasSuffix(line, "\n") {
				np.WriteString("\n")
			}
		}
	}
	np.WriteString(timingLines(t))
	var nk strings.Builder
	inserted := false
	for line := range strings.Lines(string(pub)) {
		if isTiming(line, true) {
			continue
		}
		t0 := strings.TrimSpace(line)
		if !inserted && t0 != "" && !strings.HasPrefix(t0, ";") {
			nk.WriteString(timingComments(t))
			inserted = true
		}
		nk.WriteString(line)
	}
	if err := replaceFile(k.PrivateFile(), []byte(np.String())); err != nil {
		return err
	}
	if err := replaceFile(k.File, []byte(nk.String())); err != nil {
		return err
	}
	k.Timing = t
	return nil
}

// replaceFile writes data to path through a temporary file and a rename,
// keeping path's mode.
func replaceFile(path string, data []byte) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("dnssec: %w", fileErr(path, err))
	}
	tmp := path + ".tmp"
	os.Remove(tmp)
	if err := writeNew(tmp, data, st.Mode().Perm()); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("dnssec: %w", fileErr(path, err))
	}
	return nil
}

// ParseTime reads a time as the key commands take it: "now", an offset
// from now ("+2h", "+90m", "+7d"), RFC 3339 or YYYYMMDDHHMMSS (UTC).
func ParseTime(s string, now time.Time) (time.Time, error) {
	switch {
	case s == "now":
		return now, nil
	case strings.HasPrefix(s, "+"):
		v := s[1:]
		if d, ok := strings.CutSuffix(v, "d"); ok {
			var n int
			if _, err := fmt.Sscanf(d, "%d", &n); err == nil && fmt.Sprint(n) == d {
				return now.Add(time.Duration(n) * 24 * time.Hour), nil
			}
		}
		d, err := time.ParseDuration(v)
		if err == nil {
			return now.Add(d), nil
		}
	default:
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t, nil
		}
		if t, err := time.Parse(timeFormat, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("dnssec: time %q: want now, +DURATION (+2h, +7d), RFC 3339 or YYYYMMDDHHMMSS", s)
}
