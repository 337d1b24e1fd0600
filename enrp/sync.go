package enrp

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/poolnsd/poolnsd/enrp/baseline"
	"github.com/poolnsd/poolnsd/enrp/placement"
	"github.com/poolnsd/poolnsd/enrp/table"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// tableSeq is a handle table transfer that this registrar asked a peer
// for: a sequence of HANDLE_TABLE_REQUEST and HANDLE_TABLE_RESPONSE while
// the responses have the more-to-send flag.
type tableSeq struct {
	own     bool         // own-children-only: the peer's own elements
	why     string       // for the events
	pending map[key]bool // own: the peer's elements not yet confirmed (swept at the end)
	start   time.Time    // when the first request went out
	last    time.Time    // when the last request went out
	applied int          // elements taken from the responses
	changed []string     // the first few of them, for the event
}

// cursor is a peer's handle table transfer from this registrar: the keys
// to send, fixed when it began, and how far it got.
type cursor struct {
	own  bool
	keys []key
	pos  int
	last time.Time
}

// audit compares a peer's ownership claim in its PRESENCE with what this
// registrar believes it owns, and starts a transfer of the peer's own
// elements when they differ.
func (n *Node) audit(p *peer, m *wire.Message) {
	if !n.synced || p.seq != nil || p.in != nil || n.now().Before(p.holdoff) || n.HandingIn() {
		// While a hand-off comes in, claims differ until its last page:
		// no transfer for that.
		return
	}
	sum, dig := n.tab.Claim(p.id)
	pushing := p.expect != nil && n.now().Sub(p.expectSince) < n.seqTimeout()
	switch {
	case pushing && !(m.Checksum == sum && m.Digest != nil && *m.Digest == dig):
		// Its push, made when it met this registrar again, is on its
		// way (behind this PRESENCE, or on another connection).
		return
	case m.Checksum == sum && m.Digest != nil && *m.Digest == dig:
		// What this registrar believes p owns is what p says it owns.
		n.claimMatched(p)
	case m.Checksum != sum && n.liveLag(p, m.Checksum):
		// Compared again at its next PRESENCE.
	case m.Checksum != sum:
		n.requestTable(p, true, fmt.Sprintf("checksum %04x, expected %04x", m.Checksum, sum))
	case m.Digest != nil && *m.Digest != dig:
		n.requestTable(p, true, fmt.Sprintf("digest %d/%016x, expected %d/%016x", m.Digest.Count, m.Digest.Hash, dig.Count, dig.Hash))
	}
}

// liveLag reports whether p's claim is what this registrar would credit
// it with with one registrar seen alive or dead the other way
// (placement.LiveLag): a pulled table would change nothing.
func (n *Node) liveLag(p *peer, claimed uint16) bool {
	claims := func(join, leave []uint16) bool { return n.tab.SumWith(p.id, join, leave) == claimed }
	return placement.LiveLag(n.live, append(n.allPeers(), n.id), p.id, claims, n.tab.Statics)
}

// requestTable starts a handle table transfer from p: of its own elements
// (own) or of everything it knows.
func (n *Node) requestTable(p *peer, own bool, why string) {
	if p.seq != nil {
		return
	}
	s := &tableSeq{own: own, why: why, start: n.now(), last: n.now()}
	if own {
		s.pending = n.tab.Registered(p.id)
		n.event(Event{Kind: EventResync, Peer: p.id, Detail: why})
	}
	p.seq = s
	m := &wire.Message{Type: wire.TypeHandleTableRequest}
	if own {
		m.Flags = wire.FlagOwnChildrenOnly
	}
	n.send(p.id, m)
}

func (n *Node) abortSeq(p *peer, why string) {
	s := p.seq
	p.seq = nil
	// Let the peer's cursor run out before the next transfer, so that a
	// new request is not taken for the next page of the old one.
	p.holdoff = n.now().Add(n.cursorTTL() + n.cfg.PresenceInterval/2)
	if !n.longStall.IsZero() && !s.last.After(n.longStall) {
		// Asked before a stall long enough for the peer to have found
		// this registrar dead: it dropped its cursor then (and it did
		// not send more since). Ask again at once.
		p.holdoff = time.Time{}
	}
	if s.own {
		p.resync = true // try again once the holdoff is over
	}
	if !s.own && n.mentor == p.id {
		n.mentor = 0
	}
	n.event(Event{Kind: EventSyncAbort, Peer: p.id, Detail: why})
}

