package metered

import (
	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/metrics"
)

// PeeringEvent counts in m the takeovers and hand-offs among the events
// of the peering state machine (the driver's OnEvent); other events count
// nothing.
func PeeringEvent(m *metrics.Metrics, ev enrp.Event) {
	switch ev.Kind {
	case enrp.EventTakeoverStart:
		m.Takeover(metrics.TakeoverStarted, 0)
	case enrp.EventTakeoverDone:
		m.Takeover(metrics.TakeoverCompleted, ev.Count)
	case enrp.EventTakeoverAbort:
		m.Takeover(metrics.TakeoverAbandoned, 0)
	case enrp.EventTakenOver:
		m.Takeover(metrics.TakeoverYielded, 0)
	case enrp.EventHandoffStart:
		m.Handoff(metrics.HandoffGiven, ev.Count)
	case enrp.EventHandoffIn:
		m.Handoff(metrics.HandoffTaken, ev.Count)
	case enrp.EventHandback:
		if ev.Detail == "given" {
			m.Handoff(metrics.HandbackGiven, ev.Count)
		} else {
			m.Handoff(metrics.HandbackTaken, ev.Count)
		}
	}
}

// Verdict counts in m the outcome of a health confirmation this registrar
// asked for (the driver's OnVerdict): the element moved away, no other
// registrar was asked, the vantage points overruled the home's probes,
// they disagreed (disputed), or they agreed.
func Verdict(m *metrics.Metrics, ev enrp.Verdict) {
	switch {
	case ev.Moved:
		m.Confirmation(metrics.ConfirmMoved)
	case ev.Asked == 0:
		m.Confirmation(metrics.ConfirmAlone)
	case ev.Health != ev.Proposed:
		m.Confirmation(metrics.ConfirmOverruled)
	case ev.Vantage != nil:
		m.Confirmation(metrics.ConfirmDisputed)
	default:
		m.Confirmation(metrics.ConfirmAgreed)
	}
}

// PeerStatus is the state of peer p as poolnsd_enrp_peers counts it (and
// the status page shows it): metrics.PeerLeft for a peer that left by
// hand-off (though it is out of the live set too), else PeerDead,
// PeerSuspect (asked to answer after a silence) or PeerUp.
func PeerStatus(p enrp.PeerState) string {
	switch {
	case p.Left:
		return metrics.PeerLeft
	case p.Dead:
		return metrics.PeerDead
	case p.Suspect:
		return metrics.PeerSuspect
	}
	return metrics.PeerUp
}

// PeerStates counts the peers by PeerStatus for poolnsd_enrp_peers
// (metrics.SetPeerStates), every state present.
func PeerStates(ps []enrp.PeerState) map[string]int {
	out := map[string]int{metrics.PeerUp: 0, metrics.PeerSuspect: 0, metrics.PeerDead: 0, metrics.PeerLeft: 0}
	for _, p := range ps {
		out[PeerStatus(p)]++
	}
	return out
}
