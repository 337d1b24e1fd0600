package enrp_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// reportedEverywhere reports whether every running member shows element
// id of pool with Reported == want.
func reportedEverywhere(c *enrptest.Cluster, pool string, id uint32, want bool) func() bool {
	return func() bool {
		for _, m := range c.Up() {
			if e := m.Find(pool, id); e == nil || e.Reported != want {
				return false
			}
		}
		return true
	}
}

// TestReportAtNonHome: failure reports made at B of an element homed at A
// go to A with the reporter's address; A counts them, and after
// MaxBadReports takes the element out of the answers: A, B and C all show
// it reported. B changes nothing by itself. A's probe passing (here its
// handlespace change) brings it back everywhere. A report at the home
// counts there; one for an unknown element, or with the home dead, is
// refused at once.
func TestReportAtNonHome(t *testing.T) {
	c, a, b, cm := cluster3(t, 21, 0)
	c.MaxBadReports = 3
	register(t, c, a, 0, 2)
	requireSettled(t, c, interval)
	pool, id := poolOf(0), uint32(1000)
	user := netip.MustParseAddr("192.0.2.55")

	for i := range 3 {
		home, err := b.RequestReport(pool, id, user)
		if err != nil || home != idA {
			t.Fatalf("report %d at B: home %08x, %v; want A, nil", i, home, err)
		}
		if e := b.Find(pool, id); e.Reported {
			t.Fatalf("B marked its own copy reported after report %d, before the home's word", i)
		}
		c.RunFor(interval / 10)
		if i < 2 && !reportedEverywhere(c, pool, id, false)() {
			t.Fatalf("reported after %d reports, want 3", i+1)
		}
	}
	if !c.RunUntil(reportedEverywhere(c, pool, id, true), interval) {
		t.Fatal("the element is not reported at A, B and C after 3 reports at B")
	}
	if len(a.Reports) != 3 {
		t.Fatalf("A counted %d reports, want 3", len(a.Reports))
	}
	for _, r := range a.Reports {
		if r.From != idB || r.Reporter != user || r.Pool != pool || r.ID != id {
			t.Fatalf("A counted %+v, want the report of %s from B", r, user)
		}
	}
	if len(b.Reports)+len(cm.Reports) != 0 {
		t.Fatalf("non-homes counted reports: B %v, C %v", b.Reports, cm.Reports)
	}

	// The probe at A passes: back everywhere.
	if err := a.Do(func(hs *handlespace.Handlespace) error {
		return hs.Update(pool, id, func(e *handlespace.Element) { e.Reported = false })
	}); err != nil {
		t.Fatal(err)
	}
	if !c.RunUntil(reportedEverywhere(c, pool, id, false), interval) {
		t.Fatal("the element did not come back at every registrar")
	}

	// A report without a known address (a Unix-socket client) travels too.
	if _, err := cm.RequestReport(poolOf(1), id+1, netip.Addr{}); err != nil {
		t.Fatal(err)
	}
	c.RunFor(interval / 10)
	if r := a.Reports[len(a.Reports)-1]; r.ID != id+1 || r.From != idC || r.Reporter.IsValid() {
		t.Fatalf("report from an unknown address arrived as %+v", r)
	}

	if _, err := b.RequestReport(pool, 4242, user); !errors.Is(err, enrp.ErrNoSuchElement) {
		t.Fatalf("unknown element: %v", err)
	}
	a.Stop()
	if !c.RunUntil(func() bool { return len(b.EventsOf(enrp.EventPeerDead)) > 0 }, lastHeard+noResponse+interval) {
		t.Fatal("B did not find A dead")
	}
	var hu *enrp.HomeUnavailableError
	if _, err := b.RequestReport(pool, id, user); !errors.As(err, &hu) || hu.Home != idA {
		t.Fatalf("report with the home dead: %v, want a HomeUnavailableError naming A", err)
	}
}

