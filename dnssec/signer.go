package dnssec

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Defaults of Options.
const (
	// DefaultValidity is how long a signature is valid after it is made.
	DefaultValidity = 7 * 24 * time.Hour
	// DefaultDNSKEYTTL is the TTL of the DNSKEY RRset, in seconds.
	DefaultDNSKEYTTL = 3600
	// InceptionOffset is how far in the past a signature's validity
	// starts, for validators whose clocks are behind.
	InceptionOffset = time.Hour
)

// Options configure a Signer; zero fields take the defaults.
type Options struct {
	// Validity is how long a signature is valid after it is made
	// (DefaultValidity). A cached signature is made again when less than a
	// quarter of it is left.
	Validity time.Duration
	// DNSKEYTTL is the TTL of the DNSKEY RRset, in seconds
	// (DefaultDNSKEYTTL).
	DNSKEYTTL uint32
	// CacheSize bounds the signature cache, in bytes (DefaultCacheSize).
	CacheSize int64
	// Now returns the current time (time.Now); tests set a fake clock.
	Now func() time.Time
	// CDS says which CDS and CDNSKEY records a zone (lower case, final
	// dot) publishes at its apex; nil: CDSKeys for every zone.
	CDS func(zone string) CDSMode
	// Signals says whether a zone (lower case, final dot) that publishes
	// the CDS and CDNSKEY records of its keys also has them published as
	// RFC 9615 signals (signal.go); nil: every such zone.
	Signals func(zone string) bool
	// BeforeSign, if set, is called before each RRset is signed (a cache
	// miss or a refresh), on the goroutine that signs it. Testing: a test
	// makes signing slow, or blocks it, to see what waits for it.
	BeforeSign func()
}

// ErrNotCached is what a zone of CacheOnly returns for an RRset whose
// signatures the cache does not hold fresh: the caller signs it later,
// with the zone itself.
var ErrNotCached = errors.New("dnssec: signatures not cached")

// Signer signs the answers of the zones that have keys. It is safe for
// concurrent use; its keys are swapped whole by SetKeys while queries go
// on, and its signature cache is shared by every zone and outlives key
// reloads (entries are keyed by the signing keys too, so signatures of
// keys no longer used are simply not found again and age out).
type Signer struct {
	opts  Options
	cache *cache
	state atomic.Pointer[signerState]
	pool  sync.Pool // *RRset, for Sign and the denials
}

type signerState struct {
	keys  *Keys
	zones map[string]*Zone
}

