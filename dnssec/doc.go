// Package dnssec signs poolnsd's answers online: keys in BIND's file
// format, a signer with a bounded signature cache, and compact denial of
// existence (RFC 9824).
//
// # Basics
//
// Keys are files K<zone>+<alg>+<tag>.key and .private in one directory
// (<data>/keys), as dnssec-keygen, ldns-keygen and poolnsd dnssec keygen
// write them (Knot's keymgr keeps PEM files: ImportPEM converts them).
// Load reads the whole directory or fails whole, one line per bad file
// naming its path and the reason; a zone with keys is signed, a zone
// without is not. A key's state (published, active, retired, removed)
// comes from its timing metadata (Publish, Activate, Inactive, Delete, as
// BIND writes them) at the time of Load; Keys.NextEvent says when to load
// again. The DNSKEY RRset holds every published key and is signed by each
// of them, as are the CDS and CDNSKEY RRsets (cds.go: those of the keys
// whose DS the parent should hold, by default); every other RRset is
// signed by the active keys (the ZSKs only, when a zone has a KSK and a
// ZSK), CDS and CDNSKEY RRsets below the apex too: RFC 9615's signals,
// the CDS and CDNSKEY RRsets of another zone that this zone holds at
// `_dsboot.<child>._signal.<name server>` (signal.go: Zone.Signals and
// Zone.SignalRecords of the child; dnsfront/lookup finds the names).
//
// A Keeper holds a serving daemon's Signer and loads the keys into it: at
// start (NewKeeper fails on a bad key), on Reload and when a key's time
// comes; it warns of keys of zones not served there.
//
// A Signer holds the current Keys (SetKeys swaps them whole) and the
// signature cache, shared by all zones. The handler asks Signer.Zone once
// per query (nil: the zone is unsigned, answer as without DNSSEC) and
// then, for each RRset it sends:
//
//   - Zone.SignSet(set) with an RRset filled from packed RDATA
//     (RRset.ResetWire with the question's name, then Add for each record,
//     exactly as sent: SRV priority and weight included), and
//     Sigs.AppendWire(buf, []byte{0xC0, 0x0C}) after the records (ANCOUNT
//     += len(Sigs.RRSIGs)): the wire renderer, no allocation on a cache hit.
//     Zone.SigsWireLen says beforehand how many bytes the RRSIGs take (it
//     depends on the keys only), SignSetAt takes the time read once for a
//     reply of several RRsets, and Sigs.FreshUntil says until when signatures
//     kept beside the cache may still be sent;
//   - Zone.Sign(records) and Sigs.AppendTo(section): the dns.Msg renderer;
//   - Zone.DNSKEY() for a DNSKEY query at the apex, Zone.CDS(type) for
//     a CDS or CDNSKEY query there;
//   - Zone.NXDomain, Zone.NoData and Zone.NoDS for denials: one NSEC
//     record (Sigs.NSEC) and its signatures.
//
// A caller that must not spend a signature's time now (the DNS front's
// UDP loop, which answers a socket's queries one after another) asks
// Zone.CacheOnly's twin first: the same methods, which return what the
// cache holds fresh and ErrNotCached instead of signing (or waiting for
// another caller's signature); it signs what it lacks later with
// Zone.Signing, or with Zone.Budget, which signs as many RRsets as it is
// given and then is as CacheOnly (an answer that needs several
// signatures is made in as many turns).
//
// Each RRset is signed with the TTL it is sent with, which is part of the
// cache key with its owner (lower-cased), type and RDATA in canonical
// order: the same pool answer in another order or letter case is one
// entry. Signatures are valid from an hour before they are made for
// Options.Validity (7 days), and made again when less than a quarter of
// it is left. The cache is bounded in bytes (Options.CacheSize) and
// evicts by CLOCK; CacheStats counts hits, misses, refreshes and
// evictions.
//
// # What the handler passes, answer by answer (with DO=1, zone signed)
//
// Negative TTL below is Result.NegTTL; "types" is what NoData is given;
// NoData itself removes the type asked, and adds RRSIG, NSEC and, at the
// apex, DNSKEY (and CDS and CDNSKEY when the zone publishes them).
//
//   - Pool, element, static, RFC 8482 ANY answers: sign the answer RRset.
//   - Wildcard: sign the synthesised records, owner the query's name: the
//     RRSIG's Labels is the name's, as if it existed (RFC 9824 §3.3), and
//     no NSEC is needed. Sign a wildcard's own "*" records only for a
//     query of the "*" name itself.
//   - CNAME chain: sign each CNAME RRset of the chain and the final RRset.
//   - NXDOMAIN (a name that does not exist, also below a pool, or at the
//     end of a CNAME chain): rcode NOERROR, not NXDOMAIN; authority: the
//     SOA with TTL NegTTL and its signatures, then NXDomain(name, NegTTL)
//     (NSEC "name → \000.name", RRSIG NSEC NXNAME) and its signatures.
//   - NODATA: the SOA as above, then NoData(name, qtype, types, NegTTL),
//     types being: at a name of the zone file, every type at the node; at
//     a name a wildcard matches, the wildcard's types (owner: the query's
//     name); at an empty non-terminal (of the zone file, or _proto under a
//     pool), none; at a pool's name, A, AAAA and SRV whether or not an
//     element is up (the all-down pool included: the answer denies only
//     the type asked, so a resolver's cached NSEC (RFC 8198) cannot deny
//     the others); at a pool's service name, SRV, and URI if the pool has
//     a URI template; at an element's name, A and/or AAAA as its
//     addresses have them.
//   - Referral: the NS RRset and glue, unsigned; then the cut's DS RRset
//     and its signatures if the zone file has one, else NoDS(cut, NegTTL)
//     (NSEC "cut → cut\000", NS RRSIG NSEC) and its signatures.
//   - DS query at a cut: the parent's answer, authoritative, not a
//     referral (package lookup answers it so, signed zone or not): the DS
//     RRset signed, or NODATA with the SOA and NoDS(cut). At the apex of a
//     zone whose parent is served here too, the parent's answer; else
//     NODATA with the apex's types (RFC 4035 §3.1.4.1).
//   - DNSKEY query at the apex: Zone.DNSKEY's RRset and signatures;
//     elsewhere an ordinary NODATA. CDS and CDNSKEY queries the same,
//     with Zone.CDS, when the zone publishes them (Zone.PublishesCDS);
//     else the zone file's records or NODATA.
//   - NSEC query: the NSEC a denial at the name would carry, in the answer
//     section, rcode NOERROR: NoData(name, 0, types, NegTTL) for a name
//     that exists, NXDomain(name, NegTTL) for one that does not; at a
//     CNAME's owner the alias's own (CNAME RRSIG NSEC, RFC 4035 §2.5), not
//     the target's; below a cut, the referral.
//   - RRSIG query: REFUSED with EDE 21 (as Knot's online signer does: the
//     signer cannot list every signature a name may have, and validators
//     never ask); below a cut, the referral. NXNAME query: FORMERR with
//     EDE 30 in every zone, signed or not (RFC 9824 §3.5).
//   - Without DO: the answer as without DNSSEC, NXDOMAIN included, but
//     for the DNSSEC types asked for by name (RFC 3225 §3): the DNSKEY
//     RRset (and the CDS and CDNSKEY RRsets, zone data made by the signer)
//     and the NSEC record of a name that exists are given unsigned,
//     and RRSIG and NXNAME queries get the same errors as with DO.
//
// # Key rollovers
//
// rollover.go holds the rules of poolnsd dnssec's key commands: the state
// a new key starts in (NewKeyActive: a zone's first key and a new
// algorithm sign at once, a further key is published only), when a
// published key may sign (SignableFrom: the DNSKEY TTL after its
// publication, RFC 7583), and the two changes of a keys directory,
// AddKey and Retime, each undone when the directory would no longer load.
//
// # Caveats
//
//   - A pool answer of a new set of elements costs one signature per
//     active key (P-256 about 45 µs of CPU here, Ed25519 about 23 µs):
//     a policy that makes nearly every answer a new RRset (rand over a
//     large pool) signs nearly every query. A query waits for at most one
//     signature: the RRset's own, or the one another query is making of
//     the same RRset; no lock is held while signing. A caller that
//     answers queries one after another (the DNS front's UDP loop, a
//     batch of up to 16 a socket) would make the queries behind a new
//     RRset wait for its signature too: it answers from CacheOnly and
//     signs later, one signature a turn (Budget) between its batches.
//   - Random names under a signed zone (compact NXDOMAIN) each cost a
//     signature and an entry; CLOCK spares entries used since the hand
//     last passed, so a flood of new names evicts the cold entries first.
//   - The owner names of the RRSIG records are lower case; on the wire
//     they take the owner the caller gives (a pointer to the question).
//   - Key states change at their times only when Load is called: a
//     Keeper (the daemon's) loads again at Keys.NextEvent and on Reload
//     (SIGHUP); a failed reload keeps the last good keys. Every registrar
//     of a cluster must hold the same files (clocks within minutes of each
//     other: the signatures' inception is an hour back).
//   - Validators without NXNAME support (unbound 1.17 and BIND 9.18, as
//     tested) treat a compact NXDOMAIN as a secure NODATA: they answer
//     NOERROR with AD, not NXDOMAIN.
package dnssec
