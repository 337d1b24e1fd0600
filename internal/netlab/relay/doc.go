// Package relay is netlab's delaying packet relay: the network between a
// lab's sites, for a kernel without netem. netlab's lab process runs it;
// tests drive it through netlab.Relay.
//
// # Basics
//
// OpenTUN opens the TUN device that the hub routes node-to-node packets
// to; New(fd, delays) starts an Engine on it, which reads each packet,
// holds it for the one-way delay between its source's and destination's
// sites (delays[i][j], by the prefixes given with Place), and writes it
// back for the hub to route on. SetCut drops every packet between two
// nodes, both ways: a partition the endpoints cannot tell from a real one.
// Stats and Mark count what it relayed, dropped and delivered late.
//
// # Caveats
//
//   - The engine is one loop on one locked OS thread (ppoll on the TUN
//     device and a wake-up pipe; no goroutine per packet, no Go timer), so
//     that its thread, at real-time priority, alone decides when a packet
//     leaves. Its lateness on a busy machine is in Stats (Late10, Late100,
//     MaxLate): a result measured while the relay was late says so.
//   - Only IPv4 packets between placed prefixes are delayed or cut;
//     anything else passes at once. At most queueLen packets wait at one
//     delay; more are dropped (Stats.Overflow), as a full router queue
//     would.
//   - OpenTUN needs CAP_NET_ADMIN in the namespace of the calling thread.
package relay
