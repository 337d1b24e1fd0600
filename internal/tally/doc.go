// Package tally counts a DNS front's pool answers by the element that came
// first, and times a sample of them, for the status page's answer shares,
// answers per second and answer latency per pool (package history reads
// it). It is a leaf: the DNS front imports it without importing history.
//
// # Basics
//
// A Table hands out slots: Slot(pool, id) gives a small integer standing
// for an element of a pool, with the pool's index (a Ref), once (the DNS
// front asks when it first counts an element with given packed material,
// and keeps the Ref beside it). Counting goes to a Shard: each UDP
// serving loop takes one of its own (Shard) and the shared path (TCP,
// the dns.Msg renderer) one of two shared ones (Shared). Count(slot) is
// one atomic add on memory that only the loop writes (no map, no lock,
// no line shared between cores); Time adds a timed answer's latency to
// its pool's counters the same way. Read sums a pool's slots and timings
// over every shard, under the Table's lock, for each sample of the
// history.
//
// Free returns a slot when what held it is gone (the DNS front frees it
// from a cleanup of its packed material, runtime.AddCleanup): its counts
// are kept under the pool and element, so that totals never go down
// while the element stays. Retain forgets the elements and pools that
// left the handlespace.
//
// # Caveats
//
// At most MaxSlots slots and MaxPools pools are in use; beyond, answers
// are not counted. A shard's counters take 8 bytes per slot, allocated by
// chunks of 1 024 slots as the shard counts them, and 16 bytes per pool:
// with every element of a million coming first now and then, about 8 MB
// per shard, so 8 MB × (2 + the UDP sockets). The latency is per pool,
// not per element. The counts are read while they change:
// a Read is not a snapshot of one instant across shards (each counter is
// read atomically). Pools are known by name: a pool whose settings change
// keeps its counts.
package tally
