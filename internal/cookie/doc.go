// Package cookie implements DNS Cookies (RFC 7873) for an authoritative
// server, with the interoperable server cookies of RFC 9018, so that every
// registrar of a cluster that shares the secret accepts the others'
// cookies.
//
// # Basics
//
// A Jar holds the secrets (the current one, and the previous one during a
// rotation). Per query, with the data of the query's COOKIE option (the
// DNS front reads it with the OPT record's other options):
//
//	var o cookie.Option
//	st := cookie.None
//	if hasCookie {
//		st = jar.Check(data, clientIP, now, &o)
//	}
//	switch cookie.Decide(st, tcp) {
//	case cookie.FormErr:   // FORMERR
//	case cookie.BadCookie: // BADCOOKIE, with a fresh cookie
//	case cookie.Answer:    // look up and answer
//	}
//	// ... the response rate limit, for UDP replies unless st.Verified();
//	// a slipped reply is sent as cookie.SlipAction(st) says ...
//	reply = jar.AppendOption(reply, &o, st, clientIP, now) // into the reply's OPT
//
// Check, Decide, SlipAction and AppendOption do not allocate; a Check and
// an AppendOption cost one or two SipHash-2-4 of 20 or 32 bytes each (see
// BenchmarkCheck). A server cookie (RFC 9018 §4) is version 1, three
// reserved bytes, a 32-bit timestamp in seconds and SipHash-2-4 under the
// secret of client cookie | version | reserved | timestamp | client IP.
// It is valid for Lifetime (one hour) after its timestamp and up to
// MaxSkew (five minutes) before it; after Renew (half an hour) a reply
// carries a fresh one (ValidRenew).
//
// LoadSecrets turns the configuration (dns.cookie_secret,
// dns.cookie_secret_previous) into Secrets; without dns.cookie_secret it
// keeps a random secret in the data directory (SecretFile), so a restart
// keeps accepting the cookies it handed out.
//
// # Caveats
//
//   - The server cookie binds the client's address: a client whose
//     address changes (NAT rebinding, another interface) gets BADCOOKIE
//     once over UDP and retries with the fresh cookie.
//   - Registrars behind one anycast address must share the secret and
//     have clocks within MaxSkew; otherwise their clients see BADCOOKIE
//     whenever they reach another registrar.
//   - Rotation in a cluster takes three steps so that no registrar meets
//     a cookie it cannot check: first every registrar accepts the new
//     secret (dns.cookie_secret_previous = new, dns.cookie_secret = old);
//     then every registrar makes cookies with it (dns.cookie_secret = new,
//     dns.cookie_secret_previous = old); an hour (Lifetime) later the old
//     one is dropped (dns.cookie_secret_previous = ""). A single registrar
//     can do the last two steps only.
//   - LoadSecrets generates the file without a lock: call it once the
//     data directory is the process's own (after the store is open).
package cookie
