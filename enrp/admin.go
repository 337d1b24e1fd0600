package enrp

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// Administrative changes and failure reports made away from an
// element's home.
//
// An element's administrative state (drain, force-down, auto) is its
// home's to set and announce, like its health: only an element's home
// sends its changes, so a drain made at another registrar would stay
// there (and the home's next update would undo it). Instead that
// registrar asks the home (RequestAdmin, through Driver.RequestAdmin): a
// HANDLE_UPDATE (ADD_PE) of its copy of the element whose poolnsd
// extension carries ParamXAdminReq with the state asked for. The home
// checks that it is the element's home and hands the request to its
// driver (Ready.Admin), which applies it as a local change
// (DriverConfig.OnAdmin); the change then reaches every peer, the asker
// included, in the home's own HANDLE_UPDATE. The asker changes nothing by
// itself.
//
// A pool user's failure report (RFC 5352 ENDPOINT_UNREACHABLE) of an
// element homed elsewhere goes to its home the same way (RequestReport,
// through Driver.RequestReport), with ParamXReportReq carrying the
// reporter's address; the asker rate-limits before it asks. The home
// returns it in Ready.Reports for its driver to count
// (DriverConfig.OnReport: the monitor, which rate-limits and counts by
// the reporter's address and probes at once); the element's Reported
// state (XReported in ParamXState) then reaches every peer in the home's
// HANDLE_UPDATE.
//
// A registrar that is not the element's home (or does not know it)
// answers either request with an ERROR that names it (ParamXRefused:
// request type, reason, PE identifier, pool handle), and so does a driver
// whose OnAdmin or OnReport fails (Refuse). The asker hands refusals to
// whoever waits (Ready.Refusals, Driver.WatchRefusals), so that an
// operator's change refused by the home is answered at once.
//
// A home that does not know ParamXAdminReq (an older poolnsd) skips it
// (its top bits are 10) and sees a non-home's copy of its own element,
// which changes nothing: the asker sees no change and says so. A peer
// that does not know ParamXRefused skips it and only logs the ERROR.

// AdminRequest is a peer's request, accepted by this registrar as the
// element's home, to set the administrative state of element ID of Pool.
type AdminRequest struct {
	Pool  string
	ID    uint32
	Admin handlespace.Admin
	From  uint32 // the peer that asked
}

// ReportRequest is a pool user's failure report of element ID of Pool,
// made at peer From by the client at Reporter (invalid if unknown), that
// this registrar, the element's home, is to count as if made here.
type ReportRequest struct {
	Pool     string
	ID       uint32
	Reporter netip.Addr
	From     uint32
}

// Refusal is a peer's refusal of a request this registrar sent it: the
// request (ParamXAdminReq, ParamXReportReq) for element ID of Pool, the
// reason (RefusedNotHome …) and the peer's words.
type Refusal struct {
	Home    uint32 // the peer that refused: the element's home as this registrar saw it
	Pool    string
	ID      uint32
	Request uint16
	Reason  uint8
	Why     string
}

// RefusedError is the error of a request that the element's home refused
// (Driver.WatchRefusals).
type RefusedError struct{ Refusal }

func (e *RefusedError) Error() string {
	what := "request"
	switch e.Request {
	case wire.ParamXAdminReq:
		what = "change"
	case wire.ParamXReportReq:
		what = "failure report"
	}
	return fmt.Sprintf("the element's home registrar %s refused the %s (%s)", handlespace.IDString(e.Home), what, e.Why)
}

// Stale reports whether the refusal says that the asker's view of the
// element is not the home's (it is homed elsewhere now, or gone), rather
// than that the home failed to carry out the request.
func (e *RefusedError) Stale() bool {
	return e.Reason != wire.RefusedFailed
}

// Errors of RequestAdmin.
var (
	// ErrNoSuchElement: the Node does not know the element.
	ErrNoSuchElement = errors.New("enrp: no such element")
	// ErrHomeHere: the element's home is this registrar; change it
	// locally.
	ErrHomeHere = errors.New("enrp: the element is homed here")
)

