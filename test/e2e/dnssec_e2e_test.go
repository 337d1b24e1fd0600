package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/proctest"
	"github.com/poolnsd/poolnsd/metrics/metricstest"
)

// The signed zone end to end: a real poolnsd serve with keys made by its own
// CLI, a real unbound validating with the DS that "poolnsd dnssec ds"
// prints as its trust anchor, delv (BIND's validator) and kdig.

// signedZone has every kind of answer: pools (probed web with a service,
// a URI template, HTTPS records and U-NAPTR, static v with IPv4 and IPv6
// elements and S-NAPTR, dead with its only element down), static records, a CNAME into a pool, a wildcard, an
// empty non-terminal and two delegations, one with a DS RRset.
const signedZone = `$ORIGIN pool.example.
$TTL 300
@      SOA ns1 hostmaster 1 3600 600 86400 60
@      NS  ns1
@      MX  10 mail
@      TXT "v=spf1 -all"
ns1    A   192.0.2.53
mail   A   192.0.2.25
alias  CNAME v
a.b.ent A  192.0.2.9
*.wild A   192.0.2.80
sub    NS  ns.sub
ns.sub A   192.0.2.99
secure NS  ns.sub
secure DS  4711 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF

$POOL v ttl=1 answers=3 naptr=x-bar:http
v      PE 192.0.2.1:80
v      PE 192.0.2.2:80
v      PE 192.0.2.3:80
v      PE 192.0.2.4:80
v      PE [2001:db8::1]:80
v      PE [2001:db8::2]:80

$POOL web service=_http._tcp uri=http://{name}:{port}/ https=h2 naptr=x-foo:http ttl=1 probe=http:/healthz interval=300ms timeout=250ms rise=1 fall=1
web    PE %s name=a
web    PE %s name=b

$POOL dead probe=tcp interval=100ms timeout=50ms rise=1 fall=1
dead   PE %s name=d
`

// signedCase is one question and what a validator must make of it.
type signedCase struct {
	what    string
	qname   string
	qtype   uint16
	answers int // records of qtype in the answer (-1: at least one)
}

var signedCases = []signedCase{
	{"DNSKEY", "pool.example.", dns.TypeDNSKEY, 1},
	{"pool A", "v.pool.example.", dns.TypeA, 3},
	{"pool AAAA", "v.pool.example.", dns.TypeAAAA, 2},
	{"pool SRV", "_http._tcp.web.pool.example.", dns.TypeSRV, 2},
	{"pool SRV at the pool's name", "web.pool.example.", dns.TypeSRV, 2},
	{"pool URI", "_http._tcp.web.pool.example.", dns.TypeURI, 2},
	{"pool HTTPS", "web.pool.example.", dns.TypeHTTPS, 2},
	{"pool HTTPS at a port's name", "_8443._https.web.pool.example.", dns.TypeHTTPS, 2},
	{"pool U-NAPTR", "web.pool.example.", dns.TypeNAPTR, 2},
	{"pool S-NAPTR", "v.pool.example.", dns.TypeNAPTR, 1},
	{"an element's own name", "a.web.pool.example.", dns.TypeA, 1},
	{"static A", "mail.pool.example.", dns.TypeA, 1},
	{"static MX", "pool.example.", dns.TypeMX, 1},
	{"static TXT", "pool.example.", dns.TypeTXT, 1},
	{"CNAME into a pool", "alias.pool.example.", dns.TypeA, 3},
	{"wildcard", "x.wild.pool.example.", dns.TypeA, 1},
	{"NXDOMAIN", "nosuch.pool.example.", dns.TypeA, 0},
	{"NXDOMAIN below a pool", "x.nosuch.v.pool.example.", dns.TypeA, 0},
	{"NODATA", "mail.pool.example.", dns.TypeAAAA, 0},
	{"NODATA at a pool", "v.pool.example.", dns.TypeTXT, 0},
	{"empty non-terminal", "b.ent.pool.example.", dns.TypeA, 0},
	{"all-down pool", "dead.pool.example.", dns.TypeA, 0},
	{"delegation with DS", "secure.pool.example.", dns.TypeDS, 1},
	{"delegation without DS", "sub.pool.example.", dns.TypeDS, 0},
}

