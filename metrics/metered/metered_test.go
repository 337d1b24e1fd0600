package metered_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/metrics"
	"github.com/poolnsd/poolnsd/metrics/metered"
	"github.com/poolnsd/poolnsd/metrics/metricstest"
	"github.com/poolnsd/poolnsd/monitor"
	"github.com/poolnsd/poolnsd/regcommit"
	"github.com/poolnsd/poolnsd/store"
	"github.com/poolnsd/poolnsd/zones/zonestest"
)

const pool = "web.pool.test."

const zone = `$ORIGIN pool.test.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 5
@ NS ns1
ns1 A 192.0.2.53
$POOL web answers=5
web PE 10.0.0.1:80 name=z1
`

var z1 = handlespace.ElementID(netip.MustParseAddr("10.0.0.1"), 80)

func newHandlespace(t *testing.T) *handlespace.Handlespace {
	t.Helper()
	hs := handlespace.New(handlespace.Options{RegistrarID: 1})
	zonestest.Apply(t, hs, zone)
	return hs
}

func scrape(t *testing.T, m *metrics.Metrics) metricstest.Samples {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	s, err := metricstest.Parse(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestReportOutcome(t *testing.T) {
	for _, c := range []struct {
		removed, forwarded bool
		err                error
		want               string
	}{
		{want: metrics.ReportCounted},
		{removed: true, want: metrics.ReportRemoved},
		{forwarded: true, want: metrics.ReportForwarded},
		{err: fmt.Errorf("x: %w", monitor.ErrRateLimited), want: metrics.ReportRateLimited},
		{err: &httpapi.RateLimitError{}, want: metrics.ReportRateLimited},
		{err: handlespace.ErrNoPool, want: metrics.ReportUnknown},
		{err: handlespace.ErrNoZone, want: metrics.ReportUnknown},
		{removed: true, err: handlespace.ErrNoElement, want: metrics.ReportUnknown},
		{forwarded: true, err: errors.New("the element's home is dead"), want: ""},
	} {
		if got := metered.ReportOutcome(c.removed, c.forwarded, c.err); got != c.want {
			t.Errorf("ReportOutcome(%v, %v, %v) = %q, want %q", c.removed, c.forwarded, c.err, got, c.want)
		}
	}
}

func TestRejectCause(t *testing.T) {
	for _, c := range []struct {
		err  error
		want metrics.Cause
	}{
		{fmt.Errorf("pool: %w", handlespace.ErrInconsistentPolicy), metrics.CausePolicy},
		{handlespace.ErrLabelInUse, metrics.CauseConflict},
		{handlespace.ErrNameTaken, metrics.CauseConflict},
		{&regcommit.Error{Code: regcommit.Invalid, Msg: "no address"}, metrics.CauseMalformed},
		{&regcommit.Error{Code: regcommit.NotFound, Msg: "no zone"}, metrics.CauseNoZone},
		{&regcommit.Error{Code: regcommit.Unavailable, Msg: "store"}, metrics.CauseStore},
		{&regcommit.Error{Code: regcommit.Refused, Msg: "tsig:k. has the most registered elements allowed (10)"}, metrics.CauseLimit},
		{&regcommit.Error{Code: regcommit.Refused, Msg: "x is defined by a zone file"}, metrics.CauseConflict},
		{&regcommit.Error{Code: regcommit.Refused, Msg: "x belongs to tsig:other."}, metrics.CauseConflict},
		{&regcommit.Error{Code: regcommit.Refused, Msg: "not your pool"}, metrics.CauseForbidden},
		{errors.New("a Build error"), metrics.CauseOther},
	} {
		if got := metered.RejectCause(c.err); got != c.want {
			t.Errorf("RejectCause(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// register is a Request that registers (or, with addr "", removes) label.
func register(owner, label, addr string) *regcommit.Request {
	return &regcommit.Request{
		Who:  regcommit.Who{Owner: owner},
		Keys: []string{regcommit.Key(pool, label)},
		Build: func(*handlespace.View) ([]regcommit.Change, error) {
			c := regcommit.Change{Pool: pool, Label: label}
			if addr != "" {
				c.Elem = &handlespace.Element{Label: handlespace.LabelOf(label), Addrs: handlespace.AddrsOf(netip.MustParseAddr(addr)), Port: 80}
			}
			return []regcommit.Change{c}, nil
		},
	}
}

// TestRegistrarCounts: a Submit through the Registrar is counted by what
// came of it and by source (a TSIG owner is DNS UPDATE, else HTTP), and
// returns what the committer returned.
func TestRegistrarCounts(t *testing.T) {
	hs := newHandlespace(t)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := regcommit.New(hs, st, regcommit.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(c.Close)
	m := metrics.New(metrics.Options{NoRuntime: true})
	r := metered.Registrar{Committer: c, M: m}
	ctx := context.Background()
	for _, req := range []*regcommit.Request{
		register("tsig:k.", "r1", "192.0.2.1"), // new, dns
		register("tsig:k.", "r1", "192.0.2.1"), // refresh, dns
		register("http", "r2", "192.0.2.2"),    // new, http
		register("tsig:k.", "r1", ""),          // removed, dns
	} {
		if _, err := r.Submit(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	res, err := r.Submit(ctx, register("http", "z1", "192.0.2.3")) // a zone file's element
	if err == nil || regcommit.CodeOf(err) != regcommit.Refused {
		t.Fatalf("registering z1: %+v, %v; want refused", res, err)
	}
	failing := register("http", "r3", "192.0.2.4")
	failing.Build = func(*handlespace.View) ([]regcommit.Change, error) { return nil, errors.New("bad request") }
	if _, err := r.Submit(ctx, failing); err == nil || err.Error() != "bad request" {
		t.Fatalf("Build's error: %v", err)
	}
	scrape(t, m).Expect(t,
		"poolnsd_registrations_total{source=dns} 1",
		"poolnsd_registrations_total{source=http} 1",
		"poolnsd_registration_refreshes_total{source=dns} 1",
		"poolnsd_deregistrations_total{source=dns} 1",
		"poolnsd_deregistrations_total{source=http} 0",
		"poolnsd_registration_rejections_total{source=http,cause=conflict} 1",
		"poolnsd_registration_rejections_total{source=http,cause=other} 1",
	)
}

// fakeBackend answers reports and changes as the test sets.
type fakeBackend struct {
	hs  *handlespace.Handlespace
	out httpapi.ReportOutcome
	err error
}

func (b *fakeBackend) View() *handlespace.View { return b.hs.View() }
func (b *fakeBackend) ProbeStatus(string, uint32) (httpapi.ProbeStatus, bool) {
	return httpapi.ProbeStatus{}, false
}
func (b *fakeBackend) Report(string, uint32, netip.Addr) (httpapi.ReportOutcome, error) {
	return b.out, b.err
}
func (b *fakeBackend) SetAdmin(pool string, id uint32, a handlespace.Admin) error {
	if b.err != nil {
		return b.err
	}
	return b.hs.Update(pool, id, func(e *handlespace.Element) { e.Admin = a })
}

// TestBackendCounts: reports count by outcome (via=api), changes only
// when they changed the state, and the backend's answers pass through.
func TestBackendCounts(t *testing.T) {
	fb := &fakeBackend{hs: newHandlespace(t)}
	m := metrics.New(metrics.Options{NoRuntime: true})
	b := metered.Backend{Backend: fb, M: m, ID: 0x0a0b0c0d}
	if b.RegistrarID() != 0x0a0b0c0d {
		t.Errorf("RegistrarID %x", b.RegistrarID())
	}
	from := netip.MustParseAddr("192.0.2.1")
	for _, c := range []struct {
		out httpapi.ReportOutcome
		err error
	}{
		{out: httpapi.ReportOutcome{Reports: 1}},
		{out: httpapi.ReportOutcome{Reports: 3, Removed: true}},
		{out: httpapi.ReportOutcome{Forwarded: 7}},
		{out: httpapi.ReportOutcome{Forwarded: 7}},
		{err: handlespace.ErrNoElement},
		{err: &httpapi.HomeError{Status: 503, Msg: "home dead"}},
	} {
		fb.out, fb.err = c.out, c.err
		out, err := b.Report(pool, z1, from)
		if out != c.out || err != c.err {
			t.Errorf("Report: %+v, %v; want what the backend said: %+v, %v", out, err, c.out, c.err)
		}
	}
	fb.err = nil
	for _, a := range []handlespace.Admin{handlespace.AdminDrain, handlespace.AdminDrain, handlespace.AdminAuto} {
		if err := b.SetAdmin(pool, z1, a); err != nil {
			t.Fatal(err)
		}
	}
	fb.err = errors.New("refused")
	if err := b.SetAdmin(pool, z1, handlespace.AdminForceDown); err != fb.err {
		t.Errorf("SetAdmin: %v, want the backend's error", err)
	}
	scrape(t, m).Expect(t,
		"poolnsd_failure_reports_total{via=api,outcome=counted} 1",
		"poolnsd_failure_reports_total{via=api,outcome=removed} 1",
		"poolnsd_failure_reports_total{via=api,outcome=forwarded} 2",
		"poolnsd_failure_reports_total{via=api,outcome=unknown} 1",
		"poolnsd_failure_reports_total{via=api,outcome=rate_limited} 0",
		"poolnsd_admin_changes_total{to=drain} 1",
		"poolnsd_admin_changes_total{to=auto} 1",
		"poolnsd_admin_changes_total{to=force-down} 0",
	)
}