// HomeUnavailableError is RequestAdmin's error when the element's home
// cannot be asked: it is dead (a takeover may be under way) or not
// connected.
type HomeUnavailableError struct {
	Home uint32
	Why  string
}

func (e *HomeUnavailableError) Error() string {
	return fmt.Sprintf("the element's home registrar %s is %s; the change was not made (try again when the home is back or another registrar has taken its elements over)",
		handlespace.IDString(e.Home), e.Why)
}

// RequestAdmin asks the home of element id of pool to set its
// administrative state to a, and returns the home. It fails with
// ErrNoSuchElement, ErrHomeHere, or a *HomeUnavailableError when the home
// is dead or unknown; then nothing is sent. A home that refuses answers
// with an ERROR naming the request: Ready.Refusals.
func (n *Node) RequestAdmin(pool string, id uint32, a handlespace.Admin) (uint32, Ready, error) {
	home, err := n.request(pool, id, func(x *wire.ElementX) { x.AdminReq, x.ReqAdmin = true, uint8(a) })
	return home, n.flush(), err
}

// RequestReport passes a pool user's failure report of element id of
// pool, made here by the client at from, on to the element's home, and
// returns the home. It fails as RequestAdmin does; the home counts the
// report as if it had been made there (Ready.Reports), and what comes of
// it (the element out of the answers) reaches every peer in the home's
// HANDLE_UPDATE.
func (n *Node) RequestReport(pool string, id uint32, from netip.Addr) (uint32, Ready, error) {
	home, err := n.request(pool, id, func(x *wire.ElementX) { x.ReportReq, x.Reporter = true, from })
	return home, n.flush(), err
}

// request sends the home of element id of pool a HANDLE_UPDATE (ADD_PE) of
// this registrar's copy with the request that mark puts in its extension.
func (n *Node) request(pool string, id uint32, mark func(*wire.ElementX)) (uint32, error) {
	en := n.tab.Get(key{Pool: pool, ID: id})
	if en == nil {
		return 0, ErrNoSuchElement
	}
	home := en.Home()
	if home == n.id {
		return home, ErrHomeHere
	}
	p := n.peers[home]
	switch {
	case p == nil:
		return home, &HomeUnavailableError{Home: home, Why: "not a known peer"}
	case p.dead:
		return home, &HomeUnavailableError{Home: home, Why: "dead"}
	}
	pe := n.toPE(en)
	mark(pe.X)
	n.send(home, &wire.Message{Type: wire.TypeHandleUpdate, Action: wire.AddPE,
		Entries: []wire.Entry{{Handle: []byte(pool), Elements: []wire.PE{pe}}}})
	return home, nil
}

// refuse answers peer's request for element id of pool with an ERROR that
// names it (ParamXRefused) and says why, and notes the refusal as an event
// (its kind by the request: administrative, report or confirmation).
func (n *Node) refuse(peer uint32, request uint16, pool string, id uint32, reason uint8, what, why string) {
	kind := EventAdminRefused
	switch request {
	case wire.ParamXReportReq:
		kind = EventReportRefused
	case wire.ParamXConfirmReq:
		kind = EventConfirmRefused
	}
	n.event(Event{Kind: kind, Peer: peer, Detail: what + ": " + why})
	n.send(peer, &wire.Message{Type: wire.TypeError,
		Causes:  []wire.Cause{{Code: wire.CauseInvalidValues, Info: wire.DiagParam(what + " refused by " + handlespace.IDString(n.id) + ": " + why)}},
		Refused: &wire.Refused{Request: request, Reason: reason, ID: id, Handle: []byte(pool)}})
}