// NewSigner returns a Signer without keys: it signs no zone until SetKeys.
func NewSigner(opts Options) *Signer {
	if opts.Validity <= 0 {
		opts.Validity = DefaultValidity
	}
	if opts.DNSKEYTTL == 0 {
		opts.DNSKEYTTL = DefaultDNSKEYTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Signer{opts: opts, cache: newCache(opts.CacheSize)}
	s.pool.New = func() any { return new(RRset) }
	s.state.Store(&signerState{zones: map[string]*Zone{}})
	return s
}

// SetKeys makes ks the keys that sign from now on (nil: none, every zone
// unsigned). Queries in flight finish with the keys they started with.
func (s *Signer) SetKeys(ks *Keys) {
	st := &signerState{keys: ks, zones: map[string]*Zone{}}
	if ks != nil {
		for name, zk := range ks.zones {
			st.zones[name] = s.newZone(zk)
		}
	}
	s.state.Store(st)
}

// Zone returns the signing context of a zone (its name in lower case,
// with the final dot), nil if the zone has no keys: it is served unsigned.
// The handler asks once per query and uses the result for the whole reply.
func (s *Signer) Zone(origin string) *Zone { return s.state.Load().zones[origin] }

// CacheStats returns the signature cache's counters.
func (s *Signer) CacheStats() CacheStats { return s.cache.stats() }

// Zone signs one zone's RRsets with the keys it had when it was made.
// It is immutable and safe for concurrent use.
type Zone struct {
	s          *Signer
	origin     string
	originWire []byte
	keys       *ZoneKeys
	data       []*Key // sign every RRset but DNSKEY
	keySigners []*Key // sign the DNSKEY RRset
	dataFP     uint64 // cache key prefixes of the two signer sets
	keyFP      uint64
	dnskey     []dns.RR // the DNSKEY RRset, TTL set
	dnskeySet  *RRset   // the same, canonical and sorted (read-only)
	cdsMode    CDSMode
	cds        [2]cdsSet // CDS, CDNSKEY (cds.go)
	signals    bool      // signal.go
	sigsLen    int       // SigsWireLen(0)

	// cacheOnly: this is the zone's CacheOnly twin, which never signs.
	// budget: this is a zone of Budget. base is the zone they are of (nil
	// for the zone itself); twin is the zone's CacheOnly twin.
	cacheOnly bool
	budget    *int
	base      *Zone
	twin      *Zone
}

func (s *Signer) newZone(zk *ZoneKeys) *Zone {
	z := &Zone{s: s, origin: zk.Zone, keys: zk, data: zk.dataSigners, keySigners: zk.published}
	z.originWire = make([]byte, 255)
	n, _ := dns.PackDomainName(z.origin, z.originWire, 0, nil, false)
	z.originWire = z.originWire[:n]
	z.dataFP = s.fingerprint(z.origin, z.data)
	z.keyFP = s.fingerprint(z.origin, z.keySigners)
	set := new(RRset)
	set.Reset(z.origin, dns.TypeDNSKEY, s.opts.DNSKEYTTL)
	for _, k := range zk.published {
		rr := *k.DNSKEY
		rr.Hdr.Ttl = s.opts.DNSKEYTTL
		z.dnskey = append(z.dnskey, &rr)
		set.AddRR(&rr)
	}
	set.sort()
	z.dnskeySet = set
	z.cdsSets(zk)
	z.signals = z.cdsMode == CDSKeys && z.PublishesCDS() && (s.opts.Signals == nil || s.opts.Signals(z.origin))
	for _, k := range z.data {
		// Type covered … key tag (18), the signer's name, the signature.
		z.sigsLen += rrFixedLen + 18 + len(z.originWire) + k.sigLen()
	}
	co := *z
	co.cacheOnly, co.base = true, z
	z.twin = &co
	return z
}

// CacheOnly returns the zone's twin that never signs: its methods return
// what the cache holds fresh, and ErrNotCached for an RRset it does not
// (not there yet, being signed by another caller, or due to be signed
// again) instead of signing it or waiting for it. A caller that must not
// spend a signature's time now (the DNS front's UDP loop) answers from it
// and signs what it lacks later, with the zone itself (Signing). The twin
// has the zone's keys, name and sizes; it counts its hits in CacheStats,
// not its misses (the signing that follows counts them).
func (z *Zone) CacheOnly() *Zone { return z.Signing().twin }

// Budget returns a zone that signs at most *n RRsets, taking one from *n
// for each, and then is as CacheOnly's twin: a caller that may spend one
// signature now, and must go on with other work before the next, makes
// an answer that needs several in as many turns. (It allocates: one per
// turn of such an answer, against a signature's cost.)
func (z *Zone) Budget(n *int) *Zone {
	b := *z.Signing()
	b.budget, b.base = n, z.Signing()
	return &b
}

// Signing returns the zone that signs what the cache lacks: z itself, or
// the zone whose CacheOnly twin or Budget zone z is.
func (z *Zone) Signing() *Zone {
	if z.base != nil {
		return z.base
	}
	return z
}

// rrFixedLen is the fixed part of a record after its owner: type, class,
// TTL, RDLENGTH.
const rrFixedLen = 10

// SigsWireLen returns the bytes that Sigs.AppendWire adds for an RRset
// other than DNSKEY signed by the zone's keys, with an owner of ownerLen
// bytes (2 for a compression pointer): a renderer knows before signing
// whether an RRset and its signatures fit.
func (z *Zone) SigsWireLen(ownerLen int) int { return z.sigsLen + len(z.data)*ownerLen }

// sigLen returns the length of the key's signatures.
func (k *Key) sigLen() int {
	switch p := k.priv.(type) {
	case *ecdsa.PrivateKey:
		return 2 * ((p.Curve.Params().BitSize + 7) / 8)
	case ed25519.PrivateKey:
		return ed25519.SignatureSize
	case *rsa.PrivateKey:
		return p.Size()
	}
	return 0
}

// fingerprint identifies a set of signing keys (and the validity they
// sign with) in cache keys.
func (s *Signer) fingerprint(zone string, keys []*Key) uint64 {
	h := fnv.New64a()
	h.Write([]byte(zone))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(s.opts.Validity))
	h.Write(b[:])
	for _, k := range keys {
		h.Write([]byte{k.Algorithm, byte(k.Tag >> 8), byte(k.Tag)})
		h.Write([]byte(k.DNSKEY.PublicKey))
	}
	return h.Sum64()
}

