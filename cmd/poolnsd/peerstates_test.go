package main

import (
	"maps"
	"testing"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/metrics"
)

// TestPeerStatesLeft: a peer that left by hand-off counts as left in
// poolnsd_enrp_peers, not as dead (the Node marks it dead too: it is out
// of the live set).
func TestPeerStatesLeft(t *testing.T) {
	got := peerStates([]enrp.PeerState{
		{ID: 1},
		{ID: 2, Suspect: true},
		{ID: 3, Dead: true},
		{ID: 4, Left: true},
		{ID: 5, Left: true, Dead: true},
	})
	want := map[string]int{metrics.PeerUp: 1, metrics.PeerSuspect: 1, metrics.PeerDead: 1, metrics.PeerLeft: 2}
	if !maps.Equal(got, want) {
		t.Errorf("peerStates %v, want %v", got, want)
	}
}
