// Package ptree holds the persistent data structures a handlespace view is
// made of, and every use of unsafe in the handlespace: a B+tree of element
// pointers (Tree) and a hash trie of 64-bit keys (Index), both immutable
// and changed by copying paths, and the cell of the readers' memo (Memo).
//
// # Basics
//
// A Tree is ordered by a 64-bit key (ByID), or by a key and a tie
// (ByRank), optionally summing weights; Build makes one from sorted
// entries and Update returns a new version with a batch of changes,
// sharing every node the batch did not touch. Readers find an entry by
// key, rank or weight (Get, Find, RankOf, At, AtWeight), walk the leaves
// (EachLeaf), or walk the nodes from the Root (lud keeps state per node).
// An Index is a set of keys whose top 32 bits are a hash, found by hash
// (Each), changed with With and Without.
//
// # Caveats
//
// Nothing here is safe for concurrent writers: handlespace's writers hold
// its lock, and its readers only read published versions, which never
// change. A node's layout (packed keys, one allocation per node) is this
// package's own; readers get at a leaf's entries through its methods only.
// A Tree of kind ByID keeps no ties, and only a weighted tree has weights.
package ptree
