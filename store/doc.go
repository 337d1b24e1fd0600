// Package store keeps a registrar's state on disk: its identity, the pool
// elements registered with it, their administrative states and the last
// known health of the elements, in a bbolt database, so that a restart (or kill -9) serves the same handlespace at
// once and loses no acknowledged registration.
//
// # Basics
//
// Open opens DIR/poolnsd.db (File), creating it on the first run. Every
// write returns once it is on disk. Commit writes a batch of element puts
// and deletes (Write) as one record appended to the element log
// (DIR/poolnsd.log.N): one write and one fsync for the batch, whatever the
// size of the store, which is what the registration committer's group
// commit builds on. A background compaction moves the log into the bbolt
// file in large sorted transactions once it holds Options.LogCompact
// bytes; Open replays what a crash left in the log. Elements and Admins
// read everything back at start. PutHealth writes a batch of last known healths in one
// transaction (monitor's Keeper batches them), Healths reads them back
// with the time of the last batch, PruneHealth drops those of elements
// that are gone. The layout of the buckets and records is documented on Store.
//
// # Caveats
//
// Store is the only code of poolnsd that touches bbolt, and it does so
// through bbolt's Update and View closures only. A batch that a crash cut
// while it was appended (never acknowledged) is recognised by its length
// and checksum and dropped at the next Open, with whatever follows it in
// its segment (nothing does: each Open begins a new segment). Administrative
// states and healths are written to bbolt directly, as before. Records are JSON in a versioned
// layout (Format): a store of a newer format is refused, not guessed at.
// The database file is locked while open, so a second poolnsd on the same
// data directory fails to start rather than share it.
package store