func (n *Node) onTableRequest(p *peer, m *wire.Message) {
	now := n.now()
	own := m.Has(wire.FlagOwnChildrenOnly)
	c := p.cursor
	if c == nil || c.own != own {
		keep := func(en *entry) bool { return true }
		if own {
			keep = func(en *entry) bool { return en.Home() == n.id }
		}
		c = &cursor{own: own, keys: n.tab.Keys(keep)}
		p.cursor = c
	}
	c.last = now
	resp := &wire.Message{Type: wire.TypeHandleTableResp}
	count, size := 0, wire.HeaderLen+wire.IDsLen
	for c.pos < len(c.keys) && count < n.cfg.PageSize {
		k := c.keys[c.pos]
		en := n.tab.Get(k)
		if en == nil || (own && en.Home() != n.id) {
			c.pos++
			continue
		}
		pe := n.toPE(en)
		sz := pe.MaxSize()
		last := len(resp.Entries) - 1
		newPool := last < 0 || string(resp.Entries[last].Handle) != k.Pool
		if newPool {
			sz += wire.ParamHeaderLen + wire.Pad4(len(k.Pool))
		}
		if count > 0 && size+sz > pageBytes {
			break
		}
		if newPool {
			resp.Entries = append(resp.Entries, wire.Entry{Handle: []byte(k.Pool)})
			last++
		}
		resp.Entries[last].Elements = append(resp.Entries[last].Elements, pe)
		size += sz
		count++
		c.pos++
	}
	if c.pos < len(c.keys) {
		resp.Flags = wire.FlagMoreToSend
	} else {
		p.cursor = nil
	}
	n.send(p.id, resp)
}

func (n *Node) onTableResponse(p *peer, m *wire.Message) {
	s := p.seq
	if s == nil {
		return // not asked for, or given up on
	}
	if m.Has(wire.FlagReject) {
		n.abortSeq(p, "refused")
		return
	}
	s.last = n.now()
	for i := range m.Entries {
		pool, err := wire.PoolName(m.Entries[i].Handle)
		if err != nil {
			n.event(Event{Kind: EventRejected, Peer: p.id, Detail: err.Error()})
			continue
		}
		for j := range m.Entries[i].Elements {
			pe := &m.Entries[i].Elements[j]
			k := key{Pool: pool, ID: pe.ID}
			delete(s.pending, k)
			was := n.tab.Get(k)
			if n.applyPE(p, pool, pe) {
				s.applied++
				if what := table.ChangeOf(was, n.tab.Get(k)); what != "" && len(s.changed) < 4 {
					s.changed = append(s.changed, pool+" "+handlespace.IDString(pe.ID)+" ("+what+")")
				}
			}
		}
	}
	if m.Has(wire.FlagMoreToSend) {
		req := &wire.Message{Type: wire.TypeHandleTableRequest}
		if s.own {
			req.Flags = wire.FlagOwnChildrenOnly
		}
		n.send(p.id, req)
		return
	}
	p.seq = nil
	p.holdoff = n.now().Add(n.cfg.PresenceInterval)
	if s.own {
		swept := 0
		for _, k := range table.KeysInOrder(s.pending) {
			if en := n.tab.Get(k); en != nil && en.Home() == p.id && !en.Static() {
				n.tab.Del(k) // a wrong belief, not a deregistration: no tomb
				n.op(Op{Kind: OpDelete, Pool: k.Pool, ID: k.ID, Guard: guardOf(en.Elem)})
				swept++
			}
		}
		if swept > 0 {
			n.event(Event{Kind: EventSwept, Peer: p.id, Count: swept})
			if len(s.changed) < 4 {
				s.changed = append(s.changed, fmt.Sprintf("%d swept", swept))
			}
		}
		defer n.syncedWith(p, s.start) // after the sync-done event
	} else {
		n.synced = true
		n.mentor = 0
	}
	detail := map[bool]string{true: "own", false: "full"}[s.own]
	if s.own && len(s.changed) > 0 {
		// What an own-children transfer had to set right (what the
		// peer's updates and pushes did not carry): worth a look.
		detail += "; changed " + strings.Join(s.changed, ", ")
	}
	n.event(Event{Kind: EventSyncDone, Peer: p.id, Count: s.applied, Detail: detail})
}

