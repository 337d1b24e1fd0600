// Package dnsfront is poolnsd's authoritative DNS server: it answers
// queries from the current handlespace view and applies DNS UPDATE
// registrations.
//
// # Basics
//
// A query goes through four steps, each in its own file:
//
//   - Package dnsfront/msgcheck reads the raw message (msgcheck.Check)
//     before anything else does: responses and runts are dropped, opcodes
//     other than QUERY and UPDATE get NOTIMP and malformed messages
//     FORMERR, written from the message's bytes; only well-formed messages
//     reach the handler.
//   - handler.go (Handler.ServeDNS) checks what the question asks for
//     (EDNS version, meta types, class, a TSIG) and asks the protections
//     of package dnsfront/protect (the ACL, DNS Cookies, the rate limit;
//     NSID and the CHAOS names), then looks the question up and hands the
//     result to a renderer. It holds no lock and does no I/O but writing
//     the reply.
//   - Package dnsfront/lookup (Lookup; result.go names it here) is the
//     meaning of the answer, and the only place that decides it: (view,
//     question) → Result, whose Kind (pool answer, element, static,
//     wildcard, CNAME chain, referral, NXDOMAIN, NODATA, refused) gives the
//     rcode and the AA bit, and whose fields say what the sections hold. It
//     is pure and, on the query path, allocates nothing. It also holds the
//     naming rule of the pools' HTTPS/SVCB names.
//   - Two renderers write a Result. answer_wire.go writes pool and element
//     answers straight into a byte buffer from material packed once per
//     element (the common case: no dns.Msg, no allocation); answer_msg.go
//     writes every kind as a dns.Msg (static records, negative answers,
//     referrals, CNAME chains into pools, errors) and fits it to the
//     client's size (RFC 2181 §9: glue is left out before TC is set).
//     What a pool's elements look like as records, packed and as dns.RR
//     (the SRV/URI order of a policy, HTTPS/SVCB, NAPTR), is package
//     dnsfront/poolrr's, so that both renderers write the same records;
//     answer_svcb.go writes HTTPS/SVCB (RFC 9460) and NAPTR (S-NAPTR,
//     U-NAPTR) pool answers from them into the packed reply.
//   - answer_dnssec.go signs the answers to DO queries of the zones that
//     Config.Signer has keys for: pool and element answers of every type
//     on the wire renderer (the packed answer read back as an RRset, its
//     RRSIGs appended packed, then the SRV and HTTPS/SVCB targets'
//     address RRsets, each with its own, as many as fit; the signatures
//     found through small lock-free tables keyed by the elements' packed
//     material or the packed records, package sigfront, in front of the
//     signer's cache), every other kind on the
//     dns.Msg renderer (the reply built as unsigned, then signed by package
//     dnsfront/msgsign: each RRset followed by its RRSIGs, negative
//     answers as compact denials, RFC 9824). Without DO nothing changes but
//     for the DNSKEY RRset at a signed apex.
//   - coldsign.go keeps a signed answer that needs a new signature (one
//     the cache lacks) from holding up its UDP socket: the loop answers
//     signed queries from the cache only and queues the others, with all
//     it made of them, then, between batches (dnsserve.Loop's Sent, and
//     dnsserve.Idler's Idle while a read that does not wait finds no
//     datagram), signs them one signature a turn and sends the replies
//     itself; a full queue (256) answers TC=1. TCP and DNS over TLS sign
//     inline.
//   - tally.go counts each pool answer by its first element for the status
//     page (Config.Answers, package history): one atomic add on a counter
//     of the serving loop's own (internal/tally), found through the slot
//     that the element's packed material carries; the UDP loop gives the
//     time from reading a batch to sending its replies (one clock read a
//     batch) to the batch's first pool answer, the pools' answer latency.
//
// An UPDATE goes to package dnsfront/dnsupdate, which applies DNS UPDATE
// (RFC 2136) signed with TSIG (RFC 8945) through an Updater, seeing names
// through this package's lookup (a dnsupdate.Lookup, in tsig.go). Over
// UDP and TCP alike (update.go) it is read from its bytes
// (dnsupdate.Read: no dns.Msg), its TSIG verified from them (tsig.go's
// updateWriter and signedWriter) and its reply packed and signed by hand;
// over TCP (and TLS) msgcheck's Reader hands it over before miekg/dns's
// server sees it, and it is answered in its turn on the connection. The
// TSIG keyring, which the server verifies requests and signs replies
// with, is package dnsfront/tsigkey's, and tsig.go handles signed queries.
// Package dnsfront/dnsserve binds the listeners and moves the bytes
// (Start, in start.go, serves a Handler on it): TCP and TLS through
// miekg/dns's server, UDP through loops of its own (one SO_REUSEPORT
// socket per core), each of which hands its datagrams to the Handler's
// answering of that loop (udp.go: the fast path from a datagram's bytes,
// the rest through ServeDNS).
//
// # Caveats
//
//   - A pool answer's elements are chosen when it is written, not by
//     Lookup: a selection changes the policy's per-query state (round-robin
//     sequences, least-used charges), and a UDP SRV answer that cannot fit
//     is truncated without asking the policy at all.
//   - The records a Result refers to belong to the view: renderers copy
//     what they change (wildcard owners, the SOA's TTL) and never reorder
//     a slice of the view in place.
//   - The packed material lives on the handlespace's elements and leaf
//     parts (handlespace.ElementMemo, Pick.PartMemo), keyed by what it
//     depends on, so a change of one element repacks that element only.
//   - Negative answers at or below a pool's name carry at most the pool's
//     TTL on their SOA (RFC 2308 lets the server choose), so that a
//     resolver does not hide a pool that comes back from all-down for the
//     zone's negative TTL.
package dnsfront
