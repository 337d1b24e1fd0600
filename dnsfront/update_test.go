package dnsfront

import (
	"encoding/binary"
	"io"
	"log/slog"
	"testing"
	"unique"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/dnsupdate"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/updatetest"
	"github.com/poolnsd/poolnsd/regcommit"
)

// The DNS front's part of DNS UPDATE: the lookup it gives package
// dnsupdate, and the packed answers after a registration, with the real
// registrar and a real bbolt store, the TSIG verdict of the server given
// (tsigWriter). The semantics of the sections are dnsupdate's tests; the
// signatures are tested over sockets in tsig_test.go.

// tsigWriter is a recorder whose request had the given TSIG verdict.
type tsigWriter struct {
	*recorder
	status error
}

func (w *tsigWriter) TsigStatus() error { return w.status }

// updFixture is the shared fixture (internal/updatetest) with a DNS
// front of its handlespace.
type updFixture struct {
	*updatetest.Fixture
	h *Handler
}

func newUpdFixture(t testing.TB, cfg regcommit.Config) *updFixture {
	t.Helper()
	f := &updFixture{Fixture: updatetest.New(t, newTestSpace(t), cfg)}
	f.h = NewHandler(f.HS, Config{Updates: f.Reg, Logger: discardLog(), TSIG: updatetest.Keys()})
	return f
}

// sendStatus sends m signed by key (its TSIG verdict status: nil,
// verified), or unsigned (key "").
func (f *updFixture) sendStatus(t testing.TB, m *dns.Msg, key string, status error) *dns.Msg {
	t.Helper()
	m = updatetest.Sign(t, m, key)
	w := &tsigWriter{recorder: newRecorder(false), status: status}
	f.h.ServeDNS(w, m)
	updatetest.CheckReply(t, m, w.msg, w.n, w.err)
	return w.msg
}

func (f *updFixture) send(t testing.TB, m *dns.Msg, key string) *dns.Msg {
	t.Helper()
	return f.sendStatus(t, m, key, nil)
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestElementWireKept: a change of one element of a pool packs that element
// again, not the pool; a change of the pool's TTL packs every element anew.
func TestElementWireKept(t *testing.T) {
	f := newUpdFixture(t, regcommit.Config{})
	if r := f.send(t, updatetest.Msg(t, append(updatetest.PE("k1", 80, "192.0.2.1", 30), updatetest.PE("k2", 80, "192.0.2.2", 30)...)...), updatetest.KeyAll); r.Rcode != dns.RcodeSuccess {
		t.Fatal(updatetest.Rcode(r))
	}
	pool := func() *handlespace.PoolView { return f.HS.View().Zone("pool.test.").Pool("dyn") }
	pv1 := pool()
	w1 := pv1.Memo(buildPoolWire).(*poolWire)
	k1 := w1.wireOf(pv1.Label("k1"))
	if r := f.send(t, updatetest.Msg(t, updatetest.PE("k3", 80, "192.0.2.3", 30)...), updatetest.KeyAll); r.Rcode != dns.RcodeSuccess {
		t.Fatal(updatetest.Rcode(r))
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
	other := handlespace.ElementMemo(pv2.Label("k1"), unique.Make(k), func(e *handlespace.Element) *elemWire { return buildElemWire(e, k, []byte{0}) })
	if other == k1 || binary.BigEndian.Uint32(other.a()[6:]) != 99 {
		t.Errorf("wire for TTL 99: %x", other.a())
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
			label = e.Label.String()
		}
		if kind != c.kind || pool != c.pool || label != c.elem {
			t.Errorf("%s: kind %d pool %q element %q; want %d %q %q", c.name, kind, pool, label, c.kind, c.pool, c.elem)
		}
	}
}
