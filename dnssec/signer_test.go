package dnssec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// signCases are RRsets as a zone of poolnsd answers them, in DNS terms.
var signCases = []struct {
	name   string
	rrset  []string
	labels uint8
}{
	{"pool A, three elements, owner as the client wrote it", []string{
		"WeB.Pool.Example. 5 IN A 10.0.0.3",
		"WeB.Pool.Example. 5 IN A 10.0.0.1",
		"WeB.Pool.Example. 5 IN A 10.0.0.2",
	}, 3},
	{"pool AAAA", []string{"web.pool.example. 5 IN AAAA 2001:db8::1"}, 3},
	{"pool SRV, targets in upper case", []string{
		"_http._tcp.web.pool.example. 5 IN SRV 0 10 8080 E1.WEB.pool.example.",
		"_http._tcp.web.pool.example. 5 IN SRV 1 20 8080 e2.web.pool.example.",
	}, 5},
	{"pool URI", []string{`_http._tcp.web.pool.example. 5 IN URI 0 10 "http://e1.web.pool.example:8080/"`}, 5},
	{"element name", []string{"e1.web.pool.example. 5 IN A 10.0.0.1"}, 4},
	{"static MX", []string{"pool.example. 300 IN MX 10 Mail.Pool.Example.", "pool.example. 300 IN MX 20 mx2.pool.example."}, 2},
	{"static TXT", []string{`pool.example. 300 IN TXT "v=spf1 -all" "two strings"`}, 2},
	{"CNAME into a pool", []string{"www.pool.example. 300 IN CNAME WEB.pool.example."}, 3},
	{"SOA of a negative answer, with the negative TTL", []string{"pool.example. 5 IN SOA ns1.Pool.Example. Hostmaster.pool.example. 1 3600 600 86400 5"}, 2},
	{"NS at the apex", []string{"pool.example. 300 IN NS ns1.pool.example.", "pool.example. 300 IN NS NS2.example.net."}, 2},
	{"DS at a delegation", []string{"sub.pool.example. 300 IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"}, 3},
	{"RFC 8482 HINFO of ANY at a pool (not lowercased)", []string{`web.pool.example. 5 IN HINFO "RFC8482" ""`}, 3},
	{"wildcard's own records: Labels without the *", []string{"*.wild.pool.example. 60 IN A 192.0.2.7"}, 3},
	{"wildcard expansion, compact denial (RFC 9824 3.3): the query's name", []string{"Any.Thing.wild.pool.example. 60 IN A 192.0.2.7"}, 5},
	{"duplicates once", []string{"dup.pool.example. 60 IN A 192.0.2.1", "dup.pool.example. 60 IN A 192.0.2.1"}, 3},
	{"NAPTR", []string{`pool.example. 60 IN NAPTR 100 10 "S" "x-poolnsd+D2T" "" _Web._TCP.pool.example.`}, 2},
	{"apex A, TTL 0", []string{"pool.example. 0 IN A 192.0.2.53"}, 2},
}

func TestSignVerifies(t *testing.T) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519, dns.ECDSAP384SHA384, dns.RSASHA256} {
		k := newTestKey(t, "pool.example.", alg, FlagsCSK)
		s, _ := newTestSigner(t, Options{}, k)
		z := s.Zone("pool.example.")
		for _, c := range signCases {
			t.Run(AlgorithmName(alg)+"/"+c.name, func(t *testing.T) {
				set := rrs(t, c.rrset...)
				sigs, err := z.Sign(set)
				if err != nil {
					t.Fatal(err)
				}
				verify(t, z, sigs, set, t0)
				sig := sigs.RRSIGs[0].(*dns.RRSIG)
				if sig.Labels != c.labels {
					t.Errorf("Labels %d, want %d", sig.Labels, c.labels)
				}
				if got, want := time.Unix(int64(sig.Inception), 0), t0.Add(-time.Hour); !got.Equal(want) {
					t.Errorf("inception %v, want an hour before now, %v", got, want)
				}
				if got, want := time.Unix(int64(sig.Expiration), 0), t0.Add(7*24*time.Hour); !got.Equal(want) {
					t.Errorf("expiration %v, want %v", got, want)
				}
				if sig.SignerName != "pool.example." || sig.KeyTag != k.Tag || sig.Algorithm != alg {
					t.Errorf("signer %s key %d alg %d; want pool.example. %d %d", sig.SignerName, sig.KeyTag, sig.Algorithm, k.Tag, alg)
				}
				checkWire(t, sigs, set)
			})
		}
	}
}

