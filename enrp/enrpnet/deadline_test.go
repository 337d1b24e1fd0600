package enrpnet_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp/enrpnet"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// stallTimeout is the driver's ReadTimeout in TestDriverReadDeadline.
const stallTimeout = 300 * time.Millisecond

// dialTLS connects to addr as a peer with a certificate of ca: one the
// driver trusts.
func dialTLS(t *testing.T, ca *enrptest.CA, name, addr string) *tls.Conn {
	t.Helper()
	cfg := tlsFor(t, ca, name).Clone()
	cfg.ServerName = "127.0.0.1"
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: waitLimit}, "tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reads (and drops) what the driver sends on c until the
// driver closes it, and returns how long that took from start; it fails
// the test if the connection is still open after limit.
func closedWithin(t *testing.T, c *tls.Conn, start time.Time, limit time.Duration) time.Duration {
	t.Helper()
	c.SetReadDeadline(start.Add(limit))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the connection is still open %v after the stall", limit)
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			t.Logf("the connection ended with %v", err)
		}
		return time.Since(start)
	}
}

// stillOpen reads what the driver sends on c for d and fails if it closes
// the connection meanwhile.
func stillOpen(t *testing.T, c *tls.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			return
		default:
			t.Fatalf("the driver closed an idle connection of a peer that had spoken: %v", err)
		}
	}
}

// TestDriverReadDeadline: a peer with a CA-signed certificate that stalls
// — sends no message at all, or a message's first bytes and no more,
// after a good message or as its first — has its connection closed within
// the ReadTimeout (plus scheduling), each logged and counted; a peer that
// has spoken and then idles keeps its connection (presence judges
// silence). The driver carries on: a real registrar then peers with it.
func TestDriverReadDeadline(t *testing.T) {
	ca, err := enrptest.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	a := startRegistrarWith(t, 0xa, tlsFor(t, ca, "a"), func(c *enrpnet.DriverConfig) {
		c.ReadTimeout = stallTimeout
		// The hand-made peer answers no PRESENCE: presence must not
		// declare it dead during its idle spell.
		c.Node.MaxTimeLastHeard = time.Minute
	})
	addr := a.drv.Addr().String()
	presence, err := (&wire.Message{Type: wire.TypePresence, Sender: 0xe, Receiver: 0xa, Checksum: 0xffff}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	bound := 20 * stallTimeout // generous for a loaded machine; without deadlines it never closes

	// Silent after the handshake.
	c := dialTLS(t, ca, "silent", addr)
	start := time.Now()
	took := closedWithin(t, c, start, bound)
	a.log.waitLog(t, "ENRP connection sent no message in time; closing it")
	t.Logf("silent connection closed after %v", took)

	// A length prefix (a header announcing 100 bytes) and nothing more.
	c = dialTLS(t, ca, "stall1", addr)
	if _, err := c.Write(presence[:4:4]); err != nil {
		t.Fatal(err)
	}
	// (The header announces the whole PRESENCE; four bytes of it came.)
	start = time.Now()
	took = closedWithin(t, c, start, bound)
	if took < stallTimeout/2 {
		t.Errorf("closed %v after the stall, before the ReadTimeout %v", took, stallTimeout)
	}
	a.log.waitLog(t, "ENRP peer stalled in the middle of a message; closing the connection")
	t.Logf("a stalled first message: closed after %v", took)

	// A good message, an idle spell longer than the ReadTimeout (kept),
	// then half a message (cut).
	c = dialTLS(t, ca, "stall2", addr)
	if _, err := c.Write(presence); err != nil {
		t.Fatal(err)
	}
	stillOpen(t, c, 3*stallTimeout)
	if _, err := c.Write(presence[:len(presence)/2]); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	took = closedWithin(t, c, start, bound)
	t.Logf("a message stalled after a good one: closed after %v", took)
	if st := a.drv.Stats(); st.Stalled != 3 {
		t.Errorf("%d connections closed as stalled, want 3", st.Stalled)
	}

	// The driver carries on: a registrar peers with it and gets its
	// registrations.
	b := startRegistrar(t, 0xb, tlsFor(t, ca, "b"), addr)
	if err := a.hs.Do(handlespace.Op{Pool: "web.pool.test.", Elem: element(1)}); err != nil {
		t.Fatal(err)
	}
	waitHS(t, b.hs, "A's registration at B", func() bool {
		pv := b.hs.View().Zone("pool.test.").Pool("web")
		return pv != nil && pv.Element(1001) != nil && pv.Element(1001).Home == 0xa
	})
}
