package dnssec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Algorithms that keys may use. poolnsd makes keys of ECDSAP256SHA256
// (the default) and ED25519; it loads those and ECDSAP384SHA384 and
// RSASHA256 keys that other tools made.
var algorithms = map[uint8]string{
	dns.RSASHA256:       "RSASHA256",
	dns.ECDSAP256SHA256: "ECDSAP256SHA256",
	dns.ECDSAP384SHA384: "ECDSAP384SHA384",
	dns.ED25519:         "ED25519",
}

// AlgorithmName returns the mnemonic of a DNSSEC algorithm number
// ("ECDSAP256SHA256"), or its number if poolnsd does not sign with it.
func AlgorithmName(alg uint8) string {
	if s, ok := algorithms[alg]; ok {
		return s
	}
	return strconv.Itoa(int(alg))
}

// ParseAlgorithm reads an algorithm given by number ("13") or mnemonic
// ("ecdsap256sha256", "ed25519"), one that poolnsd signs with.
func ParseAlgorithm(s string) (uint8, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if _, ok := algorithms[uint8(n)]; ok && n >= 0 && n < 256 {
			return uint8(n), nil
		}
	}
	for a, name := range algorithms {
		if strings.EqualFold(s, name) {
			return a, nil
		}
	}
	return 0, fmt.Errorf("dnssec: unknown algorithm %q; want 13 (ECDSAP256SHA256), 15 (ED25519), 14 (ECDSAP384SHA384) or 8 (RSASHA256)", s)
}

// State is where a key is in its life, by its timing metadata and the
// time of Load.
type State uint8

const (
	// StateFuture: its Publish time has not come: not in the DNSKEY RRset.
	StateFuture State = iota
	// StatePublished: in the DNSKEY RRset (and signing it), not signing
	// anything else yet: the first step of a rollover.
	StatePublished
	// StateActive: signs the zone's answers.
	StateActive
	// StateRetired: its Inactive time has passed: still in the DNSKEY
	// RRset (and signing it), no longer signing anything else.
	StateRetired
	// StateRemoved: its Delete time has passed: ignored.
	StateRemoved
)

var stateNames = [...]string{"future", "published", "active", "retired", "removed"}

func (s State) String() string { return stateNames[s] }

// Timing is a key's timing metadata, as BIND writes it into the key files
// (Created, Publish, Activate, Inactive, Delete); a zero time is unset.
type Timing struct {
	Created, Publish, Activate, Inactive, Delete time.Time
}

// timingFields are the names of Timing's fields in the files, in order.
var timingFields = []string{"Created", "Publish", "Activate", "Inactive", "Delete"}

func (t *Timing) field(name string) *time.Time {
	switch name {
	case "Created":
		return &t.Created
	case "Publish":
		return &t.Publish
	case "Activate":
		return &t.Activate
	case "Inactive":
		return &t.Inactive
	case "Delete":
		return &t.Delete
	}
	return nil
}

// State returns the key's state at now. A key without any Publish,
// Activate, Inactive or Delete time (ldns-keygen writes none) is active.
func (t Timing) State(now time.Time) State {
	reached := func(x time.Time) bool { return !x.IsZero() && !now.Before(x) }
	switch {
	case reached(t.Delete):
		return StateRemoved
	case reached(t.Inactive):
		return StateRetired
	case reached(t.Activate):
		return StateActive
	case t.Publish.IsZero() && t.Activate.IsZero() && t.Inactive.IsZero() && t.Delete.IsZero():
		return StateActive
	case reached(t.Publish):
		return StatePublished
	}
	return StateFuture
}

// next returns the first of the key's times after now, zero if none.
func (t Timing) next(now time.Time) time.Time {
	var n time.Time
	for _, x := range []time.Time{t.Publish, t.Activate, t.Inactive, t.Delete} {
		if x.After(now) && (n.IsZero() || x.Before(n)) {
			n = x
		}
	}
	return n
}

