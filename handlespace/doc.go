// Package handlespace holds poolnsd's pools and their elements and picks
// elements for answers by each pool's policy. (Package store keeps the
// registrations on disk; package handlespace/policy holds the policies,
// which the handlespace calls through the Policy interface.)
//
// # Basics
//
// A Handlespace is the set of served zones and their pools. Readers call
// View and then Zone(origin).Pool(handle): they get an immutable PoolView,
// which never changes and is read without locks. Writers are serialised
// and publish a new view of each pool they change, atomically. There is
// one operation model, Op (a registration, a removal, an expiry), applied
// in batches by Apply (one group by Do); Update and UpdateMany change
// fields of elements, ApplyEdits applies a peer's changes, and ApplyZones
// the zone files.
//
// A PoolView keeps its elements in immutable trees that a new view shares
// with the old one wherever the change did not touch them (package
// internal/ptree holds them, with all of the package's unsafe code; the
// policies use them through its API and never see a node's layout):
//
//   - the elements, in a B+tree by ID (leaves of up to 64 elements, inner
//     nodes of up to 32 children, each counting the elements below it, so
//     the element of any rank is found in O(log n));
//   - a label index, a hash trie of label hash and ID whose leaves are
//     buckets of up to 32 keys without pointers;
//   - each served set (All, V4, V6: the elements answers may carry) in
//     its policy's order: by ID (rr, rand, hash, and lud and the other
//     policies with degradation: plud, lud-dpf, plud-dpf, rlud, rplud), by
//     rank then ID (prio, lu, plu, lu-dpf, plu-dpf, nearest), or by ID in
//     a tree that also sums weights, with the elements of weight 0 apart
//     (wrr, wrand, rlu, rplu, wrand-dpf); a nearest
//     set also keeps its elements that have a site by site, then rank, so
//     that a client's site is one run of it (see SiteMap). A set that
//     holds every element of a pool ordered by ID is the element tree
//     itself, and V4 or V6 is All when it holds all of it.
//
// A change of d elements copies the paths from the roots to the leaves
// they lie in, O(d log n) small nodes, and never reads the other
// elements: one registration in a pool of 100 000 copies about 2.3 KB,
// not the pool; the pool's policy then builds a selector for each set that
// changed (Policy.Build; see package handlespace/policy for what each
// costs).
//
// A selection (ElementSet.Select) returns Picks: an element and where it
// lies in the set. Readers may keep material they derive from elements,
// from the parts picks lie in and from views in the readers' memo
// (ElementMemo, Pick.PartMemo, PoolView.Memo; see memo.go): the DNS front
// keeps its packed records there, so that they too are rebuilt only where
// a change made a new element, leaf or view.
//
// # Caveats
//
//   - PoolView.Elements and ElementSet.Elements make a new slice, O(n);
//     iterate with Range, and compare two views of a pool with
//     DiffElements, which composes the changes logged between them
//     (difflog.go) or, for views too far apart, skips the leaves they
//     share.
//   - The policies register themselves (RegisterPolicy) when package
//     handlespace/policy is linked in: without it no policy is known. The
//     package's own tests get them through policies_test.go.
//   - Per-query state (round-robin sequences, lud's counters) lives beside
//     the immutable trees in atomics, carried from one version of a set to
//     the next (see package handlespace/policy).
//   - Elements are owned by the handlespace once given to it: never modify
//     one that a view holds; Clone it and register or update the copy.
package handlespace
