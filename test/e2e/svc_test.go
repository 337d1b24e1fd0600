package e2e

import (
	"context"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// svcZone has a pool with HTTPS records (web), one with S-NAPTR (sip) and
// one with U-NAPTR (api), every element up without probes.
const svcZone = `$ORIGIN pool.example.
$TTL 3600
@      SOA ns1 hostmaster 1 3600 600 86400 3600
@      NS  ns1
ns1    A   192.0.2.53
$POOL web policy=prio service=_https._tcp https=h2,h3 probe=none ttl=7
web    PE 192.0.2.10:443 prio=1 name=a
web    PE 192.0.2.11,[2001:db8::11]:8443 prio=2 name=b
$POOL sip policy=prio service=_sip._udp naptr=x-sip:udp,x-other probe=none
sip    PE 192.0.2.20:5060 prio=2 name=s2
sip    PE 192.0.2.21:5062 prio=1 name=s1
$POOL api policy=prio service=_http._tcp uri=http://{name}:{port}/v1 naptr=x-api:http probe=none
api    PE 192.0.2.30:8080 prio=1 name=u1
api    PE 192.0.2.31:8081 prio=2 name=u2
`

// startSvcDaemon runs poolnsd with svcZone and returns its DNS address.
func startSvcDaemon(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "zones/pool.example.zone", svcZone)
	writeFile(t, dir, "poolnsd.yaml", `dns:
  listen: ["127.0.0.1:0"]
http:
  listen: "127.0.0.1:0"
zones: zones
data: data
log:
  format: json
`)
	p := startDaemon(t, dir)
	addr, _ := p.ready()
	return addr
}

// exchange asks server one question (TCP when a UDP answer is truncated).
func exchange(t *testing.T, server, name string, qt uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qt)
	m.SetEdns0(1232, false)
	for _, net := range []string{"udp", "tcp"} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		r, _, err := (&dns.Client{Net: net}).ExchangeContext(ctx, m, server)
		cancel()
		if err != nil {
			t.Fatalf("%s %s over %s at %s: %v", name, dns.TypeToString[qt], net, server, err)
		}
		if !r.Truncated {
			return r
		}
	}
	t.Fatalf("%s %s: truncated over TCP", name, dns.TypeToString[qt])
	return nil
}

// TestSvcThroughUnbound: HTTPS and NAPTR answers from a zone file's pools
// reach a client whole through a real unbound in front of poolnsd.
func TestSvcThroughUnbound(t *testing.T) {
	t.Parallel()
	server := startSvcDaemon(t)
	resolver := startUnbound(t, "pool.example.", server)
	for _, c := range []struct {
		name string
		qt   uint16
		want []string
	}{
		{"web.pool.example.", dns.TypeHTTPS, []string{
			`web.pool.example. IN HTTPS 1 a.web.pool.example. alpn="h2,h3" ipv4hint="192.0.2.10"`,
			`web.pool.example. IN HTTPS 2 b.web.pool.example. alpn="h2,h3" port="8443" ipv4hint="192.0.2.11" ipv6hint="2001:db8::11"`}},
		{"_8443._https.web.pool.example.", dns.TypeHTTPS, []string{
			`_8443._https.web.pool.example. IN HTTPS 1 a.web.pool.example. alpn="h2,h3" port="443" ipv4hint="192.0.2.10"`,
			`_8443._https.web.pool.example. IN HTTPS 2 b.web.pool.example. alpn="h2,h3" port="8443" ipv4hint="192.0.2.11" ipv6hint="2001:db8::11"`}},
		{"sip.pool.example.", dns.TypeNAPTR, []string{
			`sip.pool.example. IN NAPTR 100 10 "S" "x-sip:udp" "" _sip._udp.sip.pool.example.`,
			`sip.pool.example. IN NAPTR 100 20 "S" "x-other" "" _sip._udp.sip.pool.example.`}},
		{"api.pool.example.", dns.TypeNAPTR, []string{
			`api.pool.example. IN NAPTR 100 0 "U" "x-api:http" "!.*!http://u1.api.pool.example:8080/v1!" .`,
			`api.pool.example. IN NAPTR 100 1 "U" "x-api:http" "!.*!http://u2.api.pool.example:8081/v1!" .`}},
	} {
		for _, via := range []string{server, resolver} {
			r := exchange(t, via, c.name, c.qt)
			var got []string
			for _, rr := range r.Answer {
				if rr.Header().Ttl > 7 && c.qt == dns.TypeHTTPS || rr.Header().Ttl > 5 && c.qt == dns.TypeNAPTR {
					t.Errorf("%s via %s: TTL %d above the pool's", c.name, via, rr.Header().Ttl)
				}
				f := strings.Fields(rr.String())
				got = append(got, strings.Join(append(f[:1:1], f[2:]...), " ")) // without the TTL
			}
			slices.Sort(got)
			if r.Rcode != dns.RcodeSuccess || !slices.Equal(got, c.want) {
				t.Errorf("%s %s via %s: %s\n got %q\nwant %q", c.name, dns.TypeToString[c.qt], via, dns.RcodeToString[r.Rcode], got, c.want)
			}
		}
	}
}