// timeFormat is the format of times in key files: YYYYMMDDHHMMSS, UTC.
const timeFormat = "20060102150405"

// Key is one zone key: its DNSKEY record, its private key and its files.
type Key struct {
	// Zone is the zone's name, lower case, with the final dot.
	Zone string
	// DNSKEY is the public key as the zone publishes it (TTL 0: the
	// signer sets the DNSKEY RRset's TTL).
	DNSKEY *dns.DNSKEY
	// Tag is the key tag (RFC 4034 appendix B).
	Tag uint16
	// Algorithm is the DNSKEY's algorithm number.
	Algorithm uint8
	// File is the path of the .key file; the private key is in the
	// .private file beside it.
	File string
	// Timing is the key's timing metadata.
	Timing Timing

	priv crypto.Signer
}

// SEP reports whether the key has the Secure Entry Point flag (257: a
// key signing key, or a combined signing key): the key the parent's DS
// points to.
func (k *Key) SEP() bool { return k.DNSKEY.Flags&dns.SEP != 0 }

// PrivateFile returns the path of the key's .private file.
func (k *Key) PrivateFile() string { return strings.TrimSuffix(k.File, ".key") + ".private" }

// DS returns the DS record (SHA-256 digest) that the parent zone holds for
// the key.
func (k *Key) DS() *dns.DS {
	ds := k.DNSKEY.ToDS(dns.SHA256)
	ds.Hdr.Ttl = 0
	return ds
}

// BaseName returns the file name of a key without extension, as BIND
// names it: K<zone>+<alg>+<tag>, e.g. "Kpool.example.+013+12345".
func BaseName(zone string, alg uint8, tag uint16) string {
	return fmt.Sprintf("K%s+%03d+%05d", dns.Fqdn(strings.ToLower(zone)), alg, tag)
}

var keyFileName = regexp.MustCompile(`^K(.+)\+([0-9]{3})\+([0-9]{5})\.(key|private)$`)

// Errors of key files, wrapped with the file's path.
var (
	// ErrNoPrivate: a .key file without its .private file.
	ErrNoPrivate = errors.New("no private key file beside it")
	// ErrNoPublic: a .private file without its .key file.
	ErrNoPublic = errors.New("no public key file (.key) beside it")
	// ErrOtherZone: the key inside a file is for another zone than its
	// file name says.
	ErrOtherZone = errors.New("key for another zone")
	// ErrMismatch: the private key is not the one of the public key.
	ErrMismatch = errors.New("private key does not match the public key")
)

// ReadKey reads a key pair: path is its .key file, and its .private file
// is beside it. The error names the file and says why.
func ReadKey(path string) (*Key, error) {
	k, err := readKey(path)
	if err != nil {
		return nil, fmt.Errorf("dnssec: %w", err)
	}
	return k, nil
}

