package enrp

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/poolnsd/poolnsd/enrp/placement"
	"github.com/poolnsd/poolnsd/enrp/table"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// Planned hand-off, and hand-back.
//
// A registrar that stops with live peers (SIGTERM, through Driver.Leave)
// calls Leave: it sends each live peer the elements it is home for whose
// next home that peer is (the rendezvous winner among the live registrars
// without this one), as pages of HANDLE_TABLE_RESPONSE marked with
// ParamXHandoff, each element with its state (health, admin state, load,
// failure reports) and what the monitor keeps beside it (its smoothed RTT
// and report count, ParamXReports); every peer gets a last page
// (HandoffLast, empty if it gets nothing). The peer becomes the home of
// what it was given (a registered element one ownership generation on, as
// a takeover does), and on the last page takes the leaver out of its live
// set without waiting for it to fall silent (zone-file elements follow
// the live set; the leaver's other registered elements go to their
// rendezvous winners, which every peer computes alike), and acknowledges
// with a PRESENCE carrying ParamXHandoff (HandoffAck). With every
// acknowledgement in (or the peers that did not answer dead), the leaver
// gives its elements up in its own table too (Ready.Left); its driver
// bounds the wait (enrp.handoff_timeout). The daemon's driver
// (enrpnet.DriverConfig.Durable) acknowledges only once the registrations
// handed to it are in its store, so that the leaver, which stops on
// Ready.Left, never leaves one that a crash of the peer would lose. The
// peers list the leaver as left (PeerState.Left), not dead, until it is
// heard again or LeftMemory has passed.
//
// Hand-back: when the live set grows (a registrar joins, restarts or
// comes back after a partition), the zone-file elements whose home moves
// to the newcomer are handed back to it by their old home: a page marked
// HandbackPage with the old home's state. Each state carries its strength
// (ElementX.Strength): how many registrars were live when its home
// measured it. The newcomer takes the state when it is stronger than its
// own (its own is from before it joined, or from its side of a partition
// with fewer registrars, or it has none), so that it never serves, or
// announces, a stale verdict of its own; it announces a state so taken.
// Meanwhile every other registrar keeps its state of such an element for
// two presence intervals (settleWindow) against a weaker word from the
// new home. A verdict the newcomer reached since it came back, with
// another vantage point's vote, stands against hand-backs; both go out at
// the live set's strength, its pushes too, for two presence intervals
// (freshen).

// Handed is an element whose home this registrar became by a peer's
// hand-off, or whose state it took from a peer's hand-back, with what the
// old home kept beside the element, for the monitor to go on from there.
type Handed struct {
	Pool   string
	ID     uint32
	From   uint32 // the old home
	Health handlespace.Health
	// RTT is the old home's smoothed RTT of the element, 0 unknown.
	RTT time.Duration
	// Reports is how many failure reports of the element the old home
	// counted within its window.
	Reports int
}

// HandoffState returns what the monitor keeps beside an element homed
// here, for a hand-off: its smoothed RTT (0 unknown) and the failure
// reports counted within the window.
type HandoffState func(pool string, id uint32) (rtt time.Duration, reports int)

// leaving is this registrar's hand-off in progress.
type leaving struct {
	seq     uint32
	waiting map[uint32]bool // peers that have not acknowledged
	keys    []key           // the elements handed off, sorted
	succ    []uint32        // the next home of each, aligned with keys
	count   int
	done    bool
	given   bool // giveUp ran
}

// settleWindow is how long, after the live set grew, a zone-file
// element's state is kept against a weaker one from its new home.
func (n *Node) settleWindow() time.Duration {
	return 2 * n.cfg.PresenceInterval
}

// strength is how much this registrar's knowledge of the zone-file
// elements is worth against another's (ElementX.Strength): 0 before its
// first sync (what it knows is from before it joined); while it settles
// after the live set grew, the number of registrars live before (its
// side of a healed partition); else the number live now.
func (n *Node) strength() int {
	switch {
	case !n.synced:
		return 0
	case n.now().Before(n.mergeUntil):
		return n.mergeSide
	}
	return len(n.live)
}

// fresh is how long a state of a zone-file element homed here is as
// strong as the whole live set's (Node.fresh), and whether a quorum
// measured it (else it was taken from a stronger peer).
type fresh struct {
	until  time.Time
	quorum bool
}

