package dnsfront

import (
	"encoding/binary"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
	"unique"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/dnsupdate"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/hstest"
	"github.com/poolnsd/poolnsd/regcommit"
	"github.com/poolnsd/poolnsd/store"
)

// The DNS front's part of DNS UPDATE: the lookup it gives package
// dnsupdate, and the packed answers after a registration, with the real
// registrar and a real bbolt store, the TSIG verdict of the server given
// (tsigWriter). The semantics of the sections are dnsupdate's tests; the
// signatures are tested over sockets in tsig_test.go.

var ut0 = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

const (
	keyAll  = "all-key."
	keyAPI  = "api-key."
	keyMore = "more-key."
)

// tsigWriter is a recorder whose request had the given TSIG verdict.
type tsigWriter struct {
	*recorder
	status error
}

func (w *tsigWriter) TsigStatus() error { return w.status }

type updFixture struct {
	hs    *handlespace.Handlespace
	store *store.Store
	reg   *regcommit.Committer
	h     *Handler

	mu  sync.Mutex
	now time.Time
}

func (f *updFixture) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }

func newUpdFixture(t testing.TB, cfg regcommit.Config) *updFixture {
	t.Helper()
	f := &updFixture{now: ut0}
	f.hs = newTestSpace(t)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.store = st
	cfg.Now = f.Now
	cfg.Logger = discardLog()
	f.reg = regcommit.New(f.hs, st, cfg)
	t.Cleanup(f.reg.Close)
	secret := []byte("0123456789abcdef0123456789abcdef")
	f.h = NewHandler(f.hs, Config{Updates: f.reg, Logger: discardLog(), TSIG: []Key{
		{Name: keyAll, Algorithm: dns.HmacSHA256, Secret: secret},
		{Name: keyAPI, Algorithm: dns.HmacSHA512, Secret: secret, Pools: []string{"api", "dyn2.pool.test."}},
		{Name: keyMore, Algorithm: dns.HmacSHA256, Secret: secret},
	}})
	return f
}

// msg builds an UPDATE of zone pool.test. (hstest.Update's lines).
func msg(t testing.TB, lines ...string) *dns.Msg {
	t.Helper()
	return hstest.Update(t, "pool.test.", lines...)
}

// pe is the registration of label.dyn (SRV and an A) with TTL ttl.
func pe(label string, port int, addr string, ttl int) []string {
	return hstest.Register(label, "dyn.pool.test.", port, addr, ttl)
}

// send sends m as signed by key (valid), unsigned (key ""), or with a TSIG
// verdict status.
func (f *updFixture) sendStatus(t testing.TB, m *dns.Msg, key string, status error) *dns.Msg {
	t.Helper()
	if key != "" {
		alg := dns.HmacSHA256
		if key == keyAPI {
			alg = dns.HmacSHA512
		}
		m.SetTsig(key, alg, 300, ut0.Unix())
	}
	m = wire(t, m)
	w := &tsigWriter{recorder: newRecorder(false), status: status}
	f.h.ServeDNS(w, m)
	if w.err != nil || w.n != 1 {
		t.Fatalf("reply: %d written, %v", w.n, w.err)
	}
	if w.msg.Id != m.Id || !w.msg.Response || w.msg.Opcode != dns.OpcodeUpdate {
		t.Fatalf("reply header %+v", w.msg.MsgHdr)
	}
	return w.msg
}

// wire returns m as the server gets it: packed and unpacked (which sets
// every RDLENGTH).
func wire(t testing.TB, m *dns.Msg) *dns.Msg {
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

func (f *updFixture) send(t testing.TB, m *dns.Msg, key string) *dns.Msg {
	t.Helper()
	return f.sendStatus(t, m, key, nil)
}

func rcode(m *dns.Msg) string { return dns.RcodeToString[m.Rcode] }

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestElementWireKept: a change of one element of a pool packs that element
// again, not the pool; a change of the pool's TTL packs every element anew.
func TestElementWireKept(t *testing.T) {
	f := newUpdFixture(t, regcommit.Config{})
	if r := f.send(t, msg(t, append(pe("k1", 80, "192.0.2.1", 30), pe("k2", 80, "192.0.2.2", 30)...)...), keyAll); r.Rcode != dns.RcodeSuccess {
		t.Fatal(rcode(r))
	}
	pool := func() *handlespace.PoolView { return f.hs.View().Zone("pool.test.").Pool("dyn") }
	pv1 := pool()
	w1 := pv1.Memo(buildPoolWire).(*poolWire)
	k1 := w1.wireOf(pv1.Label("k1"))
	if r := f.send(t, msg(t, pe("k3", 80, "192.0.2.3", 30)...), keyAll); r.Rcode != dns.RcodeSuccess {
		t.Fatal(rcode(r))
	}
	pv2 := pool()
	w2 := pv2.Memo(buildPoolWire).(*poolWire)
	if pv2 == pv1 || w2.wireOf(pv2.Label("k1")) != k1 {
		t.Error("an unchanged element was packed again")
	}
	if w2.wireOf(pv2.Label("k3")) == nil || pv2.All.Len() != 3 {
		t.Errorf("new view: %d elements served", pv2.All.Len())
	}
	// The same element under another TTL: packed anew.
	k := wireKey{Name: pv2.Name, TTL: 99}
	other := pv2.Label("k1").Memo(unique.Make(k), func(e *handlespace.Element) any { return buildElemWire(e, k, []byte{0}) }).(*elemWire)
	if other == k1 || binary.BigEndian.Uint32(other.a[6:]) != 99 {
		t.Errorf("wire for TTL 99: %x", other.a)
	}
}

// TestUpdateLookup: the names an UPDATE's prerequisites see are what the
// answers hold (updateLookup, dnsupdate.Lookup): pools, their service
// names and elements; the other names of a pool (no such element) hold
// nothing; every name outside the pools is the zone file's, with the
// records it has there (none for an empty non-terminal or a name that
// does not exist).
func TestUpdateLookup(t *testing.T) {
	z := newTestSpace(t).View().Zone("pool.test.")
	for _, c := range []struct {
		name       string
		kind       dnsupdate.Kind
		pool, elem string
	}{
		{"txt.pool.test.", dnsupdate.KindStatic, "", ""},
		{"pool.test.", dnsupdate.KindStatic, "", ""},
		{"a.b.deep.pool.test.", dnsupdate.KindStatic, "", ""},
		{"b.deep.pool.test.", dnsupdate.KindStatic, "", ""},
		{"web.pool.test.", dnsupdate.KindPool, "web.pool.test.", ""},
		{"_http._tcp.web.pool.test.", dnsupdate.KindService, "web.pool.test.", ""},
		{"w1.web.pool.test.", dnsupdate.KindElement, "web.pool.test.", "w1"},
		{"a2.api.pool.test.", dnsupdate.KindElement, "api.pool.test.", "a2"},
		{"nope.web.pool.test.", dnsupdate.KindOther, "", ""},
		{"nothing.pool.test.", dnsupdate.KindStatic, "", ""},
	} {
		kind, pv, e := updateLookup(z, c.name)
		pool, label := "", ""
		if pv != nil && c.pool != "" {
			pool = pv.Name
		}
		if e != nil {
			label = e.Label
		}
		if kind != c.kind || pool != c.pool || label != c.elem {
			t.Errorf("%s: kind %d pool %q element %q; want %d %q %q", c.name, kind, pool, label, c.kind, c.pool, c.elem)
		}
	}
}
