package enrpnet_test

import (
	"crypto/tls"
	"io"
	"net"
	"testing"

	"github.com/poolnsd/poolnsd/enrp/enrpnet"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
)

// synData is what a TCP Fast Open SYN carries at most at an Ethernet MTU
// of 1 500: the MSS (1 460) less the largest TCP options (40).
const synData = 1420

// TestLoadTLSKeyExchange: a dialler's ClientHello fits in a TCP Fast Open
// SYN unless enrp.tls.post_quantum offers X25519MLKEM768 (whose key share
// alone is 1 216 bytes); a dialler and a listener that differ in it still
// agree (on X25519), and two that offer it use it.
func TestLoadTLSKeyExchange(t *testing.T) {
	ca, err := enrptest.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	load := func(name string, pq bool) *tls.Config {
		f, err := ca.WriteFiles(t.TempDir(), name, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		c, err := enrpnet.LoadTLS(enrpnet.TLSFiles{Cert: f.Cert, Key: f.Key, CA: f.CA, PostQuantum: pq})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	classic, pq := load("a", false), load("b", true)

	// The ClientHello's size: the first TLS record a dialler writes.
	hello := func(cfg *tls.Config) int {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		cc := cfg.Clone()
		cc.ServerName = "127.0.0.1"
		go tls.Client(a, cc).Handshake()
		hdr := make([]byte, 5)
		if _, err := io.ReadFull(b, hdr); err != nil {
			t.Fatal(err)
		}
		return 5 + int(hdr[3])<<8 | int(hdr[4])
	}
	if n := hello(classic); n > synData {
		t.Errorf("ClientHello without post_quantum: %d bytes, more than a Fast Open SYN carries (%d)", n, synData)
	} else {
		t.Logf("ClientHello without post_quantum: %d bytes", n)
	}
	if n := hello(pq); n <= synData {
		t.Errorf("ClientHello with post_quantum: %d bytes, want X25519MLKEM768's key share in it (more than %d)", n, synData)
	} else {
		t.Logf("ClientHello with post_quantum: %d bytes", n)
	}

	for _, c := range []struct {
		name           string
		dialer, server *tls.Config
		want           tls.CurveID
	}{
		{"classic to classic", classic, classic, tls.X25519},
		{"post-quantum to classic", pq, classic, tls.X25519},
		{"classic to post-quantum", classic, pq, tls.X25519},
		{"post-quantum to post-quantum", pq, pq, tls.X25519MLKEM768},
	} {
		a, b := net.Pipe()
		cc := c.dialer.Clone()
		cc.ServerName = "127.0.0.1"
		cl, sv := tls.Client(a, cc), tls.Server(b, c.server)
		errc := make(chan error, 1)
		go func() { errc <- sv.Handshake() }()
		if err := cl.Handshake(); err != nil {
			t.Errorf("%s: dialler's handshake: %v", c.name, err)
		}
		if err := <-errc; err != nil {
			t.Errorf("%s: listener's handshake: %v", c.name, err)
		}
		if got := cl.ConnectionState().CurveID; got != c.want {
			t.Errorf("%s: key exchange %v, want %v", c.name, got, c.want)
		}
		a.Close()
		b.Close()
	}
}