// checkWire packs a reply with the RRset and sigs.AppendWire, owner a
// pointer to the question, and checks that miekg/dns reads back the same
// RRSIGs, and that they verify.
func checkWire(t *testing.T, sigs *Sigs, set []dns.RR) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(set[0].Header().Name, set[0].Header().Rrtype)
	q.Answer = set
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	b = sigs.AppendWire(b, []byte{0xC0, 12})
	binary.BigEndian.PutUint16(b[6:], uint16(len(set)+len(sigs.RRSIGs)))
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("unpacking the wire form: %v", err)
	}
	got := m.Answer[len(set):]
	for i, g := range got {
		want := sigs.RRSIGs[i].(*dns.RRSIG)
		gs := g.(*dns.RRSIG)
		if gs.Signature != want.Signature || gs.KeyTag != want.KeyTag || gs.Labels != want.Labels || gs.SignerName != want.SignerName || gs.Hdr.Ttl != want.Hdr.Ttl {
			t.Errorf("wire RRSIG %v; records say %v", gs, want)
		}
	}
	if n := len(sigs.wire) + len(sigs.ends)*2; n != len(b)-mustLen(t, q) {
		t.Errorf("the signatures' bytes with an owner of 2 bytes: %d; AppendWire added %d", n, len(b)-mustLen(t, q))
	}
}

