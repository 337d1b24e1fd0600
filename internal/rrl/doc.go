// Package rrl is response rate limiting for the DNS front, in the style
// of BIND's rate-limit and Knot's mod-rrl: a flood of queries with a
// forged source address, meant to aim poolnsd's replies at a victim, is
// cut to a few replies per second per victim network, and every Nth cut
// reply still goes out truncated (TC=1) so that a real client behind that
// network retries over TCP.
//
// # Basics
//
// A Limiter keeps one bucket per (client prefix, response class, name):
// the client's /24 (IPv4) or /56 (IPv6), the Class of the reply, and the
// name it is about (the table below). Each bucket allows
// ResponsesPerSecond replies per second on average, with bursts of as
// many; every reply, sent or not, counts against it, and a bucket's debt
// is capped at Window, so a network that stops flooding is answered again
// within Window. As in BIND, a flood that stays above the rate gets no
// full reply from its bucket, only the slipped ones: every Slip-th cut
// reply, truncated.
//
//	class     | the reply                                  | Name (and Type)
//	Answer    | NOERROR with answer records                | the query name and type
//	NoData    | NOERROR without answer records             | the zone (SOA owner)
//	NXDomain  | NXDOMAIN                                   | the zone (SOA owner)
//	Referral  | a delegation                               | the delegation's name
//	Error     | REFUSED, FORMERR, SERVFAIL, NOTIMP,        | none: one bucket per prefix
//	          | BADCOOKIE                                  |
//
// Decide returns Send, Drop or Slip; replies over TCP (and TLS), to a
// query with a valid server cookie (cookie.Status.Verified) and to
// exempt prefixes are always Send and touch no bucket. Slip means: send
// the reply truncated, TC=1 without records (or BADCOOKIE with a fresh
// cookie when the query had a client cookie: cookie.SlipAction).
//
// The table has a fixed number of buckets (TableSize), in shards of
// 4-way sets, each shard under its own lock: several UDP loops may call
// Decide at once, and a decision neither allocates nor waits on I/O. When
// a set is full, the bucket with the least debt is replaced (Stats.Evicted
// counts replaced buckets that were still in debt: the table is too
// small for the flood). A server that replaces its Limiter (a reload of
// the limits) keeps its counters going up with Totals: Retire the old
// one, and read the sums With the new.
//
// # Caveats
//
//   - Names are compared case-insensitively as bytes: a caller passes
//     every name of one class in one form (wire or text), and the same
//     name always the same way.
//   - A Limiter uses the monotonic reading of the times it is given: pass
//     time.Now() (or one reading per batch of queries), not a time built
//     from a Unix time.
//   - Replies over UDP to clients behind one /24 share their buckets: a
//     large resolver farm may need a higher rate, an exempt prefix, or
//     cookies (which exempt it).
package rrl
