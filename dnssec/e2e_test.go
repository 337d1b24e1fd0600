package dnssec

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/nettest"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

// The end-to-end test: a tiny authoritative server (testServer, below,
// test-only: no dnsfront) serves a small zone signed by this package,
// and a real unbound and a real delv validate its answers against a
// trust anchor made from the zone's DS.

const e2eZone = "pool.example."

// testZone is the zone's records by owner (lower case) and type.
var testZone = map[string][]string{
	"pool.example.": {
		"pool.example. 300 IN SOA ns1.pool.example. hostmaster.pool.example. 1 3600 600 86400 60",
		"pool.example. 300 IN NS ns1.pool.example.",
		"pool.example. 300 IN MX 10 mail.pool.example.",
		`pool.example. 300 IN TXT "v=spf1 -all"`,
	},
	"ns1.pool.example.":        {"ns1.pool.example. 300 IN A 127.0.0.1"},
	"mail.pool.example.":       {"mail.pool.example. 300 IN A 192.0.2.25"},
	"www.pool.example.":        {"www.pool.example. 300 IN CNAME mail.pool.example."},
	"a.b.ent.pool.example.":    {"a.b.ent.pool.example. 300 IN A 192.0.2.9"},
	"*.wild.pool.example.":     {"*.wild.pool.example. 60 IN A 192.0.2.80", `*.wild.pool.example. 60 IN TXT "wild"`},
	"sub.pool.example.":        {"sub.pool.example. 300 IN NS ns.sub.pool.example."},
	"ns.sub.pool.example.":     {"ns.sub.pool.example. 300 IN A 127.0.0.1"},
	"secure.pool.example.":     {"secure.pool.example. 300 IN NS ns.sub.pool.example.", "secure.pool.example. 300 IN DS 4711 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"},
	"_http._tcp.pool.example.": {"_http._tcp.pool.example. 60 IN SRV 0 10 8080 mail.pool.example."},
}

// poolName answers A from a pool of 10 addresses, 3 at random each time:
// nearly every answer is a new RRset, signed through SignSet from packed
// RDATA as the wire renderer would.
const poolName = "web.pool.example."

type testServer struct {
	signer  atomic.Pointer[Signer]
	nodes   map[string]map[uint16][]dns.RR
	addr    string
	servers []*dns.Server
	mu      sync.Mutex
	served  int
}

func startTestServer(t *testing.T, s *Signer) *testServer {
	t.Helper()
	ts := &testServer{nodes: map[string]map[uint16][]dns.RR{}}
	ts.signer.Store(s)
	for owner, lines := range testZone {
		n := map[uint16][]dns.RR{}
		for _, l := range lines {
			r := rr(t, l)
			n[r.Header().Rrtype] = append(n[r.Header().Rrtype], r)
		}
		ts.nodes[owner] = n
	}
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ; try++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		if try > 20 {
			t.Fatal(err)
		}
	}
	ts.addr = pc.LocalAddr().String()
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: ts}, {Listener: ln, Handler: ts}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		ts.servers = append(ts.servers, srv)
	}
	t.Cleanup(func() {
		for _, srv := range ts.servers {
			srv.Shutdown()
		}
	})
	return ts
}

func (ts *testServer) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m, err := ts.answer(r)
	if err != nil {
		m = new(dns.Msg)
		m.SetRcode(r, dns.RcodeServerFailure)
	}
	ts.mu.Lock()
	ts.served++
	ts.mu.Unlock()
	w.WriteMsg(m)
}