func (n *Node) onUpdate(p *peer, m *wire.Message) {
	pool, err := wire.PoolName(m.Entries[0].Handle)
	if err != nil {
		n.event(Event{Kind: EventRejected, Peer: p.id, Detail: err.Error()})
		return
	}
	pe := &m.Entries[0].Elements[0]
	if m.Action == wire.AddPE && pe.X != nil && pe.X.AdminReq {
		n.onAdminRequest(p, pool, pe)
		return
	}
	if m.Action == wire.AddPE && pe.X != nil && pe.X.ReportReq {
		n.onReportRequest(p, pool, pe)
		return
	}
	if m.Action == wire.AddPE && pe.X != nil && pe.X.ConfirmReq != nil {
		n.onConfirmRequest(p, pool, pe)
		return
	}
	if m.Action == wire.AddPE && pe.X != nil && pe.X.ConfirmAns != nil {
		n.onConfirmAnswer(p, pool, pe)
		return
	}
	k := key{Pool: pool, ID: pe.ID}
	if p.seq != nil {
		delete(p.seq.pending, k)
	}
	if p.in != nil {
		delete(p.in.pending, k)
	}
	if p.expect != nil {
		// Sent after the push that is to come, or coming (see onPush).
		p.expect[k] = true
	}
	if m.Action == wire.AddPE {
		n.applyPE(p, pool, pe)
		return
	}
	en := n.tab.Get(k)
	expires := wire.LeaseEnd(pe, n.now())
	switch {
	case en == nil:
		n.tab.Bury(k, expires, n.now()) // in case a stale copy comes later
		return
	case en.Static():
		return // zone files decide zone-file elements
	case placement.Later(en.Elem.Expires.Time(), expires):
		// Our copy is of a later registration than the one deleted: it
		// stands, even against its home's word (a deletion replayed
		// with a push, see pushOwn, may be older than a registration
		// made since).
		return
	}
	if en.Home() == n.id {
		n.event(Event{Kind: EventOwnershipLost, Peer: p.id, Count: 1, Detail: "deregistered there: " + pool + " " + handlespace.IDString(pe.ID)})
	}
	n.tab.Del(k)
	n.tab.Bury(k, en.Elem.Expires.Time(), n.now())
	n.op(Op{Kind: OpDelete, Pool: pool, ID: pe.ID, Guard: guardOf(en.Elem)})
}

