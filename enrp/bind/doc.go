// Package bind joins an ENRP engine (enrp.Node) to a real handlespace:
// what both drivers share, the network one (enrp/enrpnet) and the
// in-memory one (enrp/enrptest).
//
// # Basics
//
// New makes a Binding of a handlespace for this registrar and installs
// its zone-file home function in the handlespace (rendezvous hashing,
// enrp.Rendezvous, over the live set that SetLive last gave: a Ready's
// Live). Apply carries out a Ready's operations (enrp.Op: put, delete,
// set home, set state) as one batch of handlespace edits, guarded ones
// only while their guard holds, and returns those the handlespace
// refused; Changes returns what changed in the handlespace since its last
// call, pool by pool, as enrp.Change for Node.Local, each with what the
// element was before.
//
// # Caveats
//
// Apply and Changes belong to one goroutine (the driver's); StaticHome,
// which the handlespace calls, is safe from any. An operation on an
// element that is not there, or whose guard no longer holds, is not an
// error: the Node learns what is there from the next Changes (Conflicts
// counts the guards that failed). A registration whose pool has another
// policy here than at its home is served under this registrar's policy,
// and reported.
package bind
