// Package netlab builds isolated networks of Linux network namespaces for
// cluster tests: registrars and backend hosts in sites, with latency
// between the sites, and the faults a real network has.
//
// # Basics
//
// New makes a Net: a hub namespace that holds a bridge, the hub's own
// address (198.18.0.1, where the test's checker lives), a TUN device and
// the Relay. AddNode makes one namespace per host, attached to the bridge
// by a veth pair made inside the hub, with an address 198.18.SITE.N/32 and
// one route, to the whole network (198.18.0.0/15) through the hub. A node
// may also answer on a /24 of 198.19.0.0/16 (AddBlock: a local route, so
// that one listener on 0.0.0.0 serves 254 addresses, one per pool
// element). Nothing is made in the root namespace and nothing routes out:
// the nodes reach only each other and the hub.
//
// Every packet that one node sends to another is forwarded by the hub,
// whose policy routing hands it to the Relay's TUN device: the Relay
// holds it for the one-way delay between the two sites (Config.Delay, e.g.
// 1 ms inside a site, 40 ms or 150 ms between sites) and writes it back
// (the kernel here has no netem). Peering, probes and their answers all
// cross it, whatever the protocol, without any change of address. The
// hub's own traffic (the checker's DNS questions, registrations and status
// requests) does not: it goes straight to the nodes.
//
// Faults (Fault: Inject and Heal):
//
//   - Node.LinkDown: the node's veth taken down at the hub's end (a
//     minority partition of one, unreachable from the checker too);
//   - Net.Split: the relay drops every packet between groups of nodes,
//     both ways (a 2|3 split of five registrars); the checker still
//     reaches both sides;
//   - Node.Blackhole: a blackhole route in the node's namespace (one
//     element unreachable from one registrar only).
//
// Node.Do runs a function on an OS thread inside a node's namespace:
// sockets it opens stay in that namespace whichever goroutine uses them
// later, so the test's own servers (Backends) and clients (Checker) run
// in the test's process. Node.Command runs a program inside (ip netns
// exec, which execs it, so the process's PID is the program's own).
//
// Cleanup: New registers Net.Close with t.Cleanup, which kills what still
// runs in the namespaces (by PID) and deletes them, their links, the
// bridge and the TUN device, even when the test fails. Namespace names
// are Prefix + the test process's PID + a sequence number; before the
// first Net of a process, Sweep removes the namespaces of dead owners.
//
// # Caveats
//
// Needs root, iproute2 and /dev/net/tun (Require skips a test without
// them, saying which). IPv4 only. The delays are the Relay's: a Go
// program reading and writing a TUN device, precise to a fraction of a
// millisecond when the machine is idle, later when it is loaded.
// Node.Do's function must not start goroutines that open sockets: only
// its own thread is in the namespace.
package netlab
