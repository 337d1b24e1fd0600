// Package msgsign signs the replies that package dnsfront's dns.Msg
// renderer builds for a zone that the signer (package dnssec) has keys for,
// once the reply is built as without DNSSEC: every kind of result but the
// pool and element answers that the wire renderer signs itself.
//
// # Basics
//
// Sign(zone, result, msg, qtype) signs the message in place, from the
// lookup's Result (package dnsfront/lookup) and the signer's zone:
//
//   - each RRset of the answer section (a run of records of one owner and
//     type) is followed by its RRSIGs, its records given the first one's
//     TTL when a zone file gave them several (RFC 2181 §5.2);
//   - a negative answer becomes a compact denial (RFC 9824): NOERROR, the
//     SOA signed and the NSEC record of the name (Denial) with its RRSIG;
//   - a referral's NS RRset and glue stay unsigned (the child's), and the
//     delegation's DS RRset is added, signed, or the NSEC record proving
//     it has none (RFC 4035 §3.1.4);
//   - additional data of the zone's own is signed; glue at or below a
//     delegation is left as it is.
//
// Denial is the signed NSEC record of a negative answer: a compact
// NXDOMAIN for a name that does not exist, else the types the name has
// less qtype. At a pool's names those are the types the name answers
// whether or not an element is up now, so that a resolver's cached NSEC
// (RFC 8198) never denies what comes back with the elements; at an RFC
// 9615 signal name, the signal's types (lookup.SignalTypes).
//
// # Caveats
//
//   - Signing replaces the sections' slices and never changes them in
//     place: the records belong to the view, and a reply built once (the
//     UDP loop's queued cold answers) may be signed again from a copy.
//   - On a cache-only zone (dnssec.Zone.CacheOnly) a signature the cache
//     lacks is dnssec.ErrNotCached, which the caller signs later.
package msgsign
