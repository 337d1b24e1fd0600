// Package updatetest holds the DNS UPDATE fixtures that the tests of
// dnsfront (the lookup it gives UPDATE, the answers after a registration,
// TSIG over sockets) and of dnsfront/dnsupdate (the sections' semantics)
// share, so that both build the same keys, committer and messages.
//
// # Basics
//
// New makes a Fixture: a handlespace with the real committer
// (regcommit) and a real bbolt store in t.TempDir, on a clock the test
// moves (Advance); Committer is the same without the clock. Keys are the
// servers' TSIG keys (KeyAll, KeyAPI, KeyMore, all with Secret); Msg
// builds an UPDATE of pool.test., PE a registration in its pool dyn;
// Sign signs a message as a client would and returns it as the server
// reads it; CheckReply checks the reply's header.
//
// # Caveats
//
// For tests only: the walls test keeps production code from importing it.
// The zone is the test's own (each package has its pool.test.); the
// names used here (pool.test., dyn, api, dyn2) must be in it.
package updatetest

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/tsigkey"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/hstest"
	"github.com/poolnsd/poolnsd/regcommit"
	"github.com/poolnsd/poolnsd/store"
)

// T0 is the fixture's clock at the start, and the time Sign signs at.
var T0 = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

// The names of the TSIG keys of Keys.
const (
	KeyAll  = "all-key."  // hmac-sha256, every pool
	KeyAPI  = "api-key."  // hmac-sha512, the pools api and dyn2.pool.test. only
	KeyMore = "more-key." // hmac-sha256, every pool
)

// Secret is the secret of every key of Keys.
var Secret = []byte("0123456789abcdef0123456789abcdef")

// Keys returns the servers' TSIG keys (a new slice each call).
func Keys() []tsigkey.Key {
	return []tsigkey.Key{
		{Name: KeyAll, Algorithm: dns.HmacSHA256, Secret: Secret},
		{Name: KeyAPI, Algorithm: dns.HmacSHA512, Secret: Secret, Pools: []string{"api", "dyn2.pool.test."}},
		{Name: KeyMore, Algorithm: dns.HmacSHA256, Secret: Secret},
	}
}

// Fixture is a handlespace with a committer and its store, on a clock
// the test moves.
type Fixture struct {
	HS    *handlespace.Handlespace
	Store *store.Store
	Reg   *regcommit.Committer

	mu  sync.Mutex
	now time.Time
}

// New returns the fixture of hs: cfg's Now is the fixture's clock (T0 at
// first), its Logger, if nil, discards.
func New(t testing.TB, hs *handlespace.Handlespace, cfg regcommit.Config) *Fixture {
	t.Helper()
	f := &Fixture{HS: hs, now: T0}
	cfg.Now = f.Now
	f.Store, f.Reg = Committer(t, hs, cfg)
	return f
}

// Now is the fixture's clock.
func (f *Fixture) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock on by d and returns the new time.
func (f *Fixture) Advance(d time.Duration) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	return f.now
}

// Committer opens a store in t.TempDir and starts a committer of hs over
// it (cfg's Logger, if nil, discards); the test's cleanup closes both.
func Committer(t testing.TB, hs *handlespace.Handlespace, cfg regcommit.Config) (*store.Store, *regcommit.Committer) {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	reg := regcommit.New(hs, st, cfg)
	t.Cleanup(reg.Close)
	return st, reg
}

// Msg builds an UPDATE of zone pool.test. (hstest.Update's lines).
func Msg(t testing.TB, lines ...string) *dns.Msg {
	t.Helper()
	return hstest.Update(t, "pool.test.", lines...)
}

// PE is the registration of label in the pool dyn.pool.test. (SRV and an
// A) with TTL ttl.
func PE(label string, port int, addr string, ttl int) []string {
	return hstest.Register(label, "dyn.pool.test.", port, addr, ttl)
}

// Sign returns m as the server reads it (Wire), signed by the key of
// Keys named key at T0 (its MAC left for the server's TSIG layer, whose
// verdict the test gives), or unsigned if key is "".
func Sign(t testing.TB, m *dns.Msg, key string) *dns.Msg {
	t.Helper()
	if key != "" {
		alg := dns.HmacSHA256
		if key == KeyAPI {
			alg = dns.HmacSHA512
		}
		m.SetTsig(key, alg, 300, T0.Unix())
	}
	return Wire(t, m)
}

// Wire returns m packed and unpacked (which sets every RDLENGTH).
func Wire(t testing.TB, m *dns.Msg) *dns.Msg {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	u := new(dns.Msg)
	if err := u.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return u
}

// CheckReply fails the test unless the server wrote one reply (n
// written, the first error err) and reply answers the UPDATE req.
func CheckReply(t testing.TB, req, reply *dns.Msg, n int, err error) {
	t.Helper()
	if err != nil || n != 1 {
		t.Fatalf("reply: %d written, %v", n, err)
	}
	if reply.Id != req.Id || !reply.Response || reply.Opcode != dns.OpcodeUpdate {
		t.Fatalf("reply header %+v", reply.MsgHdr)
	}
}

// Rcode is m's RCODE's name.
func Rcode(m *dns.Msg) string { return dns.RcodeToString[m.Rcode] }
