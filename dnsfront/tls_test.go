package dnsfront

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/dnsserve"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

// writeCert writes a self-signed certificate for dot.test and 127.0.0.1
// (serial number serial) and its key to dir/cert.pem and dir/key.pem,
// replacing them (as an operator's renewal does: write aside, rename), and
// returns the certificate.
func writeCert(t *testing.T, dir string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "dot.test"},
		DNSNames:     []string{"dot.test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{"cert.pem": {Type: "CERTIFICATE", Bytes: der}, "key.pem": {Type: "EC PRIVATE KEY", Bytes: kb}} {
		tmp := filepath.Join(dir, name+".new")
		if err := os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// startTLSServer serves the test handlespace over UDP, TCP and TLS.
func startTLSServer(t *testing.T) (tcpAddr, tlsAddr, dir string, srv *Server, cert *x509.Certificate) {
	t.Helper()
	dir = t.TempDir()
	cert = writeCert(t, dir, 1)
	tcpAddr, srv = serveTest(t, Config{TLS: dnsserve.TLSConfig{Listen: []string{"127.0.0.1:0"},
		CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")}}, newTestSpace(t))
	if len(srv.TLSAddrs()) != 1 {
		t.Fatalf("TLS addresses %v, want one", srv.TLSAddrs())
	}
	return tcpAddr, srv.TLSAddrs()[0].String(), dir, srv, cert
}

// dialTLS opens a DNS over TLS connection that trusts only want.
func dialTLS(t *testing.T, addr string, want *x509.Certificate) *tls.Conn {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(want)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{RootCAs: pool, ServerName: "dot.test", NextProtos: []string{"dot"}})
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestTLSPipelined sends 30 queries back to back on one TLS connection,
// then reads the 30 replies: each matches its query and has the same
// rcode and section sizes as over TCP.
func TestTLSPipelined(t *testing.T) {
	t.Parallel()
	tcpAddr, tlsAddr, _, _, cert := startTLSServer(t)
	c := dialTLS(t, tlsAddr, cert)
	if p := c.ConnectionState().NegotiatedProtocol; p != "dot" {
		t.Errorf("ALPN %q, want dot", p)
	}
	questions := []struct {
		name string
		qt   uint16
	}{
		{"web.pool.test.", dns.TypeA}, {"_http._tcp.web.pool.test.", dns.TypeSRV}, {"pool.test.", dns.TypeSOA},
		{"nothing.pool.test.", dns.TypeA}, {"example.org.", dns.TypeA}, {"api.pool.test.", dns.TypeAAAA},
	}
	var out []byte
	sent := map[uint16]*dns.Msg{}
	for i := 0; i < 30; i++ {
		q := new(dns.Msg)
		q.SetQuestion(questions[i%len(questions)].name, questions[i%len(questions)].qt)
		q.SetEdns0(1232, false)
		q.Id = uint16(1000 + i)
		b, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(b)))
		out = append(out, b...)
		sent[q.Id] = q
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(out); err != nil { // all 30 in one write
		t.Fatal(err)
	}
	tcp := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
	for i := 0; i < 30; i++ {
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(b); err != nil {
			t.Fatalf("reply %d does not unpack: %v", i, err)
		}
		q := sent[r.Id]
		if q == nil || r.Question[0] != q.Question[0] {
			t.Fatalf("reply %d: ID %d %v matches no query", i, r.Id, r.Question)
		}
		delete(sent, r.Id)
		want, _, err := tcp.Exchange(q.Copy(), tcpAddr)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rcode != want.Rcode || r.Authoritative != want.Authoritative || len(r.Answer) != len(want.Answer) || len(r.Ns) != len(want.Ns) || len(r.Extra) != len(want.Extra) {
			t.Errorf("%s %s over TLS: %s %d/%d/%d, over TCP: %s %d/%d/%d", q.Question[0].Name, dns.TypeToString[q.Question[0].Qtype],
				dns.RcodeToString[r.Rcode], len(r.Answer), len(r.Ns), len(r.Extra),
				dns.RcodeToString[want.Rcode], len(want.Answer), len(want.Ns), len(want.Extra))
		}
	}
}

// TestTLSReload: a new certificate is served after ReloadTLS, to new
// connections, while a connection opened before keeps working; a reload of
// bad files fails and the last good certificate stays.
func TestTLSReload(t *testing.T) {
	t.Parallel()
	_, tlsAddr, dir, srv, cert1 := startTLSServer(t)
	old := dialTLS(t, tlsAddr, cert1)
	cert2 := writeCert(t, dir, 2)
	// Not yet reloaded: the first certificate is still served.
	if got := dialTLS(t, tlsAddr, cert1).ConnectionState().PeerCertificates[0]; got.SerialNumber.Int64() != 1 {
		t.Fatalf("before the reload: serial %d", got.SerialNumber.Int64())
	}
	if err := srv.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if got := dialTLS(t, tlsAddr, cert2).ConnectionState().PeerCertificates[0]; got.SerialNumber.Int64() != 2 {
		t.Fatalf("after the reload: serial %d, want 2", got.SerialNumber.Int64())
	}
	co := &dns.Conn{Conn: old}
	q := new(dns.Msg)
	q.SetQuestion("web.pool.test.", dns.TypeA)
	old.SetDeadline(time.Now().Add(5 * time.Second))
	if err := co.WriteMsg(q); err != nil {
		t.Fatal(err)
	}
	if r, err := co.ReadMsg(); err != nil || len(r.Answer) != 3 {
		t.Fatalf("the connection opened before the reload: %v %v", r, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := srv.ReloadTLS(); err == nil || !strings.Contains(err.Error(), "dns.tls.cert") {
		t.Errorf("reload of a bad certificate: %v, want an error naming dns.tls.cert", err)
	}
	if got := dialTLS(t, tlsAddr, cert2).ConnectionState().PeerCertificates[0]; got.SerialNumber.Int64() != 2 {
		t.Errorf("after a failed reload: serial %d, want the last good one (2)", got.SerialNumber.Int64())
	}
}

// TestTLSIdleTimeout: a connection left idle after a query is closed by
// the server, as TCP's are (miekg/dns's 8 s).
func TestTLSIdleTimeout(t *testing.T) {
	t.Parallel()
	_, tlsAddr, _, _, cert := startTLSServer(t)
	c := dialTLS(t, tlsAddr, cert)
	co := &dns.Conn{Conn: c}
	q := new(dns.Msg)
	q.SetQuestion("pool.test.", dns.TypeSOA)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if err := co.WriteMsg(q); err != nil {
		t.Fatal(err)
	}
	if _, err := co.ReadMsg(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, io.EOF) {
		t.Fatalf("idle read: %v, want EOF (closed by the server)", err)
	}
	if d := time.Since(start); d < 7*time.Second {
		t.Errorf("closed after %v idle, want about 8 s", d)
	}
}

// TestKdigTLS: kdig +tls gets the same answers over TLS, verifying the
// certificate when told to, several queries on one kept-open connection.
func TestKdigTLS(t *testing.T) {
	t.Parallel()
	kdig := proctest.LookTool(t, "kdig", "knot-dnsutils")
	_, tlsAddr, dir, _, _ := startTLSServer(t)
	host, port, _ := net.SplitHostPort(tlsAddr)
	out, err := exec.Command(kdig, "@"+host, "-p", port, "+tls", "+tls-ca="+filepath.Join(dir, "cert.pem"), "+tls-hostname=dot.test",
		"+keepopen", "+retry=0", proctest.ToolTime, "web.pool.test.", "A", "pool.test.", "SOA", "nothing.pool.test.", "A").CombinedOutput()
	if err != nil {
		t.Fatalf("kdig: %v\n%s", err, out)
	}
	s := string(out)
	if strings.Count(s, ";; TLS session (TLS1.3)") < 1 || strings.Count(s, "status: NOERROR") != 2 || strings.Count(s, "status: NXDOMAIN") != 1 {
		t.Fatalf("kdig +tls: want a TLS 1.3 session, 2 NOERROR and 1 NXDOMAIN:\n%s", s)
	}
	if strings.Count(s, "web.pool.test.") < 4 { // the question and three A
		t.Errorf("kdig +tls: the A answer is not there:\n%s", s)
	}
	// A wrong name is refused by kdig's verification: the certificate is
	// checked, not just any.
	out, err = exec.Command(kdig, "@"+host, "-p", port, "+tls", "+tls-ca="+filepath.Join(dir, "cert.pem"), "+tls-hostname=other.test",
		"+retry=0", proctest.ToolTime, "web.pool.test.", "A").CombinedOutput()
	if err == nil && strings.Contains(string(out), "status: NOERROR") {
		t.Errorf("kdig with a wrong +tls-hostname got an answer:\n%s", out)
	}
}