func (ts *testServer) answer(r *dns.Msg) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	q := r.Question[0]
	name, qtype := strings.ToLower(q.Name), q.Qtype
	do := false
	if opt := r.IsEdns0(); opt != nil {
		do = opt.Do()
		m.SetEdns0(1232, do)
	}
	if !dns.IsSubDomain(e2eZone, name) {
		m.Rcode = dns.RcodeRefused
		return m, nil
	}
	z := ts.signer.Load().Zone(e2eZone)
	if !do {
		z = nil
	}
	soa := ts.nodes[e2eZone][dns.TypeSOA]
	negTTL := soa[0].(*dns.SOA).Minttl
	signed := func(sec []dns.RR, rrs []dns.RR) ([]dns.RR, error) {
		sec = append(sec, rrs...)
		if z == nil {
			return sec, nil
		}
		sigs, err := z.Sign(rrs)
		if err != nil {
			return nil, err
		}
		return sigs.AppendTo(sec), nil
	}
	denial := func(sigs *Sigs, err error) error {
		if err != nil || z == nil {
			return err
		}
		m.Ns = append(m.Ns, sigs.NSEC)
		m.Ns = sigs.AppendTo(m.Ns)
		return nil
	}
	negative := func(deny func() (*Sigs, error)) (*dns.Msg, error) {
		s := dns.Copy(soa[0])
		s.Header().Ttl = negTTL
		var err error
		if m.Ns, err = signed(m.Ns, []dns.RR{s}); err != nil {
			return nil, err
		}
		if z != nil {
			if err := denial(deny()); err != nil {
				return nil, err
			}
		}
		return m, nil
	}

	// Delegations: DS at the cut is the parent's; below it, a referral.
	for _, cut := range []string{"sub.pool.example.", "secure.pool.example."} {
		if !dns.IsSubDomain(cut, name) {
			continue
		}
		ds := ts.nodes[cut][dns.TypeDS]
		if name == cut && qtype == dns.TypeDS {
			if ds == nil {
				return negative(func() (*Sigs, error) { return z.NoDS(cut, negTTL) })
			}
			var err error
			m.Answer, err = signed(m.Answer, ds)
			return m, err
		}
		m.Authoritative = false
		m.Ns = append(m.Ns, ts.nodes[cut][dns.TypeNS]...)
		if z != nil {
			if ds != nil {
				var err error
				if m.Ns, err = signed(m.Ns, ds); err != nil {
					return nil, err
				}
			} else if err := denial(z.NoDS(cut, 300)); err != nil {
				return nil, err
			}
		}
		m.Extra = append(m.Extra, ts.nodes["ns.sub.pool.example."][dns.TypeA]...)
		return m, nil
	}

	if qtype == dns.TypeDNSKEY && name == e2eZone && z != nil {
		keys, sigs, err := z.DNSKEY()
		if err != nil {
			return nil, err
		}
		m.Answer = sigs.AppendTo(append(m.Answer, keys...))
		return m, nil
	}

	if name == poolName {
		if qtype != dns.TypeA {
			return negative(func() (*Sigs, error) { return z.NoData(name, qtype, []uint16{dns.TypeA}, negTTL) })
		}
		var set RRset
		set.Reset(q.Name, dns.TypeA, 5)
		for _, i := range rand.Perm(10)[:3] {
			a := &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: net.IPv4(10, 0, 0, byte(i+1))}
			m.Answer = append(m.Answer, a)
			set.Add(a.A.To4())
		}
		if z != nil {
			sigs, err := z.SignSet(&set)
			if err != nil {
				return nil, err
			}
			m.Answer = sigs.AppendTo(m.Answer)
		}
		return m, nil
	}

	node, owner := ts.nodes[name], name
	if node == nil {
		// An empty non-terminal: a name above one of the zone.
		for n := range ts.nodes {
			if strings.HasSuffix(n, "."+name) {
				return negative(func() (*Sigs, error) { return z.NoData(name, qtype, nil, negTTL) })
			}
		}
		// A wildcard: its records with the query's name as owner, signed
		// as the name's own (RFC 9824 §3.3).
		for up := name; ; {
			i := strings.IndexByte(up, '.')
			if i < 0 || i+1 >= len(up) {
				break
			}
			up = up[i+1:]
			if w := ts.nodes["*."+up]; w != nil {
				node, owner = map[uint16][]dns.RR{}, name
				for t, rs := range w {
					for _, r := range rs {
						c := dns.Copy(r)
						c.Header().Name = q.Name
						node[t] = append(node[t], c)
					}
				}
				break
			}
		}
	}
	if node == nil {
		return negative(func() (*Sigs, error) { return z.NXDomain(name, negTTL) })
	}
	if cn := node[dns.TypeCNAME]; cn != nil && qtype != dns.TypeCNAME {
		var err error
		if m.Answer, err = signed(m.Answer, cn); err != nil {
			return nil, err
		}
		target := strings.ToLower(cn[0].(*dns.CNAME).Target)
		if rs := ts.nodes[target][qtype]; rs != nil {
			m.Answer, err = signed(m.Answer, rs)
		}
		return m, err
	}
	if rs := node[qtype]; rs != nil {
		var err error
		m.Answer, err = signed(m.Answer, rs)
		return m, err
	}
	var types []uint16
	for t := range node {
		types = append(types, t)
	}
	return negative(func() (*Sigs, error) { return z.NoData(owner, qtype, types, negTTL) })
}

