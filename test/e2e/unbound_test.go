package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/nettest"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

// startUnbound runs a real unbound on a free loopback port, as a
// recursive resolver whose only zone, stub, is served by poolnsd at
// upstream (host:port). It returns unbound's address; unbound is stopped
// at the end of the test.
func startUnbound(t *testing.T, stub, upstream string) string {
	t.Helper()
	return startUnboundConf(t, stub, upstream, `  module-config: "iterator"`)
}

// startUnboundConf is startUnbound with more lines of unbound's server:
// section (module-config among them).
func startUnboundConf(t *testing.T, stub, upstream, serverConf string) string {
	t.Helper()
	bin := proctest.LookTool(t, "unbound", "unbound")
	// A port free for UDP and TCP, which unbound binds a moment later:
	// another process may take it meanwhile, so try again then.
	for try := 1; ; try++ {
		addr, exited, out := runUnbound(t, bin, stub, upstream, serverConf)
		deadline := time.NewTimer(10 * time.Second)
		tick := time.NewTicker(50 * time.Millisecond)
		c := &dns.Client{Timeout: 500 * time.Millisecond}
		m := new(dns.Msg)
		m.SetQuestion(stub, dns.TypeSOA)
		for ready := false; !ready; {
			if r, _, err := c.Exchange(m, addr); err == nil && r.Rcode == dns.RcodeSuccess {
				deadline.Stop()
				tick.Stop()
				return addr
			}
			select {
			case <-exited:
				ready = true
			case <-deadline.C:
				t.Fatalf("unbound on %s did not answer within 10 s", addr)
			case <-tick.C:
			}
		}
		deadline.Stop()
		tick.Stop()
		if try == 3 || !strings.Contains(out.String(), "could not open ports") {
			t.Fatalf("unbound on %s exited:\n%s", addr, out.String())
		}
	}
}

// runUnbound starts unbound on a free port of 127.0.0.1; exited is closed
// when it exits. It is stopped at the end of the test.
func runUnbound(t *testing.T, bin, stub, upstream, serverConf string) (addr string, exited chan struct{}, out *proctest.Buffer) {
	t.Helper()
	dir := t.TempDir()
	host, port := "127.0.0.1", fmt.Sprint(nettest.FreePort(t, "127.0.0.1"))
	addr = net.JoinHostPort(host, port)
	uhost, uport, _ := net.SplitHostPort(upstream)
	// unbound sends its queries from random ports of its own choosing,
	// the whole range by default: not from those FreePort gives the
	// servers of the other tests.
	plo, phi := nettest.PortRange()
	conf := fmt.Sprintf(`server:
  interface: %s
  port: %s
  do-ip6: no
  do-tcp: yes
  username: ""
  chroot: ""
  directory: "%s"
  pidfile: "%s/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 1
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  qname-minimisation: no
  rrset-roundrobin: no
  outgoing-port-avoid: %d-%d
%s
stub-zone:
  name: "%s"
  stub-addr: %s@%s
`, host, port, dir, dir, plo, phi, serverConf, stub, uhost, uport)
	cfg := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", "-c", cfg)
	out = &proctest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited = make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("unbound's output:\n%s", out.String())
		}
	})
	return addr, exited, out
}

// TestUnboundPoolComesBack: a pool whose elements are all down answers
// NODATA; through a real unbound in front, that empty answer must not
// outlive the pool's TTL, whatever the zone's negative TTL (3600 s here,
// a realistic SOA minimum). Once the backend is back, the resolver serves
// the element within the pool's TTL plus the probes that bring it back.
func TestUnboundPoolComesBack(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	const poolTTL = 2
	zone := `$ORIGIN pool.example.
$TTL 3600
@      SOA ns1 hostmaster 1 3600 600 86400 3600
@      NS  ns1
ns1    A   192.0.2.53
$POOL web probe=http:/healthz interval=200ms timeout=100ms rise=2 fall=1 ttl=` + fmt.Sprint(poolTTL) + `
web    PE ` + b.addr + ` name=a
`
	dir := t.TempDir()
	writeFile(t, dir, "zones/pool.example.zone", zone)
	writeFile(t, dir, "poolnsd.yaml", `dns:
  listen: ["127.0.0.1:0"]
http:
  listen: "127.0.0.1:0"
zones: zones
data: data
log:
  level: debug
  format: json
`)
	p := startDaemon(t, dir)
	dnsAddr, _ := p.ready()
	healthTo := func(to string) func(logRec) bool {
		return func(r logRec) bool { return r.Str("msg") == "health changed" && r.Str("to") == to }
	}
	p.waitLog(0, "a up", healthTo("up"))
	b.kill()
	p.waitHealth("a", "down")

	resolver := startUnbound(t, "pool.example.", dnsAddr)
	ask := func() *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion("web.pool.example.", dns.TypeA)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		r, _, err := (&dns.Client{}).ExchangeContext(ctx, m, resolver)
		if err != nil {
			t.Fatalf("through unbound: %v", err)
		}
		return r
	}
	r := ask()
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 {
		t.Fatalf("all down, through unbound: %v; want NODATA with the SOA", r)
	}
	if ttl := r.Ns[0].Header().Ttl; ttl > poolTTL {
		t.Errorf("all down, through unbound: SOA TTL %d, want at most the pool's %d", ttl, poolTTL)
	}

	from := p.cursor()
	b.revive()
	back := time.Now()
	p.waitLog(from, "a up again", healthTo("up"))
	up := time.Since(back)
	// The resolver may hold the empty answer for up to the pool's TTL from
	// when it was cached; allow one second more for a loaded machine.
	limit := up + poolTTL*time.Second + time.Second
	for {
		r := ask()
		if len(r.Answer) == 1 {
			t.Logf("served through unbound %v after the backend came back (probes took %v)", time.Since(back).Round(time.Millisecond), up.Round(time.Millisecond))
			break
		}
		if time.Since(back) > limit {
			t.Fatalf("through unbound, %v after the backend came back (up after %v): still %v", time.Since(back).Round(time.Millisecond), up, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