// Refuse answers a peer's request that this registrar took as the
// element's home (Ready.Admin, Ready.Reports) but could not carry out:
// an ERROR naming it, with reason RefusedFailed and why in words, so
// that the asker need not wait for a change that will not come. request
// is ParamXAdminReq or ParamXReportReq.
func (n *Node) Refuse(peer uint32, request uint16, pool string, id uint32, why string) Ready {
	what := "request"
	switch request {
	case wire.ParamXAdminReq:
		what = "admin request"
	case wire.ParamXReportReq:
		what = "failure report"
	}
	n.refuse(peer, request, pool, id, wire.RefusedFailed, fmt.Sprintf("%s for %s %s", what, pool, handlespace.IDString(id)), why)
	return n.flush()
}

// homed checks that element id of pool is homed here for peer p's request
// and refuses it (false) if not.
func (n *Node) homed(p *peer, request uint16, pool string, id uint32, what string) bool {
	en := n.tab.Get(key{Pool: pool, ID: id})
	switch {
	case en == nil:
		n.refuse(p.id, request, pool, id, wire.RefusedNoElement, what, "no such element here")
		return false
	case en.Home() != n.id:
		n.refuse(p.id, request, pool, id, wire.RefusedNotHome, what,
			fmt.Sprintf("its home is %s, not this registrar", handlespace.IDString(en.Home())))
		return false
	}
	return true
}

// onAdminRequest takes peer p's request to set the administrative state
// of an element: granted (Ready.Admin) if this registrar is its home,
// else refused with an ERROR that says why.
func (n *Node) onAdminRequest(p *peer, pool string, pe *wire.PE) {
	a := handlespace.Admin(pe.X.ReqAdmin)
	what := fmt.Sprintf("admin request %s for %s %s", a, pool, handlespace.IDString(pe.ID))
	if pe.X.ReqAdmin > uint8(handlespace.AdminForceDown) {
		n.refuse(p.id, wire.ParamXAdminReq, pool, pe.ID, wire.RefusedBadRequest, what, fmt.Sprintf("unknown state %d", pe.X.ReqAdmin))
		return
	}
	if !n.homed(p, wire.ParamXAdminReq, pool, pe.ID, what) {
		return
	}
	n.out.Admin = append(n.out.Admin, AdminRequest{Pool: pool, ID: pe.ID, Admin: a, From: p.id})
	n.event(Event{Kind: EventAdminRequest, Peer: p.id, Detail: what})
}

// onReportRequest takes a failure report that peer p passed on: to count
// here (Ready.Reports) if this registrar is the element's home, else
// refused with an ERROR that says why.
func (n *Node) onReportRequest(p *peer, pool string, pe *wire.PE) {
	from := "an unknown address"
	if pe.X.Reporter.IsValid() {
		from = pe.X.Reporter.String()
	}
	what := fmt.Sprintf("failure report from %s for %s %s", from, pool, handlespace.IDString(pe.ID))
	if !n.homed(p, wire.ParamXReportReq, pool, pe.ID, what) {
		return
	}
	n.out.Reports = append(n.out.Reports, ReportRequest{Pool: pool, ID: pe.ID, Reporter: pe.X.Reporter, From: p.id})
	n.event(Event{Kind: EventReportRequest, Peer: p.id, Detail: what})
}

// onRefused hands a peer's refusal of one of this registrar's requests,
// an ERROR naming it, to whoever waits on it (Ready.Refusals).
func (n *Node) onRefused(p *peer, m *wire.Message) {
	r := m.Refused
	if r == nil {
		return
	}
	pool, err := wire.PoolName(r.Handle)
	if err != nil {
		n.event(Event{Kind: EventRejected, Peer: p.id, Detail: "refusal of a request: " + err.Error()})
		return
	}
	if r.Request == wire.ParamXConfirmReq {
		n.onConfirmRefused(p, r, pool)
		return
	}
	why := wire.DescribeCauses(m.Causes)
	if len(m.Causes) == 1 && wire.DiagText(m.Causes[0].Info) != "" {
		why = wire.DiagText(m.Causes[0].Info)
	}
	n.out.Refusals = append(n.out.Refusals, Refusal{Home: p.id, Pool: pool, ID: r.ID, Request: r.Request, Reason: r.Reason, Why: why})
}
