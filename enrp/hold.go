package enrp

import (
	"fmt"
	"time"

	"github.com/poolnsd/poolnsd/enrp/placement"
	"github.com/poolnsd/poolnsd/enrp/stale"
	"github.com/poolnsd/poolnsd/handlespace"
)

// Minority, and the hold of a view that may be stale.
//
// A registrar is in a minority when the live registrars (itself
// included) are fewer than half of those it knows: itself, its live
// peers and the peers that died within minorityMemory (so one of two is
// not: two registrars cannot tell a partition from a death). Cut off
// (in a minority, or with every peer overdue), its probes cannot tell an
// element that died from its own lost link: a failed probe that no
// other vantage point confirms is not taken for the element's death
// (see Confirm), only for a dispute that this registrar saw down.
//
// Its view may also be stale, and then it should not answer from it
// (Stale, Config.ResyncWait; see package stale). Its driver holds DNS
// answers meanwhile.

// minorityMemory is how long a dead peer still counts among the
// registrars known: after that, a registrar alone is taken for the
// whole cluster (its peers were retired, not cut off).
const minorityMemory = time.Minute

// known returns how many registrars count for a majority: this one, its
// live peers and those dead for less than minorityMemory.
func (n *Node) known(now time.Time) int {
	k := 1
	for _, p := range n.peers {
		if p.left {
			continue
		}
		if !p.dead || now.Sub(p.deadAt) < minorityMemory {
			k++
		}
	}
	return k
}

func (n *Node) minority(now time.Time) bool {
	return 2*len(n.live) < n.known(now)
}

// cutOff reports whether this registrar is probably cut off from its
// peers: in a minority, or every live peer overdue (not heard for more
// than a presence interval and its jitter: it would have sent a PRESENCE
// by then), as happens in the first seconds of a partition, before they
// are found dead.
func (n *Node) cutOff(now time.Time) bool {
	if n.minority(now) {
		return true
	}
	overdue := time.Duration(float64(n.cfg.PresenceInterval) * (1 + n.cfg.Jitter))
	alive := 0
	for _, p := range n.peers {
		if p.dead || p.left {
			continue
		}
		alive++
		if now.Sub(p.lastHeard) <= overdue {
			return false
		}
	}
	return alive > 0
}

// Stale reports whether this registrar's view may be stale (see above):
// DNS should not be answered from it. why says since when and why.
func (n *Node) Stale() (stale bool, why string) {
	if n.held == nil {
		return false, ""
	}
	return true, n.held.Why
}

// startHold holds the view until this registrar has synced with the
// peers want and has the elements back handed back (or ResyncWait has
// passed); after a long stall (stall) a matching claim does not count. A
// hold already on takes them too.
func (n *Node) startHold(why string, want []uint32, back []key, stall bool) {
	now := n.now()
	if n.cfg.ResyncWait < 0 {
		return
	}
	fresh := n.held == nil
	if fresh {
		n.held = stale.New[key](now, n.cfg.ResyncWait, why)
		n.backAt = now
		clear(n.fresh) // measured before, on this side
	}
	n.held.Want(want...)
	n.held.Back(back...)
	if stall {
		n.held.AfterStall()
	}
	if fresh {
		n.event(Event{Kind: EventHold, Detail: why + "; " + n.held.Waiting()})
	}
	n.endHold(now)
}

// toHandBack returns the zone-file elements the peers want hand back to
// this registrar once it is live with them again (see
// placement.HandedBack): until then what it has of them is from before.
func (n *Node) toHandBack(want []uint32) []key {
	back := placement.HandedBack(n.id, n.live, want)
	return n.tab.Keys(func(en *entry) bool { return en.Static() && back(en.Pool, en.ID) })
}

// syncedWith notes an own-children transfer (or push) from p that began
// at start.
func (n *Node) syncedWith(p *peer, start time.Time) {
	if n.held != nil {
		n.held.Synced(p.id, start)
		n.endHold(n.now())
	}
}

