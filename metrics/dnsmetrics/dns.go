package dnsmetrics

import (
	"math/bits"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// qtypeNames are the values of the qtype label, by index. Query types not
// listed count as "other"; "none" is a query without a question.
var qtypeNames = [...]string{
	"other", "A", "AAAA", "SRV", "URI", "TXT", "NS", "SOA", "CNAME", "MX", "PTR",
	"ANY", "HTTPS", "SVCB", "CAA", "DS", "DNSKEY", "AXFR", "IXFR", "none",
}

const nQtypes = len(qtypeNames)

// QtypeNone is the query type to pass to Query for a query without a
// question (which is answered FORMERR).
const QtypeNone = 0xFFFF_0000

// qtypeIndex maps a DNS query type to its index in qtypeNames.
func qtypeIndex(t uint32) int {
	switch t {
	case 1:
		return 1
	case 28:
		return 2
	case 33:
		return 3
	case 256:
		return 4
	case 16:
		return 5
	case 2:
		return 6
	case 6:
		return 7
	case 5:
		return 8
	case 15:
		return 9
	case 12:
		return 10
	case 255:
		return 11
	case 65:
		return 12
	case 64:
		return 13
	case 257:
		return 14
	case 43:
		return 15
	case 48:
		return 16
	case 252:
		return 17
	case 251:
		return 18
	case QtypeNone:
		return 19
	}
	return 0
}

// rcodeNames are the values of the rcode label, by index; rcodes not
// listed count as "other".
var rcodeNames = [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "BADVERS", "other"}

const nRcodes = len(rcodeNames)

func rcodeIndex(rc int) int {
	switch {
	case rc >= 0 && rc <= 5:
		return rc
	case rc == 16: // BADVERS, an extended rcode (RFC 6891)
		return 6
	}
	return 7
}

var transportNames = [2]string{"udp", "tcp"}

// Reasons for Rejected: what the DNS server did with a message that it
// turned away before reading its question.
const (
	RejectFormErr = "formerr" // answered FORMERR: more than one question, records where a query has none
	RejectNotImp  = "notimp"  // answered NOTIMP: an opcode other than QUERY
	RejectIgnored = "ignored" // no reply: a response, or a message whose header does not parse
)

var rejectNames = [...]string{RejectFormErr, RejectNotImp, RejectIgnored}

// Cause is why a registration was refused: the value of the cause label of
// poolnsd_registration_rejections_total (package metrics counts the
// refusals of every source with it).
type Cause string

// Causes of refused registrations.
const (
	CauseAuth      Cause = "auth"      // no or bad TSIG signature or bearer token
	CauseForbidden Cause = "forbidden" // authenticated, but the key may not change this pool
	CauseMalformed Cause = "malformed" // the request does not describe an element
	CausePolicy    Cause = "policy"    // inconsistent pooling policy (RFC 5354)
	CauseConflict  Cause = "conflict"  // the name is another element's, or a static name
	CauseNoZone    Cause = "no_zone"   // the pool is not under a served zone
	CauseLimit     Cause = "limit"     // over a configured limit (lease bounds, sizes)
	CauseStore     Cause = "store"     // the store could not write it
	CauseOther     Cause = "other"     // anything else
)

// DefaultLatencySample is the default of New's sample: one query in 8 is
// timed.
const DefaultLatencySample = 8

// LatencyBuckets are the upper bounds of the answer latency's buckets: the
// handler answers a pool query in a few microseconds, a slow answer (a
// large static RRset, a TCP write to a slow client) in milliseconds.
var LatencyBuckets = []time.Duration{
	5 * time.Microsecond, 10 * time.Microsecond, 25 * time.Microsecond, 50 * time.Microsecond,
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 100 * time.Millisecond,
}

// DNS holds the counters of the DNS front. Its methods are safe for
// concurrent use, allocate nothing and take no lock; on a nil *DNS they do
// nothing.
type DNS struct {
	queries    [nQtypes][nRcodes][2]atomic.Uint64
	truncated  atomic.Uint64
	rejected   [len(rejectNames)]atomic.Uint64
	latency    *Histogram
	sojourn    *Histogram  // UDP queries' time in the server (Sojourn)
	sampleMask uint32      // time a query when rand & mask == 0
	refused    func(Cause) // UpdateRefused's hook, may be nil
}

// New returns counters that time one query in sample (rounded up to a
// power of two; <= 0: DefaultLatencySample) and hand each refused DNS
// UPDATE's cause to refused (which may be nil).
func New(sample int, refused func(Cause)) *DNS {
	if sample <= 0 {
		sample = DefaultLatencySample
	}
	// Round up to a power of two, so that the pick is a mask.
	mask := uint32(0)
	if sample > 1 {
		mask = 1<<bits.Len32(uint32(sample-1)) - 1
	}
	return &DNS{latency: NewHistogram(LatencyBuckets), sojourn: NewHistogram(LatencyBuckets), sampleMask: mask, refused: refused}
}

// Query counts an answered query: its type, the reply's rcode (extended
// rcodes included) and whether it came over TCP.
func (d *DNS) Query(qtype uint16, rcode int, tcp bool) {
	if d == nil {
		return
	}
	d.query(uint32(qtype), rcode, tcp)
}

// QueryNoQuestion counts a query without a question.
func (d *DNS) QueryNoQuestion(rcode int, tcp bool) {
	if d == nil {
		return
	}
	d.query(QtypeNone, rcode, tcp)
}

func (d *DNS) query(qtype uint32, rcode int, tcp bool) {
	t := 0
	if tcp {
		t = 1
	}
	d.queries[qtypeIndex(qtype)][rcodeIndex(rcode)][t].Add(1)
}

// Truncated counts a UDP reply sent with TC=1.
func (d *DNS) Truncated() {
	if d == nil {
		return
	}
	d.truncated.Add(1)
}

// Rejected counts a message turned away before its question was read;
// reason is one of RejectFormErr, RejectNotImp, RejectIgnored.
func (d *DNS) Rejected(reason string) {
	if d == nil {
		return
	}
	for i, r := range rejectNames {
		if r == reason {
			d.rejected[i].Add(1)
			return
		}
	}
}

// Sample reports whether to time this query: true for a random one in
// the sample. It is false on a nil *DNS.
func (d *DNS) Sample() bool {
	if d == nil {
		return false
	}
	return d.sampleMask == 0 || rand.Uint32()&d.sampleMask == 0
}

// Latency records the time one sampled query took.
func (d *DNS) Latency(dur time.Duration) {
	if d == nil {
		return
	}
	d.latency.Observe(dur)
}

// Sojourn records the sojourn of one sampled UDP query in the server: from
// the kernel's receipt of it to the write of its reply (the serving
// loop's, dnsserve.Sojourner).
func (d *DNS) Sojourn(dur time.Duration) {
	if d == nil {
		return
	}
	d.sojourn.Observe(dur)
}

// UpdateRefused counts a DNS UPDATE refused before it reached the
// registrar (a bad or missing signature, a key not allowed the pool, a
// malformed update, the source's rate): package metrics counts it in
// poolnsd_registration_rejections_total{source="dns"}. The registrar's
// own refusals are counted where it is called.
func (d *DNS) UpdateRefused(c Cause) {
	if d == nil || d.refused == nil {
		return
	}
	d.refused(c)
}

// SampleRatio is the share of queries whose latency is recorded.
func (d *DNS) SampleRatio() float64 { return 1 / float64(d.sampleMask+1) }

// EachQuery calls f with every non-zero query counter and its labels.
func (d *DNS) EachQuery(f func(qtype, rcode, transport string, n uint64)) {
	for q := range d.queries {
		for r := range d.queries[q] {
			for t := range d.queries[q][r] {
				if n := d.queries[q][r][t].Load(); n > 0 {
					f(qtypeNames[q], rcodeNames[r], transportNames[t], n)
				}
			}
		}
	}
}

// CountEverySeries adds one to every query counter, so that each
// combination of labels that poolnsd_dns_queries_total can take is
// exported: how metrics.Reference lists them for the documentation.
func (d *DNS) CountEverySeries() {
	for q := range d.queries {
		for r := range d.queries[q] {
			for t := range d.queries[q][r] {
				d.queries[q][r][t].Add(1)
			}
		}
	}
}

// Truncations returns how many UDP replies were sent with TC=1.
func (d *DNS) Truncations() uint64 { return d.truncated.Load() }

// EachRejection calls f with every reason of Rejected and its count.
func (d *DNS) EachRejection(f func(reason string, n uint64)) {
	for i, r := range rejectNames {
		f(r, d.rejected[i].Load())
	}
}

// LatencyHistogram returns the histogram of the sampled answer latencies.
func (d *DNS) LatencyHistogram() *Histogram { return d.latency }

// SojournHistogram returns the histogram of the UDP queries' sojourns
// (Sojourn).
func (d *DNS) SojournHistogram() *Histogram { return d.sojourn }
