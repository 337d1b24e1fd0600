// Package store keeps a registrar's state on disk: its identity, the pool
// elements registered with it and their administrative states, in a bbolt
// database, so that a restart (or kill -9) serves the same handlespace at
// once and loses no acknowledged registration.
//
// # Basics
//
// Open opens DIR/poolnsd.db (File), creating it on the first run. Every
// write is one bbolt transaction that returns once it is on disk;
// Commit writes a batch of puts and deletes (Write) in one transaction,
// one fsync for the batch, which is what the registration committer's
// group commit builds on. Elements and Admins read everything back at
// start. The layout of the buckets and records is documented on Store.
//
// # Caveats
//
// Store is the only code of poolnsd that touches bbolt, and it does so
// through bbolt's Update and View closures only. Records are JSON in a versioned
// layout (Format): a store of a newer format is refused, not guessed at.
// The database file is locked while open, so a second poolnsd on the same
// data directory fails to start rather than share it.
package store
