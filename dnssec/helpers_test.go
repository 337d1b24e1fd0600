package dnssec

import (
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// t0 is the tests' fixed now.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a fake clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func rr(t testing.TB, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return r
}

func rrs(t testing.TB, lines ...string) []dns.RR {
	t.Helper()
	var out []dns.RR
	for _, l := range lines {
		out = append(out, rr(t, l))
	}
	return out
}

// newTestKey makes a key of zone in memory (no files), active.
func newTestKey(t testing.TB, zone string, alg uint8, flags uint16) *Key {
	t.Helper()
	if alg == dns.RSASHA256 {
		p, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		k, err := newKey(zone, alg, flags, p, Timing{})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k, err := Generate(zone, alg, flags, Timing{})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keysOf builds a Keys of in-memory keys, states at now.
func keysOf(t testing.TB, now time.Time, keys ...*Key) *Keys {
	t.Helper()
	ks := &Keys{At: now, zones: map[string]*ZoneKeys{}}
	for _, k := range keys {
		z := ks.zones[k.Zone]
		if z == nil {
			z = &ZoneKeys{Zone: k.Zone}
			ks.zones[k.Zone] = z
		}
		z.Keys = append(z.Keys, k)
	}
	for _, z := range ks.zones {
		if err := z.settle(now); err != nil {
			t.Fatal(err)
		}
	}
	return ks
}

// newTestSigner returns a signer of keys with a fake clock at t0.
func newTestSigner(t testing.TB, opts Options, keys ...*Key) (*Signer, *clock) {
	t.Helper()
	c := &clock{now: t0}
	opts.Now = c.Now
	s := NewSigner(opts)
	s.SetKeys(keysOf(t, t0, keys...))
	return s, c
}

// verify checks every signature of sigs over rrset with the zone's
// published keys, with miekg/dns's RRSIG.Verify and validity period.
func verify(t testing.TB, z *Zone, sigs *Sigs, rrset []dns.RR, now time.Time) {
	t.Helper()
	if sigs == nil || len(sigs.RRSIGs) == 0 {
		t.Fatalf("no signatures over %v", rrset)
	}
	for _, s := range sigs.RRSIGs {
		sig := s.(*dns.RRSIG)
		var key *dns.DNSKEY
		for _, k := range z.keys.Keys {
			if k.Tag == sig.KeyTag && k.Algorithm == sig.Algorithm {
				key = k.DNSKEY
			}
		}
		if key == nil {
			t.Fatalf("RRSIG by unknown key %d", sig.KeyTag)
		}
		if err := sig.Verify(key, rrset); err != nil {
			t.Errorf("RRSIG %v does not verify over %v: %v", sig, rrset, err)
		}
		if !sig.ValidityPeriod(now) {
			t.Errorf("RRSIG %v not valid at %v", sig, now)
		}
		if sig.Hdr.Ttl != rrset[0].Header().Ttl || sig.OrigTtl != rrset[0].Header().Ttl {
			t.Errorf("RRSIG TTL %d, original TTL %d; the RRset's is %d", sig.Hdr.Ttl, sig.OrigTtl, rrset[0].Header().Ttl)
		}
		if !strings.EqualFold(sig.Hdr.Name, rrset[0].Header().Name) {
			t.Errorf("RRSIG owner %s; the RRset's is %s", sig.Hdr.Name, rrset[0].Header().Name)
		}
	}
}
