// Package admin carries out the requests of the HTTP API that change an
// element rather than read it — administrative states (drain,
// force-down) and pool users' failure reports — at the registrar where
// they belong, the element's home, and turns what comes of them into the
// API's errors and HTTP status codes. It also keeps the administrative
// states in the store, so that an element drained for maintenance stays
// out of the answers across a restart.
//
// # Basics
//
// A Router is made once the handlespace and the store exist (New); the
// daemon gives it the monitor (SetMonitor) and, with peering, the ENRP
// driver (SetPeering) as it starts them. Set and Report are what the API
// calls (through Backend, its httpapi.Backend):
//
//   - An element homed here (or any element, without peering) is changed
//     here: SetLocal writes the state to the store before the monitor puts
//     it into the handlespace, so an acknowledged change survives kill -9;
//     Report is counted by the monitor.
//   - An element homed at a peer is changed there: Set sends the peer a
//     request (Peering.RequestAdmin) and returns when this registrar's view
//     shows the home's update (Config.Wait at most: 504 after that), or the
//     home's refusal (409 when the views of the element differ, 503 when
//     the home failed). A report is passed on after this registrar's own
//     per-client rate limit and counted at the home. A home that cannot be
//     asked is a 503 naming it (*httpapi.HomeError).
//
// SetLocal and ReportLocal are also how a peer's requests for elements
// homed here are carried out (enrpnet.DriverConfig's OnAdmin and OnReport).
// At the start, Restore puts the stored states back on the elements that
// exist and drops the others; after a reload of the zones, Prune drops
// the states of elements the zones no longer have; when peering moves the
// homes of zone-file elements, KeepHomed keeps the store's states where
// the elements are homed.
//
// # Caveats
//
// The Router serialises local changes (one mutex), so that the store and
// the handlespace end in the same state; a change sent to a peer does not
// hold it while it waits. Before SetMonitor every change and report fails
// with "the monitor is not started yet". A change sent to the home that is
// not confirmed in time may still take effect later: the 504 says so.
package admin
