package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/netlab"
	"github.com/poolnsd/poolnsd/internal/proctest"
	"golang.org/x/sys/unix"
)

// Delegations of a signed zone through a real validating resolver: the
// resolver must follow poolnsd's referrals to the child zones' server,
// which listens on port 53 of its own address as name servers do. So the
// test runs in a network namespace of its own (its loopback only): the
// parent poolnsd (signed), a child poolnsd on 127.0.0.2:53 serving
//
//   - sub.pool.example., unsigned, delegated without DS: insecure;
//   - secure.pool.example., signed with its own key, delegated with the DS
//     that "poolnsd dnssec ds" prints for it: secure;
//   - bogus.pool.example., signed, delegated with the DS of another key:
//     bogus (the check that the resolver validates at all),
//
// and unbound on 127.0.0.1:53 with the parent's DS as its trust anchor;
// delv asks unbound and validates by itself.

// referralParent is the parent zone; %s is the secure delegation's DS
// and %s the bogus one's.
const referralParent = `$ORIGIN pool.example.
$TTL 300
@         SOA ns1 hostmaster 1 3600 600 86400 60
@         NS  ns1
ns1       A   127.0.0.1
sub       NS  ns.sub
ns.sub    A   127.0.0.2
secure    NS  ns.secure
ns.secure A   127.0.0.2
%s
bogus     NS  ns.bogus
ns.bogus  A   127.0.0.2
%s
$POOL v ttl=1
v         PE  192.0.2.1:80
`

// childZone is a child zone's file: %s is its origin and %s the last
// octet of its www address.
const childZone = `$ORIGIN %s
$TTL 300
@    SOA ns hostmaster 1 3600 600 86400 60
@    NS  ns
ns   A   127.0.0.2
www  A   192.0.2.%s
`

var netnsSeq atomic.Int64

// newNetns makes a network namespace with its loopback up, named so that
// netlab.Sweep removes it if this process dies first; the test removes
// it, and kills what runs inside, at its end. It skips the test where
// namespaces cannot be made (not root, no ip command), and fails it in
// CI (netlab.Unavailable).
func newNetns(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		netlab.Unavailable(t, "network namespaces need root (CI runs the tests as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		netlab.Unavailable(t, "the ip command is missing (apt-get install iproute2)")
	}
	name := fmt.Sprintf("%s%d-%d-referral", netlab.Prefix, os.Getpid(), 1000+netnsSeq.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		netlab.Unavailable(t, fmt.Sprintf("cannot make a network namespace: %v: %s", err, out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "pids", name).Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				var pid int
				if _, err := fmt.Sscan(f, &pid); err == nil {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("removing namespace %s: %v: %s", name, err, out)
		}
	})
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s link set lo up: %v: %s", name, err, out)
	}
	return name
}