func readKey(path string) (*Key, error) {
	m := keyFileName.FindStringSubmatch(filepath.Base(path))
	if m == nil || m[4] != "key" {
		return nil, fmt.Errorf("%s: not a key file name; want K<zone>+<alg>+<tag>.key", path)
	}
	fileZone := strings.ToLower(dns.Fqdn(m[1]))
	fileAlg, _ := strconv.Atoi(m[2])
	fileTag, _ := strconv.Atoi(m[3])

	pub, err := os.ReadFile(path)
	if err != nil {
		return nil, fileErr(path, err)
	}
	k := &Key{File: path}
	lineNo := 0
	for line := range strings.Lines(string(pub)) {
		lineNo++
		t := strings.TrimSpace(line)
		if t == "" {
			continue
		}
		if strings.HasPrefix(t, ";") {
			// BIND writes the timing into comments too: "; Publish: 2024... (...)".
			// The .private file is the one read for it.
			continue
		}
		if k.DNSKEY != nil {
			return nil, fmt.Errorf("%s:%d: a second record; a key file holds one DNSKEY", path, lineNo)
		}
		rr, err := dns.NewRR(t)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, lineNo, parseErrText(err))
		}
		key, ok := rr.(*dns.DNSKEY)
		if !ok {
			return nil, fmt.Errorf("%s:%d: a %s record; want DNSKEY", path, lineNo, dns.TypeToString[rr.Header().Rrtype])
		}
		k.DNSKEY = key
	}
	if k.DNSKEY == nil {
		return nil, fmt.Errorf("%s: no DNSKEY record", path)
	}
	key := k.DNSKEY
	k.Zone = strings.ToLower(key.Hdr.Name)
	k.Algorithm = key.Algorithm
	k.Tag = key.KeyTag()
	key.Hdr.Name, key.Hdr.Ttl, key.Hdr.Class = k.Zone, 0, dns.ClassINET
	pk, err := base64.StdEncoding.DecodeString(key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%s: the DNSKEY's public key is not base64: %v", path, err)
	}
	if want := map[uint8]int{dns.ECDSAP256SHA256: 64, dns.ECDSAP384SHA384: 96, dns.ED25519: 32}[key.Algorithm]; want != 0 && len(pk) != want {
		return nil, fmt.Errorf("%s: the DNSKEY's public key has %d bytes; want %d for %s", path, len(pk), want, AlgorithmName(key.Algorithm))
	}
	switch {
	case k.Zone != fileZone:
		return nil, fmt.Errorf("%s: %w: the DNSKEY is for %s, the file name says %s", path, ErrOtherZone, k.Zone, fileZone)
	case key.Protocol != 3:
		return nil, fmt.Errorf("%s: DNSKEY protocol %d; want 3", path, key.Protocol)
	case key.Flags&dns.ZONE == 0:
		return nil, fmt.Errorf("%s: DNSKEY flags %d lack the zone key bit (256); want 256 or 257", path, key.Flags)
	case key.Flags&dns.REVOKE != 0:
		return nil, fmt.Errorf("%s: the key is revoked (flags %d)", path, key.Flags)
	case int(k.Algorithm) != fileAlg:
		return nil, fmt.Errorf("%s: DNSKEY algorithm %d, the file name says %d", path, k.Algorithm, fileAlg)
	case int(k.Tag) != fileTag:
		return nil, fmt.Errorf("%s: DNSKEY key tag %d, the file name says %d", path, k.Tag, fileTag)
	}
	if _, ok := algorithms[k.Algorithm]; !ok {
		return nil, fmt.Errorf("%s: algorithm %d is not one poolnsd signs with; want 13, 14, 15 or 8", path, k.Algorithm)
	}
	if err := k.readPrivate(k.PrivateFile()); err != nil {
		return nil, err
	}
	return k, nil
}

// parseErrText returns a dns.ParseError's message without the file part it
// starts with.
func parseErrText(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "dns: ")
	return s
}

func fileErr(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s: %w", path, err)
}

