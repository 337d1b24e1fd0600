package probe_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/nettest"
	"github.com/poolnsd/poolnsd/probe"
)

// waitLimit bounds every wait of these tests: they wait for results, not
// for time, and give up after this long.
const waitLimit = 10 * time.Second

// selfSigned makes a self-signed ECDSA certificate for names, valid now.
func selfSigned(t *testing.T, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "poolnsd probe test"},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// sniConfig is a TLS server configuration with a self-signed certificate
// for name; sent returns the server names that clients sent, in order.
func sniConfig(t *testing.T, name string) (cfg *tls.Config, sent func() []string) {
	var mu sync.Mutex
	var sni []string
	cfg = &tls.Config{
		Certificates: []tls.Certificate{selfSigned(t, name)},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			mu.Lock()
			sni = append(sni, h.ServerName)
			mu.Unlock()
			return nil, nil
		},
	}
	return cfg, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(sni)
	}
}

// serveConns hands each connection that ln accepts to handle, in a
// goroutine of its own, until ln is closed.
func serveConns(ln net.Listener, handle func(net.Conn)) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
}

// listen opens a TCP listener on a free loopback port, closed at the end
// of the test.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func addrOf(a net.Addr) netip.AddrPort { return netip.MustParseAddrPort(a.String()) }

// serveHTTP serves h on ln (plain, or TLS with cfg) until the test ends.
func serveHTTP(t *testing.T, ln net.Listener, h http.Handler, cfg *tls.Config) {
	t.Helper()
	srv := &http.Server{Handler: h, TLSConfig: cfg, ErrorLog: nil, ReadHeaderTimeout: waitLimit}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if cfg != nil {
			srv.ServeTLS(ln, "", "")
		} else {
			srv.Serve(ln)
		}
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
}

// hangServer accepts connections on a loopback port and never answers
// them (a frozen backend); it closes them at the end of the test.
func hangServer(t *testing.T) netip.AddrPort {
	t.Helper()
	ln := listen(t)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return addrOf(ln.Addr())
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) netip.AddrPort {
	t.Helper()
	// Outside the kernel's ephemeral range and held: no other test's
	// listener on port 0 is given it.
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(nettest.FreePort(t, "127.0.0.1")))
}

// check runs one check of kind against addr with timeout.
func check(t *testing.T, c probe.Checker, kind, target string, addr netip.AddrPort, timeout time.Duration) probe.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tg := probe.Target{Key: "k", Addr: addr, Spec: handlespace.ProbeSpec{Kind: kind, Target: target, Timeout: timeout}}
	r := c.Check(ctx, tg)
	if r.Key != "k" {
		t.Errorf("result key %q, want k", r.Key)
	}
	if r.OK != (r.Err == "") {
		t.Errorf("result OK=%v with Err %q", r.OK, r.Err)
	}
	return r
}

func mustAddrPort(t *testing.T, s string) netip.AddrPort {
	t.Helper()
	a, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
