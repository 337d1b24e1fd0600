// Package sigfront keeps the signatures of the RRsets that the DNS
// front's wire renderer sends, ready to copy into a reply, in front of the
// signer's cache (dnssec): found by a hash and a comparison of what the
// renderer has in hand, where the cache's lookup reads an RRset into
// canonical form, sorts it and builds its key.
//
// # Basics
//
// A Table has three direct-mapped tables (a colliding RRset takes the
// slot over), lock-free and bounded (Slots entries each):
//
//   - Set: an answer RRset keyed by the zone, the question's name (lower
//     case), the type and, for each record, the material it was packed
//     from (a pointer the renderer never changes once made) and what the
//     renderer patched into it (Rec.Aux: an SRV record's priority and
//     weight), in any order: a weighted policy sends one RRset in many
//     orders;
//   - Answer: an answer RRset keyed by its packed records (each owner a
//     pointer to the question), in any order, for the answers the
//     renderer cannot name by their material;
//   - Target: an SRV or HTTPS/SVCB target's address RRset, keyed by the
//     element's packed material and the type, kept with its records.
//
// What a table holds is a Signed: the packed RRSIGs (and, for a target,
// the glue records before them), each owner a two-byte compression
// pointer, copied into a reply with one append (AppendAt patches the
// owners of a target's). A miss, or signatures due to be made again
// (dnssec.Sigs.FreshUntil), is the caller's to sign through the cache; what it
// gets takes the slot (Put*).
//
// # Caveats
//
//   - The hashes are cheap ones: what they hash is the server's own
//     records, and a collision costs a lookup in the cache, never a wrong
//     signature (every hit is compared exactly).
//   - A key's pointers keep their material alive as long as the entry
//     holds the slot: at most Slots entries a table, each holding its
//     key's records and signatures (a few MiB at most).
//   - An answer of more than MaxRecords records is not kept (its
//     comparison marks the records in a 64-bit word).
package sigfront