// claimMatched notes that p's PRESENCE claims what this registrar
// believes p owns: synced with p as well as a transfer would make it (a
// peer that does not push, such as one that restarted, ends a hold so),
// unless the hold says a claim does not count (stale.Hold.Claims).
func (n *Node) claimMatched(p *peer) {
	if n.held == nil || n.held.Claims() {
		p.expect, p.expectSince = nil, time.Time{}
		n.syncedWith(p, n.now())
	}
}

// handedBack notes that a peer handed back k.
func (n *Node) handedBack(k key) {
	if n.held != nil {
		n.held.HandedBack(k)
	}
}

// endHold ends the hold when it is over.
func (n *Node) endHold(now time.Time) {
	if n.held == nil {
		return
	}
	if why, over := n.held.Over(now); over {
		n.event(Event{Kind: EventHoldEnd, Detail: why})
		n.held = nil
		n.heldAfter = now.Add(n.settleWindow())
	}
}

// holdAfterStall holds the view after a stall long enough for the peers
// to have found this registrar dead (and stopped sending it updates):
// every peer not dead is asked for its own elements once heard.
func (n *Node) holdAfterStall(stall time.Duration) {
	if stall < max(n.cfg.MaxTimeLastHeard, n.cursorTTL()+n.cfg.PresenceInterval/2) || !n.synced {
		return
	}
	n.longStall = n.now().Add(-stall)
	// Stalled long enough for every peer to have found it dead, it is
	// pushed their own elements when they hear it again (they closed
	// their connections to it, and owe it a push: pushOwn), and handed
	// back the zone-file elements homed here, which they took; else it
	// asks for them.
	pushed := stall >= n.cfg.MaxTimeLastHeard+n.cfg.MaxTimeNoResponse
	var want []uint32
	for _, id := range n.alivePeers() {
		p := n.peers[id]
		if p.left {
			continue
		}
		p.resync = !pushed
		want = append(want, id)
	}
	if len(want) == 0 {
		return
	}
	var back []key
	if pushed {
		back = n.toHandBack(want)
	}
	n.startHold(fmt.Sprintf("stalled for %v", stall.Round(time.Millisecond)), want, back, pushed)
}

// holdAfterMinority holds the view when the live set grows while this
// registrar was in a minority (wasMinority: before the change): it waits
// for the peers that came back and for the ones still missing.
func (n *Node) holdAfterMinority(wasMinority bool, newcomers []uint32) {
	if !wasMinority || !n.synced || len(newcomers) == 0 {
		return
	}
	now := n.now()
	want := append([]uint32(nil), newcomers...)
	for _, id := range n.allPeers() {
		if p := n.peers[id]; p.dead && !p.left && now.Sub(p.deadAt) < minorityMemory {
			want = append(want, id)
		}
	}
	n.startHold("the live set grew after a minority", want, n.toHandBack(want), false)
}

// aloneVerdict is the verdict of a change of health that nobody could
// confirm, in a minority: a failed probe alone does not take an element
// down (this registrar may be the one cut off); the element keeps its
// health, disputed, with this registrar's view (put last here). Other
// changes stand as proposed. ok is false when the proposed health
// stands.
func (n *Node) aloneVerdict(en *entry, proposed handlespace.Health) (Verdict, bool) {
	cur := en.Elem.Health
	if proposed != handlespace.HealthDown || cur != handlespace.HealthUp || !n.minority(n.now()) {
		return Verdict{}, false
	}
	return Verdict{Pool: en.Pool, ID: en.Elem.ID, Current: cur, Proposed: proposed, Health: cur,
		Vantage: []handlespace.Vantage{{Registrar: n.id, Health: proposed}},
		Votes:   []placement.Vote{{Registrar: n.id, Health: proposed}}}, true
}

// takeStrength is this registrar's strength (see strength) against a
// peer's hand-back: 0 while its view is held as stale, and for a settle
// window after (the hand-backs come when the peers hear it again, after
// the pushes that may end the hold) (after a long
// stall its live set did not change, so its strength did not fall, but
// the state it remembers is from before the stall: the peers' current
// state is taken). What it measures meanwhile goes out at its usual
// strength, so that its peers take it.
func (n *Node) takeStrength() int {
	if n.held != nil || n.now().Before(n.heldAfter) {
		return 0
	}
	return n.strength()
}