// signedDaemon starts poolnsd serve on signedZone with a key that
// "poolnsd dnssec keygen" made (algorithm alg), and waits until the web
// pool's two elements are up and dead's is down. It returns the daemon,
// its DNS address, the working directory and the backends a and b.
func signedDaemon(t *testing.T, alg string) (p *daemonProc, addr, dir string, a, b *backend) {
	t.Helper()
	a, b = newBackend(t), newBackend(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	dir = daemonDir(t, fmt.Sprintf(signedZone, a.addr, b.addr, closed))
	if out, errs, code := runPoolnsd(t, dir, "dnssec", "keygen", "--algorithm", alg, "pool.example"); code != exitOK {
		t.Fatalf("poolnsd dnssec keygen: exit %d\n%s%s", code, out, errs)
	}
	p = startDaemon(t, dir)
	addr, _ = p.ready()
	waitSignedHealth(p)
	return p, addr, dir, a, b
}

// waitSignedHealth waits until a daemon serving signedZone has found web's
// elements up and dead's down.
func waitSignedHealth(p *daemonProc) {
	p.t.Helper()
	health := func(name, to string) func(logRec) bool {
		return func(r logRec) bool {
			return r.Str("msg") == "health changed" && r.Str("name") == name && r.Str("to") == to
		}
	}
	p.waitLog(0, "a up", health("a", "up"))
	p.waitLog(0, "b up", health("b", "up"))
	p.waitLog(0, "d down", health("d", "down"))
}

// parentDS runs "poolnsd dnssec ds pool.example" in dir and returns what
// it prints: the DS records, one per line.
func parentDS(t *testing.T, dir string) string {
	t.Helper()
	out, errs, code := runPoolnsd(t, dir, "dnssec", "ds", "pool.example")
	if code != exitOK || !strings.Contains(out, " IN DS ") {
		t.Fatalf("poolnsd dnssec ds: exit %d\n%s%s", code, out, errs)
	}
	return out
}

// startValidator runs a real unbound that validates pool.example. with
// the DS records ds (zone-file lines) as its trust anchor.
func startValidator(t *testing.T, upstream, ds string) string {
	t.Helper()
	anchor := writeFile(t, t.TempDir(), "anchor", ds)
	return startUnboundConf(t, "pool.example.", upstream, fmt.Sprintf(`  module-config: "validator iterator"
  trust-anchor-file: "%s"
  val-log-level: 2`, anchor))
}

// askDO sends a query with DO (and AD) to a resolver.
func askDO(t *testing.T, server, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(4096, true)
	m.AuthenticatedData = true
	c := &dns.Client{Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, server)
	if err != nil {
		t.Fatalf("%s %s: %v", name, dns.TypeToString[qtype], err)
	}
	return r
}

// checkValidated checks a resolver's answer: NOERROR (unbound 1.17 does
// not know NXNAME and takes a compact NXDOMAIN for a secure NODATA) with
// AD, and the records asked for.
func checkValidated(t *testing.T, r *dns.Msg, c signedCase) {
	t.Helper()
	if r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData {
		t.Errorf("%s (%s %s): %s AD %v; want NOERROR with AD\n%v", c.what, c.qname, dns.TypeToString[c.qtype], dns.RcodeToString[r.Rcode], r.AuthenticatedData, r)
		return
	}
	n := 0
	for _, rr := range r.Answer {
		if rr.Header().Rrtype == c.qtype {
			n++
		}
	}
	if n != c.answers {
		t.Errorf("%s: %d %s records; want %d\n%v", c.what, n, dns.TypeToString[c.qtype], c.answers, r)
	}
}

// TestServeDNSSECUnbound: a real unbound, whose trust anchor is the DS
// that "poolnsd dnssec ds" prints, validates every kind of answer of a
// signed poolnsd (AD), a pool answer after an element went down, and
// fails (SERVFAIL) once the key is swapped behind its back.
func TestServeDNSSECUnbound(t *testing.T) {
	t.Parallel()
	p, addr, dir, _, b := signedDaemon(t, "13")
	resolver := startValidator(t, addr, parentDS(t, dir))
	for _, c := range signedCases {
		checkValidated(t, askDO(t, resolver, c.qname, c.qtype), c)
	}
	for range 10 { // pool answers: each new RRset validates
		checkValidated(t, askDO(t, resolver, "v.pool.example.", dns.TypeA), signedCases[1])
	}

	// b goes down: the new SRV RRset, a alone, is signed and validates
	// (a name that the resolver has not cached).
	from := p.cursor()
	b.kill()
	p.waitLog(from, "b down", func(r logRec) bool {
		return r.Str("msg") == "health changed" && r.Str("name") == "b" && r.Str("to") == "down"
	})
	r := askDO(t, resolver, "web.pool.example.", dns.TypeURI) // NODATA: not cached either
	checkValidated(t, r, signedCase{"URI at the pool's name", "web.pool.example.", dns.TypeURI, 0})
	// poolnsd itself: one SRV and its RRSIG.
	r = askDO(t, addr, "_http._tcp.web.pool.example.", dns.TypeSRV)
	if len(r.Answer) != 2 {
		t.Errorf("after b went down, poolnsd answers %v", r.Answer)
	}
	fresh := startValidator(t, addr, parentDS(t, dir))
	c := signedCase{"pool SRV after a health change", "_http._tcp.web.pool.example.", dns.TypeSRV, 1}
	checkValidated(t, askDO(t, fresh, c.qname, c.qtype), c)

	// The key swapped behind the resolvers' backs: a new key replaces
	// the one the DS names, and SIGHUP.
	keys := filepath.Join(dir, "data", "keys")
	if err := os.RemoveAll(keys); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := runPoolnsd(t, dir, "dnssec", "keygen", "pool.example"); code != exitOK {
		t.Fatalf("keygen: exit %d\n%s%s", code, out, errs)
	}
	p.hup("the new key", func(r logRec) bool { return r.Str("msg") == "zone signed" && r.Str("trigger") == "SIGHUP" })
	for _, q := range []string{"ns1.pool.example.", "other.pool.example.", "new.wild.pool.example."} {
		if r := askDO(t, resolver, q, dns.TypeA); r.Rcode != dns.RcodeServerFailure {
			t.Errorf("swapped key, cached DNSKEY: %s: %s AD %v; want SERVFAIL", q, dns.RcodeToString[r.Rcode], r.AuthenticatedData)
		}
	}
	if r := askDO(t, fresh, "mail.pool.example.", dns.TypeMX); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("swapped key, fresh resolver: %s AD %v; want SERVFAIL", dns.RcodeToString[r.Rcode], r.AuthenticatedData)
	}
}