// freshen notes that this registrar's state of k, a zone-file element
// homed here, is as strong as the whole live set's for a settle window:
// it took it from a stronger peer (a hand-back), or a quorum measured it
// since this registrar came back (quorum: see decide). Meanwhile what it
// says of the element goes out at the live set's strength (toPE), so
// that peers settling after the live set grew take it, and a hand-back
// does not replace a quorum's state (onHandback). Then the strength is
// this registrar's own again: it does not outlast the heal it was given
// for (a later cut on this side would carry it over).
func (n *Node) freshen(k key, quorum bool) {
	n.fresh[k] = fresh{until: n.now().Add(n.settleWindow()), quorum: quorum}
}

// isFresh reports whether this registrar's state of k is as strong as
// the whole live set's (see freshen); quorumFresh whether a quorum
// measured it.
func (n *Node) isFresh(k key) bool {
	f, ok := n.fresh[k]
	return ok && n.now().Before(f.until)
}

func (n *Node) quorumFresh(k key) bool {
	f, ok := n.fresh[k]
	return ok && f.quorum && n.now().Before(f.until)
}

// sweepFresh forgets the fresh states whose window is over.
func (n *Node) sweepFresh(now time.Time) {
	for k, f := range n.fresh {
		if !now.Before(f.until) {
			delete(n.fresh, k)
		}
	}
}

// tookState notes that this registrar, the element's home, took ne's
// state from a stronger peer in place of cur's, and announces it when it
// differs in anything the digests cover (the RTT too): its peers may
// have taken its earlier word (the side of a split it was on did), and
// the local change that follows goes nowhere (the table has it already).
func (n *Node) tookState(cur, ne *entry) {
	n.freshen(ne.Key, false)
	if cur == nil || cur.Hash != ne.Hash {
		n.announce(wire.AddPE, ne)
	}
}

// Leave begins the planned hand-off of every element homed here to the
// live peers (see above). state, if not nil, gives what the monitor keeps
// beside each element. The hand-off is over when a Ready has Left: at
// once when there is no live peer, else when every peer acknowledged or
// died. Meanwhile the elements stay homed here (their probes go on), but
// their changes are no longer announced and no confirmation is asked
// for.
func (n *Node) Leave(state HandoffState) Ready {
	if n.leaving != nil {
		return n.flush()
	}
	peers := n.alivePeers()
	own := n.tab.Keys(func(en *entry) bool { return en.Home() == n.id })
	n.handSeq++
	lv := &leaving{seq: n.handSeq, waiting: map[uint32]bool{}, keys: own, succ: make([]uint32, len(own)), count: len(own)}
	n.leaving = lv
	if len(peers) == 0 {
		lv.done = true
		n.out.Left = true
		return n.flush()
	}
	byPeer := map[uint32][]key{}
	for i, k := range own {
		s := placement.Rendezvous(peers, k.Pool, k.ID)
		lv.succ[i] = s
		byPeer[s] = append(byPeer[s], k)
	}
	fill := func(k key, pe *wire.PE) {
		if state == nil {
			return
		}
		rtt, reports := state(k.Pool, k.ID)
		if rtt > 0 {
			pe.X.RTT = uint32(min(rtt.Microseconds(), math.MaxUint32))
		}
		pe.X.Reports = uint32(min(max(reports, 0), math.MaxUint32))
	}
	for _, id := range peers {
		lv.waiting[id] = true
		n.sendPages(id, byPeer[id], &wire.Handoff{Kind: wire.HandoffPage, Live: uint16(len(n.live)), Seq: lv.seq}, wire.HandoffLast, handoffPage, fill)
	}
	n.event(Event{Kind: EventHandoffStart, Count: len(own), Detail: fmt.Sprintf("to %d peers", len(peers))})
	return n.flush()
}

// LeftMemory is how long a peer that left by hand-off is still listed
// (Node.Peers, as left) after it left: long enough for an operator to
// see a planned stop for what it was; a peer that does not come back is
// then forgotten (it was not dead, nothing is wrong). One that comes back
// is up again at once.
const LeftMemory = 10 * time.Minute

// handoffPage is the most elements of a hand-off page (which also stops
// short of pageBytes): more than a table transfer's, so that 100 000
// elements take a few hundred messages.
const handoffPage = 512

