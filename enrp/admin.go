package enrp

import (
	"errors"
	"fmt"

	"github.com/poolnsd/poolnsd/handlespace"
)

// Administrative changes made away from an element's home.
//
// Only an element's home sends its changes, so a drain made at another
// registrar would stay there (and the home's next update would undo it).
// Instead that registrar asks the home: a HANDLE_UPDATE (ADD_PE) of its
// copy of the element whose poolnsd extension carries ParamXAdminReq with
// the state asked for. The home checks that it is the element's home and
// hands the request to its driver (Ready.Admin), which applies it as a
// local change; the change then reaches every peer, the asker included, in
// the home's own HANDLE_UPDATE. The asker changes nothing by itself.
//
// A home that does not know ParamXAdminReq (an older poolnsd) skips it
// (its top bits are 10) and sees a non-home's copy of its own element,
// which changes nothing: the asker sees no change and says so.

// AdminRequest is a peer's request, accepted by this registrar as the
// element's home, to set the administrative state of element ID of Pool.
type AdminRequest struct {
	Pool  string
	ID    uint32
	Admin handlespace.Admin
	From  uint32 // the peer that asked
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
// is dead or unknown; then nothing is sent.
func (n *Node) RequestAdmin(pool string, id uint32, a handlespace.Admin) (uint32, Ready, error) {
	en := n.tab.get(key{pool, id})
	if en == nil {
		return 0, n.flush(), ErrNoSuchElement
	}
	home := en.home()
	if home == n.id {
		return home, n.flush(), ErrHomeHere
	}
	p := n.peers[home]
	switch {
	case p == nil:
		return home, n.flush(), &HomeUnavailableError{Home: home, Why: "not a known peer"}
	case p.dead:
		return home, n.flush(), &HomeUnavailableError{Home: home, Why: "dead"}
	}
	pe := ToPE(en.e, en.policy, en.gen, n.now())
	pe.X.AdminReq, pe.X.ReqAdmin = true, uint8(a)
	n.send(home, &Message{Type: TypeHandleUpdate, Action: AddPE,
		Entries: []Entry{{Handle: []byte(pool), Elements: []PE{pe}}}})
	return home, n.flush(), nil
}

// onAdminRequest takes peer p's request to set the administrative state
// of an element: granted (Ready.Admin) if this registrar is its home,
// else refused with an ERROR that says why.
func (n *Node) onAdminRequest(p *peer, pool string, pe *PE) {
	a := handlespace.Admin(pe.X.ReqAdmin)
	what := fmt.Sprintf("admin request %s for %s %s", a, pool, handlespace.IDString(pe.ID))
	refuse := func(why string) {
		n.event(Event{Kind: EventAdminRefused, Peer: p.id, Detail: what + ": " + why})
		n.send(p.id, &Message{Type: TypeError, Causes: []Cause{{Code: CauseInvalidValues, Info: diagParam(what + " refused: " + why)}}})
	}
	if pe.X.ReqAdmin > uint8(handlespace.AdminForceDown) {
		refuse(fmt.Sprintf("unknown state %d", pe.X.ReqAdmin))
		return
	}
	en := n.tab.get(key{pool, pe.ID})
	switch {
	case en == nil:
		refuse("no such element here")
		return
	case en.home() != n.id:
		refuse(fmt.Sprintf("its home is %s, not this registrar", handlespace.IDString(en.home())))
		return
	}
	n.out.Admin = append(n.out.Admin, AdminRequest{Pool: pool, ID: pe.ID, Admin: a, From: p.id})
	n.event(Event{Kind: EventAdminRequest, Peer: p.id, Detail: what})
}
