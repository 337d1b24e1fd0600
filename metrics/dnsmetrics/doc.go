// Package dnsmetrics holds the counters of the DNS front: queries by type,
// rcode and transport, truncations, rejected messages, a sampled answer
// latency, and refused DNS UPDATEs. It is a leaf: it imports neither
// Prometheus nor any poolnsd package, so that the DNS front depends on
// nothing of the HTTP side, the prober or peering (the import walls are
// written in package internal/walls's test).
//
// # Basics
//
// New makes a DNS; package metrics makes the process's one (metrics.New,
// Metrics.DNS) and exports it at scrape time through the read methods
// (EachQuery, Truncations, EachRejection, Latency). Every method is safe
// for concurrent use, allocates nothing, takes no lock, and does nothing
// on a nil *DNS, so the DNS front counts without checking whether metrics
// are on.
//
// # Caveats
//
// Only one query in LatencySample has its latency timed (Sample), because
// reading the clock twice costs more than the rest of the accounting. Query
// types and rcodes outside the fixed tables count as "other".
package dnsmetrics
