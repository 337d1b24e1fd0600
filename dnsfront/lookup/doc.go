// Package lookup is the meaning of a DNS answer: from a handlespace view
// and a question, what the reply holds. It is the only place that decides
// which names exist and what they hold; package dnsfront's renderers write
// what it finds, as packed bytes or as a dns.Msg.
//
// # Basics
//
// Lookup(view, name, qname, qtype, &r) fills a Result, whose Kind (pool
// answer, element, static, wildcard, CNAME chain, referral, NXDOMAIN,
// NODATA, refused) gives the rcode and the AA bit, and whose fields say
// what the sections hold: the records of the zone file (Records, Glue),
// the CNAMEs followed inside the zone (Chain), the pool and the set of
// elements its policy chooses from (Pool, Set, K), one element (Elem),
// the negative TTL (NegTTL).
//
// Classify says what a name of a zone is (NameKind: a name of the zone
// file, a pool, its service name, an element, an empty non-terminal, an
// HTTPS/SVCB name, or none): Lookup's first step, also the UPDATE server's
// view of names and the signer's list of a name's types. svcb.go holds
// the naming rule of the pools' HTTPS/SVCB names (RFC 9460 §2.3).
//
// # Caveats
//
//   - Lookup is pure: it reads the view and changes nothing, and for pool,
//     element, static and negative answers it allocates nothing.
//   - A pool answer's elements are not chosen here: a selection changes
//     the policy's per-query state, and a UDP answer that cannot fit is
//     not chosen at all. The renderer asks the policy (Result.Set, K).
//   - A Result refers to the view's records, which it never changes: a
//     renderer copies what it changes (a wildcard's owner, the SOA's TTL).
//   - Negative answers at or below a pool's name carry at most the pool's
//     TTL on their SOA (RFC 2308 lets the server choose), so that a
//     resolver does not hide a pool that comes back from all-down for the
//     zone's negative TTL.
package lookup
