// Package poolclient is the Go client library of poolnsd for both ends of
// a pool: pool elements (servers) register themselves and keep their
// registration alive; pool users (clients) resolve a pool to its elements
// in the order poolnsd gives and dial them with failover.
//
// # Basics
//
// A pool element calls Register with its address, port and a TSIG key.
// Register returns once a registrar has accepted the registration (a
// TSIG-signed DNS UPDATE, RFC 2136 and RFC 8945, with the EDNS
// UPDATE-LEASE option); a goroutine then refreshes it at half the granted
// lease, retrying with exponential back-off and moving on to the next
// registrar when one fails. SetLoad reports the element's load (the pool's
// least-used policies use it) and Close deregisters.
//
// A pool user makes a Resolver (the DNS servers to ask, by default those
// of /etc/resolv.conf) and a Dialer over it. Resolver.Lookup asks for the
// SRV records of a name — poolnsd answers them at the pool's name — and
// falls back to its A/AAAA records; answers are cached for their TTL.
// Order sorts targets as RFC 2782 says: lowest priority first, a weighted
// random pick within each priority. Dialer.DialContext dials a pool's
// elements in that order and, when one does not accept the connection,
// sends a failure report for it (RFC 5352 ENDPOINT_UNREACHABLE, through
// poolnsd's HTTP API) and tries the next. Its DialContext fits
// http.Transport:
//
//	d := &poolclient.Dialer{Resolver: &poolclient.Resolver{}}
//	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
//	resp, err := client.Get("http://web.pool.example/")
//
// # Caveats
//
// The SRV answer's port wins over the port in the dialled address, as
// RFC 2782 intends; a name without SRV records is dialled at the given
// port. The Dialer also remembers, for ReportHold, which addresses failed
// and tries them last, so that one dead element costs one failed connect
// per hold, not one per dial. http.Transport reuses connections, so a
// failover happens when it dials a new one. A registration lives in the
// registrar that accepted it: without registrar peering, pool users must
// ask that registrar (or one of its peers) to see it.
package poolclient