func mustLen(t *testing.T, m *dns.Msg) int {
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

// TestCacheCanonical: the same RRset in another order and letter case is
// the same cache entry; another TTL or RDATA is another.
func TestCacheCanonical(t *testing.T) {
	s, _ := newTestSigner(t, Options{}, newTestKey(t, "pool.example.", dns.ECDSAP256SHA256, FlagsCSK))
	z := s.Zone("pool.example.")
	a, err := z.Sign(rrs(t, "web.pool.example. 5 IN A 10.0.0.1", "web.pool.example. 5 IN A 10.0.0.2"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := z.Sign(rrs(t, "WEB.pool.EXAMPLE. 5 IN A 10.0.0.2", "web.POOL.example. 5 IN A 10.0.0.1"))
	if a != b {
		t.Error("the same RRset reordered and in upper case was signed again")
	}
	c, _ := z.Sign(rrs(t, "web.pool.example. 6 IN A 10.0.0.1", "web.pool.example. 6 IN A 10.0.0.2"))
	d, _ := z.Sign(rrs(t, "web.pool.example. 5 IN A 10.0.0.1", "web.pool.example. 5 IN A 10.0.0.3"))
	if c == a || d == a || c == d {
		t.Error("another TTL or another address shares a cache entry")
	}
	st := s.CacheStats()
	if st.Hits != 1 || st.Misses != 3 || st.Entries != 3 {
		t.Errorf("stats %+v; want 1 hit, 3 misses, 3 entries", st)
	}
	// The wire renderer's way to the same entry.
	var set RRset
	set.ResetWire([]byte("\x03wEb\x04pool\x07example\x00"), dns.TypeA, 5)
	set.Add([]byte{10, 0, 0, 2})
	set.Add([]byte{10, 0, 0, 1})
	e, err := z.SignSet(&set)
	if err != nil || e != a {
		t.Errorf("SignSet of the same RRset: %v, same entry %v", err, e == a)
	}
}

func TestSignErrors(t *testing.T) {
	s, _ := newTestSigner(t, Options{}, newTestKey(t, "pool.example.", dns.ECDSAP256SHA256, FlagsCSK))
	z := s.Zone("pool.example.")
	for _, c := range []struct {
		name string
		rrs  []dns.RR
	}{
		{"two owners", rrs(t, "a.pool.example. 5 IN A 10.0.0.1", "b.pool.example. 5 IN A 10.0.0.2")},
		{"two types", rrs(t, "a.pool.example. 5 IN A 10.0.0.1", "a.pool.example. 5 IN AAAA ::1")},
		{"outside the zone", rrs(t, "a.example.net. 5 IN A 10.0.0.1")},
		{"a name that only ends like the zone", rrs(t, "xpool.example. 5 IN A 10.0.0.1")},
		{"nothing", nil},
	} {
		if _, err := z.Sign(c.rrs); err == nil {
			t.Errorf("%s: signed", c.name)
		}
	}
}

func TestDNSKEY(t *testing.T) {
	k1 := newTestKey(t, "pool.example.", dns.ECDSAP256SHA256, FlagsCSK)
	k2 := newTestKey(t, "pool.example.", dns.ECDSAP256SHA256, FlagsCSK)
	k2.Timing = Timing{Publish: t0.Add(-time.Minute)} // published, not active: a rollover's first step
	k3 := newTestKey(t, "pool.example.", dns.ECDSAP256SHA256, FlagsCSK)
	k3.Timing = Timing{Publish: t0.Add(time.Hour)} // not yet published
	s, _ := newTestSigner(t, Options{DNSKEYTTL: 600}, k1, k2, k3)
	z := s.Zone("pool.example.")
	keys, sigs, err := z.DNSKEY()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Header().Ttl != 600 {
		t.Fatalf("DNSKEY RRset %v; want k1 and k2 with TTL 600", keys)
	}
	verify(t, z, sigs, keys, t0)
	if len(sigs.RRSIGs) != 2 {
		t.Errorf("DNSKEY RRset has %d signatures; want one by each published key", len(sigs.RRSIGs))
	}
	// Other RRsets: by the active key only.
	a, _ := z.Sign(rrs(t, "web.pool.example. 5 IN A 10.0.0.1"))
	if len(a.RRSIGs) != 1 || a.RRSIGs[0].(*dns.RRSIG).KeyTag != k1.Tag {
		t.Errorf("A signed by %v; want k1 (%d) only", a.RRSIGs, k1.Tag)
	}
}

// TestKSKAndZSK: with a KSK (257) and a ZSK (256), the KSK signs only the
// DNSKEY RRset.
func TestKSKAndZSK(t *testing.T) {
	ksk := newTestKey(t, "pool.example.", dns.ECDSAP256SHA256, FlagsCSK)
	zsk := newTestKey(t, "pool.example.", dns.ECDSAP256SHA256, FlagsZSK)
	s, _ := newTestSigner(t, Options{}, ksk, zsk)
	z := s.Zone("pool.example.")
	a, _ := z.Sign(rrs(t, "web.pool.example. 5 IN A 10.0.0.1"))
	if len(a.RRSIGs) != 1 || a.RRSIGs[0].(*dns.RRSIG).KeyTag != zsk.Tag {
		t.Errorf("A signed by %v; want the ZSK only", a.RRSIGs)
	}
	keys, sigs, _ := z.DNSKEY()
	verify(t, z, sigs, keys, t0)
	if len(sigs.RRSIGs) != 2 {
		t.Errorf("DNSKEY signed %d times; want 2", len(sigs.RRSIGs))
	}
	if ds := z.Keys().ParentDS(); len(ds) != 1 || ds[0] != ksk {
		t.Errorf("parent DS of %v; want the KSK's", ds)
	}
}

// TestRefresh: a signature is used until less than a quarter of its
// validity is left, then made again; the old one is not used past that.
func TestRefresh(t *testing.T) {
	s, c := newTestSigner(t, Options{Validity: 8 * 24 * time.Hour}, newTestKey(t, "pool.example.", dns.ED25519, FlagsCSK))
	z := s.Zone("pool.example.")
	set := rrs(t, "web.pool.example. 5 IN A 10.0.0.1")
	first, _ := z.Sign(set)
	c.Add(6*24*time.Hour - time.Second) // 2 days + 1 s left: more than a quarter
	if again, _ := z.Sign(set); again != first {
		t.Fatal("signed again with more than a quarter of the validity left")
	}
	c.Add(2 * time.Second) // less than a quarter left
	re, _ := z.Sign(set)
	if re == first {
		t.Fatal("not signed again with less than a quarter of the validity left")
	}
	verify(t, z, re, set, c.Now())
	if got, want := re.Inception, c.Now().Add(-time.Hour).Truncate(time.Second); !got.Equal(want) {
		t.Errorf("new inception %v, want %v", got, want)
	}
	if again, _ := z.Sign(set); again != re {
		t.Error("the new signature is not cached")
	}
	st := s.CacheStats()
	if st.Hits != 2 || st.Misses != 1 || st.Refreshes != 1 {
		t.Errorf("stats %+v; want 2 hits, 1 miss, 1 refresh", st)
	}
}

// TestCacheBound: the cache stays within its bytes; entries used since
// the hand passed are spared.
func TestCacheBound(t *testing.T) {
	const size = 256 << 10
	s, _ := newTestSigner(t, Options{CacheSize: size}, newTestKey(t, "pool.example.", dns.ED25519, FlagsCSK))
	z := s.Zone("pool.example.")
	hot := rrs(t, "hot.pool.example. 5 IN A 10.0.0.1")
	hotSigs, _ := z.Sign(hot)
	for i := range 4000 {
		if _, err := z.Sign(rrs(t, fmt.Sprintf("e%d.pool.example. 5 IN A 10.%d.%d.1", i, i/256, i%256))); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			z.Sign(hot)
		}
	}
	st := s.CacheStats()
	if st.Bytes > size || st.Evictions == 0 || st.Entries == 0 {
		t.Fatalf("stats %+v; want at most %d bytes, evictions", st, size)
	}
	if st.Entries+int(st.Evictions) != 4001 {
		t.Errorf("%d entries + %d evictions; want the 4001 RRsets signed", st.Entries, st.Evictions)
	}
	if again, _ := z.Sign(hot); again != hotSigs {
		t.Error("an RRset used all along was evicted")
	}
	t.Logf("%+v: %d bytes per entry", st, st.Bytes/int64(st.Entries))
}

// TestSingleFlight: many queries for one new RRset at once sign it once,
// and all get those signatures.
func TestSingleFlight(t *testing.T) {
	s, _ := newTestSigner(t, Options{}, newTestKey(t, "pool.example.", dns.ECDSAP256SHA256, FlagsCSK))
	z := s.Zone("pool.example.")
	const n = 32
	got := make([]*Sigs, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			var set RRset
			set.Reset("web.pool.example.", dns.TypeA, 5)
			set.Add([]byte{10, 0, 0, byte(1 + i%2)})
			set.Add([]byte{10, 0, 0, byte(2 - i%2)})
			got[i], _ = z.SignSet(&set)
		})
	}
	close(start)
	wg.Wait()
	for i := range got {
		if got[i] == nil || got[i] != got[0] {
			t.Fatalf("query %d got other signatures", i)
		}
	}
	if st := s.CacheStats(); st.Misses != 1 || st.Hits != n-1 {
		t.Errorf("stats %+v; want 1 miss, %d hits", st, n-1)
	}
}

