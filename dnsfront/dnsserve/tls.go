package dnsserve

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync/atomic"

	"github.com/miekg/dns"
)

// DNS over TLS (RFC 7858): the TLS listeners serve the same handler as
// TCP, behind a tls.Listener whose certificate comes from an atomically
// swapped pointer, so that ReloadTLS replaces it without closing a
// listener or a connection; the connections already open keep the
// certificate they were made with.

// TLSConfig configures DNS over TLS. No Listen: no TLS listener.
type TLSConfig struct {
	// Listen are the addresses (host:port) to serve DNS over TLS on.
	Listen []string
	// CertFile and KeyFile are the PEM files of the certificate chain and
	// its private key; ReloadTLS reads them again.
	CertFile, KeyFile string
}

// tlsFront is the TLS side of a Server.
type tlsFront struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
	addrs             []net.Addr
}

// load reads the certificate and key files and serves them from now on.
// On error the certificate served so far stays.
func (f *tlsFront) load() error {
	c, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		return fmt.Errorf("dnsserve: dns.tls.cert %s, dns.tls.key %s: %w", f.certFile, f.keyFile, err)
	}
	f.cert.Store(&c)
	return nil
}

// startTLS binds the TLS listeners of cfg and serves h on them as on TCP.
func (s *Server) startTLS(cfg TLSConfig, h Handler) error {
	if len(cfg.Listen) == 0 {
		return nil
	}
	f := &tlsFront{certFile: cfg.CertFile, keyFile: cfg.KeyFile}
	if err := f.load(); err != nil {
		return err
	}
	tc := &tls.Config{
		MinVersion: tls.VersionTLS12, // RFC 8310 §9, RFC 9325
		NextProtos: []string{"dot"},  // the ALPN of DNS over TLS
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return f.cert.Load(), nil
		},
	}
	s.tls = f
	lc := net.ListenConfig{}
	for _, addr := range cfg.Listen {
		tl, err := lc.Listen(context.Background(), "tcp", addr)
		if err != nil {
			return fmt.Errorf("dnsserve: listen tls %s: %w", addr, err)
		}
		f.addrs = append(f.addrs, tl.Addr())
		// As TCP: pipelined queries on one connection, the same read and
		// idle timeouts (miekg/dns's: 2 s for the first query, which here
		// includes the handshake; 8 s idle between queries).
		s.serve(&dns.Server{Listener: tls.NewListener(tl, tc), Handler: h, MaxTCPQueries: -1}, h)
		s.log.Info("serving DNS over TLS", "addr", tl.Addr().String())
	}
	return nil
}

// TLSAddrs returns the bound DNS over TLS addresses (none without TLS).
func (s *Server) TLSAddrs() []net.Addr {
	if s.tls == nil {
		return nil
	}
	return s.tls.addrs
}

// ReloadTLS reads the certificate and key files again (on SIGHUP): new
// connections get the new certificate; on error the old one stays served
// and the error says why. Without TLS it does nothing.
func (s *Server) ReloadTLS() error {
	if s.tls == nil {
		return nil
	}
	return s.tls.load()
}
