package metered_test

import (
	"maps"
	"testing"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/placement"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/metrics"
	"github.com/poolnsd/poolnsd/metrics/metered"
)

// TestPeeringEvent: the takeover and hand-off events count by outcome and
// direction, a hand-back by its Detail (given, or taken); other events
// count nothing.
func TestPeeringEvent(t *testing.T) {
	m := metrics.New(metrics.Options{NoRuntime: true})
	for _, ev := range []enrp.Event{
		{Kind: enrp.EventTakeoverStart, Peer: 7},
		{Kind: enrp.EventTakeoverStart, Peer: 8},
		{Kind: enrp.EventTakeoverDone, Peer: 7, Count: 12},
		{Kind: enrp.EventTakeoverAbort, Peer: 8},
		{Kind: enrp.EventTakenOver, Peer: 9},
		{Kind: enrp.EventHandoffStart, Count: 5},
		{Kind: enrp.EventHandoffIn, Peer: 9, Count: 3},
		{Kind: enrp.EventHandback, Peer: 9, Count: 2, Detail: "given"},
		{Kind: enrp.EventHandback, Peer: 9, Count: 4, Detail: "4 taken back"},
		{Kind: enrp.EventPeerDead, Peer: 7},
		{Kind: enrp.EventHandoffDone, Count: 5},
	} {
		metered.PeeringEvent(m, ev)
	}
	scrape(t, m).Expect(t,
		"poolnsd_enrp_takeovers_total{outcome=started} 2",
		"poolnsd_enrp_takeovers_total{outcome=completed} 1",
		"poolnsd_enrp_takeovers_total{outcome=abandoned} 1",
		"poolnsd_enrp_takeovers_total{outcome=yielded} 1",
		"poolnsd_enrp_elements_taken_over_total 12",
		"poolnsd_enrp_handoff_elements_total{direction=given} 5",
		"poolnsd_enrp_handoff_elements_total{direction=taken} 3",
		"poolnsd_enrp_handoff_elements_total{direction=handed_back} 2",
		"poolnsd_enrp_handoff_elements_total{direction=taken_back} 4",
	)
}

// TestVerdict: a confirmation's outcome, in order: moved, alone (nobody
// asked), overruled (the verdict is not what the probes proposed),
// disputed (the vantage points disagreed), agreed.
func TestVerdict(t *testing.T) {
	up, down := handlespace.HealthUp, handlespace.HealthDown
	votes := []placement.Vote{{}, {}}
	disputed := []handlespace.Vantage{{}}
	m := metrics.New(metrics.Options{NoRuntime: true})
	for _, ev := range []enrp.Verdict{
		{Proposed: down, Health: up, Asked: 2, Moved: true, Votes: votes}, // moved, whatever else
		{Proposed: down, Health: down, Asked: 0, Votes: votes[:1]},
		{Proposed: down, Health: up, Asked: 2, Votes: votes, Vantage: disputed}, // overruled, though disputed
		{Proposed: down, Health: up, Asked: 2, Votes: votes},
		{Proposed: down, Health: down, Asked: 2, Votes: votes, Vantage: disputed},
		{Proposed: up, Health: up, Asked: 2, Votes: votes},
		{Proposed: down, Health: down, Asked: 1, Votes: votes},
	} {
		metered.Verdict(m, ev)
	}
	scrape(t, m).Expect(t,
		"poolnsd_health_confirmations_total{outcome=moved} 1",
		"poolnsd_health_confirmations_total{outcome=alone} 1",
		"poolnsd_health_confirmations_total{outcome=overruled} 2",
		"poolnsd_health_confirmations_total{outcome=disputed} 1",
		"poolnsd_health_confirmations_total{outcome=agreed} 2",
	)
}

// TestPeerStatus: a peer that left by hand-off is left even when it is
// also out of the live set (dead); a dead peer is dead even if it was
// asked first; one asked after a silence is suspect; the others are up.
func TestPeerStatus(t *testing.T) {
	for _, c := range []struct {
		p    enrp.PeerState
		want string
	}{
		{enrp.PeerState{ID: 1}, metrics.PeerUp},
		{enrp.PeerState{ID: 2, Suspect: true}, metrics.PeerSuspect},
		{enrp.PeerState{ID: 3, Dead: true}, metrics.PeerDead},
		{enrp.PeerState{ID: 4, Dead: true, Suspect: true}, metrics.PeerDead},
		{enrp.PeerState{ID: 5, Left: true}, metrics.PeerLeft},
		{enrp.PeerState{ID: 6, Left: true, Dead: true}, metrics.PeerLeft},
	} {
		if got := metered.PeerStatus(c.p); got != c.want {
			t.Errorf("%+v: %s, want %s", c.p, got, c.want)
		}
	}
}

// TestPeerStatesLeft: a peer that left by hand-off counts as left in
// poolnsd_enrp_peers, not as dead (the Node marks it dead too: it is out
// of the live set); every state is there, counted or not.
func TestPeerStatesLeft(t *testing.T) {
	got := metered.PeerStates([]enrp.PeerState{
		{ID: 1},
		{ID: 2, Suspect: true},
		{ID: 4, Left: true},
		{ID: 5, Left: true, Dead: true},
	})
	want := map[string]int{metrics.PeerUp: 1, metrics.PeerSuspect: 1, metrics.PeerDead: 0, metrics.PeerLeft: 2}
	if !maps.Equal(got, want) {
		t.Errorf("PeerStates %v, want %v", got, want)
	}
}
