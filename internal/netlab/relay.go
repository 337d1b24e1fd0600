package netlab

import (
	"net/netip"

	"github.com/poolnsd/poolnsd/internal/netlab/relay"
)

// RelayStats counts the relay's packets (relay.Stats).
type RelayStats = relay.Stats

// Relay is the delaying packet relay at the heart of a Net (the kernel
// here has no netem). Every packet one node sends to another is routed by
// the hub to a TUN device; the relay reads it, holds it for the one-way
// delay between the two nodes' sites, and writes it back, and the hub
// routes it on. It carries everything between nodes (peering, probes,
// registrations' propagation), whatever the protocol, with no change of
// address, so that a probe's TCP connect or a peer's TLS session sees the
// delay and nothing else. A cut (Net.Split) makes it drop the packets
// between groups of nodes: a partition that the endpoints cannot tell
// from a real one. It runs in the lab process (see helper.go); Relay is
// the test's handle on it.
//
// The checker's own traffic (DNS questions, registrations, status
// requests) leaves from the hub itself and does not cross the relay.
type Relay struct {
	h *labProc
}

// RealTime reports whether the relay (the lab process) runs at real-time
// priority.
func (r *Relay) RealTime() bool { return r.h.realTime }

func (r *Relay) place(p netip.Prefix, node, site int) error {
	_, err := r.h.do("place %s %d %d", p, node, site)
	return err
}

func (r *Relay) setCut(a, b int, on bool) error {
	v := 0
	if on {
		v = 1
	}
	_, err := r.h.do("cut %d %d %d", a, b, v)
	return err
}

func (r *Relay) stats(cmd string) RelayStats {
	var st RelayStats
	if err := r.h.doJSON(&st, cmd); err != nil {
		st.Err = err.Error()
	}
	return st
}

// Stats returns the relay's counts so far.
func (r *Relay) Stats() RelayStats { return r.stats("stats") }

// Mark returns the relay's counts since the previous Mark (or its start),
// with the latest packet of that span.
func (r *Relay) Mark() RelayStats { return r.stats("mark") }