// sendPages sends peer to the elements of keys as HANDLE_TABLE_RESPONSE
// pages of at most size elements marked h, the last one with kind last
// (instead of h.Kind) when last is not 0; with no element, one empty page
// when last is not 0, else nothing. fill, if not nil, completes each
// element.
func (n *Node) sendPages(to uint32, keys []key, h *wire.Handoff, last uint8, size int, fill func(key, *wire.PE)) {
	pages := wire.Pages(h, last, size, pageBytes, len(keys), func(i int) (string, wire.PE, bool) {
		en := n.tab.Get(keys[i])
		if en == nil {
			return "", wire.PE{}, false
		}
		pe := n.toPE(en)
		if fill != nil {
			fill(keys[i], &pe)
		}
		return en.Pool, pe, true
	})
	for _, m := range pages {
		n.send(to, m)
	}
}

// onHandoffAck takes a peer's acknowledgement of this registrar's
// hand-off.
func (n *Node) onHandoffAck(p *peer, h *wire.Handoff) {
	if n.leaving != nil && h.Seq == n.leaving.seq {
		n.leftPeer(p.id)
	}
}

// leftPeer stops waiting for peer id's acknowledgement (it gave it, or
// died) and ends the hand-off when nobody is left to wait for.
func (n *Node) leftPeer(id uint32) {
	lv := n.leaving
	if lv.done || !lv.waiting[id] {
		return
	}
	delete(lv.waiting, id)
	if len(lv.waiting) > 0 {
		return
	}
	lv.done = true
	n.event(Event{Kind: EventHandoffDone, Count: lv.count})
	n.out.Left = true
}

// giveUp, at the first Tick after the hand-off is over, gives the
// elements up in this Node's table too: the registered ones to their
// next homes, one generation on, in this Node's table only (the
// handlespace and the store keep them as they were: this registrar is
// about to stop, and a restart yields them to the newer generation at
// its first sync, which DNS waits for); the zone-file ones follow the
// live set, this registrar out of it. Not at once: the leaver stops when
// the hand-off is over (Ready.Left), and a table of 100 000 took 90 ms
// to rewrite, all of it between the last acknowledgement and the exit;
// its peers ignore it by then.
func (n *Node) giveUp() {
	lv := n.leaving
	if lv == nil || !lv.done || lv.given {
		return
	}
	lv.given = true
	for i, k := range lv.keys {
		en := n.tab.Get(k)
		if en == nil || en.Home() != n.id || en.Static() {
			continue
		}
		n.tab.Put(table.NewEntry(k.Pool, en.Policy, table.WithHome(en.Elem, lv.succ[i]), en.Gen+1))
	}
	n.recomputeLive()
}

