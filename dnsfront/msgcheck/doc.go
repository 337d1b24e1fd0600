// Package msgcheck reads a raw DNS message before anything else does, and
// decides what it is: a query or update to hand to the DNS front's handler,
// one to refuse with an error, or one to drop.
//
// # Basics
//
// Check reads the message's bytes into a Msg (the header, where the first
// question lies, the OPT record's fields), without allocating, and returns
// a Verdict: Drop for responses and messages shorter than a header, NotImp
// for opcodes other than QUERY and UPDATE, FormErr for
// malformed messages, Serve for the rest. A query it serves unpacks with
// miekg/dns: names, records and OPT options are checked here as miekg/dns
// would check them, and a query with records other than an OPT (a TSIG)
// is unpacked once to be sure, and handed on (Msg.Unpacked) so that it is
// unpacked only once. An UPDATE is served once its names and records lie
// in bounds: the data of its records is checked by its reader (package
// dnsupdate's Read, the same verdicts as miekg/dns's Unpack), which reads
// it from the bytes. Reader hands an UPDATE to its Update function, if
// set, rather than to miekg/dns's server. AppendErrorReply writes the
// error reply from the message's bytes, so that it repeats the question
// whenever it parsed and carries only the header flags the RFCs allow
// (miekg/dns's own reject path copies TC, RA and AD from the query and
// drops the question). Reader does the same for miekg/dns's TCP and TLS
// servers (their DecorateReader, with Accept as the MsgAcceptFunc): it
// answers or drops what Check does not serve, and hands on the rest.
//
// # Caveats
//
//   - Msg's offsets index the bytes Check read: keep them together.
//   - Check is on every query's path (the UDP loop, the TCP reader): it
//     allocates nothing for a message of no records but an OPT.
package msgcheck
