package enrp

import "time"

// What a driver (package enrp/enrpnet) reads of a Node besides the Ready
// of each call: when to call Tick if nothing else happens, how late a
// Tick may run, and what the Node believes of an element's home, to
// answer a request it cannot send at once.

// NextDeadline returns when Tick is next due, as Ready.Next says after
// each call.
func (n *Node) NextDeadline() time.Time { return n.nextDeadline() }

// StallSlack is how much later than due Tick may run before the Node
// takes it that it was stalled itself (EventStalled): half the smaller of
// PresenceInterval and MaxTimeNoResponse.
func (n *Node) StallSlack() time.Duration { return n.stallSlack() }

// AlivePeers returns the IDs of the peers not dead, sorted.
func (n *Node) AlivePeers() []uint32 { return n.alivePeers() }

// HomeOf returns the home of element id of pool as the Node knows it; ok
// is false when it knows no such element.
func (n *Node) HomeOf(pool string, id uint32) (home uint32, ok bool) {
	en := n.tab.Get(key{Pool: pool, ID: id})
	if en == nil {
		return 0, false
	}
	return en.Home(), true
}

// PeerKnown reports whether registrar id is a peer the Node knows, and
// whether it found it dead.
func (n *Node) PeerKnown(id uint32) (known, dead bool) {
	p := n.peers[id]
	if p == nil {
		return false, false
	}
	return true, p.dead
}