// applyPE takes what peer p says of an element and reports whether it
// changed this registrar's table.
func (n *Node) applyPE(p *peer, pool string, pe *wire.PE) bool {
	e, policy, gen, err := wire.FromPE(pe, n.now())
	if err != nil {
		n.event(Event{Kind: EventRejected, Peer: p.id, Detail: err.Error()})
		return false
	}
	if e.Home == 0 {
		n.event(Event{Kind: EventRejected, Peer: p.id, Detail: fmt.Sprintf("element %s of %s without a home", handlespace.IDString(e.ID), pool)})
		return false
	}
	e.Last = handlespace.LastAt(e, n.id)
	k := key{Pool: pool, ID: e.ID}
	cur := n.tab.Get(k)
	if pe.X != nil && pe.X.Flags&wire.XTrimmed != 0 {
		if cur == nil || !cur.Static() {
			return false // not of this registrar's zones: its claim's audit asks for it whole
		}
		wire.ZoneFields(e, cur.Elem, pe.X.HasValues)
	}
	if e.Static || (cur != nil && cur.Static()) {
		strength := -1 // unknown: an older sender
		if pe.X != nil && pe.X.Strength > 0 {
			strength = int(pe.X.Strength) - 1
		}
		return n.applyStatic(p, k, cur, e, policy, strength)
	}
	direct := p.id == e.Home
	if cur != nil && e.Home == n.id && cur.Home() == n.id {
		// Ours, by a peer's account one generation or more later than by
		// ours: a restart lost our generations (the store does not keep
		// them). Take the peer's, so that our claims agree.
		if gen > cur.Gen {
			n.tab.Put(table.NewEntry(pool, cur.Policy, cur.Elem, gen))
		}
		return false
	}
	switch {
	case cur == nil:
		if e.Home == n.id {
			// Ours, but we do not have it: a leftover that this
			// registrar's claim will make the peer sweep.
			return false
		}
		if tb, ok := n.tab.TombOf(k, n.now()); ok && !placement.Later(e.Expires.Time(), tb.Expires) {
			// Deregistered, and this copy is of that registration
			// or an older one: tell its home.
			if direct {
				n.sendUpdate(p.id, wire.DelPE, table.NewEntry(pool, policy, e, gen))
			}
			return false
		}
	case direct && cur.Home() == e.Home:
		// The home's word on its own element, whatever generation it
		// gives (a restarted home may give a lower one).
		if gen == cur.Gen && wire.SameElement(cur.Elem, e) {
			return false
		}
	case cur.Home() == e.Home:
		return false // what the home itself says is worth more
	case table.Supersedes(e, gen, cur) && e.Home != n.id:
		if cur.Home() == n.id {
			n.event(Event{Kind: EventOwnershipLost, Peer: e.Home, Count: 1, Detail: fmt.Sprintf("%s %s: generation %d over %d, lease end %+dms, from %08x",
				pool, handlespace.IDString(e.ID), gen, cur.Gen, e.Expires.Time().Sub(cur.Elem.Expires.Time()).Milliseconds(), p.id)})
		}
	default:
		// Our claim wins: tell the claimant, if the claim is ours.
		if cur.Home() == n.id && direct {
			n.sendUpdate(p.id, wire.AddPE, cur)
		}
		return false
	}
	g := guardOf(nil)
	if cur != nil {
		g = guardOf(cur.Elem)
	}
	n.tab.Put(table.NewEntry(pool, policy, e, gen))
	n.op(Op{Kind: OpPut, Pool: pool, ID: e.ID, Policy: policy, Elem: e, Guard: g})
	return true
}

// applyStatic takes what p says of a zone-file element: only its home (by
// rendezvous over the live set) is believed, and only for the state it
// measures; zone files decide the rest. strength is the sender's (see
// ElementX.Strength), -1 unknown.
func (n *Node) applyStatic(p *peer, k key, cur *entry, e *handlespace.Element, policy string, strength int) bool {
	home := n.staticHome(k.Pool, k.ID)
	fromHome := p.id == home
	// Homed here, but a peer knows better: this registrar has not synced
	// yet (a restart), or it is settling after the live set grew, when
	// its side of a partition had fewer registrars. Take it, and say so
	// to the monitor.
	mine := n.strength()
	stronger := home == n.id && cur != nil && strength > mine && (!n.synced || n.now().Before(n.mergeUntil)) && !n.quorumFresh(k)
	switch {
	case fromHome:
		if cur != nil && strength >= 0 && strength < mine && n.now().Before(cur.Settle) {
			// A newcomer's state, weaker than the one held here while it
			// settles in: its old home hands the current one back to it.
			return false
		}
	case stronger:
	case home == n.id || cur == nil || cur.Heard:
		// Only the home's word counts, but another's is better than
		// none: a registrar that joins takes its mentor's until the home
		// speaks.
		return false
	}
	if fromHome {
		n.base.Said(baseline.Key{Pool: k.Pool, ID: k.ID}, p.id)
	}
	e.Home, e.Static = home, true
	e.Last = handlespace.LastAt(e, n.id)
	if cur != nil && wire.SameElement(cur.Elem, e) {
		cur.Heard = cur.Heard || fromHome || stronger
		return false
	}
	en := table.NewEntry(k.Pool, policy, e, 0)
	en.Heard = fromHome || stronger
	if cur != nil {
		en.Settle = cur.Settle
	}
	n.tab.Put(en)
	if stronger {
		n.out.Handed = append(n.out.Handed, Handed{Pool: k.Pool, ID: k.ID, From: p.id, Health: e.Health, RTT: e.RTT})
		n.tookState(cur, en)
	}
	if cur != nil {
		// An element of our own zones: copy the state over. One that our
		// zones lack stays in the table only, so that the checksums agree.
		n.op(Op{Kind: OpSetState, Pool: k.Pool, ID: k.ID, Elem: e})
	}
	return true
}