// TestServeDNSSECDelv: BIND's validator (delv, trust anchor the DS that
// "poolnsd dnssec ds" prints, asking poolnsd directly: no cache) agrees,
// for an Ed25519 key, also on the pool answers after a health change;
// kdig +dnssec shows the signatures and the compact denial.
func TestServeDNSSECDelv(t *testing.T) {
	t.Parallel()
	bin := proctest.LookTool(t, "delv", "bind9-dnsutils")
	kdig := proctest.LookTool(t, "kdig", "knot-dnsutils")
	p, addr, dir, a, _ := signedDaemon(t, "15")
	var anchor strings.Builder
	anchor.WriteString("trust-anchors {\n")
	for _, line := range strings.Split(strings.TrimSpace(parentDS(t, dir)), "\n") {
		f := strings.Fields(line) // zone IN DS tag alg digest-type digest
		fmt.Fprintf(&anchor, "  %s static-ds %s %s %s \"%s\";\n", f[0], f[3], f[4], f[5], f[6])
	}
	anchor.WriteString("};\n")
	anchorFile := writeFile(t, t.TempDir(), "anchor.conf", anchor.String())
	host, port, _ := net.SplitHostPort(addr)
	delv := func(name string, qtype uint16) string {
		out, _ := exec.Command(bin, "@"+host, "-p", port, "-a", anchorFile, "+root=pool.example.", name, dns.TypeToString[qtype]).CombinedOutput()
		return string(out)
	}
	for _, c := range signedCases {
		want := "; fully validated\n"
		if c.answers == 0 {
			want = "; negative response, fully validated\n"
		}
		if out := delv(c.qname, c.qtype); !strings.Contains(out, want) {
			t.Errorf("delv %s %s (%s):\n%s\nwant %q", c.qname, dns.TypeToString[c.qtype], c.what, out, want)
		}
	}

	// a goes down: the SRV RRset of b alone validates, and no answer
	// names a.
	a.kill()
	p.waitHealth("a", "down")
	out := delv("_http._tcp.web.pool.example.", dns.TypeSRV)
	if !strings.Contains(out, "; fully validated\n") || strings.Contains(out, " a.web.pool.example.") || !strings.Contains(out, " b.web.pool.example.") {
		t.Errorf("delv after a went down:\n%s", out)
	}

	kd := func(args ...string) string {
		out, err := exec.Command(kdig, append([]string{"@" + host, "-p", port, "+dnssec", "+norec"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kdig %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := kd("v.pool.example.", "A"); !strings.Contains(out, "RRSIG\tA 15 3 1 ") {
		t.Errorf("kdig +dnssec v.pool.example. A:\n%s", out)
	}
	// (kdig 3.2 knows NXNAME by its number only.)
	if out := kd("nosuch.pool.example.", "A"); !strings.Contains(out, "status: NOERROR") ||
		!(strings.Contains(out, "NSEC\t\\000.nosuch.pool.example. RRSIG NSEC TYPE128") || strings.Contains(out, "NSEC\t\\000.nosuch.pool.example. RRSIG NSEC NXNAME")) {
		t.Errorf("kdig +dnssec nosuch.pool.example. A:\n%s", out)
	}
	if out := kd("pool.example.", "DNSKEY"); !strings.Contains(out, "DNSKEY\t257 3 15 ") || !strings.Contains(out, "RRSIG\tDNSKEY 15 2 ") {
		t.Errorf("kdig +dnssec pool.example. DNSKEY:\n%s", out)
	}
	// The signature cache at /metrics: the RRsets above were signed once
	// each (misses), and found again (hits: delv asks for the DNSKEY RRset
	// at every run).
	api, _ := p.waitLog(0, "the HTTP line", msgIs("serving HTTP API"))
	sm, text, err := metricstest.Scrape(http.DefaultClient, "http://"+api.Str("addr")+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	miss, _ := sm.Value("poolnsd_dnssec_cache_lookups_total", "result=miss")
	hit, _ := sm.Value("poolnsd_dnssec_cache_lookups_total", "result=hit")
	entries, _ := sm.Value("poolnsd_dnssec_cache_entries")
	if miss < float64(len(signedCases)) || hit < float64(len(signedCases)) || entries != miss {
		t.Errorf("signature cache: %v misses, %v hits, %v entries; want at least %d misses and hits, an entry per miss",
			miss, hit, entries, len(signedCases))
	}
	metricstest.Promtool(t, text)

	// Without DO nothing is signed, and NXDOMAIN stays NXDOMAIN.
	if out, _ := exec.Command(kdig, "@"+host, "-p", port, "nosuch.pool.example.", "A").CombinedOutput(); !strings.Contains(string(out), "status: NXDOMAIN") || strings.Contains(string(out), "RRSIG") {
		t.Errorf("kdig without +dnssec:\n%s", out)
	}
}

// TestServeDNSSECTwoRegistrars: every registrar of a cluster signs with
// the same key files (docs/dnssec.md, "Distribution"): a second registrar
// given a copy of the first one's <data>/keys/K* (both files of each key,
// the private one mode 0600) prints the same DS, serves the same DNSKEY
// RRset, and signs every kind of answer so that it verifies against the
// DNSKEY RRset the first one serves, as a resolver that cached it from
// the first and asks the second does.
func TestServeDNSSECTwoRegistrars(t *testing.T) {
	t.Parallel()
	_, addrA, dirA, _, _ := signedDaemon(t, "13")
	zone, err := os.ReadFile(filepath.Join(dirA, "zones", "pool.example.zone"))
	if err != nil {
		t.Fatal(err)
	}
	dirB := daemonDir(t, string(zone))
	keysA, keysB := filepath.Join(dirA, "data", "keys"), filepath.Join(dirB, "data", "keys")
	files, _ := filepath.Glob(filepath.Join(keysA, "K*"))
	if len(files) != 2 {
		t.Fatalf("registrar A's keys: %v, want a .key and a .private", files)
	}
	if err := os.MkdirAll(keysB, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(f, ".private") {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(keysB, filepath.Base(f)), b, mode); err != nil {
			t.Fatal(err)
		}
	}
	pB := startDaemon(t, dirB)
	addrB, _ := pB.ready()
	waitSignedHealth(pB)

	ds := parentDS(t, dirA)
	if dsB := parentDS(t, dirB); dsB != ds {
		t.Fatalf("registrar B's DS:\n%s\nA's:\n%s", dsB, ds)
	}
	// A's DNSKEY RRset, verified by the key its DS names.
	rA := askDO(t, addrA, "pool.example.", dns.TypeDNSKEY)
	keys, sigs := map[uint16]*dns.DNSKEY{}, []*dns.RRSIG{}
	var keySet []dns.RR
	for _, rr := range rA.Answer {
		switch x := rr.(type) {
		case *dns.DNSKEY:
			keys[x.KeyTag()] = x
			keySet = append(keySet, x)
		case *dns.RRSIG:
			sigs = append(sigs, x)
		}
	}
	anchored := false
	for _, k := range keys {
		if d := k.ToDS(dns.SHA256); d != nil && strings.Contains(ds, strings.ToUpper(d.Digest)) {
			for _, sig := range sigs {
				if sig.KeyTag == k.KeyTag() && sig.Verify(k, keySet) == nil {
					anchored = true
				}
			}
		}
	}
	if !anchored {
		t.Fatalf("registrar A's DNSKEY RRset is not signed by the key of its DS %s:\n%v", ds, rA)
	}
	rB := askDO(t, addrB, "pool.example.", dns.TypeDNSKEY)
	if a, b := rrText(keySet), rrText(rB.Answer); a != b {
		t.Errorf("DNSKEY RRsets differ:\nA: %s\nB: %s", a, b)
	}
	for _, c := range signedCases {
		r := askDO(t, addrB, c.qname, c.qtype)
		if r.Rcode != dns.RcodeSuccess || !r.Authoritative {
			t.Errorf("%s from B: %s AA %v", c.what, dns.RcodeToString[r.Rcode], r.Authoritative)
			continue
		}
		verifySections(t, c.what, r, keys)
	}
}

// rrText is the sorted zone-file text of the records of rrs but RRSIGs.
func rrText(rrs []dns.RR) string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeRRSIG {
			out = append(out, strings.Join(strings.Fields(rr.String()), " "))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

// verifySections checks that every RRset of a reply's answer and
// authority sections has a signature that verifies with one of keys and is
// valid now.
func verifySections(t *testing.T, what string, r *dns.Msg, keys map[uint16]*dns.DNSKEY) {
	t.Helper()
	type set struct {
		name string
		typ  uint16
	}
	for _, sec := range [][]dns.RR{r.Answer, r.Ns} {
		sets, sigs := map[set][]dns.RR{}, map[set][]*dns.RRSIG{}
		for _, rr := range sec {
			h := rr.Header()
			if s, ok := rr.(*dns.RRSIG); ok {
				k := set{strings.ToLower(h.Name), s.TypeCovered}
				sigs[k] = append(sigs[k], s)
				continue
			}
			k := set{strings.ToLower(h.Name), h.Rrtype}
			sets[k] = append(sets[k], rr)
		}
		for k, rrs := range sets {
			ok := false
			for _, s := range sigs[k] {
				if key := keys[s.KeyTag]; key != nil && s.Verify(key, rrs) == nil && s.ValidityPeriod(time.Now()) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s: %s %s from registrar B has no signature that verifies with A's DNSKEY RRset (%d RRSIGs)",
					what, k.name, dns.TypeToString[k.typ], len(sigs[k]))
			}
		}
	}
}
