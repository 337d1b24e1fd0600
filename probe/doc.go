// Package probe checks pool elements actively — TCP connect, HTTP(S)
// request, DNS query, TLS handshake — and reports each result with the
// element's health after hysteresis. It holds no pool state: the caller
// (package monitor) says what to probe and decides what a result means for
// the handlespace. It imports handlespace only for ProbeSpec and Health.
//
// # Basics
//
// A Target is a key, an address and a handlespace.ProbeSpec (kind, target,
// interval, timeout, rise, fall, jitter). A Checker probes one target
// once; the built-in ones (DefaultCheckers) are:
//
//   - tcp: connect, then close (with a reset, leaving no TIME_WAIT);
//   - http, https: GET PATH on a kept connection, 2xx by default;
//     Spec.Target is PATH[#TERMS] with status, body, Host, load and fresh
//     terms (see HTTPChecker); the Pool-Load header, or a member of a JSON
//     body, reports the element's load;
//   - dns: a query over UDP for NAME[#TERMS], healthy on the expected
//     rcodes, NOERROR by default (see DNSChecker);
//   - tls: a handshake, with Spec.Target as SNI when set.
//
// probespec.Validate checks a target as these read it. https and tls do not
// verify certificates: probes address servers by IP address and ask
// whether they are alive, not who they are.
//
// A Scheduler probes a set of targets, changed with Change, and calls
// back with each Result, the target's Tracker after it and whether its
// health changed. The pure parts are functions without clock or
// goroutines, table-tested:
//
//   - Tracker.Observe is the hysteresis. A new target is Unknown until its
//     first result; its first pass makes it Up, so that a starting
//     registrar serves its elements within milliseconds of probing them,
//     and fall failures in a row make it Down. An Up target goes Down
//     after fall failures in a row, a Down one Up after rise passes in a
//     row. A target given a health (Target.Provisional: restored at a
//     start) keeps it until its results decide as an Unknown one's would.
//   - SmoothRTT is RFC 6298's SRTT (gain 1/8), kept in Tracker.SRTT.
//   - NextDelay is the delay between probes: the interval, shortened by up
//     to Spec.Jitter at random (so the interval is the longest gap), and
//     for a Down target doubled per further failure up to 5 s (back-off).
//   - ConfirmDelay (4 × SRTT, at least 20 ms, at most the interval) is how
//     soon a failure is confirmed: after a failed probe of a target that is
//     not Down the next one comes ConfirmDelay later, not an interval
//     later; and a probe with no answer after ConfirmDelay gets a second
//     one beside it, so that a hung target does not cost fall timeouts in
//     a row. A target is thus Down about one interval (to the first failed
//     probe), plus (fall−1) × ConfirmDelay, plus one timeout if it hangs,
//     after it dies.
//
// A failure that took much longer than its timeout (by more than the
// timeout again, on the Scheduler's Clock) is put down to a stall of the
// process, not to the target (Result.Stalled): the process was stopped
// (SIGSTOP), its machine paused, or it was starved, and the probe's
// deadline fired late, after the answer had come. The Scheduler does not
// count it and probes the target again at once; that probe's failure
// counts whatever its timing, so a registrar that is starved all the time
// still finds a dead target dead, one probe later. Stats.Stalled counts
// them.
//
// ProbeNow probes a target at once, for failure reports.
//
// The Scheduler is one goroutine with a min-heap of due times and one timer
// from its Clock, feeding a fixed pool of workers (Config.Workers); there is
// no goroutine per target, and at most two probes of one target are in
// flight. Tests run it on probetest.FakeClock with probetest.FakeChecker,
// or inside a testing/synctest bubble.
//
// # Caveats
//
// The first probes of targets that one Change adds are spread over
// len × SpreadStep (100 µs each, at most one interval), in the order given:
// a registrar starting with 10 000 elements at a 1 s interval probes them
// all within its first second, not in one millisecond.
//
// onResult runs on the worker goroutines, concurrently for different
// targets; while it runs its worker probes nothing and Change waits, so it
// must be quick, and it must not call Change. Once Change returns, no result of
// a target it removed or changed is reported.
//
// Timeouts are context deadlines, so they run on the time package's clock
// even when the Scheduler has a FakeClock. A Checker that ignores its
// context holds a worker for as long as it hangs.
//
// An HTTP probe's Host header is ADDR:PORT unless the target has a host=
// term. The dns probe sends one datagram per probe and does not retry.
package probe