// Now returns the signer's clock (Options.Now).
func (z *Zone) Now() time.Time { return z.s.opts.Now() }

// Origin returns the zone's name (lower case, final dot).
func (z *Zone) Origin() string { return z.origin }

// Sigs are the signatures of one RRset, one RRSIG per signing key, in two
// forms: records for a dns.Msg and packed bytes for a wire renderer. They
// are shared through the cache: never change them.
type Sigs struct {
	// RRSIGs are the *dns.RRSIG records, owner name in lower case (as
	// signed; the case of an owner does not matter to a validator).
	RRSIGs []dns.RR
	// NSEC is the NSEC record that the signatures cover, for the denials
	// (NXDomain, NoData, NoDS); nil otherwise.
	NSEC *dns.NSEC
	// Inception and Expiration bound the signatures' validity.
	Inception, Expiration time.Time

	wire    []byte // each RRSIG from its type to the end of its RDATA, one after another
	ends    []int  // end of each in wire
	refresh time.Time
}

// FreshUntil returns the time from which the signatures are due to be
// made again (less than a quarter of their validity left): a renderer
// that keeps several RRsets' signatures together keeps them until the
// earliest of these.
func (g *Sigs) FreshUntil() time.Time { return g.refresh }

// AppendWire appends the RRSIG records in wire form to b, each with owner
// as its owner name: a compression pointer (0xC0 0x0C for the question's
// name) or an uncompressed name. The signer name in the RDATA is never
// compressed (RFC 4034 §3.1.7).
func (g *Sigs) AppendWire(b, owner []byte) []byte {
	start := 0
	for _, end := range g.ends {
		b = append(b, owner...)
		b = append(b, g.wire[start:end]...)
		start = end
	}
	return b
}

// AppendTo appends the RRSIG records to rrs.
func (g *Sigs) AppendTo(rrs []dns.RR) []dns.RR { return append(rrs, g.RRSIGs...) }

// bytes is what the cache counts for the signatures besides entryOverhead.
func (g *Sigs) bytes() int64 {
	n := int64(len(g.wire)) + int64(8*cap(g.ends))
	for _, rr := range g.RRSIGs {
		n += int64(len(rr.(*dns.RRSIG).Signature)) + 120
	}
	return n
}

// Sign returns the signatures of rrs, one RRset (one owner name, one type;
// the first record's TTL is signed: the records must all be sent with
// it). A wildcard's own records (owner "*.…") get the Labels field of a
// wildcard (RFC 4034 §3.1.3); with compact denial a wildcard's expansion
// is signed as the records of the query's name (RFC 9824 §3.3): pass it
// with that owner.
func (z *Zone) Sign(rrs []dns.RR) (*Sigs, error) {
	if len(rrs) == 0 {
		return nil, errors.New("dnssec: no records to sign")
	}
	set := z.s.pool.Get().(*RRset)
	defer z.s.pool.Put(set)
	h := rrs[0].Header()
	set.Reset(h.Name, h.Rrtype, h.Ttl)
	for _, rr := range rrs {
		set.AddRR(rr)
	}
	return z.SignSet(set)
}

// SignSet returns the signatures of an RRset built with RRset: from the
// cache, or made now (one signature per signing key, at most one signing
// at a time for the same RRset).
func (z *Zone) SignSet(set *RRset) (*Sigs, error) { return z.SignSetAt(set, time.Time{}) }

