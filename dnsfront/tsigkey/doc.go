// Package tsigkey holds the DNS front's TSIG keys (RFC 8945): the keyring
// with which miekg/dns's server verifies signed requests and signs their
// replies, and what the DNS front and the UPDATE server need around it.
//
// # Basics
//
// New checks a set of keys (name, algorithm hmac-sha256 or hmac-sha512,
// secret, the pools a key may change) and returns a Keyring, the server's
// dns.TsigProvider; Set replaces the set whole on a reload. A request's
// TSIG is found by Of (last of the additional section, nowhere else), its
// verification read by Verified (the server's TsigStatus, then the key),
// a failure answered by WriteFailure (NOTAUTH with the TSIG error), and a
// reply signed by SignReply (the MAC is computed as the reply is written).
// The UPDATE path does the last two from bytes: VerifyRequest verifies a
// UDP request's TSIG from the datagram (the verdicts of miekg/dns's
// TsigVerifyWithProvider, without unpacking the message again), and
// AppendSigned signs a reply packed by hand (SignReply's bytes). A key's
// HMAC is made once and reset between MACs.
//
// # Caveats
//
//   - The MAC of a reply signed by SignReply is computed by the server
//     when it writes the reply, through the Keyring: a reply written as
//     bytes (Write) is not signed unless AppendSigned signed it.
//     WriteFailure writes BADKEY and BADSIG replies unsigned, on purpose.
//   - A truncated request MAC is accepted down to max(10 bytes, half the
//     full length) and truncates the reply's alike (RFC 8945 §5.2.2.1).
package tsigkey
