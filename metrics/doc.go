// Package metrics holds poolnsd's Prometheus metrics and the small hooks
// that the other packages call to feed them.
//
// # Basics
//
// New returns a *Metrics with its own prometheus.Registry; Handler serves
// it in the text exposition format (GET /metrics). Every hook is a method
// that is safe for concurrent use and does nothing on a nil *Metrics, so a
// package takes a *Metrics in its Config and calls the hooks without
// checking whether metrics are on.
//
// The DNS counters (DNS, which is dnsmetrics.DNS) are on the query path
// and cost no allocation and no lock: they are arrays of atomic counters
// indexed by query type, rcode and transport, resolved once per query from
// a small table, and a custom Collector turns them into samples at scrape
// time. They live in the leaf package metrics/dnsmetrics, so that the DNS
// front, which takes them, depends on neither this package nor Prometheus. The answer latency is
// timed for one query in LatencySample (a random pick, not every n-th),
// because reading the clock twice costs more than the rest of the
// accounting together. The pool and element gauges are computed at scrape
// time from the current handlespace view (Gauges), so nothing on the
// handlespace's write path feeds them.
//
// All names start with poolnsd_, counters end in _total, durations are in
// seconds, and every label has a fixed, small set of values: query types
// and rcodes outside the table count as "other", sources and causes
// outside their constants as "other". No label carries a pool or element
// name or an address: the status page and the JSON API show those.
//
// # Caveats
//
// The latency histogram's count is about 1/LatencySample of the queries;
// use poolnsd_dns_queries_total for rates. Counters start at zero when the
// process starts; series appear once they are non-zero (for the DNS
// counters) or at once (for the fixed label sets of the other counters).
package metrics
