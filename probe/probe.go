package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// Target is one thing to probe: an address and how to probe it.
type Target struct {
	// Key identifies the target among those given to a Scheduler, for
	// example "web.pool.example./0a1b2c3d". Results carry it back.
	Key string
	// ID and Ref are the caller's own: the monitor's element identifier
	// and its record of the target. The Scheduler does not read them; it
	// gives Ref back in every Result of the target.
	ID  uint32
	Ref any
	// Addr is the address and port probed.
	Addr netip.AddrPort
	// Source, if valid, is the local address the probe is sent from
	// (probe.source: on a host with several addresses, the one the
	// elements' firewalls expect); else the system chooses.
	Source netip.Addr
	// Name is the element's DNS name, for logs; it may be "". Probes do not
	// use it (no Host header, no SNI from it).
	Name string
	// Health is the health a new target starts with: the element's health
	// as the caller knows it (Unknown for one never probed), so that an
	// element already up needs fall failures to go down. Set reads it only
	// for targets it does not have yet.
	Health handlespace.Health
	// Provisional says that Health is given, not observed (restored at a
	// start): the target's Tracker starts Provisional (see
	// Tracker.Observe). Set reads it only for targets it does not have yet.
	Provisional bool
	// slot keeps a built-in checker's connection between probes when a
	// Scheduler runs the target (nil otherwise).
	slot *connSlot
	// begun is when a Scheduler started the check's timeout (zero
	// otherwise): the start of its RTT.
	begun time.Time
	// Spec says how and how often to probe. Spec.Kind is one of tcp, http,
	// https, dns, tls (a Scheduler should not get targets of kind none or
	// ""; they fail every probe).
	Spec handlespace.ProbeSpec
}

// Result is the outcome of one probe.
type Result struct {
	// Key is the Target's key.
	Key string
	// Ref is the Target's Ref (set by the Scheduler).
	Ref any
	// OK is true when the target passed.
	OK bool
	// Err says why it failed, short and for humans ("connect: connection
	// refused", "timeout after 300ms", "HTTP status 500, want 2xx"); "" when
	// OK.
	Err string
	// RTT is the time from the start of the probe to its answer, successful
	// or not (at a timeout, about the timeout). It is measured on the time
	// package's clock by the checker.
	RTT time.Duration
	// Load is the load the target reported, 0 idle … 1 full; meaningful
	// only when HasLoad.
	Load    float64
	HasLoad bool
	// At is when the probe started. A Scheduler sets it from its Clock.
	// The probe finished at At + RTT.
	At time.Time
	// Stalled, set by a Scheduler on a failure, says that the check took
	// so much longer than its timeout (by more than the timeout again,
	// on the Scheduler's Clock) that the process did not run while it
	// waited: stopped (SIGSTOP), on a paused machine, or starved. Its
	// deadline fired late, and the failure says nothing of the target. A
	// Scheduler does not count such a failure (it is not reported) and
	// probes the target again at once; Check returns it.
	Stalled bool
}

// Checker probes one kind of target. Check must return when ctx ends (its
// deadline is the target's Spec.Timeout): a target that hangs fails with
// "timeout after …". Checkers are called concurrently.
type Checker interface {
	Check(ctx context.Context, t Target) Result
}

// Forgetter is implemented by checkers that keep something per target
// between probes (the http and https checkers keep a connection open):
// a Scheduler calls Forget with the key of every target that Set removes
// or changes. It must not block.
type Forgetter interface {
	Forget(key string)
}

// CheckerFunc adapts a function to a Checker.
type CheckerFunc func(ctx context.Context, t Target) Result

// Check calls f(ctx, t).
func (f CheckerFunc) Check(ctx context.Context, t Target) Result { return f(ctx, t) }

var _ Checker = CheckerFunc(nil)

// DefaultCheckers returns a new map of the built-in checkers by kind: tcp,
// http, https, dns and tls.
func DefaultCheckers() map[string]Checker {
	return map[string]Checker{
		"tcp":   TCPChecker{},
		"http":  NewHTTPChecker(false),
		"https": NewHTTPChecker(true),
		"dns":   &DNSChecker{},
		"tls":   TLSChecker{},
	}
}

// timing is the start of a check and its timeout, for results.
type timing struct {
	start   time.Time
	timeout time.Duration
}

// source returns the address to send probes of t from: Source, if it is
// set and of Addr's family (an element of the other family is probed
// from the system's choice).
func (t Target) source() (netip.Addr, bool) {
	if !t.Source.IsValid() || t.Source.Unmap().Is4() != t.Addr.Addr().Unmap().Is4() {
		return netip.Addr{}, false
	}
	return t.Source.Unmap(), true
}

// begin starts a check's timing: when the Scheduler set its deadline
// (Target.begun), else now. The checker may get to run milliseconds
// later on a loaded machine, and a probe that timed out would show an RTT
// shorter than its timeout.
func begin(ctx context.Context, t Target) timing {
	now := time.Now()
	start, to := now, t.Spec.Timeout
	if !t.begun.IsZero() && t.begun.Before(now) {
		start = t.begun
	}
	if d, ok := ctx.Deadline(); ok && to <= 0 {
		to = d.Sub(now).Round(time.Millisecond)
	}
	return timing{start: start, timeout: to}
}

func (tm timing) ok(t Target) Result {
	return Result{Key: t.Key, OK: true, RTT: time.Since(tm.start), At: tm.start}
}

func (tm timing) fail(t Target, msg string) Result {
	return Result{Key: t.Key, Err: msg, RTT: time.Since(tm.start), At: tm.start}
}

// failErr describes err, met at stage ("connect", "TLS handshake", "HTTP",
// "DNS"), in a short line.
func (tm timing) failErr(ctx context.Context, t Target, stage string, err error) Result {
	return tm.fail(t, describe(ctx, stage, err, tm.timeout))
}

// describe turns an error of the net, tls or http packages into a short
// message without addresses: "connect: connection refused", "timeout after
// 500ms", "TLS handshake: first record does not look like a TLS handshake".
func describe(ctx context.Context, stage string, err error, timeout time.Duration) string {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		if timeout > 0 {
			return "timeout after " + timeout.String()
		}
		return "timeout"
	case errors.Is(ctx.Err(), context.Canceled), errors.Is(err, context.Canceled):
		return "canceled"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return "connect: " + innermost(op.Err)
	}
	var rh tls.RecordHeaderError
	var ae tls.AlertError
	var ce *tls.CertificateVerificationError
	if errors.As(err, &rh) || errors.As(err, &ae) || errors.As(err, &ce) || strings.HasPrefix(innermost(err), "tls: ") {
		stage = "TLS handshake"
	}
	return stage + ": " + strings.TrimPrefix(innermost(err), "tls: ")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// innermost returns the message of the innermost interesting error: the
// system call's error rather than "dial tcp 127.0.0.1:80: connect: …".
func innermost(err error) string {
	for {
		var ue *url.Error
		var op *net.OpError
		var sc *os.SyscallError
		switch {
		case errors.As(err, &sc):
			return sc.Err.Error()
		case errors.As(err, &op) && op.Err != nil:
			err = op.Err
		case errors.As(err, &ue) && ue.Err != nil:
			err = ue.Err
		default:
			return err.Error()
		}
	}
}