// inNetns returns a command that runs name with args inside namespace ns
// (ip netns exec execs it: the process's PID is the program's own).
func inNetns(ns, name string, args ...string) *exec.Cmd {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// dialNetns opens a UDP socket inside namespace ns, connected to addr: a
// thread enters the namespace, opens it and goes back (or, if it cannot,
// stays locked and ends with its goroutine).
func dialNetns(t *testing.T, ns, addr string) net.Conn {
	t.Helper()
	type result struct {
		c   net.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			done <- result{nil, err}
			return
		}
		defer self.Close()
		target, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			done <- result{nil, err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{nil, err}
			return
		}
		c, err := net.Dial("udp", addr)
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		done <- result{c, err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatalf("a socket in namespace %s: %v", ns, r.err)
	}
	t.Cleanup(func() { r.c.Close() })
	return r.c
}

// exchangeNetns sends a DO query to addr inside namespace ns and returns
// the reply.
func exchangeNetns(t *testing.T, ns, addr, name string, qtype uint16) (*dns.Msg, error) {
	t.Helper()
	co := &dns.Conn{Conn: dialNetns(t, ns, addr), UDPSize: 4096}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(4096, true)
	m.AuthenticatedData = true
	co.SetDeadline(time.Now().Add(10 * time.Second))
	if err := co.WriteMsg(m); err != nil {
		return nil, err
	}
	return co.ReadMsg()
}

// askNetns is exchangeNetns that fails the test on an error.
func askNetns(t *testing.T, ns, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	r, err := exchangeNetns(t, ns, addr, name, qtype)
	if err != nil {
		t.Fatalf("%s %s: %v", name, dns.TypeToString[qtype], err)
	}
	return r
}

// startNetnsDaemon starts poolnsd serve in dir inside namespace ns and
// waits for it to be ready; it returns its DNS address.
func startNetnsDaemon(t *testing.T, ns, dir string) (*daemonProc, string) {
	t.Helper()
	p := startCmd(t, inNetns(ns, binary, "serve"), dir, "poolnsd serve in "+dir)
	addr, _ := p.ready()
	return p, addr
}

// keygenDS makes a key for zone in dir with "poolnsd dnssec keygen" and
// returns the DS records "poolnsd dnssec ds" prints for it.
func keygenDS(t *testing.T, dir, zone string) string {
	t.Helper()
	if out, errs, code := runPoolnsd(t, dir, "dnssec", "keygen", zone); code != exitOK {
		t.Fatalf("poolnsd dnssec keygen %s: exit %d\n%s%s", zone, code, out, errs)
	}
	out, errs, code := runPoolnsd(t, dir, "dnssec", "ds", zone)
	if code != exitOK || !strings.Contains(out, " IN DS ") {
		t.Fatalf("poolnsd dnssec ds %s: exit %d\n%s%s", zone, code, out, errs)
	}
	return strings.TrimSpace(out)
}

// TestServeDNSSECReferral: a real unbound, trust anchor the parent's DS,
// follows poolnsd's signed referrals: below the delegation with a DS it
// validates the signed child's answers (AD), below the one without it
// takes the child's unsigned answers as insecure (no AD, not SERVFAIL:
// the NSEC in the referral proves there is no DS), and below the one
// whose DS names another key it fails (SERVFAIL). delv, asking unbound,
// agrees.
func TestServeDNSSECReferral(t *testing.T) {
	t.Parallel()
	ubin := proctest.LookTool(t, "unbound", "unbound")
	delv := proctest.LookTool(t, "delv", "bind9-dnsutils")
	ns := newNetns(t)

	// The child: three zones on 127.0.0.2:53, two of them signed.
	child := t.TempDir()
	for i, z := range []string{"sub", "secure", "bogus"} {
		writeFile(t, child, "zones/"+z+".pool.example.zone", fmt.Sprintf(childZone, z+".pool.example.", fmt.Sprint(10+i)))
	}
	writeFile(t, child, "poolnsd.yaml", strings.Join([]string{
		`dns:`, `  listen: ["127.0.0.2:53"]`, `  udp_sockets: 1`, `http:`, `  listen: ""`,
		`zones: zones`, `data: data`, `log:`, `  level: debug`, `  format: json`}, "\n")+"\n")
	secureDS := keygenDS(t, child, "secure.pool.example")
	keygenDS(t, child, "bogus.pool.example")
	// The bogus delegation's DS is of a key the child does not have.
	other := t.TempDir()
	writeFile(t, other, "poolnsd.yaml", "zones: zones\ndata: data\n")
	bogusDS := keygenDS(t, other, "bogus.pool.example")
	startNetnsDaemon(t, ns, child)

	// The parent, signed.
	parent := daemonDir(t, fmt.Sprintf(referralParent, secureDS, bogusDS))
	parentDS := keygenDS(t, parent, "pool.example")
	_, parentAddr := startNetnsDaemon(t, ns, parent)

	// unbound on 127.0.0.1:53, stub for the parent.
	udir := t.TempDir()
	anchor := writeFile(t, udir, "anchor", parentDS+"\n")
	uhost, uport, _ := net.SplitHostPort(parentAddr)
	conf := writeFile(t, udir, "unbound.conf", fmt.Sprintf(`server:
  interface: 127.0.0.1
  port: 53
  do-ip6: no
  username: ""
  chroot: ""
  directory: "%s"
  pidfile: "%s/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 1
  val-log-level: 2
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  qname-minimisation: no
  module-config: "validator iterator"
  trust-anchor-file: "%s"
stub-zone:
  name: "pool.example."
  stub-addr: %s@%s
`, udir, udir, anchor, uhost, uport))
	cmd := inNetns(ns, ubin, "-d", "-c", conf)
	out := &proctest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("unbound's output:\n%s", out.String())
		}
	})
	const resolver = "127.0.0.1:53"
	var delvAnchor strings.Builder // BIND's form of the same anchor
	delvAnchor.WriteString("trust-anchors {\n")
	for _, line := range strings.Split(parentDS, "\n") {
		f := strings.Fields(line) // zone IN DS tag alg digest-type digest
		fmt.Fprintf(&delvAnchor, "  %s static-ds %s %s %s \"%s\";\n", f[0], f[3], f[4], f[5], f[6])
	}
	delvAnchor.WriteString("};\n")
	delvAnchorFile := writeFile(t, udir, "anchor.conf", delvAnchor.String())
	// Ready when it answers the parent's apex, validated.
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		r, err := exchangeNetns(t, ns, resolver, "pool.example.", dns.TypeSOA)
		if err == nil && r.Rcode == dns.RcodeSuccess && r.AuthenticatedData {
			break
		}
		select {
		case <-exited:
			t.Fatalf("unbound exited:\n%s", out.String())
		case <-deadline.C:
			t.Fatalf("unbound does not validate the parent's SOA within 15 s: %v %v", r, err)
		case <-tick.C:
		}
	}

	for _, c := range []struct {
		name  string
		rcode int
		ad    bool
		addr  string // the www address, "" for none
		delv  string // what delv prints after "; "
	}{
		{"www.secure.pool.example.", dns.RcodeSuccess, true, "192.0.2.11", "fully validated"},
		{"www.sub.pool.example.", dns.RcodeSuccess, false, "192.0.2.10", "unsigned answer"},
		{"www.bogus.pool.example.", dns.RcodeServerFailure, false, "", "resolution failed"},
	} {
		r := askNetns(t, ns, resolver, c.name, dns.TypeA)
		var got string
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				got = a.A.String()
			}
		}
		if r.Rcode != c.rcode || r.AuthenticatedData != c.ad || got != c.addr {
			t.Errorf("%s A through unbound: %s AD %v address %q; want %s AD %v address %q\n%v", c.name,
				dns.RcodeToString[r.Rcode], r.AuthenticatedData, got, dns.RcodeToString[c.rcode], c.ad, c.addr, r)
		}
		dout, _ := inNetns(ns, delv, "@127.0.0.1", "-a", delvAnchorFile, "+root=pool.example.", c.name, "A").CombinedOutput()
		if !strings.Contains(string(dout), "; "+c.delv) {
			t.Errorf("delv %s A:\n%s\nwant %q", c.name, dout, c.delv)
		}
	}

	// The referrals themselves, from the parent: the NS RRset unsigned,
	// the DS RRset signed, or the NSEC that proves there is none.
	for _, c := range []struct {
		name string
		want uint16 // DS or NSEC
	}{{"www.secure.pool.example.", dns.TypeDS}, {"www.sub.pool.example.", dns.TypeNSEC}} {
		r := askNetns(t, ns, parentAddr, c.name, dns.TypeA)
		covered := map[uint16]bool{}
		has := false
		for _, rr := range r.Ns {
			if s, ok := rr.(*dns.RRSIG); ok {
				covered[s.TypeCovered] = true
			}
			has = has || rr.Header().Rrtype == c.want
		}
		if r.Authoritative || !has || !covered[c.want] || covered[dns.TypeNS] {
			t.Errorf("referral for %s: AA %v, %s %v signed %v, NS signed %v; want a referral with %s signed, NS unsigned\n%v",
				c.name, r.Authoritative, dns.TypeToString[c.want], has, covered[c.want], covered[dns.TypeNS], dns.TypeToString[c.want], r)
		}
	}
}
