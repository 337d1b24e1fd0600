// Package policy holds poolnsd's selection policies (RFC 5356 and
// RSPLIB's, and beyond: nearest, hash): what orders a pool's elements in
// its answers. Each policy registers itself with package handlespace in an
// init function (handlespace.RegisterPolicy), so a program that serves
// pools imports this package (cmd/poolnsd does, and so do the packages
// that hand policy names to a handlespace or check them: config, zones,
// regcommit, enrp/bind, httpapi, dnsfront, and the test helper
// internal/hstest).
//
// # Basics
//
// A policy is one small type behind handlespace.Policy, the narrow
// interface through which the handlespace calls it: Order says how the
// served sets of its pools are kept (by ID: rr, rand, hash, and lud and
// the other policies with degradation; by a rank then ID: prio, lu, plu,
// nearest and the -dpf rankings; weighted: wrr, wrand, rlu, rplu,
// wrand-dpf), and Build makes a selector for each version of a set, on the
// writer's side, never on the query path. A selector reads the set's trees
// (handlespace.Set, kept by package handlespace/internal/ptree, whose API
// is all a policy sees of them) and makes its picks with
// handlespace.PickOf.
//
// Policies whose material is the set's tree (all but those with
// degradation and hash) build their selector in O(1); lud and the others
// with degradation mirror the set's tree with their per-element counters
// and tournaments (rlud and rplud: weight sums) and copy only the mirror
// of the changed leaves; hash scores small sets (≤ 256) per query and
// builds the Maglev table of larger ones in the background. The files are
// one per policy or family (rr.go, wrr.go, …; rank.go and weighted.go
// hold the selectors that several share; dpf.go the distance-penalty
// family).
//
// The tests compare each policy with a naive reference (order_test.go,
// rsplib_test.go) under testing/quick, seeded (-policy.seed replays a
// failure).
//
// # Caveats
//
//   - Per-query state (round-robin sequences, lud's counters) lives beside
//     the immutable trees in atomics, carried from one version of a set to
//     the next; see each policy's file for what a race can do to it.
//   - A hash pool of more than 256 elements answers from the newest table
//     built until the table of its current version is ready: an element
//     that left is never answered, one that joined is answered once a
//     table holds it (see hash_big.go).
//   - A program or test that builds pools without importing this package
//     (directly or through config or zones) knows no policy: pools then
//     fail with "unknown policy".
package policy
