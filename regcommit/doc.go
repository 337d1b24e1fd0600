// Package regcommit commits registrations: it turns them — from DNS
// UPDATE (dnsfront) and the HTTP API (httpapi) — into handlespace changes
// that are on disk before they are acknowledged. It owns what the two front
// ends share: element identifiers, leases, ownership, quotas, per-source
// rate limits, group commit and lease expiry. (A registrar, in DESIGN's
// words, is a whole poolnsd process; this package is the part of one that
// commits registrations.)
//
// # Basics
//
// New starts a Committer over a handlespace and a Store (store.Store is
// one). A front end calls Allow with the request's source address (the
// per-source token bucket; RFC 5355's registration flooding), then Submit
// with a Request: who asks (an Owner such as "tsig:pe-key." or "http"),
// the conflict keys of the names it reads and writes, and a Build function
// that turns the current handlespace view into Changes (registrations and
// removals by label). Submit returns once the Request is on disk and
// published in the handlespace, or failed and changed nothing.
//
// Requests are serialised by the committer's batch lock, which is what
// makes Build's view consistent (prerequisites hold at the moment the
// change is applied) and a Request atomic. The batches run on the Submits'
// own goroutines: one that finds no batch running runs its own, and the
// lock then goes to the oldest Request that queued meanwhile, whose Submit
// runs the next batch (no committer goroutine to wake and no answer to
// hand over for the one that runs it). A batch takes every Request that
// queued while the one before it ran: it runs their Build functions,
// checks ownership and quotas, applies all of them to the handlespace as
// one change per touched pool (handlespace.Apply) and writes all of them to
// the store in one bbolt transaction — one fsync for the batch (group
// commit) — before any caller is answered. A Request whose conflict keys
// meet those of an earlier Request of the same batch waits for the next
// batch, so that its Build sees the earlier one's effect.
//
// The committer's work on a batch, each answer of a commit and, if the
// front end takes one (Turn), each request's own work are turns that the
// DNS front's UDP loops grant between their batches (Pacer, pace.go), so
// that a burst of registrations does not hold queries off; a turn no loop
// grants within Config.PaceHold is granted anyway. Only loops that wait in
// Go's network poller pace (dns.udp_wait: poller); with none attached a
// turn is granted at once.
//
// Element identifiers: a label of exactly eight hex digits is the
// identifier itself (0a1b2c3d → 0x0a1b2c3d, as poolnsd writes identifiers);
// an element already registered under a label keeps its identifier; any
// other label gets the 32-bit FNV-1a hash of the label, or, if another
// element of the pool has that value, the next free one. So an identifier
// is stable for as long as the registration lives, across refreshes and
// restarts (the store keeps it).
//
// Leases: a registration asks for a lease (0: the default); the granted
// lease is clamped to [LeaseMin, LeaseMax] and the element expires that
// long after the registration or its last refresh. Sweep removes the
// expired elements (from the handlespace and the store, in one batch).
//
// At a registrar's start, Restore puts the stored registrations back into
// the handlespace (after the zones, before New), drops from the store
// those whose lease ended while it was stopped, and leaves in the store,
// unserved, those the handlespace or today's name rules refuse.
//
// # Caveats
//
// Elements that zone files define are never changed here. An element
// belongs to the owner that registered it: another owner may not change or
// remove it, except an admin owner (the HTTP API's bearer token). The
// quota counts follow the handlespace; after a zone reload call Resync.
package regcommit