// startValidator runs a real unbound validating with ds as the zone's
// trust anchor, the zone stubbed to upstream. It returns its address.
func startValidator(t *testing.T, ds []*dns.DS, upstream string) string {
	t.Helper()
	bin := proctest.LookTool(t, "unbound", "unbound")
	dir := t.TempDir()
	var anchors strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&anchors, "%s IN DS %d %d %d %s\n", e2eZone, d.KeyTag, d.Algorithm, d.DigestType, d.Digest)
	}
	if err := os.WriteFile(filepath.Join(dir, "anchor"), []byte(anchors.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	uh, up, _ := net.SplitHostPort(upstream)
	// unbound sends its queries from random ports of the whole range by
	// default: not from those FreePort gives the servers of other tests.
	plo, phi := nettest.PortRange()
	for try := 0; ; try++ {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(nettest.FreePort(t, "127.0.0.1")))
		host, port, _ := net.SplitHostPort(addr)
		conf := fmt.Sprintf(`server:
  interface: %s
  port: %s
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
  module-config: "validator iterator"
  trust-anchor-file: "%s/anchor"
  qname-minimisation: no
  rrset-roundrobin: no
  outgoing-port-avoid: %d-%d
stub-zone:
  name: "%s"
  stub-addr: %s@%s
`, host, port, dir, dir, dir, plo, phi, e2eZone, uh, up)
		cfg := filepath.Join(dir, "unbound.conf")
		if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-d", "-c", cfg)
		out := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Kill()
			<-exited
		}
		c := &dns.Client{Timeout: 300 * time.Millisecond}
		m := new(dns.Msg)
		m.SetQuestion("version.server.", dns.TypeTXT)
		m.Question[0].Qclass = dns.ClassCHAOS
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if _, _, err := c.Exchange(m, addr); err == nil {
				t.Cleanup(func() {
					stop()
					if t.Failed() {
						t.Logf("unbound's output:\n%s", out.String())
					}
				})
				return addr
			}
			select {
			case <-exited:
				deadline = time.Time{}
			case <-time.After(50 * time.Millisecond):
			}
		}
		stop()
		if try >= 3 {
			t.Fatalf("unbound did not start:\n%s", out.String())
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ask sends a DO=1 query to a resolver.
func ask(t *testing.T, server, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(4096, true)
	m.AuthenticatedData = true
	r, err := nettest.Exchange(nil, m, server) // sent again when a datagram is lost
	if err != nil {
		t.Fatalf("%s %s: %v", name, dns.TypeToString[qtype], err)
	}
	return r
}

// e2eCase is one question and what a validator must make of it.
type e2eCase struct {
	name    string
	qname   string
	qtype   uint16
	answers int    // records of qtype in the answer
	nxname  bool   // the authority section has an NSEC with NXNAME
	nodata  bool   // no answer, an NSEC at the name
	delv    string // what delv prints after "; "
}

var e2eCases = []e2eCase{
	{"DNSKEY", "pool.example.", dns.TypeDNSKEY, 1, false, false, "fully validated"},
	{"static A", "mail.pool.example.", dns.TypeA, 1, false, false, "fully validated"},
	{"static MX", "pool.example.", dns.TypeMX, 1, false, false, "fully validated"},
	{"static TXT", "pool.example.", dns.TypeTXT, 1, false, false, "fully validated"},
	{"static SRV", "_http._tcp.pool.example.", dns.TypeSRV, 1, false, false, "fully validated"},
	{"CNAME to a static name", "www.pool.example.", dns.TypeA, 1, false, false, "fully validated"},
	{"pool A, 3 of 10 at random", "web.pool.example.", dns.TypeA, 3, false, false, "fully validated"},
	{"pool NODATA (AAAA)", "web.pool.example.", dns.TypeAAAA, 0, false, true, "negative response, fully validated"},
	{"wildcard A", "Some.Where.wild.pool.example.", dns.TypeA, 1, false, false, "fully validated"},
	{"wildcard TXT", "x.wild.pool.example.", dns.TypeTXT, 1, false, false, "fully validated"},
	{"the wildcard's own name", "*.wild.pool.example.", dns.TypeA, 1, false, false, "fully validated"},
	{"wildcard NODATA", "y.wild.pool.example.", dns.TypeMX, 0, false, true, "negative response, fully validated"},
	{"NXDOMAIN (compact)", "nosuch.pool.example.", dns.TypeA, 0, true, false, "negative response, fully validated"},
	{"NXDOMAIN below a static name", "x.mail.pool.example.", dns.TypeAAAA, 0, true, false, "negative response, fully validated"},
	{"NODATA at a static name", "mail.pool.example.", dns.TypeAAAA, 0, false, true, "negative response, fully validated"},
	{"NODATA at the apex", "pool.example.", dns.TypeAAAA, 0, false, true, "negative response, fully validated"},
	{"empty non-terminal", "b.ent.pool.example.", dns.TypeA, 0, false, true, "negative response, fully validated"},
	{"empty non-terminal above it", "ent.pool.example.", dns.TypeTXT, 0, false, true, "negative response, fully validated"},
	{"DS of a delegation with DS", "secure.pool.example.", dns.TypeDS, 1, false, false, "fully validated"},
	{"DS of a delegation without DS", "sub.pool.example.", dns.TypeDS, 0, false, true, "negative response, fully validated"},
}

func TestUnboundValidates(t *testing.T) {
	dir := t.TempDir()
	k := writeKey(t, dir, e2eZone, dns.ECDSAP256SHA256, Timing{})
	ks, err := Load(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := NewSigner(Options{})
	s.SetKeys(ks)
	srv := startTestServer(t, s)
	resolver := startValidator(t, []*dns.DS{k.DS()}, srv.addr)
	for _, c := range e2eCases {
		t.Run(c.name, func(t *testing.T) {
			r := ask(t, resolver, c.qname, c.qtype)
			checkSecure(t, r, c)
		})
	}
	t.Run("pool A, many times: every new RRset validates", func(t *testing.T) {
		for range 20 {
			r := ask(t, resolver, poolName, dns.TypeA)
			if !r.AuthenticatedData || r.Rcode != dns.RcodeSuccess {
				t.Fatalf("rcode %s AD %v", dns.RcodeToString[r.Rcode], r.AuthenticatedData)
			}
		}
	})

	// The key swapped behind the resolver's back: what it has not
	// cached (nor can derive from a cached NSEC, RFC 8198) fails
	// validation.
	other := newTestKey(t, e2eZone, dns.ECDSAP256SHA256, FlagsCSK)
	s2 := NewSigner(Options{})
	s2.SetKeys(keysOf(t, time.Now(), other))
	srv.signer.Store(s2)
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"ns1.pool.example.", dns.TypeA}, {"other.pool.example.", dns.TypeA}, {"new.wild.pool.example.", dns.TypeA}} {
		if r := ask(t, resolver, q.name, q.qtype); r.Rcode != dns.RcodeServerFailure {
			t.Errorf("swapped key, cached DNSKEY: %s %s: %s AD %v; want SERVFAIL", q.name, dns.TypeToString[q.qtype], dns.RcodeToString[r.Rcode], r.AuthenticatedData)
		}
	}
	fresh := startValidator(t, []*dns.DS{k.DS()}, srv.addr)
	for _, c := range e2eCases[:3] {
		if r := ask(t, fresh, c.qname, c.qtype); r.Rcode != dns.RcodeServerFailure {
			t.Errorf("swapped key, fresh resolver: %s: %s AD %v; want SERVFAIL", c.name, dns.RcodeToString[r.Rcode], r.AuthenticatedData)
		}
	}
}

