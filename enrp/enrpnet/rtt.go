package enrpnet

import (
	"crypto/tls"
	"net"
	"slices"
	"sync"
	"time"
)

// Peer RTT: the round-trip time to each peer, for the status page, read
// from the kernel's measure of the peer's TCP connections (TCP_INFO's
// smoothed RTT, on Linux), not from ENRP messages.
//
// Why not presence round trips: PRESENCE is one-way (RFC 5353 §2.2.1);
// a peer replies only when the Reply-required bit asks it to, which the
// Node sets for a peer it suspects. Timing round trips would need the
// Node to ask regularly (more messages, and a clock in the state machine,
// which reads none) for what the kernel already measures on every
// segment the connection carries and smooths, at no cost to read. What it
// leaves out is the peer's own delay in answering: a peer that stalls
// still has its segments acknowledged by its kernel; that is presence's
// to see (last heard). An idle connection keeps the RTT of its last
// exchange, a few seconds old at most (presence).

// rttConns are the connections of each peer, for PeerRTTs: kept apart
// from the loop's own byPeer (which only the loop reads) under a lock of
// their own.
type rttConns struct {
	mu sync.Mutex
	by map[uint32][]net.Conn
}

// add notes a connection of peer (the loop calls it when the connection's
// first message names its peer).
func (r *rttConns) add(peer uint32, nc net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.by == nil {
		r.by = map[uint32][]net.Conn{}
	}
	r.by[peer] = append(r.by[peer], nc)
}

// drop forgets a connection (the loop calls it when the connection is
// down).
func (r *rttConns) drop(peer uint32, nc net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cs := slices.DeleteFunc(r.by[peer], func(x net.Conn) bool { return x == nc })
	if len(cs) == 0 {
		delete(r.by, peer)
		return
	}
	r.by[peer] = cs
}

// PeerRTT is the round-trip time to a peer, as the kernel measures it on
// the peer's TCP connection.
type PeerRTT struct {
	RTT    time.Duration // smoothed
	RTTVar time.Duration // its mean deviation
}

// PeerRTTs returns the round-trip time to each peer with a connection up
// whose RTT the system gives (Linux: TCP_INFO); with two connections to a
// peer (each dialled the other), the lower. Safe for concurrent use.
func (d *Driver) PeerRTTs() map[uint32]PeerRTT {
	d.rtt.mu.Lock()
	conns := make(map[uint32][]net.Conn, len(d.rtt.by))
	for id, cs := range d.rtt.by {
		conns[id] = slices.Clone(cs)
	}
	d.rtt.mu.Unlock()
	out := make(map[uint32]PeerRTT, len(conns))
	for id, cs := range conns {
		if r, ok := lowestRTT(cs); ok {
			out[id] = r
		}
	}
	return out
}

// RTTOf is PeerRTTs for one peer (ok false when none is known): what a
// confirmation's budget asks for each vantage point, without reading
// every peer's connections.
func (d *Driver) RTTOf(peer uint32) (r PeerRTT, ok bool) {
	d.rtt.mu.Lock()
	cs := slices.Clone(d.rtt.by[peer])
	d.rtt.mu.Unlock()
	return lowestRTT(cs)
}

// lowestRTT is the lowest RTT the system gives of the connections cs.
func lowestRTT(cs []net.Conn) (best PeerRTT, ok bool) {
	for _, nc := range cs {
		if tc, isTLS := nc.(*tls.Conn); isTLS {
			nc = tc.NetConn()
		}
		tcp, isTCP := nc.(*net.TCPConn)
		if !isTCP {
			continue
		}
		r, got := tcpRTT(tcp)
		if !got || r.RTT <= 0 {
			continue
		}
		if !ok || r.RTT < best.RTT {
			best, ok = r, true
		}
	}
	return best, ok
}
