package probe

import (
	"context"
	"crypto/tls"
	"net"
)

// TLSChecker passes when a TLS handshake with the target completes. It
// sends Spec.Target as the server name (SNI) when it is set, and does not
// verify the certificate: probes address servers by IP address, where a
// certificate's names rarely match, and the question asked is whether the
// server is alive, not whether it is who it says.
type TLSChecker struct{}

var _ Checker = TLSChecker{}

// Check connects to t.Addr, does the handshake and closes the connection.
func (TLSChecker) Check(ctx context.Context, t Target) Result {
	tm := begin(ctx, t)
	c, err := dial(ctx, t)
	if err != nil {
		return tm.failErr(ctx, t, "connect", err)
	}
	defer abort(c)
	if _, err := handshake(ctx, c, t.Spec.Target); err != nil {
		return tm.failErr(ctx, t, "TLS handshake", err)
	}
	return tm.ok(t)
}

// handshake does the TLS handshake as client on c, by ctx's deadline,
// sending serverName as the SNI unless it is an IP address (RFC 6066: no
// IP addresses in SNI) or "". It does not verify the certificate (see
// TLSChecker).
func handshake(ctx context.Context, c net.Conn, serverName string) (*tls.Conn, error) {
	cfg := &tls.Config{ServerName: serverName, InsecureSkipVerify: true}
	if net.ParseIP(serverName) != nil {
		cfg.ServerName = ""
	}
	tc := tls.Client(c, cfg)
	setDeadline(ctx, c)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return tc, nil
}
