package enrp

import (
	"fmt"
	"math"
	"time"

	"github.com/poolnsd/poolnsd/enrp/placement"
	"github.com/poolnsd/poolnsd/enrp/vantage"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// Health confirmation from other vantage points (the maths are package
// placement's, the books package vantage's).
//
// When the probes of an element's home would change its health, the
// home's monitor has the change confirmed (Confirm, through
// Driver.Confirm): the home asks the element's vantage points (the next
// Config.Confirm live registrars in its rendezvous order,
// placement.Vantages) with a HANDLE_UPDATE (ADD_PE) of its copy of the
// element with ParamXConfirmReq, carrying a nonce, the health its own
// probes propose and how long it waits. A vantage point that has the
// element homed at the asker hands the request to its driver
// (Ready.Probes, DriverConfig.OnProbe), which probes the element once and
// gives the result back (Answer); the answer goes to the home as a
// HANDLE_UPDATE of the vantage point's copy with ParamXConfirmAns. The
// home decides (placement.Quorum, among the answers and its own) once
// every vantage point answered or its wait is over (the probe timeout, a
// quarter more and the farthest vantage point's round trip:
// placement.Budgets, Config.PeerRTT), and hands the verdict to its driver
// (Ready.Verdicts, DriverConfig.OnVerdict), which publishes it as a local
// change (the element's health and, if the votes disagreed, its Vantage),
// which reaches every peer as usual. When they disagree the element is
// disputed: its ParamXVantage lists who saw what, it stays in every
// registrar's answers, and a registrar that saw it down (or, not asked,
// when the verdict is down) puts it last (handlespace.LastAt).
//
// A request is refused (an ERROR naming it, ParamXRefused) when the
// element is unknown here or homed elsewhere than at the asker, and when
// the asker is over its rate (ConfirmRate, ConfirmBurst) or too many of
// its probes are in flight here (MaxProbes); the refusals themselves are
// rate-limited, and those beyond the rate are dropped silently. A peer
// that does not know ParamXConfirmReq reads the request as the home's
// word on its own element (what it is); a home that does not know
// ParamXConfirmAns ignores the answer, a non-home's word.

// Defaults of the confirmation limits.
const (
	DefaultConfirmRate  = 1000 // requests a second from one peer
	DefaultConfirmBurst = 2000
	DefaultMaxProbes    = 512
	// refusalRate and refusalBurst bound the ERRORs refusing one peer's
	// requests (the rest are dropped without a word).
	refusalRate, refusalBurst = 10, 20
)

// RefusedBusy: the receiver refused the request for now: the asker is
// over its rate, or too many of its requests are being carried out.
const RefusedBusy uint8 = 5

// ProbeRequest is a home's request, accepted here, to probe element ID of
// Pool once, now, and answer with what the probe saw (Node.Answer) within
// Budget.
type ProbeRequest struct {
	Pool  string
	ID    uint32
	From  uint32 // the home that asks
	Nonce uint32
	// Budget is how long this registrar has, from the request's
	// arrival, to answer (placement.Budgets): the home's wait less the
	// round trip between them. The probe should end well before (the
	// monitor gives it four fifths, at most the element's timeout).
	Budget time.Duration
	// Proposed is the health the home's own probes propose.
	Proposed handlespace.Health
}

// Verdict is the outcome of a confirmation this registrar asked for: the
// element's health by quorum, and what each vantage point saw.
type Verdict struct {
	Pool string
	ID   uint32
	// Current is the health published when the confirmation began, and
	// Proposed what the home's probes said.
	Current, Proposed handlespace.Health
	// Health is the verdict.
	Health handlespace.Health
	// Vantage is what the vantage points saw when they disagreed (the
	// element is disputed), sorted by registrar; nil when they agreed.
	Vantage []handlespace.Vantage
	// Votes are the answers that came in time, this registrar's own first.
	Votes []placement.Vote
	// Asked is how many other registrars were asked.
	Asked int
	// Moved: the element is no longer homed here (it was handed off, or
	// taken back, while the vantage points probed it), or a vantage
	// point refused because it sees another home (the registrars do not
	// agree on the live set yet: this one may have just started); the
	// verdict is not to be published here (its home decides, or this
	// registrar asks again once it is settled).
	Moved bool
}

// round is a confirmation this registrar asked for, of element key.
type round struct {
	key
	nonce uint32
	*vantage.Round
}

// ConfirmStats counts what the confirmations did here.
type ConfirmStats struct {
	// Asked counts the confirmations this registrar asked for, Decided
	// those decided, Disputed those whose vantage points disagreed.
	Asked, Decided, Disputed uint64
	// Probes counts the peers' requests accepted here (probes made for
	// them); Refused those refused (unknown element, not the home,
	// rate, load), whether an ERROR said so or not.
	Probes, Refused uint64
}

// ConfirmStats returns the confirmation counters.
func (n *Node) ConfirmStats() ConfirmStats { return n.cstats }

// Confirm asks the vantage points of element id of pool, homed here, to
// probe it once now, because this registrar's probes propose the health
// proposed, with wait the element's probe timeout; it waits for their
// answers as long as placement.Budgets says (a quarter more than wait,
// plus the farthest vantage point's round trip by Config.PeerRTT, at
// most twice wait in all). It returns false (and
// sends nothing) when there is no one to ask: the element is not homed
// here, no other registrar is live, Config.Confirm is 0, or this
// registrar is handing its elements off. Alone in a minority (Minority),
// a proposed down of an element that is up is not taken on this
// registrar's word (it may be the one cut off): it returns true with the
// verdict in the Ready, the health kept and the element disputed, with
// this registrar's view. Otherwise the verdict comes in a later Ready's
// Verdicts (after every answer, or at that wait), and a confirmation of the
// element already under way is decided at once with the answers it has.
func (n *Node) Confirm(pool string, id uint32, proposed handlespace.Health, wait time.Duration) (bool, Ready) {
	k := key{Pool: pool, ID: id}
	en := n.tab.Get(k)
	if en == nil || en.Home() != n.id || n.cfg.Confirm <= 0 || n.leaving != nil {
		return false, n.flush()
	}
	vs := placement.Vantages(n.live, n.id, pool, id, n.cfg.Confirm)
	if len(vs) == 0 {
		if v, ok := n.aloneVerdict(en, proposed); ok {
			n.out.Verdicts = append(n.out.Verdicts, v)
			n.event(Event{Kind: EventConfirmed, Detail: fmt.Sprintf("%s %s: proposed %s, verdict %s: alone in a minority, nobody to confirm",
				pool, handlespace.IDString(id), proposed, v.Health)})
			return true, n.flush()
		}
		return false, n.flush()
	}
	if old := n.rounds[k]; old != nil {
		n.decide(old)
	}
	rtts := make([]time.Duration, len(vs))
	for i, v := range vs {
		if n.cfg.PeerRTT != nil {
			rtts[i] = n.cfg.PeerRTT(v)
		}
	}
	total, budgets := placement.Budgets(wait, rtts)
	n.nonce++
	r := &round{key: k, nonce: n.nonce, Round: vantage.NewRound(n.now(), total, n.id, en.Elem.Health, proposed, vs)}
	r.Cut = n.cutOff(n.now())
	n.rounds[k] = r
	n.byNonce[r.nonce] = r
	n.cstats.Asked++
	for i, v := range vs {
		pe := n.toPE(en)
		budget := uint16(min(budgets[i].Milliseconds(), math.MaxUint16))
		pe.X.ConfirmReq = &wire.ConfirmReq{Nonce: r.nonce, Budget: budget, Proposed: uint8(proposed)}
		n.send(v, &wire.Message{Type: wire.TypeHandleUpdate, Action: wire.AddPE,
			Entries: []wire.Entry{{Handle: []byte(pool), Elements: []wire.PE{pe}}}})
	}
	return true, n.flush()
}

// decide ends round r with the votes it has and hands out the verdict.
func (n *Node) decide(r *round) {
	delete(n.rounds, r.key)
	delete(n.byNonce, r.nonce)
	votes := r.Votes
	if n.unsure(r) && (r.VotedBy(n.id, handlespace.HealthUp) || r.VotedBy(n.id, handlespace.HealthDown)) {
		// Its own count may be from a cut (unsure) and another's fresh
		// probe said: the others decide; its stale vote makes no dispute.
		votes = votes[1:]
	}
	h, views := placement.Quorum(r.Current, r.Proposed, votes, n.cfg.Quorum)
	if h == handlespace.HealthDown && r.Current == handlespace.HealthUp && !r.VotedBy(n.id, r.Proposed) && n.unsure(r) {
		// No other vantage point saw it down (none answered, or none
		// could say: a far one's short probe), and this registrar's
		// own word is suspect: it is probably the one cut off (every
		// peer overdue; in a minority once it finds them dead), or it
		// just came back from a cut or a stall and its probes' count
		// is from then (until the peers' hand-backs reset it). Its
		// word alone does not take the element down (see
		// aloneVerdict).
		h, views = r.Current, []handlespace.Vantage{{Registrar: n.id, Health: r.Proposed}}
	}
	v := Verdict{Pool: r.Pool, ID: r.ID, Current: r.Current, Proposed: r.Proposed, Health: h, Vantage: views,
		Votes: r.Votes, Asked: r.Asked}
	if en := n.tab.Get(r.key); en == nil || en.Home() != n.id || r.Elsewhere {
		v.Moved = true
	} else if h != handlespace.HealthUnknown && r.VotedBy(n.id, h) && !r.Cut && !n.cutOff(n.now()) && !r.Start.Before(n.backAt) {
		// Another vantage point's probe, made since this registrar came
		// back (not on its side of a cut), says so: fresher than a
		// hand-back, and as strong as the live set's word (freshen).
		n.freshen(r.key, true)
	}
	n.out.Verdicts = append(n.out.Verdicts, v)
	n.cstats.Decided++
	if views != nil {
		n.cstats.Disputed++
	}
	detail := fmt.Sprintf("%s %s: proposed %s, verdict %s, %d of %d vantage points answered", r.Pool, handlespace.IDString(r.ID),
		r.Proposed, h, len(r.Votes)-1, r.Asked)
	if views != nil {
		detail += ", disputed"
	}
	if v.Moved {
		detail += ", not published: the element is homed elsewhere (here or at a vantage point)"
	}
	n.event(Event{Kind: EventConfirmed, Detail: detail})
}

// stallRounds gives every round under way its whole wait again from now,
// after a stall of this registrar (see stalled and vantage.Round.Stall).
func (n *Node) stallRounds(now time.Time) {
	for _, r := range n.byNonce {
		r.Stall(now)
	}
}

// unsure reports whether this registrar's probes alone are not to be
// trusted for round r: it is cut off now or was when r began, or its
// view is held or settling after a hold (a healed minority, a long
// stall: the failures its probes counted may be from then, and the
// hand-backs that reset them may still be on their way).
func (n *Node) unsure(r *round) bool {
	now := n.now()
	return r.Cut || n.cutOff(now) || n.held != nil || now.Before(n.heldAfter)
}

// tickRounds decides the rounds whose wait is over, and forgets the
// peers' requests that were never answered.
func (n *Node) tickRounds(now time.Time) {
	for _, nonce := range sortedKeys(n.byNonce) {
		if r := n.byNonce[nonce]; !now.Before(r.Deadline) {
			n.decide(r)
		}
	}
	n.gate.Expire(now)
}

// onConfirmAnswer takes a vantage point's answer.
func (n *Node) onConfirmAnswer(p *peer, pool string, pe *wire.PE) {
	a := pe.X.ConfirmAns
	r := n.byNonce[a.Nonce]
	if r == nil || r.Pool != pool || r.ID != pe.ID {
		return // late (decided already), or not asked
	}
	if _, done := r.Answer(p.id, handlespace.Health(a.Health)); done {
		n.decide(r)
	}
}

// onConfirmRequest takes a home's request to probe one of its elements.
func (n *Node) onConfirmRequest(p *peer, pool string, pe *wire.PE) {
	now := n.now()
	req := pe.X.ConfirmReq
	what := fmt.Sprintf("confirmation request for %s %s", pool, handlespace.IDString(pe.ID))
	if !n.gate.Allow(now, p.id) {
		n.refuseConfirm(p, pool, pe.ID, RefusedBusy, what, "too many requests from this peer")
		return
	}
	en := n.tab.Get(key{Pool: pool, ID: pe.ID})
	switch {
	case en == nil:
		n.refuseConfirm(p, pool, pe.ID, wire.RefusedNoElement, what, "no such element here")
		return
	case en.Home() != p.id:
		n.refuseConfirm(p, pool, pe.ID, wire.RefusedNotHome, what,
			fmt.Sprintf("its home is %s here, not the asker", handlespace.IDString(en.Home())))
		return
	case n.gate.Full():
		n.refuseConfirm(p, pool, pe.ID, RefusedBusy, what, "too many probes for peers in flight")
		return
	}
	budget := time.Duration(req.Budget) * time.Millisecond
	n.gate.Start(vantage.Req{From: p.id, Nonce: req.Nonce}, now.Add(budget))
	n.cstats.Probes++
	proposed := handlespace.Health(req.Proposed)
	if proposed > handlespace.HealthDown {
		proposed = handlespace.HealthUnknown
	}
	n.out.Probes = append(n.out.Probes, ProbeRequest{Pool: pool, ID: pe.ID, From: p.id, Nonce: req.Nonce, Budget: budget, Proposed: proposed})
}

// refuseConfirm refuses a confirmation request with an ERROR naming it,
// unless the peer's refusals are over their rate.
func (n *Node) refuseConfirm(p *peer, pool string, id uint32, reason uint8, what, why string) {
	n.cstats.Refused++
	if !n.gate.Refuse(n.now(), p.id) {
		return
	}
	n.refuse(p.id, wire.ParamXConfirmReq, pool, id, reason, what, why)
}

// Answer sends the home that asked (Ready.Probes) what the probe of its
// element saw: up or down, or unknown when it could not be probed.
func (n *Node) Answer(req ProbeRequest, h handlespace.Health, rtt time.Duration) Ready {
	if !n.gate.Done(vantage.Req{From: req.From, Nonce: req.Nonce}) {
		return n.flush() // forgotten: too late to count
	}
	en := n.tab.Get(key{Pool: req.Pool, ID: req.ID})
	if p := n.peers[req.From]; en == nil || p == nil || p.dead {
		return n.flush()
	}
	pe := n.toPE(en)
	pe.X.ConfirmAns = &wire.ConfirmAns{Nonce: req.Nonce, Health: uint8(h), RTT: uint32(min(max(rtt.Microseconds(), 0), math.MaxUint32))}
	n.send(req.From, &wire.Message{Type: wire.TypeHandleUpdate, Action: wire.AddPE,
		Entries: []wire.Entry{{Handle: []byte(req.Pool), Elements: []wire.PE{pe}}}})
	return n.flush()
}

// onConfirmRefused ends the wait for a vantage point that refused.
func (n *Node) onConfirmRefused(p *peer, r *wire.Refused, pool string) {
	for _, nonce := range sortedKeys(n.byNonce) {
		rd := n.byNonce[nonce]
		if rd.Pool != pool || rd.ID != r.ID {
			continue
		}
		if waited, done := rd.Forget(p.id, r.Reason == wire.RefusedNotHome); waited {
			if done {
				n.decide(rd)
			}
			return
		}
	}
}