// readPrivate reads the key's private key file (BIND's format: lines of
// "Name: value") with its timing metadata, and checks that it holds the
// private key of the DNSKEY.
func (k *Key) readPrivate(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w (%s does not exist)", k.File, ErrNoPrivate, filepath.Base(path))
	}
	if err != nil {
		return fileErr(path, err)
	}
	fields := map[string]string{}
	lineNo := 0
	for line := range strings.Lines(string(b)) {
		lineNo++
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, ";") {
			continue
		}
		name, value, ok := strings.Cut(t, ":")
		if !ok {
			return fmt.Errorf("%s:%d: not \"Name: value\"", path, lineNo)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		fields[strings.ToLower(name)] = value
		if f := k.Timing.field(name); f != nil {
			if value == "0" || value == "" {
				continue
			}
			tm, err := time.Parse(timeFormat, value)
			if err != nil {
				return fmt.Errorf("%s:%d: %s %q is not a time YYYYMMDDHHMMSS", path, lineNo, name, value)
			}
			*f = tm
		}
	}
	format := fields["private-key-format"]
	if !strings.HasPrefix(format, "v1.") {
		return fmt.Errorf("%s: Private-key-format %q; want v1.x", path, format)
	}
	algField, _, _ := strings.Cut(fields["algorithm"], " ")
	if a, err := strconv.Atoi(algField); err != nil || a != int(k.Algorithm) {
		return fmt.Errorf("%s: Algorithm %q; the .key file's is %d", path, fields["algorithm"], k.Algorithm)
	}
	b64 := func(name string) ([]byte, error) {
		v, ok := fields[strings.ToLower(name)]
		if !ok {
			return nil, fmt.Errorf("%s: no %s", path, name)
		}
		d, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %s is not base64: %v", path, name, err)
		}
		return d, nil
	}
	var priv crypto.Signer
	switch k.Algorithm {
	case dns.ECDSAP256SHA256, dns.ECDSAP384SHA384:
		d, err := b64("PrivateKey")
		if err != nil {
			return err
		}
		curve, size := elliptic.P256(), 32
		if k.Algorithm == dns.ECDSAP384SHA384 {
			curve, size = elliptic.P384(), 48
		}
		if len(d) < size {
			// ldns-keygen writes the scalar without its leading zero
			// bytes (one key in 256 is a byte short).
			d = append(make([]byte, size-len(d)), d...)
		}
		p, err := ecdsa.ParseRawPrivateKey(curve, d)
		if err != nil {
			return fmt.Errorf("%s: PrivateKey: %v", path, err)
		}
		priv = p
	case dns.ED25519:
		d, err := b64("PrivateKey")
		if err != nil {
			return err
		}
		if len(d) != ed25519.SeedSize {
			return fmt.Errorf("%s: PrivateKey has %d bytes; want %d", path, len(d), ed25519.SeedSize)
		}
		priv = ed25519.NewKeyFromSeed(d)
	case dns.RSASHA256:
		var parts [5][]byte
		for i, name := range []string{"Modulus", "PublicExponent", "PrivateExponent", "Prime1", "Prime2"} {
			if parts[i], err = b64(name); err != nil {
				return err
			}
		}
		n := func(b []byte) *big.Int { return new(big.Int).SetBytes(b) }
		e := n(parts[1])
		if !e.IsInt64() || e.Int64() > 1<<31-1 {
			return fmt.Errorf("%s: PublicExponent too large", path)
		}
		p := &rsa.PrivateKey{
			PublicKey: rsa.PublicKey{N: n(parts[0]), E: int(e.Int64())},
			D:         n(parts[2]),
			Primes:    []*big.Int{n(parts[3]), n(parts[4])},
		}
		if err := p.Validate(); err != nil {
			return fmt.Errorf("%s: RSA key: %v", path, err)
		}
		p.Precompute()
		priv = p
	}
	want, err := publicKeyBytes(k.Algorithm, priv.Public())
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	got, err := base64.StdEncoding.DecodeString(k.DNSKEY.PublicKey)
	if err != nil || !slices.Equal(want, got) {
		return fmt.Errorf("%s: %w in %s", path, ErrMismatch, filepath.Base(k.File))
	}
	k.priv = priv
	return nil
}

// publicKeyBytes returns the DNSKEY public key field of a public key
// (RFC 6605, RFC 8080, RFC 3110).
func publicKeyBytes(alg uint8, pub crypto.PublicKey) ([]byte, error) {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		b, err := p.Bytes() // 0x04 || X || Y
		if err != nil {
			return nil, err
		}
		return b[1:], nil
	case ed25519.PublicKey:
		return []byte(p), nil
	case *rsa.PublicKey:
		e := big.NewInt(int64(p.E)).Bytes()
		var out []byte
		if len(e) < 256 {
			out = append(out, byte(len(e)))
		} else {
			out = append(out, 0, byte(len(e)>>8), byte(len(e)))
		}
		out = append(out, e...)
		return append(out, p.N.Bytes()...), nil
	}
	return nil, fmt.Errorf("public key of type %T", pub)
}