// TestRequestRefusals: a report or an administrative request that reaches
// a registrar that is not the element's home is refused with an ERROR that
// names the request (ParamXRefused) beside its diagnostic; the asker,
// given it off the wire, hands it to whoever waits (Ready.Refusals) with
// the home's reason and words. A home that skips the report parameter (an
// older poolnsd) takes the message for a non-home's copy and changes
// nothing.
func TestRequestRefusals(t *testing.T) {
	c, a, b, _ := cluster3(t, 22, 0)
	register(t, c, a, 0, 1)
	register(t, c, b, 1, 1)
	requireSettled(t, c, 3*interval)
	user := netip.MustParseAddr("2001:db8::7")

	_, r, err := b.Node.RequestReport(poolOf(0), 1000, user)
	if err != nil || len(r.Msgs) != 1 || r.Msgs[0].To != idA {
		t.Fatalf("report: %v, %+v", err, r.Msgs)
	}
	msg := wireTrip(t, r.Msgs[0].Msg)
	if x := msg.Entries[0].Elements[0].X; !x.ReportReq || x.Reporter != user || x.AdminReq {
		t.Fatalf("report request off the wire: %+v", x)
	}

	// Skipped: as an older home sees it.
	old := withX(msg, func(x *wire.ElementX) { x.ReportReq, x.Reporter = false, netip.Addr{} })
	if ra := a.Node.Step(old); len(ra.Ops) != 0 || len(ra.Reports) != 0 || len(ra.Msgs) != 0 {
		t.Fatalf("a home that skips the report acted on it: %+v", ra)
	}

	for _, tc := range []struct {
		name    string
		mark    func(*wire.ElementX)
		request uint16
	}{
		{"report", func(x *wire.ElementX) {}, wire.ParamXReportReq},
		{"admin", func(x *wire.ElementX) {
			x.ReportReq, x.Reporter = false, netip.Addr{}
			x.AdminReq, x.ReqAdmin = true, uint8(handlespace.AdminDrain)
		}, wire.ParamXAdminReq},
	} {
		// The request for B's own element, sent to A (B's view of it
		// as A would see a stale asker's).
		wrong := withX(msg, tc.mark)
		wrong.Entries[0].Handle = []byte(poolOf(1))
		wrong.Entries[0].Elements[0].ID = 1001
		rw := a.Node.Step(wrong)
		if len(rw.Reports) != 0 || len(rw.Admin) != 0 || len(rw.Ops) != 0 {
			t.Fatalf("%s: A granted a request for B's element: %+v", tc.name, rw)
		}
		if len(rw.Msgs) != 1 || rw.Msgs[0].To != idB || rw.Msgs[0].Msg.Type != wire.TypeError {
			t.Fatalf("%s: A's answer: %+v, want one ERROR to B", tc.name, rw.Msgs)
		}
		e := wireTrip(t, rw.Msgs[0].Msg)
		if e.Refused == nil || e.Refused.Request != tc.request || e.Refused.ID != 1001 || string(e.Refused.Handle) != poolOf(1) ||
			e.Refused.Reason != wire.RefusedNotHome {
			t.Fatalf("%s: the ERROR names %+v", tc.name, e.Refused)
		}
		rb := b.Node.Step(e)
		if len(rb.Refusals) != 1 {
			t.Fatalf("%s: B's refusals: %+v", tc.name, rb.Refusals)
		}
		f := rb.Refusals[0]
		if f.Home != idA || f.Pool != poolOf(1) || f.ID != 1001 || f.Request != tc.request || f.Reason != wire.RefusedNotHome ||
			!strings.Contains(f.Why, "its home is "+handlespace.IDString(idB)) {
			t.Fatalf("%s: refusal %+v", tc.name, f)
		}
		re := &enrp.RefusedError{Refusal: f}
		if !re.Stale() || !strings.Contains(re.Error(), handlespace.IDString(idA)) {
			t.Fatalf("%s: %v (stale %v)", tc.name, re, re.Stale())
		}
		t.Logf("%s: %v", tc.name, re)
	}

	// A home that took a request but could not carry it out says so.
	rf := a.Node.Refuse(idB, wire.ParamXReportReq, poolOf(0), 1000, "too many reports from "+user.String())
	if len(rf.Msgs) != 1 {
		t.Fatalf("Refuse: %+v", rf.Msgs)
	}
	rb := b.Node.Step(wireTrip(t, rf.Msgs[0].Msg))
	if len(rb.Refusals) != 1 || rb.Refusals[0].Reason != wire.RefusedFailed || (&enrp.RefusedError{Refusal: rb.Refusals[0]}).Stale() {
		t.Fatalf("failed request: %+v", rb.Refusals)
	}
	// An ERROR about something else names no request.
	plain := &wire.Message{Type: wire.TypeError, Sender: idA, Receiver: idB,
		Causes: []wire.Cause{{Code: wire.CauseInvalidValues}}}
	if rb := b.Node.Step(wireTrip(t, plain)); len(rb.Refusals) != 0 {
		t.Fatalf("a plain ERROR became a refusal: %+v", rb.Refusals)
	}
}

// wireTrip encodes m and decodes it again.
func wireTrip(t *testing.T, m *wire.Message) *wire.Message {
	t.Helper()
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := wire.Decode(b)
	if err != nil {
		t.Fatalf("%v: %v", m.Type, err)
	}
	return back
}

// withX returns a copy of HANDLE_UPDATE m whose element's extension edit
// changed.
func withX(m *wire.Message, edit func(*wire.ElementX)) *wire.Message {
	out := *m
	pe := m.Entries[0].Elements[0]
	x := *pe.X
	edit(&x)
	pe.X = &x
	out.Entries = []wire.Entry{{Handle: m.Entries[0].Handle, Elements: []wire.PE{pe}}}
	return &out
}
