package probe

import (
	"context"
	"net"
)

// TCPChecker passes when a TCP connection to the target's address opens.
// It closes the connection at once with a reset (SO_LINGER 0), as load
// balancers' health checks commonly do, so that thousands of probes a
// second leave no TIME_WAIT sockets on the registrar.
type TCPChecker struct{}

var _ Checker = TCPChecker{}

// Check connects to t.Addr and closes the connection.
func (TCPChecker) Check(ctx context.Context, t Target) Result {
	tm := begin(ctx, t)
	c, err := dial(ctx, t)
	if err != nil {
		return tm.failErr(ctx, t, "connect", err)
	}
	r := tm.ok(t)
	abort(c)
	return r
}

// dialer dials the probes' connections, without TCP keep-alives: a probe's
// connection is short, or used again at every interval.
var dialer = net.Dialer{KeepAlive: -1}

func dial(ctx context.Context, t Target) (net.Conn, error) {
	if src, ok := t.source(); ok {
		d := dialer
		d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
		return d.DialContext(ctx, "tcp", t.Addr.String())
	}
	return dialer.DialContext(ctx, "tcp", t.Addr.String())
}

// abort closes c with a reset.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
