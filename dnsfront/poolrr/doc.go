// Package poolrr is what a pool's elements look like as DNS records: the
// records of a pool answer, both as packed bytes (packed once per element
// and patched per query by dnsfront's wire renderer) and as dns.RR values
// (dnsfront's dns.Msg renderer), so that both renderers write the same
// records.
//
// # Basics
//
//   - order.go: how SRV and URI records show the policy's order (Mode,
//     Order): the rank as priority, or for a weighted random draw one
//     priority and each element's weight, with which an RFC 2782 client
//     makes the same draw.
//   - svc.go: an element's packed HTTPS/SVCB (RFC 9460) and U-NAPTR (RFC
//     4848) records (BuildSvc), a pool's S-NAPTR records (RFC 3958,
//     SNAPTR), and the offsets the renderer patches.
//   - rrs.go: a pool answer's records for the chosen elements as dns.RR
//     values (RRs), the same records as the packed material holds.
//   - wire.go: a record packed with its owner a compression pointer to
//     the question (AppendRR, QnamePtr) and a pool's URI template filled
//     for one element (ExpandURI).
//
// # Caveats
//
//   - The package chooses nothing: the elements and their order are the
//     policy's (handlespace), given as picks; the sizes, truncation and
//     glue of a reply are dnsfront's.
//   - Packed records start with a pointer to offset 12 (QnamePtr): they
//     are only valid in a reply whose question comes right after the
//     header, as every reply of dnsfront's does.
//   - Per-query fields (an HTTPS/SVCB record's SvcPriority, a U-NAPTR
//     record's preference, the type of an SVCB record) are packed as
//     zero or HTTPS and patched by the renderer at the offsets given here.
package poolrr
