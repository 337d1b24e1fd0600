// Package zones reads poolnsd's zone-like files: RFC 1035 master files
// with two directives of poolnsd's own, $POOL and PE, that define server
// pools. It turns them into handlespace.ZoneDef values for
// handlespace.ApplyZones, and reports every mistake as
//
//	FILE:LINE:COL: what is wrong; what was expected
//
// # Basics
//
// LoadDir reads every *.zone file of a directory (each with the files it
// includes, through an fs.FS rooted there); LoadPaths reads what `poolnsd
// check` is given. Package zonestest loads zone text for other packages'
// tests. A zone set that loads without error is accepted by
// handlespace.ApplyZones on a fresh handlespace. Watch says when a zones
// directory has changed and its files are complete (on Linux, a file
// written in place once its writer has closed it), for hot reloads.
//
// A file is one zone:
//
//	$ORIGIN pool.example.
//	$TTL 300
//	@      SOA ns1 hostmaster 1 3600 600 86400 5
//	@      NS  ns1
//	ns1    A   192.0.2.53
//
//	$POOL web policy=wrr service=_http._tcp ttl=5 answers=3
//	web    PE 10.0.0.1:8080 weight=10 site=fra
//	web    PE 10.0.0.2:8080 weight=20 site=ams loaddeg=0.05
//	web    PE [2001:db8::1]:8080 name=v6box
//	api    PE 192.0.2.10,[2001:db8::10]:443 prio=1  ; two addresses
//
// Master-file syntax (RFC 1035 §5.1): ";" starts a comment; "(" and ")"
// continue an entry over lines; a line that starts with white space has
// the previous owner; "@" is the current $ORIGIN and names without a
// trailing dot are relative to it; "\X" and "\DDD" escape; quoted strings
// are one field. $ORIGIN NAME, $TTL TTL and $INCLUDE FILE [ORIGIN] work as
// in BIND. A record's TTL is its own, else $TTL, else the last TTL written
// in a record. The class, if given, is IN. Ordinary records are parsed by
// github.com/miekg/dns and served as written. Rules of the zone:
//
//   - exactly one SOA record; it comes before every other record and its
//     owner is the zone's origin (not the root);
//   - at least one NS record at the origin;
//   - every name at or under the origin;
//   - a CNAME alone at its name;
//   - no static record at a pool's name or under it: those names are the
//     pool's.
//
// $POOL HANDLE key=value ... defines a pool. HANDLE is relative to $ORIGIN
// (or absolute) and names one label directly under the zone's origin
// (letters, digits, - and _; not - first or last). A blank owner after
// $POOL is the pool. Keys
// (each at most once; unset keys take the defaults of
// handlespace.DefaultPoolSpec and of this package):
//
//	policy=NAME        rr     one of handlespace.PolicyNames()
//	dpf=F              0.1%   distance-penalty policies (-dpf) only: the load each
//	                          millisecond of distance adds, above 0 up to 1 or 100%
//	distancestep=DURATION 50ms -dpf policies only: distances are rounded to it,
//	                          whole milliseconds from 1ms to 1m
//	service=_SVC._PROTO none  SRV and URI also at _SVC._PROTO.HANDLE.ZONE
//	ttl=TTL            5      of pool answers: seconds, 5s, 1m, 1h30m; 0 allowed; at most 2^31-1 s
//	answers=N          3      A/AAAA answers carry up to N elements, 1..1000
//	alldown=none|all   none   with no element up: no answer, or all elements (fail open)
//	uri=TEMPLATE       none   RFC 7553 URI records at the service name (needs service=);
//	                          {name} element's own name (no trailing dot), {addr} first
//	                          address (IPv6 in brackets), {port}; an absolute URI
//	probe=KIND[:TARGET] none  none, tcp, http[:/PATH[#TERMS]] (default /),
//	                          https[:/PATH[#TERMS]], dns:NAME[#TERMS],
//	                          tls[:SERVERNAME]; TERMS as probespec.Validate checks
//	interval=DURATION  1s     longest time between probes, at least 100ms
//	timeout=DURATION   500ms  shorter than interval
//	rise=N             2      successes in a row to become up, at least 1
//	fall=N             2      failures in a row to become down, at least 1
//	jitter=F           10%    delays shortened at random by up to F, 0..0.5 or 0%..50%
//
// OWNER [TTL] [IN] PE ADDR[,ADDR...]:PORT key=value ... adds an element to
// the pool OWNER, which a $POOL earlier in the file (or its includes)
// defines. IPv6 addresses are written in brackets: [2001:db8::1]:8080;
// the unspecified address, multicast, the broadcast address and IPv6
// link-local are refused (handlespace.CheckAddr; loopback is allowed). The
// element's identifier is handlespace.ElementID(first address, port), so it
// keeps its health and load across reloads; a TTL on a PE line is accepted
// and ignored (pool answers carry the pool's ttl). Keys:
//
//	weight=N           1      0..2^32-1, for wrr and wrand
//	prio=N             0      0..2^32-1, lower is preferred (prio, plu)
//	load=F             0      0..1 or 0%..100% (lu, lud, plu, rlu and RSPLIB's)
//	loaddeg=F          0      0..1 or 0%..100%, added per selection (lud and the
//	                          other degradation policies; plu and its kin: added once)
//	site=WORD          none   letters, digits, ., - and _
//	name=LABEL         the identifier as 8 hex digits: the element's own name LABEL.HANDLE.ZONE
//	transport=tcp|udp|sctp tcp
//
// and the probe keys of $POOL (probe, interval, timeout, rise, fall,
// jitter), which override the pool's settings for this element; the
// element's other probe settings are the pool's.
//
// Names (origins, handles, element names, services, sites, probe names)
// are lower-cased; static records keep the case they are written in. Two
// elements of a pool with the same identifier or name are an error.
//
// # Caveats
//
//   - The first error rejects the file; LoadDir and LoadPaths report the
//     first error of each file, joined, and return no zones at all.
//   - $INCLUDE paths are slash-separated paths relative to the root of the
//     fs.FS (the directory being loaded), not to the including file, and
//     cannot contain "..". os.DirFS follows symbolic links, so a link in
//     the zones directory can still lead outside it. An included file
//     starts with the includer's $ORIGIN and TTLs and no previous owner;
//     what it changes of them stays inside it. Includes nest at most
//     MaxIncludeDepth deep; a loop is an error.
//   - The SOA record must come first: the zone's origin must be known
//     before a record can be checked against it.
//   - A file that cannot be read is reported as "FILE: cannot read ..."
//     without a line; an empty directory as "no *.zone files in DIR".
//   - handlespace.PoolDef records only the line of a $POOL, not its file:
//     for a pool defined in an included file, a message from handlespace
//     itself would name the top file. This package's own checks name the
//     right file.
//   - Error positions of ordinary records come from this package; miekg/dns
//     error texts are kept after "bad TYPE record:".
package zones
