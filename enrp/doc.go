// Package enrp is registrar peering: RFC 5353 ENRP with RFC 5354
// parameters, so that several poolnsd registrars share one handlespace and
// survive the loss of any one of them.
//
// # Basics
//
// Three layers, each usable alone:
//
//   - The codec, package enrp/wire: Message, Encode and Decode, for all
//     ten RFC 5353 message types and the RFC 5354 parameters, with
//     poolnsd's extension parameters (ParamX*) for what DNS answers need
//     beyond RFC 5354. Decode never panics; its errors are
//     *wire.DecodeError, wire.ErrorFor turns one into the ERROR that
//     answers it.
//   - The state machine: Node. It does no I/O and reads time only from an
//     injected Clock: Step takes a peer's message, Tick runs the timers,
//     Local takes changes of the local handlespace, Hello and Disconnected
//     report connections; each returns a Ready with the messages to send,
//     the handlespace operations to apply, events, peers to dial and when
//     to Tick next. A Binding (package enrp/bind) turns operations into
//     handlespace edits and handlespace views into Changes. What the Node
//     believes of each element, with every home's ownership sums, is its
//     handle table (package enrp/table).
//   - The driver, package enrp/enrpnet: StartDriver runs a Node over TCP
//     (TLS 1.3 with mutual authentication, see LoadTLS, or plain TCP),
//     framing messages by their length field, with real timers and
//     diallers that reconnect. Besides each Ready, it reads a Node's
//     NextDeadline, StallSlack, AlivePeers, HomeOf and PeerKnown
//     (driving.go). The Driver and DriverConfig named below are
//     enrpnet's.
//
// Package enrptest runs Nodes in memory: a fake clock, a network that
// drops, delays, reorders and partitions, a cluster of registrars with real
// handlespaces, and a test certificate authority.
//
// # Ownership
//
// Each element has a home: the registrar that accepted its registration,
// or, for an element of a zone file, the winner of a rendezvous hash over
// the live registrars (placement.Rendezvous). Only the home sends the element's changes; its
// PRESENCE messages carry the RFC 5353 ownership checksum (the Internet
// checksum of the owned elements' pool handles and identifiers) and
// poolnsd's digest (count and content hash), which peers compare with what
// they believe, transferring the home's own elements when they differ
// other than by a live set one of them has not heard change yet.
// Ownership carries a generation: each takeover, and each registration of
// an element at a registrar other than its home, adds one; between two
// claims of one registration the higher generation wins, and between
// equal ones the lower registrar ID. Between copies of two registrations
// of an element (lease ends more than a second apart) the
// later registration wins, by absolute lease ends (wire.LeaseEnd): two
// registrars comparing the same two copies decide alike.
//
// # Deregistrations
//
// A deregistration anywhere goes to every peer (DEL_PE), and each
// registrar remembers it (a tomb) until the deleted registration's lease
// would have ended, so that no stale copy brings it back; a copy whose
// lease ends later is a new registration. The registrar acknowledges a
// deregistration once its handlespace has it, and the Node learns of it
// later, from the driver's next Changes: meanwhile the Node may still
// act on the element (a peer's update of it, a table page). So every
// operation on a registered element is guarded (Op.Guard): it is carried
// out only if the handlespace still holds the registration the Node
// believed there, and otherwise the local change stands and reaches the
// Node next. Changes also says what each element was before (Change.Was),
// so that the Node can tell the deletion of an older registration, which
// its operations had not yet replaced, from that of its own; and the Node
// sets right a registration that one of its operations, held back while
// a table came in, left in the handlespace after it had moved on.
//
// A registration without a lease cannot be told from a stale copy of a
// deleted one: registered again within a day of its deregistration (the
// tomb's bound), it is taken for the deleted one and removed. The daemon
// gives every registration a lease.
//
// # Stalls and lost connections
//
// A peer is dead when it has been silent for MaxTimeLastHeard and then
// left a reply-required PRESENCE unanswered for MaxTimeNoResponse; or,
// when every connection to it was lost (a killed process's kernel closes
// them), when it was not heard again within MaxTimeLastHeard −
// PresenceInterval of that and then MaxTimeNoResponse. A
// registrar that did not run for a while (SIGSTOP, a suspended machine,
// starvation) finds on its next Tick, due at least every presence
// interval, that it runs late: more than half the smaller of
// PresenceInterval and MaxTimeNoResponse late means a stall of its own,
// not silence of its peers: the stalled time does not count, every
// timer moves on by it (EventStalled), so that it hears its peers again,
// over new connections if they dropped it, before it judges them. A peer
// that died meanwhile is found dead that much later. When the
// connection to a peer is lost (or it was found dead), what either sent
// meanwhile is lost too, and audits do not see lease ends: when they
// meet again each pushes the other its own elements at once, unasked
// (SyncPage pages, all together, sized by bytes, the zone-file elements
// as their state alone, to a peer lost silent those changed since: it
// puts back what it had from the pusher for the others, enrp/baseline;
// the elements that move to the peer handed back ahead of them),
// after the deregistrations made since (see sync.go), and what changes
// of them after the push goes to the peer too, even before its first
// word makes it live again; a held view waits for these pushes.
//
// A view that may be stale is held (Node.Stale, Driver.Current; see
// hold.go and package stale): after a stall of MaxTimeLastHeard or more
// (the peers found this registrar dead and stopped sending it updates),
// and when the live set grows again after this registrar was in a
// minority (fewer than half of the registrars it knows live), until it
// has synced with every peer it expects back (after a stall the peers
// found it dead in: by their pushes, not an old PRESENCE) and has the
// hand-backs of the zone-file elements homed here that they took, or
// Config.ResyncWait has passed; its driver's DNS answers SERVFAIL
// meanwhile. Cut off (in a minority, or every peer
// overdue), or just back (held, or settling after the hold: what its
// probes counted is from the cut until the hand-backs reset it), a
// failed probe that no other vantage point confirms does not take an
// element down: it disputes it. In a minority a registrar takes
// nothing over (see tickMinority).
//
// # Administrative changes and failure reports
//
// An element's administrative state (drain, force-down, auto) is its
// home's to set and announce, like its health, and its failure reports
// (RFC 5352 ENDPOINT_UNREACHABLE) are its home's to count. A registrar
// asked for either about an element homed elsewhere asks the home
// (Node.RequestAdmin, Node.RequestReport, through the Driver's methods of
// the same names) and changes nothing itself; the home hands what it
// accepts to its driver (Ready.Admin, Ready.Reports; DriverConfig.OnAdmin,
// OnReport) and refuses the rest with an ERROR that names the request
// (Node.Refuse when its driver fails), which the asker hands to whoever
// waits (Ready.Refusals, Driver.WatchRefusals). See admin.go.
//
// # Health from other vantage points
//
// When the probes of an element's home would change its health, the
// home's monitor has the change confirmed (Node.Confirm, through
// Driver.Confirm) by the element's vantage points, which probe it once
// each (Ready.Probes, DriverConfig.OnProbe, Node.Answer). The home
// decides by quorum among their answers and its own (Ready.Verdicts,
// DriverConfig.OnVerdict); an element they disagree on is disputed: it
// stays in every registrar's answers, last at those that saw it down.
// A request for an unknown element, one not homed at the asker, or
// beyond the asker's rate is refused, with rate-limited ERRORs. See
// confirm.go.
//
// # Hand-off and hand-back
//
// Node.Leave (Driver.Leave, on SIGTERM) hands every element homed here to
// its next home among the live peers, with its state and what the monitor
// keeps beside it; each peer takes its part and acknowledges (the
// daemon's driver once the registrations are in its store), and the
// leaver stops when all did (Ready.Left). When the live set grows, the
// old homes of the zone-file elements that move to the newcomer hand it
// their state back, which it takes when it is stronger than its own
// (ElementX.Strength). See handoff.go.
//
// # Caveats
//
// A Node is not safe for concurrent use. Every registrar should serve the
// same zone files. Generations and the memory of deregistrations (tombs)
// live in memory only: a registrar that restarts takes them back from its
// peers. A registrar that handed its elements off keeps them in its
// handlespace and its store until it stops; restarted, it yields them to
// their new homes' newer generation at its first sync. Peers with a certificate from the configured CA are trusted with
// the whole handlespace (RFC 5355): the CA decides who may peer.
package enrp
