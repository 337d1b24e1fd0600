// Package enrpnet runs an ENRP engine (enrp.Node) over the network: the
// I/O half of registrar peering, as enrp/enrptest is its in-memory half.
//
// # Basics
//
// StartDriver starts a Driver: it listens for peers' connections and
// dials the configured peers (and those the Node learns of), over TLS 1.3
// with mutual authentication (LoadTLS reads the certificate, key and CA
// files) or plain TCP; frames messages (package enrp/wire) by their
// length field; and runs one goroutine that owns the Node, feeding it
// messages, the handlespace's changes (through a bind.Binding, package enrp/bind) and real
// timers, and carrying out each Ready: messages to send, handlespace
// operations, peers to dial, events to log. Each connection has a reader
// and a writer goroutine. The daemon's other parts meet peering through
// DriverConfig's hooks (OnOwnership, OnAdmin, OnReport, OnProbe,
// OnVerdict, OnHanded, OnEvent, OnMessage, all called from the driver's
// goroutine) and the Driver's methods (Current, Confirm, RequestAdmin,
// RequestReport, WatchRefusals, Leave, WaitSynced, Peers, PeerRTTs,
// Stats). PeerRTTs reads the kernel's smoothed RTT of the peers' TCP
// connections (Linux; elsewhere none). On Linux, TLS peering uses TCP
// Fast Open (the listener takes it, dials ask for it) where the kernel's
// net.ipv4.tcp_fastopen allows it, so that a reconnection's first message
// goes a round trip sooner; a dialler's attempts race through the TLS
// handshake, the first to hear the peer's flight cancelling the others.
//
// A StoreKeeper keeps the daemon's store in step with what the driver
// reports of ownership (OnOwnership, Durable, OnHanded, EventStaticHomes):
// on a goroutine of its own, the changes that wait are written in one
// transaction, and a hand-off coming in is gathered until its end.
//
// # Caveats
//
// A connection that sends a malformed message, or one from a sender other
// than its peer, is answered with an ERROR and closed. A peer's
// connection whose writes back up past DriverConfig.MaxQueue bytes is
// dropped as too slow; a message that takes longer than ReadTimeout to
// arrive once started closes the connection. A Driver's hooks must not
// block (OnAdmin and OnVerdict only briefly): the one goroutine that runs
// the Node runs them. The protocol itself (ownership, takeover, sync,
// hand-off) is package enrp's; see its documentation.
package enrpnet
