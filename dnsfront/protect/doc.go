// Package protect holds the checks that a public authoritative server
// makes of each query, and the options it adds to the replies: the query
// ACL, DNS Cookies (RFC 7873, RFC 9018), response rate limiting, NSID
// (RFC 5001), the CHAOS identity names and the Extended DNS Error (RFC
// 8914) of a reply. Package dnsfront's handler asks it; it knows no pool,
// zone or answer.
//
// # Basics
//
// Protections gathers the parts (internal/cookie, internal/rrl,
// internal/identity, internal/prefixset); every field may be nil, and then
// that feature is off. A Query is what they decided of one query, kept
// inside the handler's request:
//
//   - QueryOpts is what they read of the query's OPT record (the first
//     COOKIE option, an NSID option): MsgQueryOpts reads it from
//     miekg/dns's form, the UDP loop's fast path from the bytes.
//   - Query.Admit, before the lookup: the ACL (REFUSED, EDE Prohibited)
//     and the cookie (FORMERR, BADCOOKIE), counted by status in a
//     CookieCounts; -1 lets the query go on.
//   - Query.Limit, before a reply is written: the rate limiter's verdict
//     (send, drop, slip) by the reply's class; only over UDP, and never
//     for a valid cookie. A slip to a client that speaks cookies without a
//     valid one is BADCOOKIE (SlipBadCookie), else TC=1 (Slipped).
//   - Query.AppendOptions (packed replies) and Query.AddOptions (dns.Msg
//     replies) add the reply's COOKIE and NSID options (and, for a
//     dns.Msg, the EDE); CookieLen and NSIDLen are their sizes, for the
//     room a packed reply keeps.
//   - Query.Chaos answers a CHAOS-class question: id.server.,
//     hostname.bind., version.bind., REFUSED for the rest.
//
// # Caveats
//
//   - The clock is read at most once a query (Query.Now), and only when a
//     cookie or the rate limiter needs it; the UDP loop gives the time it
//     read the batch.
//   - A Query lives in the request, which the UDP loop's cold-signature
//     queue copies: it holds no pointer into the query's bytes once
//     Admit has copied the cookie (QueryOpts.Cookie is a view of them).
package protect
