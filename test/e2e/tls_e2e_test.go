package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

// TestDNSOverTLS runs poolnsd with dns.tls.listen: kdig +tls gets the
// pool's answer with the certificate verified; after the certificate files
// are replaced and SIGHUP sent, new connections get the new certificate
// while the listener stays; a bad file on SIGHUP keeps the last good one.
func TestDNSOverTLS(t *testing.T) {
	kdig := proctest.LookTool(t, "kdig", "knot-dnsutils")
	dir := daemonDir(t, goodZone)
	ca, err := enrptest.NewCA("poolnsd test CA")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "ca.pem", string(ca.PEM))
	issue := func() *x509.Certificate {
		certPEM, keyPEM, err := ca.Issue("dot.test", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string][]byte{"dot.crt": certPEM, "dot.key": keyPEM} {
			writeFile(t, dir, name+".new", string(b))
			if err := os.Rename(filepath.Join(dir, name+".new"), filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
		tc, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(tc.Certificate[0])
		return c
	}
	first := issue()
	p := startDaemonEnv(t, dir, []string{"POOLNSD_DNS_TLS_LISTEN=127.0.0.1:0", "POOLNSD_DNS_TLS_CERT=dot.crt", "POOLNSD_DNS_TLS_KEY=dot.key"})
	p.ready()
	line, _ := p.waitLog(0, "the DNS over TLS line", msgIs("serving DNS over TLS"))
	addr := line.Str("addr")
	host, port, _ := net.SplitHostPort(addr)

	out, err := exec.Command(kdig, "@"+host, "-p", port, "+tls", "+tls-ca="+filepath.Join(dir, "ca.pem"), "+tls-hostname=dot.test",
		"+retry=0", proctest.ToolTime, "web.pool.example.", "A").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "status: NOERROR") || strings.Count(string(out), "\tA\t10.0.0.") != 2 {
		t.Fatalf("kdig +tls: %v, want NOERROR with the two A records:\n%s", err, out)
	}

	serial := func() string {
		t.Helper()
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(ca.PEM)
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: "dot.test"})
		if err != nil {
			t.Fatalf("TLS: %v", err)
		}
		defer c.Close()
		co := &dns.Conn{Conn: c}
		q := new(dns.Msg)
		q.SetQuestion("pool.example.", dns.TypeSOA)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if err := co.WriteMsg(q); err != nil {
			t.Fatal(err)
		}
		if r, err := co.ReadMsg(); err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			t.Fatalf("SOA over TLS: %v %v", r, err)
		}
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	if got := serial(); got != first.SerialNumber.String() {
		t.Fatalf("serial %s, want the first certificate's %s", got, first.SerialNumber)
	}
	second := issue()
	p.hup("the reload line", msgIs("DNS over TLS certificate reloaded"))
	if got := serial(); got != second.SerialNumber.String() {
		t.Fatalf("after SIGHUP: serial %s, want the new certificate's %s", got, second.SerialNumber)
	}
	writeFile(t, dir, "dot.crt", "garbage\n")
	r := p.hup("the failed reload line", msgIs("DNS over TLS certificate not reloaded; serving the last good one"))
	if !strings.Contains(r.Str("err"), "dns.tls.cert") {
		t.Errorf("failed reload's error %q does not name dns.tls.cert", r.Str("err"))
	}
	if got := serial(); got != second.SerialNumber.String() {
		t.Errorf("after a bad SIGHUP: serial %s, want the last good %s", got, second.SerialNumber)
	}
}
