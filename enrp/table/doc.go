// Package table is package enrp's handle table: what its Node believes
// of each element of the handlespace, the ownership checksum and digest
// of every home kept up to date with it, and the memory of deletions
// (tombs). The Node holds one and decides what goes in; the table keeps
// the sums right.
//
// # Basics
//
// An Entry is one element as the Node knows it (the element, never
// modified once in: a change is a new Entry; its pool's policy; its
// ownership generation; its terms of the checksum and digest), under its
// Key (pool and identifier). Put, Del and Get keep the entries; Claim
// returns what a home's PRESENCE should carry (the RFC 5353 checksum of
// its elements, and poolnsd's count and content hash), SumWith the
// checksum with some terms added or taken away, for a guess at a peer's
// claim. Keys, Registered and Statics list the entries; Supersedes
// says which of two copies of an element wins, ChangeOf what a transfer
// changed of one.
//
// A deletion made or heard of is buried (Bury, BuryHere) until the
// deleted registration's lease would have ended, a day at most; TombOf
// says whether a copy that comes later is of that registration (its
// lease ends no later) and so stale. DeletedHere lists the deletions made
// here since a time, for the push to a peer met again.
//
// # Caveats
//
// A Table is not safe for concurrent use; the Node holds it. Tombs live in
// memory only: a registrar that restarts takes the state back from its
// peers. Put stamps an Entry's Changed from the clock given to New, and
// keeps the older stamp when nothing a peer is sent of the element
// changed.
package table