// TestConcurrentSigning hammers the cache from goroutines with random
// RRsets under a small bound (run it with -race).
func TestConcurrentSigning(t *testing.T) {
	s, _ := newTestSigner(t, Options{CacheSize: 64 << 10}, newTestKey(t, "pool.example.", dns.ED25519, FlagsCSK))
	z := s.Zone("pool.example.")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			var set RRset
			for range 500 {
				set.Reset("web.pool.example.", dns.TypeA, 5)
				for range 3 {
					set.Add([]byte{10, 0, 0, byte(r.IntN(20))})
				}
				if _, err := z.SignSet(&set); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if st := s.CacheStats(); st.Hits+st.Misses != 2000 || st.Bytes > 64<<10 {
		t.Errorf("stats %+v; want 2000 lookups within 64 KiB", st)
	}
}

func TestRRsetCanonical(t *testing.T) {
	var a, b RRset
	a.Reset("Web.Pool.Example.", dns.TypeSRV, 5)
	a.AddRR(rr(t, "web.pool.example. 5 IN SRV 0 1 80 E1.Web.Pool.Example."))
	b.Reset("web.pool.example.", dns.TypeSRV, 5)
	b.Add(append([]byte{0, 0, 0, 1, 0, 80}, "\x02e1\x03web\x04pool\x07example\x00"...))
	if !bytes.Equal(a.appendKey(nil, 1), b.appendKey(nil, 1)) {
		t.Error("AddRR and Add of the same SRV, in other cases, differ")
	}
}

// TestSignWritesNoRecord: signing reads the records and never writes them
// (dns.PackRR would set their Rdlength): a zone's records are shared by
// concurrent queries. A sentinel Rdlength stays as it was.
func TestSignWritesNoRecord(t *testing.T) {
	s, _ := newTestSigner(t, Options{}, newTestKey(t, "pool.example.", dns.ECDSAP256SHA256, FlagsCSK))
	z := s.Zone("pool.example.")
	set := rrs(t, "pool.example. 300 IN SOA ns1.pool.example. hostmaster.pool.example. 1 3600 600 86400 60")
	set[0].Header().Rdlength = 4711
	if _, err := z.Sign(set); err != nil {
		t.Fatal(err)
	}
	if got := set[0].Header().Rdlength; got != 4711 {
		t.Errorf("Sign wrote the record's Rdlength: %d", got)
	}
}

// TestCacheOnly: the CacheOnly twin answers from the cache and never
// signs: a new RRset, one being signed by another caller, and one due to
// be signed again are ErrNotCached at once; once the zone has signed them,
// the twin returns the same signatures.
func TestCacheOnly(t *testing.T) {
	var signing chan struct{} // when set, BeforeSign blocks until it is closed
	started := make(chan struct{}, 1)
	var signs int
	var mu sync.Mutex
	hook := func() {
		mu.Lock()
		signs++
		wait := signing
		mu.Unlock()
		if wait != nil {
			started <- struct{}{}
			<-wait
		}
	}
	s, c := newTestSigner(t, Options{Validity: 8 * 24 * time.Hour, BeforeSign: hook}, newTestKey(t, "pool.example.", dns.ED25519, FlagsCSK))
	z := s.Zone("pool.example.")
	co := z.CacheOnly()
	if co == z || co.CacheOnly() != co || co.Signing() != z || z.Signing() != z {
		t.Fatal("CacheOnly and Signing do not pair the zone and its twin")
	}
	if b := z.Budget(new(int)); b.Signing() != z || b.CacheOnly() != co {
		t.Fatal("a Budget zone is not of its zone")
	}
	set := rrs(t, "web.pool.example. 5 IN A 10.0.0.1", "web.pool.example. 5 IN A 10.0.0.2")

	if g, err := co.Sign(set); g != nil || !errors.Is(err, ErrNotCached) {
		t.Fatalf("new RRset: %v, %v; want ErrNotCached", g, err)
	}
	if _, err := co.NXDomain("nope.pool.example.", 5); !errors.Is(err, ErrNotCached) {
		t.Fatalf("new denial: %v; want ErrNotCached", err)
	}
	if st := s.CacheStats(); signs != 0 || st.Entries != 0 || st.Misses != 0 {
		t.Fatalf("the twin signed or stored: %d signatures, stats %+v", signs, st)
	}

	// Another caller is signing it: the twin does not wait for it.
	mu.Lock()
	signing = make(chan struct{})
	release := signing
	mu.Unlock()
	done := make(chan *Sigs)
	go func() { g, _ := z.Sign(set); done <- g }()
	<-started
	if _, err := co.Sign(set); !errors.Is(err, ErrNotCached) {
		t.Fatalf("RRset being signed: %v; want ErrNotCached", err)
	}
	mu.Lock()
	signing = nil
	mu.Unlock()
	close(release)
	first := <-done
	verify(t, z, first, set, c.Now())

	if g, err := co.Sign(set); err != nil || g != first {
		t.Fatalf("signed RRset: %v, %v; want the zone's signatures", g, err)
	}
	// The same RRset in another order and case is the same entry.
	if g, err := co.Sign(rrs(t, "WEB.pool.example. 5 IN A 10.0.0.2", "web.pool.example. 5 IN A 10.0.0.1")); err != nil || g != first {
		t.Fatalf("same RRset reordered: %v, %v", g, err)
	}

	// Due to be signed again: the twin leaves it to the zone.
	c.Add(6*24*time.Hour + time.Second)
	if _, err := co.Sign(set); !errors.Is(err, ErrNotCached) {
		t.Fatalf("RRset due for a refresh: %v; want ErrNotCached", err)
	}
	re, err := z.Sign(set)
	if err != nil || re == first {
		t.Fatalf("the zone did not sign again: %v", err)
	}
	if g, _ := co.Sign(set); g != re {
		t.Fatal("the twin does not return the refreshed signatures")
	}
	if signs != 2 {
		t.Errorf("%d signatures made; want 2 (the first and the refresh)", signs)
	}
	if st := s.CacheStats(); st.Misses != 1 || st.Refreshes != 1 {
		t.Errorf("stats %+v; want the zone's 1 miss and 1 refresh only", st)
	}
}

// TestCacheOnlyDuringRefresh: while another caller signs an RRset again,
// the twin returns the old signatures, still valid, as the zone does.
func TestCacheOnlyDuringRefresh(t *testing.T) {
	block := make(chan struct{})
	started := make(chan struct{}, 1)
	var armed atomic.Bool
	hook := func() {
		if armed.Load() {
			started <- struct{}{}
			<-block
		}
	}
	s, c := newTestSigner(t, Options{Validity: 8 * 24 * time.Hour, BeforeSign: hook}, newTestKey(t, "pool.example.", dns.ED25519, FlagsCSK))
	z := s.Zone("pool.example.")
	set := rrs(t, "web.pool.example. 5 IN A 10.0.0.1")
	first, _ := z.Sign(set)
	c.Add(6*24*time.Hour + time.Second)
	armed.Store(true)
	done := make(chan struct{})
	go func() { z.Sign(set); close(done) }()
	<-started
	if g, err := z.CacheOnly().Sign(set); err != nil || g != first {
		t.Errorf("during a refresh: %v, %v; want the old signatures", g, err)
	}
	close(block)
	<-done
}

// TestBudget: a Budget zone signs as many RRsets as its budget, answers
// from the cache without spending it, and then is CacheOnly.
func TestBudget(t *testing.T) {
	var signs atomic.Int32
	s, _ := newTestSigner(t, Options{BeforeSign: func() { signs.Add(1) }}, newTestKey(t, "pool.example.", dns.ED25519, FlagsCSK))
	z := s.Zone("pool.example.")
	a := rrs(t, "a.pool.example. 5 IN A 10.0.0.1")
	b := rrs(t, "b.pool.example. 5 IN A 10.0.0.2")
	n := 1
	zb := z.Budget(&n)
	ga, err := zb.Sign(a)
	if err != nil || n != 0 || signs.Load() != 1 {
		t.Fatalf("first RRset: %v; budget left %d, %d signatures; want signed, 0, 1", err, n, signs.Load())
	}
	verify(t, z, ga, a, t0)
	if g, err := zb.Sign(a); err != nil || g != ga {
		t.Fatalf("cached RRset with no budget left: %v", err)
	}
	if _, err := zb.Sign(b); !errors.Is(err, ErrNotCached) || signs.Load() != 1 {
		t.Fatalf("second RRset with no budget left: %v, %d signatures; want ErrNotCached, 1", err, signs.Load())
	}
	n = 1
	if _, err := zb.Sign(b); err != nil || n != 0 {
		t.Fatalf("second RRset with a new budget: %v, %d left", err, n)
	}
}