// SignSetAt is SignSet at time now, which a renderer that signs several
// RRsets of one reply reads once (the clock costs more than a cache hit);
// a zero now is the signer's clock (Options.Now).
func (z *Zone) SignSetAt(set *RRset, now time.Time) (*Sigs, error) {
	if set.err != nil {
		return nil, set.err
	}
	if len(set.offs) == 0 {
		return nil, errors.New("dnssec: no records to sign")
	}
	if !z.contains(set.owner) {
		name, _, _ := dns.UnpackDomainName(set.owner, 0)
		return nil, fmt.Errorf("dnssec: %s is not in zone %s", name, z.origin)
	}
	signers, fp := z.data, z.dataFP
	switch set.typ {
	case dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY:
		// At the apex, signed by the keys that sign the DNSKEY RRset,
		// among them the KSK whose DS the parent holds (RFC 7344 §4.1);
		// elsewhere (RFC 9615's signals) as the zone's other data.
		if bytes.Equal(set.owner, z.originWire) {
			signers, fp = z.keySigners, z.keyFP
		}
	}
	set.key = set.appendKey(set.key[:0], fp)
	if now.IsZero() {
		now = z.s.opts.Now()
	}
	if z.cacheOnly || z.budget != nil {
		if v := z.s.cache.peek(set.key, now); v != nil {
			return v, nil
		}
		if z.cacheOnly || *z.budget <= 0 {
			return nil, ErrNotCached
		}
		*z.budget--
	}
	e, v, o := z.s.cache.lookup(set.key, now)
	if o == hit {
		return v, nil
	}
	if z.s.opts.BeforeSign != nil {
		z.s.opts.BeforeSign()
	}
	nv, err := z.sign(set, signers, now)
	if err != nil {
		z.s.cache.fail(e)
		if v != nil {
			return v, nil // the old signatures are still valid
		}
		return nil, err
	}
	z.s.cache.fill(e, nv)
	return nv, nil
}

// DNSKEY returns the zone's DNSKEY RRset (every published key; TTL
// Options.DNSKEYTTL) and its signatures, by every published key. The
// records are shared: never change them.
func (z *Zone) DNSKEY() ([]dns.RR, *Sigs, error) {
	set := z.s.pool.Get().(*RRset)
	defer z.s.pool.Put(set)
	set.copyFrom(z.dnskeySet)
	sigs, err := z.SignSet(set)
	return z.dnskey, sigs, err
}

// copyFrom makes s a copy of o (a sorted, read-only RRset).
func (s *RRset) copyFrom(o *RRset) {
	s.owner = append(s.owner[:0], o.owner...)
	s.typ, s.ttl, s.labels, s.err, s.sorted = o.typ, o.ttl, o.labels, o.err, o.sorted
	s.rdata = append(s.rdata[:0], o.rdata...)
	s.offs = append(s.offs[:0], o.offs...)
}