// TestDDDSResolution resolves like an S-NAPTR and a U-NAPTR client
// (RFC 3958 §3, RFC 4848 §4): NAPTR, then SRV and A for flag S, or the
// regexp's URI and its host's A for flag U; every step is answered by
// poolnsd, directly and through unbound.
func TestDDDSResolution(t *testing.T) {
	t.Parallel()
	server := startSvcDaemon(t)
	resolver := startUnbound(t, "pool.example.", server)
	for _, via := range []string{server, resolver} {
		// S-NAPTR: service x-sip:udp of sip.pool.example.
		got := sNAPTRResolve(t, via, "sip.pool.example.", "x-sip:udp")
		if want := []string{"192.0.2.21:5062", "192.0.2.20:5060"}; !slices.Equal(got, want) {
			t.Errorf("S-NAPTR via %s: %v, want %v (SRV priority order)", via, got, want)
		}
		// U-NAPTR: service x-api:http of api.pool.example.
		got = uNAPTRResolve(t, via, "api.pool.example.", "x-api:http")
		if want := []string{"http://192.0.2.30:8080/v1", "http://192.0.2.31:8081/v1"}; !slices.Equal(got, want) {
			t.Errorf("U-NAPTR via %s: %v, want %v (preference order)", via, got, want)
		}
	}
}

// naptrFor returns the NAPTR records of name for service, in order and
// preference.
func naptrFor(t *testing.T, server, name, service string) []*dns.NAPTR {
	t.Helper()
	var out []*dns.NAPTR
	for _, rr := range exchange(t, server, name, dns.TypeNAPTR).Answer {
		if n, ok := rr.(*dns.NAPTR); ok && strings.EqualFold(n.Service, service) {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b *dns.NAPTR) int {
		if a.Order != b.Order {
			return int(a.Order) - int(b.Order)
		}
		return int(a.Preference) - int(b.Preference)
	})
	if len(out) == 0 {
		t.Fatalf("%s NAPTR: no record for %s", name, service)
	}
	return out
}

// aOf returns the A addresses of name.
func aOf(t *testing.T, server, name string) []string {
	t.Helper()
	var out []string
	for _, rr := range exchange(t, server, name, dns.TypeA).Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s A: no address", name)
	}
	return out
}

// sNAPTRResolve follows the S-NAPTR records of name for service to SRV
// and A records and returns the servers (address:port), in SRV order.
func sNAPTRResolve(t *testing.T, server, name, service string) []string {
	t.Helper()
	var out []string
	for _, n := range naptrFor(t, server, name, service) {
		if n.Flags != "S" {
			t.Fatalf("%s: flag %q, want S", n, n.Flags)
		}
		var srvs []*dns.SRV
		for _, rr := range exchange(t, server, n.Replacement, dns.TypeSRV).Answer {
			if s, ok := rr.(*dns.SRV); ok {
				srvs = append(srvs, s)
			}
		}
		slices.SortFunc(srvs, func(a, b *dns.SRV) int { return int(a.Priority) - int(b.Priority) })
		for _, s := range srvs {
			for _, a := range aOf(t, server, s.Target) {
				out = append(out, netip.AddrPortFrom(netip.MustParseAddr(a), s.Port).String())
			}
		}
		if len(out) > 0 {
			return out // the first matching record that resolves is used
		}
	}
	return out
}

// uNAPTRResolve applies the U-NAPTR records of name for service to name
// (the application unique string) and returns the URIs with each host
// resolved to its address, in preference order.
func uNAPTRResolve(t *testing.T, server, name, service string) []string {
	t.Helper()
	var out []string
	for _, n := range naptrFor(t, server, name, service) {
		if n.Flags != "U" || n.Replacement != "." {
			t.Fatalf("%s: want flag U and replacement .", n)
		}
		d := n.Regexp[:1]
		parts := strings.Split(n.Regexp, d)
		if len(parts) != 4 || parts[3] != "" {
			t.Fatalf("regexp %q: want DELIM ERE DELIM REPLACEMENT DELIM", n.Regexp)
		}
		re := regexp.MustCompile(parts[1])
		uri := re.ReplaceAllString(strings.TrimSuffix(name, "."), parts[2])
		u, err := url.Parse(uri)
		if err != nil || u.Scheme != "http" {
			t.Fatalf("U-NAPTR gives %q, not an http URI", uri)
		}
		u.Host = aOf(t, server, u.Hostname()+".")[0] + ":" + u.Port()
		out = append(out, u.String())
	}
	return out
}

// TestCheckSvcKeys: poolnsd check takes https= and naptr= and names a
// mistake in them with its file:line:col.
func TestCheckSvcKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "zones/pool.example.zone", svcZone)
	if stdout, stderr, code := runPoolnsd(t, dir, "check"); code != exitOK {
		t.Fatalf("check: exit %d\n%s%s", code, stdout, stderr)
	}
	writeFile(t, dir, "zones/pool.example.zone", strings.Replace(svcZone, "naptr=x-sip:udp,x-other", "naptr=x-sip:udp,,x", 1))
	_, stderr, code := runPoolnsd(t, dir, "check")
	if want := `zones/pool.example.zone:9:57: bad NAPTR services field ""`; code == exitOK || !strings.Contains(stderr, want) {
		t.Errorf("check: exit %d, stderr %q; want it to hold %q", code, stderr, want)
	}
}