// toPE returns en's wire form, with the strength of its state.
func (n *Node) toPE(en *entry) wire.PE {
	pe := wire.ToPE(en.Elem, en.Policy, en.Gen, n.now())
	s := n.strength()
	if en.Static() && en.Home() == n.id && n.isFresh(en.Key) {
		// Its state came from its old home, or a quorum measured it
		// since the heal: its peers, settling after the live set grew,
		// must not take it for the stale state of a newcomer (they
		// would ignore its updates until the settle window ends, and
		// their digests would differ until an audit).
		s = max(s, len(n.live))
	}
	pe.X.Strength = uint8(min(s+1, 255))
	return pe
}

// sendUpdate sends a HANDLE_UPDATE of en to peer to.
func (n *Node) sendUpdate(to uint32, action wire.UpdateAction, en *entry) {
	pe := n.toPE(en)
	n.send(to, &wire.Message{Type: wire.TypeHandleUpdate, Action: action,
		Entries: []wire.Entry{{Handle: []byte(en.Pool), Elements: []wire.PE{pe}}}})
}

// announce sends a HANDLE_UPDATE of en to every live peer, and to a
// dead one that was pushed this registrar's elements since (see
// peer.pushedDead); none while this registrar hands its elements off:
// they are its peers' now.
func (n *Node) announce(action wire.UpdateAction, en *entry) {
	if n.leaving != nil {
		return
	}
	for _, id := range n.allPeers() {
		if p := n.peers[id]; !p.dead || p.pushedDead {
			n.sendUpdate(id, action, en)
		}
	}
}

// Local takes changes of the local handlespace: registrations, lease
// refreshes, expiries, probe results, zone reloads, and the effects of the
// Node's own operations (which change nothing). Changes of the elements
// this registrar owns go to every live peer as HANDLE_UPDATE.
func (n *Node) Local(cs []Change) Ready {
	for i := range cs {
		n.local(&cs[i])
	}
	return n.flush()
}