// sign makes the signatures of set by keys, valid from an hour before now.
func (z *Zone) sign(set *RRset, keys []*Key, now time.Time) (*Sigs, error) {
	set.sort()
	inception := now.Add(-InceptionOffset)
	expiration := now.Add(z.s.opts.Validity)
	g := &Sigs{
		Inception:  inception.Truncate(time.Second),
		Expiration: expiration.Truncate(time.Second),
		refresh:    expiration.Add(-z.s.opts.Validity / 4),
	}
	owner, _, err := dns.UnpackDomainName(set.owner, 0)
	if err != nil {
		return nil, fmt.Errorf("dnssec: owner: %v", err)
	}
	var buf []byte
	for _, k := range keys {
		pre := make([]byte, 0, 18+len(z.originWire))
		pre = binary.BigEndian.AppendUint16(pre, set.typ)
		pre = append(pre, k.Algorithm, set.labels)
		pre = binary.BigEndian.AppendUint32(pre, set.ttl)
		pre = binary.BigEndian.AppendUint32(pre, uint32(expiration.Unix()))
		pre = binary.BigEndian.AppendUint32(pre, uint32(inception.Unix()))
		pre = binary.BigEndian.AppendUint16(pre, k.Tag)
		pre = append(pre, z.originWire...)
		buf = set.appendSigned(buf[:0], pre)
		sig, err := k.sign(buf)
		if err != nil {
			return nil, fmt.Errorf("dnssec: signing %s %s with key %d: %v", owner, dns.TypeToString[set.typ], k.Tag, err)
		}
		g.RRSIGs = append(g.RRSIGs, &dns.RRSIG{
			Hdr:         dns.RR_Header{Name: owner, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: set.ttl},
			TypeCovered: set.typ,
			Algorithm:   k.Algorithm,
			Labels:      set.labels,
			OrigTtl:     set.ttl,
			Expiration:  uint32(expiration.Unix()),
			Inception:   uint32(inception.Unix()),
			KeyTag:      k.Tag,
			SignerName:  z.origin,
			Signature:   base64.StdEncoding.EncodeToString(sig),
		})
		rdlen := len(pre) + len(sig)
		g.wire = binary.BigEndian.AppendUint16(g.wire, dns.TypeRRSIG)
		g.wire = binary.BigEndian.AppendUint16(g.wire, dns.ClassINET)
		g.wire = binary.BigEndian.AppendUint32(g.wire, set.ttl)
		g.wire = binary.BigEndian.AppendUint16(g.wire, uint16(rdlen))
		g.wire = append(g.wire, pre...)
		g.wire = append(g.wire, sig...)
		g.ends = append(g.ends, len(g.wire))
	}
	if set.typ == dns.TypeNSEC && len(set.offs) == 1 {
		rd := set.rd(0)
		next, off, err := dns.UnpackDomainName(rd, 0)
		if err != nil {
			return nil, fmt.Errorf("dnssec: NSEC next name: %v", err)
		}
		g.NSEC = &dns.NSEC{
			Hdr:        dns.RR_Header{Name: owner, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: set.ttl},
			NextDomain: next,
			TypeBitMap: readBitmap(rd[off:]),
		}
	}
	return g, nil
}

// sign signs data as the key's algorithm says: ECDSA (RFC 6605: r and s,
// fixed length), Ed25519 (RFC 8080), RSA/SHA-256 (RFC 5702).
func (k *Key) sign(data []byte) ([]byte, error) {
	switch p := k.priv.(type) {
	case *ecdsa.PrivateKey:
		var digest []byte
		size := 32
		if k.Algorithm == dns.ECDSAP384SHA384 {
			d := sha512.Sum384(data)
			digest, size = d[:], 48
		} else {
			d := sha256.Sum256(data)
			digest = d[:]
		}
		r, s, err := ecdsa.Sign(rand.Reader, p, digest)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out, nil
	case ed25519.PrivateKey:
		return ed25519.Sign(p, data), nil
	case *rsa.PrivateKey:
		d := sha256.Sum256(data)
		return rsa.SignPKCS1v15(nil, p, crypto.SHA256, d[:])
	}
	return nil, fmt.Errorf("no private key of algorithm %d", k.Algorithm)
}

// readBitmap reads an NSEC type bit map (RFC 4034 §4.1.2).
func readBitmap(b []byte) []uint16 {
	var types []uint16
	for len(b) >= 2 {
		win, n := int(b[0]), int(b[1])
		b = b[2:]
		if n > len(b) {
			break
		}
		for i := 0; i < n; i++ {
			for bit := 0; bit < 8; bit++ {
				if b[i]&(0x80>>bit) != 0 {
					types = append(types, uint16(win<<8|i*8+bit))
				}
			}
		}
		b = b[n:]
	}
	return types
}

// appendBitmap appends the NSEC type bit map of types (sorted, unique).
func appendBitmap(dst []byte, types []uint16) []byte {
	for i := 0; i < len(types); {
		win := types[i] >> 8
		var bits [32]byte
		n := 0
		for ; i < len(types) && types[i]>>8 == win; i++ {
			lo := types[i] & 0xFF
			bits[lo/8] |= 0x80 >> (lo % 8)
			n = int(lo/8) + 1
		}
		dst = append(dst, byte(win), byte(n))
		dst = append(dst, bits[:n]...)
	}
	return dst
}

// contains reports whether the wire name owner is at or below the zone's
// origin.
func (z *Zone) contains(owner []byte) bool {
	for i := 0; i < len(owner); i += int(owner[i]) + 1 {
		if len(owner)-i == len(z.originWire) {
			return bytes.Equal(owner[i:], z.originWire)
		}
		if owner[i] == 0 {
			break
		}
	}
	return false
}