// onHandoff takes a page of a peer's hand-off or hand-back.
func (n *Node) onHandoff(p *peer, m *wire.Message) {
	if m.Handoff.Kind == wire.HandbackPage {
		n.onHandback(p, m)
		return
	}
	now := n.now()
	var without []uint32 // the live set once p has left
	for _, id := range n.live {
		if id != p.id {
			without = append(without, id)
		}
	}
	taken := 0
	for i := range m.Entries {
		pool, err := wire.PoolName(m.Entries[i].Handle)
		if err != nil {
			n.event(Event{Kind: EventRejected, Peer: p.id, Detail: err.Error()})
			continue
		}
		for j := range m.Entries[i].Elements {
			pe := &m.Entries[i].Elements[j]
			e, policy, gen, err := wire.FromPE(pe, now)
			if err != nil {
				n.event(Event{Kind: EventRejected, Peer: p.id, Detail: err.Error()})
				continue
			}
			k := key{Pool: pool, ID: e.ID}
			cur := n.tab.Get(k)
			handed := Handed{Pool: pool, ID: e.ID, From: p.id, Health: e.Health,
				RTT: time.Duration(pe.X.RTT) * time.Microsecond, Reports: int(pe.X.Reports)}
			if cur != nil {
				e.RTT = cur.Elem.RTT // the monitor's RTT is for the monitor: the peers keep the one published
			}
			if e.Static || (cur != nil && cur.Static()) {
				if cur == nil || !cur.Static() {
					continue // not of this registrar's zones
				}
				// The leaver's state, the freshest there is; the home
				// follows the live set when the leaver leaves it.
				e.Home, e.Static = cur.Home(), true
				e.Last = handlespace.LastAt(e, n.id)
				ne := table.NewEntry(pool, policy, e, 0)
				ne.Heard = true
				n.tab.Put(ne)
				n.op(Op{Kind: OpSetState, Pool: pool, ID: e.ID, Elem: e})
				if placement.Rendezvous(without, pool, e.ID) == n.id {
					n.out.Handed = append(n.out.Handed, handed)
				}
				taken++
				continue
			}
			if cur != nil && cur.Home() != p.id && cur.Home() != n.id && placement.Wins(cur.Gen, cur.Home(), gen, p.id) {
				continue // another's by a newer claim
			}
			if cur == nil {
				if tb, ok := n.tab.TombOf(k, now); ok && !placement.Later(e.Expires.Time(), tb.Expires) {
					continue // deregistered meanwhile
				}
			} else {
				gen = max(gen, cur.Gen)
			}
			g := guardOf(nil)
			if cur != nil {
				g = guardOf(cur.Elem)
			}
			e.Home = n.id
			e.Last = handlespace.LastAt(e, n.id)
			n.tab.Put(table.NewEntry(pool, policy, e, gen+1))
			n.op(Op{Kind: OpPut, Pool: pool, ID: e.ID, Policy: policy, Elem: e, Guard: g})
			n.out.Handed = append(n.out.Handed, handed)
			taken++
		}
	}
	p.handedIn += taken
	if m.Handoff.Kind != wire.HandoffLast {
		p.handingIn = true // Transferring: the driver applies the pages' operations together
		return
	}
	taken, p.handingIn, p.handedIn = p.handedIn, false, 0
	n.peerLeft(p)
	ack := n.presence(false)
	ack.Handoff = &wire.Handoff{Kind: wire.HandoffAck, Seq: m.Handoff.Seq}
	n.send(p.id, ack)
	n.event(Event{Kind: EventHandoffIn, Peer: p.id, Count: taken, Detail: "leaving"})
}

// HandingIn reports whether a peer's hand-off is coming in.
func (n *Node) HandingIn() bool {
	for _, p := range n.peers {
		if p.handingIn {
			return true
		}
	}
	return false
}

// peerLeft takes p, which handed its elements off, out of the live set:
// its zone-file elements follow the live set, and its registered
// elements not handed here go to their rendezvous winners, one
// generation on (every peer computes the same). Until its connection
// drops, p's messages are ignored.
func (n *Node) peerLeft(p *peer) {
	p.left, p.dead, p.asked, p.leftAt = true, true, time.Time{}, n.now()
	p.cursor = nil
	if p.seq != nil {
		n.abortSeq(p, "peer left")
	}
	delete(n.foreign, p.id)
	delete(n.takeovers, p.id)
	n.forgetInRounds(p.id)
	// The other peers take their part of the hand-off about now, not at
	// once: give their claims a presence interval to agree again.
	hold := n.now().Add(n.cfg.PresenceInterval)
	for _, q := range n.peers {
		if q.holdoff.Before(hold) {
			q.holdoff = hold
		}
	}
	n.recomputeLive()
	keys := n.tab.Keys(func(en *entry) bool { return en.Home() == p.id && !en.Static() })
	// Tens of thousands at a time (a peer's share of a large hand-off):
	// the operations and their guards allocated at once.
	n.out.Ops = slices.Grow(n.out.Ops, len(keys))
	guards := make([]Guard, len(keys))
	for i, k := range keys {
		en := n.tab.Get(k)
		s := placement.Rendezvous(n.live, k.Pool, k.ID)
		guards[i] = Guard{Present: true, Home: en.Elem.Home, Expires: en.Elem.Expires.Time()}
		n.tab.Put(table.NewEntry(k.Pool, en.Policy, table.WithHome(en.Elem, s), en.Gen+1))
		n.op(Op{Kind: OpSetHome, Pool: k.Pool, ID: k.ID, Home: s, Guard: &guards[i]})
	}
}

