package enrp

import (
	"slices"
	"time"

	"github.com/poolnsd/poolnsd/enrp/table"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// Takeover (RFC 5353). A registrar that finds a peer dead while that
// peer owns registered elements sends INIT_TAKEOVER to every other peer
// (the target included: if it is alive after all, it answers with a
// PRESENCE, and the takeover stops). Every peer answers INIT_TAKEOVER_ACK,
// unless it is taking over the same target itself and has the lower ID: of
// two initiators the lower ID wins, and the other gives up and acks. With
// the acks of all live peers the initiator sends TAKEOVER_SERVER and
// becomes the home of the target's elements, one ownership generation on;
// every peer that receives TAKEOVER_SERVER re-homes them likewise.
// Zone-file elements are not taken over: their homes follow the live set
// (rendezvous hashing).

// takeover is one of ours in progress.
type takeover struct {
	target uint32
	sent   time.Time // when INIT_TAKEOVER last went out
	acks   map[uint32]bool
}

// foreign is a takeover by another registrar that we acked.
type foreign struct {
	by    uint32
	since time.Time
}

func (n *Node) startTakeover(target uint32) {
	if _, ok := n.takeovers[target]; ok {
		return
	}
	if f, ok := n.foreign[target]; ok && n.now().Sub(f.since) < n.takeoverTimeout() {
		return
	}
	delete(n.foreign, target)
	tk := &takeover{target: target, sent: n.now(), acks: map[uint32]bool{}}
	n.takeovers[target] = tk
	n.event(Event{Kind: EventTakeoverStart, Target: target})
	for _, id := range n.allPeers() {
		if p := n.peers[id]; !p.dead || id == target {
			n.send(id, &wire.Message{Type: wire.TypeInitTakeover, Target: target})
		}
	}
	n.checkTakeover(tk)
}

// checkTakeover completes tk when every live peer but the target acked,
// unless this registrar is in a minority by then (see tickMinority).
func (n *Node) checkTakeover(tk *takeover) {
	for _, id := range n.alivePeers() {
		if id != tk.target && !tk.acks[id] {
			return
		}
	}
	delete(n.takeovers, tk.target)
	if n.minority(n.now()) {
		n.event(Event{Kind: EventTakeoverAbort, Target: tk.target, Detail: "in a minority"})
		return
	}
	for _, id := range n.allPeers() {
		if p := n.peers[id]; !p.dead || id == tk.target {
			n.send(id, &wire.Message{Type: wire.TypeTakeoverServer, Target: tk.target})
		}
	}
	count := n.rehome(tk.target, n.id)
	n.event(Event{Kind: EventTakeoverDone, Target: tk.target, Count: count})
}

// tickMinority takes over the dead peers' registrations once this
// registrar is no longer in a minority (its dead peers no longer count,
// or some came back while others stay dead).
//
// A registrar in a minority (hold.go) takes nothing over: the peer it
// finds dead is probably alive on the other side of a partition, still
// probing its elements, and a takeover there would win at the heal by
// its generation and bring back the health this side could not measure
// (an element it could not reach, down or unknown, taken over from a
// home that saw it up), and two claims crossing at the heal each
// yielded to the other in the lab, losing the registration.
//
// It waits MaxTimeLastHeard + MaxTimeNoResponse after the minority ended
// (majorityAt): when a partition heals, the peers still missing are
// mostly on their way back, their connections not made yet.
func (n *Node) tickMinority(now time.Time) {
	m := n.minority(now)
	switch {
	case m:
		n.inMinority, n.majorityAt = true, time.Time{}
		return
	case n.inMinority:
		n.inMinority = false
		n.majorityAt = now.Add(n.cfg.MaxTimeLastHeard + n.cfg.MaxTimeNoResponse)
		return
	case n.majorityAt.IsZero() || now.Before(n.majorityAt):
		return
	}
	n.majorityAt = time.Time{}
	for _, id := range n.allPeers() {
		if p := n.peers[id]; p.dead && !p.left && n.tab.OwnsRegistered(id) {
			n.startTakeover(id)
		}
	}
}

// rehome makes to the home of every registered element of from, one
// generation on, and returns how many there were.
func (n *Node) rehome(from, to uint32) int {
	count := 0
	for _, k := range n.tab.Keys(func(en *entry) bool { return en.Home() == from && !en.Static() }) {
		en := n.tab.Get(k)
		n.tab.Put(table.NewEntry(k.Pool, en.Policy, table.WithHome(en.Elem, to), en.Gen+1))
		n.op(Op{Kind: OpSetHome, Pool: k.Pool, ID: k.ID, Home: to, Guard: guardOf(en.Elem)})
		count++
	}
	return count
}

func (n *Node) tickTakeovers(now time.Time) {
	for _, target := range sortedKeys(n.takeovers) {
		tk := n.takeovers[target]
		if now.Sub(tk.sent) >= n.takeoverRetry() {
			// Ask again those that have not answered; peers that died
			// meanwhile no longer count.
			tk.sent = now
			for _, id := range n.alivePeers() {
				if !tk.acks[id] {
					n.send(id, &wire.Message{Type: wire.TypeInitTakeover, Target: target})
				}
			}
		}
		n.checkTakeover(tk)
	}
	for _, target := range sortedKeys(n.foreign) {
		f := n.foreign[target]
		if now.Sub(f.since) < n.takeoverTimeout() {
			continue
		}
		// The initiator never finished: if the target is still dead and
		// still owns elements, take over ourselves.
		delete(n.foreign, target)
		if p := n.peers[target]; p != nil && p.dead && !n.minority(now) && n.tab.OwnsRegistered(target) {
			n.startTakeover(target)
		}
	}
}

func (n *Node) onInitTakeover(p *peer, target uint32) {
	if target == n.id {
		// We are alive: say so to everyone.
		for _, id := range n.allPeers() {
			n.send(id, n.presence(false))
		}
		return
	}
	if t := n.peers[target]; t != nil && !t.dead && t.asked.IsZero() {
		// We hear the target well: no ack. The initiator waits, and stops
		// when it hears the target itself; if the target really is
		// dead, we find that out too and ack the initiator's next try.
		return
	}
	if _, ok := n.takeovers[target]; ok {
		if n.id < p.id {
			return // ours wins; the other gives up when it sees ours
		}
		delete(n.takeovers, target)
		n.event(Event{Kind: EventTakeoverAbort, Target: target, Peer: p.id, Detail: "lower ID initiator"})
	}
	n.foreign[target] = foreign{by: p.id, since: n.now()}
	n.send(p.id, &wire.Message{Type: wire.TypeInitTakeoverAck, Target: target})
}

func (n *Node) onInitTakeoverAck(p *peer, target uint32) {
	if tk := n.takeovers[target]; tk != nil {
		tk.acks[p.id] = true
		n.checkTakeover(tk)
	}
}

func (n *Node) onTakeoverServer(p *peer, target uint32) {
	if _, ok := n.takeovers[target]; ok {
		delete(n.takeovers, target)
		n.event(Event{Kind: EventTakeoverAbort, Target: target, Peer: p.id, Detail: "taken over by another"})
	}
	delete(n.foreign, target)
	if target == n.id {
		// Taken over while alive (we answered too late, or not at all
		// across a partition). The initiator took what it knew of ours;
		// it cannot have taken what it never heard of, so yielding all
		// would lose registrations. Reclaim all, two generations on
		// (the takeover made one), and tell everyone.
		count := 0
		for _, k := range n.tab.Keys(func(en *entry) bool { return en.Home() == n.id && !en.Static() }) {
			en := n.tab.Get(k)
			ne := table.NewEntry(k.Pool, en.Policy, en.Elem, en.Gen+2)
			n.tab.Put(ne)
			n.announce(wire.AddPE, ne)
			count++
		}
		n.event(Event{Kind: EventReclaimed, Peer: p.id, Count: count})
		return
	}
	count := n.rehome(target, p.id)
	n.event(Event{Kind: EventTakenOver, Peer: p.id, Target: target, Count: count})
	if t := n.peers[target]; t != nil && !t.dead {
		t.dead, t.asked, t.deadAt, t.pushedDead = true, time.Time{}, n.now(), false
		t.cursor = nil
		if t.seq != nil {
			n.abortSeq(t, "taken over")
		}
		n.event(Event{Kind: EventPeerDead, Peer: target, Detail: "taken over by " + handlespace.IDString(p.id)})
		n.recomputeLive()
	}
}

// sortedKeys returns the keys of m, sorted: one allocation, none for an
// empty map (slices.Sorted(maps.Keys(m)) allocates its iterators even
// then, at every Tick).
func sortedKeys[V any](m map[uint32]V) []uint32 {
	out := make([]uint32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
