// Package dnsupdate applies DNS UPDATE (RFC 2136) registrations of pool
// elements, signed with TSIG (RFC 8945, package dnsfront/tsigkey): the DNS
// front hands it every UPDATE it receives.
//
// # Basics
//
// An element is the name <label>.<handle>.<zone> holding one SRV record
// (its port, priority and weight; the target is the name itself), A
// and/or AAAA records (its addresses) and optionally TXT records of
// key=value pairs (weight=, prio=, load=, loaddeg=, site=, policy=,
// transport=). Read reads an UPDATE from its bytes into a Message (what
// the server uses of it, without a dns.Msg: the records an element holds
// read by hand, the rest by miekg/dns one record at a time, so that every
// verdict is miekg/dns's Unpack's, FuzzRead); FromMsg takes one from a
// dns.Msg. Server.Serve (ServeUpdate for a dns.Msg) checks the request's
// form (zone, prerequisite and update sections), its signature and the
// key's pools,
// then submits it to the Updater (package regcommit's Committer), which
// runs the prerequisites (RFC 2136 §3.2) and the update section (§3.4.2)
// against the view it commits on, and answers once the change is durable
// (or refused, changing nothing). The lease is the EDNS UPDATE-LEASE
// option if present, else the SRV record's TTL, clamped by the committer.
//
// The prerequisites see the records answers would give; which names hold
// what is the DNS front's lookup, which the server gets as a Lookup
// function (the one narrow tie to package dnsfront, which imports this
// package, not the other way round).
//
// # Caveats
//
//   - Every refusal is answered with its rcode and, when the request had
//     an OPT, an Extended DNS Error (RFC 8914) saying why; a reply to a
//     validly signed request is signed. Replies are packed and signed
//     here (appendReply, tsigkey's AppendSigned) and written as bytes:
//     the bytes a dns.Msg signed by the server's writer made (FuzzReply).
//   - Refusals are logged at info, but rate-limited ones at debug, so
//     that a flood does not flood the log.
package dnsupdate
