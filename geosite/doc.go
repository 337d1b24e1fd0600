// Package geosite finds a DNS client's site for the nearest policy from a
// MaxMind DB (.mmdb: GeoIP2/GeoLite2 City or Country, ASN, or any
// database of the same layout) and the operator's description of the
// sites: the countries, continents and autonomous systems each one
// serves, and where it is.
//
// # Basics
//
// Load reads a database and a set of Sites into a Map, which the DNS
// front asks for each query of a nearest pool (Map.Lookup, the same
// method as handlespace.SiteMap's). A client is at, in this order:
//
//  1. the site of the longest prefix of the operator's prefix map
//     (config "sites" prefixes) that holds it, if any;
//  2. else the site of the autonomous system, then of the country, then
//     of the continent of the database's record of the client's address
//     (its EDNS Client Subnet, else its source address);
//  3. else the site nearest, by great-circle distance, to the record's
//     location, among the sites whose coordinates are given;
//  4. else no site (the nearest policy then orders by RTT alone).
//
// The ECS scope of an answer is the network of the matching record (or of
// the matching prefix): every address in it has the same site.
//
// Watch tells when the database file changes (it is replaced by a
// rename, as geoipupdate does, or written in place), so that the daemon
// loads it again; a load that fails leaves the previous Map serving.
//
// # Caveats
//
//   - Load walks every network of the database once and works out the
//     site of each distinct record, so that a lookup is a walk of the
//     database's tree and a map access: no decoding, no allocation. For
//     a GeoLite2-City database (a few million networks) that takes
//     seconds of one core, off the query path.
//   - The database is read into memory (not mapped), so that a file
//     replaced or truncated under a running server cannot fault it.
//   - The site of step 3 is the nearest of all the sites with
//     coordinates, whether or not a given pool has elements there: a
//     pool without elements at that site orders by RTT for that client.
package geosite