func (n *Node) local(c *Change) {
	k := key{Pool: c.Pool, ID: c.ID}
	cur := n.tab.Get(k)
	e := c.Elem
	if e == nil {
		if cur == nil {
			return
		}
		if w := c.Was; w != nil && !cur.Static() && !w.Static && placement.Later(cur.Elem.Expires.Time(), w.Expires.Time()) {
			// What went was an older registration than the one the Node
			// has (its operations had not reached the handlespace yet):
			// the later registration stands. Put it back.
			n.op(Op{Kind: OpPut, Pool: c.Pool, ID: c.ID, Policy: cur.Policy, Elem: cur.Elem, Guard: guardOf(nil)})
			return
		}
		n.tab.Del(k)
		now := n.now()
		switch {
		case cur.Static():
		case cur.Home() == n.id:
			n.tab.BuryHere(cur, now)
			n.announce(wire.DelPE, cur)
		case cur.Elem.Expires.Time().IsZero() || cur.Elem.Expires.Time().After(now):
			// A peer's element deregistered here (not expired: its
			// home expires it by itself). Tell everyone, the home
			// included.
			n.tab.BuryHere(cur, now)
			n.announce(wire.DelPE, cur)
		}
		return
	}
	if e.Static {
		home := n.staticHome(c.Pool, c.ID)
		if e.Home != home {
			n.op(Op{Kind: OpSetHome, Pool: c.Pool, ID: c.ID, Home: home})
			e = table.WithHome(e, home)
		}
		if cur != nil && cur.Static() && home != n.id {
			// The home's word on its state stands: a change made here
			// (a probe result or verdict published just as the element
			// moved to another home) is undone.
			if wire.StateDiffers(cur.Elem, e) {
				n.op(Op{Kind: OpSetState, Pool: c.Pool, ID: c.ID, Elem: cur.Elem})
			}
			return
		}
		if cur != nil && wire.SameElement(cur.Elem, e) && cur.Policy == c.Policy {
			return
		}
		en := table.NewEntry(c.Pool, c.Policy, e, 0)
		en.Heard = home == n.id
		n.tab.Put(en)
		if home == n.id {
			n.announce(wire.AddPE, en)
		}
		return
	}
	if e.Home != n.id {
		// A peer's element: it changes here only by the Node's own
		// operations (already in the table). Its state as its home says
		// stands: a change made here (a verdict published just as the
		// element moved) is undone. And an operation that reached the
		// handlespace late (the driver holds them back while a table
		// comes in), after the Node had moved on, may have left there a
		// registration that the Node no longer believes (one it
		// deregistered, an older lease): set it right.
		switch {
		case cur == nil:
			n.op(Op{Kind: OpDelete, Pool: c.Pool, ID: c.ID, Guard: guardOf(e)})
		case cur.Static():
		case cur.Home() == e.Home && (!guardOf(cur.Elem).Holds(e) || wire.StateDiffers(cur.Elem, e)):
			n.op(Op{Kind: OpPut, Pool: c.Pool, ID: c.ID, Policy: cur.Policy, Elem: cur.Elem, Guard: guardOf(e)})
		}
		return
	}
	gen := uint32(0)
	if cur == nil {
		if tb, ok := n.tab.TombOf(k, n.now()); ok && !e.Expires.Time().IsZero() && e.Expires.Time().UnixMilli() == tb.Expires.UnixMilli() {
			// The registration deleted here, with its lease end: a
			// change of it (a probe result, say) made before the
			// deletion reached the handlespace (the driver holds
			// operations back while a table comes in), not a new
			// registration, whose lease would end later. Delete it,
			// should the deletion have been lost.
			n.op(Op{Kind: OpDelete, Pool: c.Pool, ID: c.ID, Guard: guardOf(e)})
			return
		}
		n.tab.Unbury(k) // registered again after its deletion
	}
	if cur != nil {
		gen = cur.Gen
		if cur.Home() != n.id {
			if !placement.Later(e.Expires.Time(), cur.Elem.Expires.Time()) {
				// Not a new lease: a change (a probe result, say) of an
				// element whose move to its new home is still on its way
				// to the handlespace, or that a late operation left
				// homed here. Its new home's copy stands.
				n.op(Op{Kind: OpPut, Pool: c.Pool, ID: c.ID, Policy: cur.Policy, Elem: cur.Elem, Guard: guardOf(e)})
				return
			}
			// Registered here while a peer owned it: ours now, one
			// generation on.
			gen++
		} else if wire.SameElement(cur.Elem, e) && cur.Policy == c.Policy {
			return
		}
	}
	en := table.NewEntry(c.Pool, c.Policy, e, gen)
	n.tab.Put(en)
	n.announce(wire.AddPE, en)
}

// Pushes: when two registrars meet again (a new connection after the
// last one was lost, or a peer back from the dead), what either sent the
// other meanwhile may be lost. Each then pushes the other its own
// elements, unasked, the moment it can speak to it (pushOwn: in the
// Hello of a connection it dialled, or when it first hears the peer):
// every page at once, sized by bytes, before them a DEL_PE of each
// deregistration made here since the peer was last heard. The receiver
// takes the pages as it takes an own-children-only table transfer
// (onPush), the last page sweeping what it believed the pusher owned and
// the push did not carry. No request, and no round trip a page, stands
// between a heal and a synced view: a table of a few thousand elements
// arrives within one one-way delay of the connection.