// checkSecure checks a validated answer.
func checkSecure(t *testing.T, r *dns.Msg, c e2eCase) {
	t.Helper()
	if r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData {
		t.Fatalf("rcode %s AD %v; want NOERROR with AD\n%v", dns.RcodeToString[r.Rcode], r.AuthenticatedData, r)
	}
	n := 0
	for _, a := range r.Answer {
		if a.Header().Rrtype == c.qtype {
			n++
		}
	}
	if n != c.answers {
		t.Errorf("%d %s records; want %d\n%v", n, dns.TypeToString[c.qtype], c.answers, r)
	}
	var nsec *dns.NSEC
	for _, a := range r.Ns {
		if x, ok := a.(*dns.NSEC); ok {
			nsec = x
		}
	}
	if c.nxname || c.nodata {
		if nsec == nil || !strings.EqualFold(nsec.Hdr.Name, c.qname) {
			t.Fatalf("no NSEC at %s in the authority section\n%v", c.qname, r)
		}
		hasNX := false
		for _, ty := range nsec.TypeBitMap {
			hasNX = hasNX || ty == TypeNXNAME
		}
		if hasNX != c.nxname {
			t.Errorf("NXNAME in the bit map: %v; want %v", hasNX, c.nxname)
		}
	}
}

// TestDelvValidates: BIND's validator (delv, with the zone's DS as its
// trust anchor, asking the test server directly) agrees.
func TestDelvValidates(t *testing.T) {
	bin := proctest.LookTool(t, "delv", "bind9-dnsutils")
	dir := t.TempDir()
	k := writeKey(t, dir, e2eZone, dns.ED25519, Timing{})
	ks, err := Load(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := NewSigner(Options{})
	s.SetKeys(ks)
	srv := startTestServer(t, s)
	anchor := filepath.Join(dir, "anchor.conf")
	ds := k.DS()
	os.WriteFile(anchor, []byte(fmt.Sprintf("trust-anchors {\n  %s static-ds %d %d %d \"%s\";\n};\n", e2eZone, ds.KeyTag, ds.Algorithm, ds.DigestType, ds.Digest)), 0o644)
	host, port, _ := net.SplitHostPort(srv.addr)
	delv := func(name string, qtype uint16) string {
		out, _ := exec.Command(bin, "@"+host, "-p", port, "-a", anchor, "+root="+e2eZone, "+tcp", name, dns.TypeToString[qtype]).CombinedOutput()
		return string(out)
	}
	for _, c := range e2eCases {
		t.Run(c.name, func(t *testing.T) {
			if out := delv(c.qname, c.qtype); !strings.Contains(out, "; "+c.delv+"\n") {
				t.Errorf("delv %s %s:\n%s\nwant %q", c.qname, dns.TypeToString[c.qtype], out, c.delv)
			}
		})
	}
	other := newTestKey(t, e2eZone, dns.ED25519, FlagsCSK)
	s2 := NewSigner(Options{})
	s2.SetKeys(keysOf(t, time.Now(), other))
	srv.signer.Store(s2)
	if out := delv("mail.pool.example.", dns.TypeA); strings.Contains(out, "fully validated") || !strings.Contains(out, "resolution failed") {
		t.Errorf("delv after the key was swapped:\n%s", out)
	}
}

// TestRolloverValidates walks the documented rollover (pre-publish, sign
// with the new key, retire and delete the old one) with a real unbound
// that knows only the old key's DS, then one that knows only the new
// key's: every answer stays secure. The DNSKEY TTL is 1 s so that the
// resolver's cached DNSKEY RRset expires within the test; the test waits
// for the new RRset to be seen, not for a time.
func TestRolloverValidates(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC().Truncate(time.Second)
	old := writeKey(t, dir, e2eZone, dns.ECDSAP256SHA256, Timing{Created: now, Publish: now, Activate: now})
	s := NewSigner(Options{DNSKEYTTL: 1})
	reload := func() {
		t.Helper()
		ks, err := Load(dir, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		s.SetKeys(ks)
	}
	reload()
	srv := startTestServer(t, s)
	oldDS := startValidator(t, []*dns.DS{old.DS()}, srv.addr)
	n := 0
	secure := func(resolver, phase string) {
		t.Helper()
		n++
		for _, q := range []struct {
			name  string
			qtype uint16
		}{{fmt.Sprintf("n%d.wild.pool.example.", n), dns.TypeA}, {poolName, dns.TypeA}, {fmt.Sprintf("gone%d.pool.example.", n), dns.TypeA}} {
			if r := ask(t, resolver, q.name, q.qtype); r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData {
				t.Fatalf("%s: %s: %s AD %v", phase, q.name, dns.RcodeToString[r.Rcode], r.AuthenticatedData)
			}
		}
	}
	// seesKeys waits until the resolver's DNSKEY RRset has the keys of tags.
	seesKeys := func(resolver string, tags ...uint16) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			r := ask(t, resolver, e2eZone, dns.TypeDNSKEY)
			var got []uint16
			for _, a := range r.Answer {
				if k, ok := a.(*dns.DNSKEY); ok {
					got = append(got, k.KeyTag())
				}
			}
			if r.AuthenticatedData && len(got) == len(tags) && slicesEqualSet(got, tags) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("DNSKEY RRset %v (AD %v); want %v", got, r.AuthenticatedData, tags)
			}
			time.Sleep(100 * time.Millisecond) // the resolver's 1 s DNSKEY TTL runs out
		}
	}
	secure(oldDS, "before")

	// 1. Pre-publish the new key.
	nw := writeKey(t, dir, e2eZone, dns.ECDSAP256SHA256, Timing{Created: now, Publish: now})
	reload()
	seesKeys(oldDS, old.Tag, nw.Tag)
	secure(oldDS, "new key published")

	// 2. The parent gets the new DS beside the old: a resolver that has
	// only the new one validates too.
	newDS := startValidator(t, []*dns.DS{nw.DS()}, srv.addr)
	secure(newDS, "new key published, new DS")

	// 3. Sign with the new key, retire the old one.
	at := time.Now().UTC().Truncate(time.Second)
	if err := nw.SetTiming(Timing{Created: now, Publish: now, Activate: at}); err != nil {
		t.Fatal(err)
	}
	if err := old.SetTiming(Timing{Created: now, Publish: now, Activate: now, Inactive: at}); err != nil {
		t.Fatal(err)
	}
	reload()
	if z := s.Zone(e2eZone); len(z.data) != 1 || z.data[0].Tag != nw.Tag {
		t.Fatalf("signing with %v; want the new key", z.data)
	}
	secure(oldDS, "new key signing, old DS")
	secure(newDS, "new key signing, new DS")

	// 4, 5. The old DS leaves the parent; the old key is deleted.
	if err := old.SetTiming(Timing{Created: now, Publish: now, Activate: now, Inactive: at, Delete: time.Now()}); err != nil {
		t.Fatal(err)
	}
	reload()
	seesKeys(newDS, nw.Tag)
	secure(newDS, "old key deleted")
}

func slicesEqualSet(a, b []uint16) bool {
	for _, x := range a {
		found := false
		for _, y := range b {
			found = found || x == y
		}
		if !found {
			return false
		}
	}
	return true
}
