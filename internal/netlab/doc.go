// Package netlab builds isolated networks of Linux network namespaces for
// cluster tests: registrars and backend hosts in sites, with latency
// between the sites, the faults a real network has, and a checker that
// judges every answer the registrars give meanwhile.
//
// # Basics
//
// Net (New) is a hub namespace that holds a bridge, the hub's own address
// (198.18.0.1, where the test's checker lives), a TUN device and the
// policy routing that sends every packet forwarded between nodes to it.
// AddNode makes one namespace per host, attached to the bridge by a veth
// pair made inside the hub, with an address 198.18.SITE.N/32, one
// route, to the whole network (198.18.0.0/15) through the hub, TCP
// Fast Open on both ways (net.ipv4.tcp_fastopen 3) and ARP requests
// repeated every 100 ms (NeighRetrans), as peering asks of a registrar's
// host (docs/peering.md). A node may
// also answer on a /24 of 198.19.0.0/16 (AddBlock: a local route, so that
// one listener on 0.0.0.0 serves 254 addresses, one per pool element).
// Nothing is made in the root namespace and nothing routes out: the nodes
// reach only each other and the hub.
//
// The lab process is the world outside the registrars: a program of its
// own (labd, or the test binary run again; see Main and
// Config.LabBinary) inside the hub, at real-time round-robin priority
// (chrt --rr) when it can be. It runs
//
//   - the Relay (its engine is package internal/netlab/relay, Relay the
//     test's handle on it): it reads each packet from the TUN device,
//     holds it for
//     the one-way delay between the two nodes' sites (Config.Delay, e.g.
//     1 ms inside a site, 40 ms or 150 ms between sites; the kernel here
//     has no netem) and writes it back. Peering, probes and their answers
//     all cross it, whatever the protocol, with no change of address.
//     The hub's own traffic (the checker's) goes straight to the nodes.
//   - the Backends (their servers are package internal/netlab/backend,
//     Backends the test's handle on them): one HTTP server per backend
//     node, each address of its block one pool element, which can be
//     killed (connections reset), frozen (requests hang) or revived;
//     every request (a probe) is recorded with its prober and time, and
//     the test asks the records which registrar probed what and when
//     (Takeover, MaxProbeGap).
//
// They must keep time as hardware would: run inside a loaded test
// process, the relay was seconds late and the backends answered probes
// 0.8 s late, and registrars' probes timed out by the hundred.
// RelayStats counts the packets the relay delivered late; every result
// should quote them.
//
// Faults (Fault: Inject and Heal):
//
//   - Node.LinkDown: the node's veth taken down at the hub's end (a
//     minority partition of one, unreachable from the checker too),
//     over rtnetlink, its times the kernel's acknowledgements (the
//     heal's returns once both ends run again);
//   - Net.Split: the relay drops every packet between groups of nodes,
//     both ways (a 2|3 split of five registrars); the checker still
//     reaches both sides;
//   - Node.Blackhole: a blackhole route in the node's namespace (one
//     element unreachable from one registrar only);
//   - Registrar.Kill (SIGKILL), Freeze (SIGSTOP, healed by SIGCONT),
//     Term (SIGTERM) and Restart.
//
// Cluster runs poolnsd registrars, one per node, peering over TLS with
// certificates of one test CA, each with every other as a static peer;
// they accept registrations over HTTP (Token) and DNS UPDATE (TSIGKey).
// Registrar.Digest hashes a registrar's handlespace as its status API
// shows it (elements, addresses, health, administrative state, home).
//
// Checker asks every registrar's DNS for every pool every Interval
// (50 ms), from the hub, with the kernel's receive time of each reply;
// registers and deregisters elements at random registrars; kills, freezes
// and revives elements at random; and judges each answer, as of its
// question's sending, against what it knows (the elements' states, who is
// cut off from whom, which side of a partition a registrar is on):
//
//   - VDeadListed: an answer of the majority side lists an element dead
//     for longer than Bounds.Detect (more near a change of the live set,
//     see Bounds.Takeover);
//   - VEmpty: an answer is empty while an element of the pool is healthy
//     and reachable from that registrar;
//   - VCutLeft: an element cut off from one registrar only is missing
//     from an answer;
//   - VStaleDereg and VLostRegistration: an acknowledged deregistration
//     is still served, or (VerifyRegistrations, at the end) an
//     acknowledged registration or deregistration does not hold at a
//     registrar;
//   - Converge: how soon after a heal every registrar's digest is equal.
//
// It counts gaps (episodes of one registrar's answers lacking an element
// that is healthy and reachable from it, and known there: a registration
// made on the other side of a network fault only Bounds.Heal after the
// heal) and false removals (the elements that had one; GapList lists the
// episodes), and the questions answered late or not at all.
//
// Net.Capture records the traffic on the hub's bridge with dumpcap, for
// a look at what a fault does (test/cluster: NETLAB_CAPTURE=DIR).
//
// Cleanup: New registers Net.Close with t.Cleanup, which ends the lab
// process, kills what still runs in the namespaces (by PID) and deletes
// them with their links, the bridge and the TUN device, even when the
// test fails; Cluster kills its registrars the same way. Namespace names
// are Prefix + the test process's PID + a sequence number; before the
// first Net of a process, Sweep removes the namespaces of dead owners.
// labprio.Prioritize sets the test's threads (and so the registrars it starts) to
// nice labprio.Nice, so that other work on the machine disturbs the lab less.
//
// # Caveats
//
// Needs root, iproute2 and /dev/net/tun (Require skips a test without
// them, saying which), and chrt (util-linux) for the lab process's
// priority (without it, the lab process runs at the test's nice value and
// keeps time less well). IPv4 only. Node.Do's function must not start
// goroutines that open sockets: only its own thread is in the namespace.
// The relay costs about 44 µs of CPU per packet, most of it the kernel's
// forwarding inside its writes: a thousand elements probed every second
// make about 5 000 packets a second, a fifth of a core at real-time
// priority. The checker's bounds are poolnsd's documented timings with
// little margin: on a machine much busier than its cores, registrars
// answer late and probe late, and a bound can be missed by a few hundred
// milliseconds; the late and unanswered counts say so.
package netlab