// syncPage is the most elements of a push page, which also stops short
// of pageBytes (about 300 elements of a zone file).
const syncPage = 4096

// pushIn is a peer's push coming in.
type pushIn struct {
	seq     uint32
	start   time.Time
	pending map[key]bool // what the peer was believed to own, not yet in a page
	applied int
}

// lostPeer notes that what was sent to p may be lost (its connection
// was, or it was found dead): this registrar owes it a push, and
// expects one.
func (n *Node) lostPeer(p *peer) {
	p.pushedDead, p.ahead = false, nil // the push, if any, went with what was lost
	if !p.owe {
		p.owe, p.lost, p.silent = true, p.lastHeard, p.dead && p.leftAt.IsZero()
	}
	if p.expect == nil {
		p.expect = map[key]bool{}
	}
	p.expectSince = time.Time{} // its push is awaited from its next word, not an older loss's
}

// pushOwn pushes this registrar's own elements to p if it owes them and
// can (it has synced, and is not leaving): the DEL_PE of each
// deregistration made here since a presence interval before p was last
// heard (what was sent just before may be lost too), then pages of
// HANDLE_TABLE_RESPONSE marked SyncPage, the last one SyncLast.
func (n *Node) pushOwn(p *peer) {
	if !p.owe || !n.synced || p.left || n.leaving != nil {
		return
	}
	p.owe = false
	p.pushedDead = p.dead
	now := n.now()
	since := p.lost.Add(-n.cfg.PresenceInterval)
	dels := n.tab.DeletedHere(since, now)
	for _, en := range dels {
		n.sendUpdate(p.id, wire.DelPE, en)
	}
	// The registered elements homed here (all: the receiver sweeps what
	// it believed this registrar owned and the push did not carry), and
	// the zone-file ones that stay homed here once p is live (those that
	// move to p are handed back, ahead of the push), as their state
	// alone: a push over a new connection goes out in slow start, ten
	// segments the first round trip, each one more a round trip later
	// (the lab's far site: 200 of them, 12-15 KB with TLS, 300 ms late).
	// To a peer lost by its silence (stopped, its link cut, a partition:
	// it kept its table) only those changed since, marked HandoffDelta:
	// it puts back what it had from here for the others (putBack). A
	// peer whose connections closed first (killed, to restart) or that
	// left gets them all. A registrar whose state of them is stale
	// (held, see hold.go) or weak (in a minority: see strength) sends
	// only those a quorum measured since it came back (freshen), and no
	// delta, no hand-back ahead: a state it took from a stronger peer's
	// hand-back, p has from that peer's side (136 of them filled the
	// lab's first flight to the far site, its registrations 300 ms late).
	live := n.live
	if !slices.Contains(live, p.id) {
		live = append(slices.Clone(live), p.id)
		slices.Sort(live)
	}
	statics := n.held == nil && n.strength() > 0 && !n.minority(now)
	delta := statics && p.silent
	keys := n.tab.Keys(func(en *entry) bool {
		if en.Static() {
			return (statics || n.quorumFresh(en.Key)) && (!delta || !en.Changed.Before(since)) && placement.Rendezvous(live, en.Pool, en.Elem.ID) == n.id
		}
		return en.Home() == n.id
	})
	ahead := 0
	if statics {
		ahead = n.handBackAhead(p, live)
	}
	h := &wire.Handoff{Kind: wire.SyncPage, Live: uint16(min(n.strength(), math.MaxUint16))}
	if delta {
		h.Flags = wire.HandoffDelta
	}
	n.handSeq++
	h.Seq = n.handSeq
	n.sendPages(p.id, keys, h, wire.SyncLast, syncPage, trimStatic)
	n.event(Event{Kind: EventPushed, Peer: p.id, Count: len(keys), Detail: fmt.Sprintf("and %d deletions, %d handed back ahead, delta %t", len(dels), ahead, delta)})
}

// trimStatic is wire.TrimStatic for sendPages.
func trimStatic(_ key, pe *wire.PE) { wire.TrimStatic(pe) }