// handBack sends each newcomer the state of the zone-file elements
// homed here that moved to it (see recomputeLive), with their strength.
func (n *Node) handBack(moved map[uint32][]key, oldLive int) {
	for _, to := range sortedKeys(moved) {
		n.handSeq++
		n.sendPages(to, moved[to], &wire.Handoff{Kind: wire.HandbackPage, Live: uint16(min(oldLive, math.MaxUint16)), Seq: n.handSeq}, 0, n.cfg.PageSize, nil)
		n.event(Event{Kind: EventHandback, Peer: to, Count: len(moved[to]), Detail: "given"})
	}
}

// handBackAhead hands p, pushed to before it is live here (the Hello of
// a connection dialled), the zone-file elements homed here that move to
// it once it is (live: with p), trimmed: with the push, not a round trip
// later. When p is heard, those unchanged since are not handed again.
func (n *Node) handBackAhead(p *peer, live []uint32) int {
	if slices.Contains(n.live, p.id) {
		return 0
	}
	keys := n.tab.Keys(func(en *entry) bool {
		return en.Static() && en.Home() == n.id && placement.Rendezvous(live, en.Pool, en.Elem.ID) == p.id
	})
	if len(keys) == 0 {
		return 0
	}
	p.ahead = map[key]time.Time{}
	for _, k := range keys {
		p.ahead[k] = n.now()
	}
	n.handSeq++
	n.sendPages(p.id, keys, &wire.Handoff{Kind: wire.HandbackPage, Live: uint16(min(n.strength(), math.MaxUint16)), Seq: n.handSeq}, 0, n.cfg.PageSize, trimStatic)
	return len(keys)
}

// onHandback takes a peer's state of zone-file elements now homed here,
// where it is stronger than this registrar's own.
func (n *Node) onHandback(p *peer, m *wire.Message) {
	now := n.now()
	taken := 0
	var kept []*entry // states kept here against a weaker one that differs
	for i := range m.Entries {
		pool, err := wire.PoolName(m.Entries[i].Handle)
		if err != nil {
			n.event(Event{Kind: EventRejected, Peer: p.id, Detail: err.Error()})
			continue
		}
		for j := range m.Entries[i].Elements {
			pe := &m.Entries[i].Elements[j]
			k := key{Pool: pool, ID: pe.ID}
			n.handedBack(k)
			cur := n.tab.Get(k)
			if cur == nil || !cur.Static() || n.staticHome(pool, pe.ID) != n.id {
				continue
			}
			e, policy, _, err := wire.FromPE(pe, now)
			if err != nil {
				n.event(Event{Kind: EventRejected, Peer: p.id, Detail: err.Error()})
				continue
			}
			if pe.X.Flags&wire.XTrimmed != 0 {
				wire.ZoneFields(e, cur.Elem, pe.X.HasValues)
			}
			s, mine := int(pe.X.Strength)-1, n.takeStrength()
			if !(s > mine || (s == mine && s > 0 && p.id < n.id)) || n.quorumFresh(k) {
				if wire.StateDiffers(cur.Elem, e) || cur.Elem.RTT != e.RTT || cur.Elem.Load != e.Load {
					// p's side changed it while apart and kept its
					// word: this registrar's push to p carried only
					// what changed here since (pushOwn), so p, and
					// whoever took its word on its side, have the
					// weaker state until told.
					kept = append(kept, cur)
				}
				continue
			}
			e.Home, e.Static = n.id, true
			e.Last = handlespace.LastAt(e, n.id)
			ne := table.NewEntry(pool, policy, e, 0)
			ne.Heard = true
			n.tab.Put(ne)
			n.tookState(cur, ne)
			n.op(Op{Kind: OpSetState, Pool: pool, ID: e.ID, Elem: e})
			n.out.Handed = append(n.out.Handed, Handed{Pool: pool, ID: e.ID, From: p.id, Health: e.Health,
				RTT: time.Duration(pe.X.RTT) * time.Microsecond})
			taken++
		}
	}
	for _, en := range kept {
		n.announce(wire.AddPE, en)
	}
	detail := fmt.Sprintf("taken (of %d)", m.ElementCount())
	if len(kept) > 0 {
		detail += fmt.Sprintf(", %d kept and announced", len(kept))
	}
	n.event(Event{Kind: EventHandback, Peer: p.id, Count: taken, Detail: detail})
	n.endHold(now)
}