// abortPush gives up p's push coming in (the connection that carried it
// is gone; p pushes again on the next one).
func (n *Node) abortPush(p *peer, why string) {
	if p.in == nil {
		return
	}
	p.in = nil
	n.event(Event{Kind: EventSyncAbort, Peer: p.id, Detail: "push: " + why})
}

// onPush takes a page of p's push of its own elements.
func (n *Node) onPush(p *peer, m *wire.Message) {
	h := m.Handoff
	in := p.in
	if in == nil || in.seq != h.Seq {
		in = &pushIn{seq: h.Seq, start: n.now(), pending: n.tab.Registered(p.id)}
		p.in = in
	}
	for i := range m.Entries {
		pool, err := wire.PoolName(m.Entries[i].Handle)
		if err != nil {
			n.event(Event{Kind: EventRejected, Peer: p.id, Detail: err.Error()})
			continue
		}
		for j := range m.Entries[i].Elements {
			pe := &m.Entries[i].Elements[j]
			k := key{Pool: pool, ID: pe.ID}
			delete(in.pending, k)
			n.base.Said(baseline.Key{Pool: pool, ID: pe.ID}, p.id)
			if p.expect[k] {
				continue // p's later word on it came first
			}
			if n.applyPE(p, pool, pe) {
				in.applied++
			}
		}
	}
	if h.Kind != wire.SyncLast {
		return
	}
	bases, back := n.base.Take(p.id), 0
	if h.Flags&wire.HandoffDelta != 0 {
		back = n.putBack(p, bases, p.expect, int(h.Live))
	}
	p.in, p.expect, p.expectSince = nil, nil, time.Time{}
	// Its PRESENCE messages sent before it met the others again (its
	// live set, and so its claim of zone-file elements, about to
	// change) may still come: no audit for a while, as after a table
	// transfer.
	p.holdoff = n.now().Add(n.cfg.PresenceInterval)
	swept := 0
	for _, k := range table.KeysInOrder(in.pending) {
		if en := n.tab.Get(k); en != nil && en.Home() == p.id && !en.Static() {
			n.tab.Del(k) // a wrong belief, not a deregistration: no tomb
			n.op(Op{Kind: OpDelete, Pool: k.Pool, ID: k.ID, Guard: guardOf(en.Elem)})
			swept++
		}
	}
	if swept > 0 {
		n.event(Event{Kind: EventSwept, Peer: p.id, Count: swept})
	}
	detail := "pushed"
	if back > 0 {
		detail = fmt.Sprintf("pushed, %d put back", back)
	}
	n.event(Event{Kind: EventSyncDone, Peer: p.id, Count: in.applied, Detail: detail})
	n.syncedWith(p, in.start)
}

// putBack, at the end of p's delta push (wire.HandoffDelta), puts back
// the zone-file elements p homes and left out as p said them before it
// was lost (bases): the copies here are this side's measures while apart.
// Not those p's later word reached (skip) or heard from p since, nor one
// homed elsewhere, nor, from a weaker p (strength), one kept here while
// it settles (see applyStatic). It returns how many it put back.
func (n *Node) putBack(p *peer, bases []baseline.Base, skip map[key]bool, strength int) int {
	count := 0
	for _, b := range bases {
		k := key{Pool: b.Pool, ID: b.ID}
		cur := n.tab.Get(k)
		if skip[k] || cur == nil || !cur.Static() || cur.Heard || n.staticHome(k.Pool, k.ID) != p.id ||
			(strength < n.strength() && n.now().Before(cur.Settle)) {
			continue
		}
		e := b.Elem.Clone()
		wire.ZoneFields(e, cur.Elem, true)
		e.Home, e.Static = p.id, true
		e.Last = handlespace.LastAt(e, n.id)
		en := table.NewEntry(k.Pool, cur.Policy, e, 0)
		en.Heard, en.Settle = true, cur.Settle
		n.tab.Put(en)
		n.op(Op{Kind: OpSetState, Pool: k.Pool, ID: k.ID, Elem: e})
		count++
	}
	return count
}
