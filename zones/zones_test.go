package zones

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
)

// head is the start of most test zones: five lines, so that the lines a
// test adds start at line 6.
const head = `$ORIGIN pool.example.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 5
@ NS ns1
ns1 A 192.0.2.53
`

// mapFS makes a MapFS from name, content pairs.
func mapFS(kv ...string) fstest.MapFS {
	m := fstest.MapFS{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = &fstest.MapFile{Data: []byte(kv[i+1])}
	}
	return m
}

// mustParse parses z.zone (src) and checks that a fresh handlespace takes
// the result.
func mustParse(t *testing.T, fsys fstest.MapFS) *handlespace.ZoneDef {
	t.Helper()
	def, err := Parse(fsys, "z.zone")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if err := handlespace.New(handlespace.Options{}).ApplyZones([]handlespace.ZoneDef{*def}); err != nil {
		t.Fatalf("ApplyZones of a zone that Parse accepted: %v", err)
	}
	return def
}

func pool(t *testing.T, def *handlespace.ZoneDef, handle string) *handlespace.PoolDef {
	t.Helper()
	for i := range def.Pools {
		if def.Pools[i].Handle == handle {
			return &def.Pools[i]
		}
	}
	t.Fatalf("no pool %s in %+v", handle, def.Pools)
	return nil
}

func records(def *handlespace.ZoneDef) []string {
	var out []string
	for _, rr := range def.Records {
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	return out
}

func defaultProbe() handlespace.ProbeSpec {
	return handlespace.ProbeSpec{Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 2, Jitter: 0.1}
}

func TestParseBriefExample(t *testing.T) {
	src := `$ORIGIN pool.example.
$TTL 300
@      SOA ns1 hostmaster 1 3600 600 86400 5
@      NS  ns1
ns1    A   192.0.2.53

$POOL web policy=rr service=_http._tcp ttl=5 answers=3 probe=http:/healthz interval=1s timeout=300ms rise=2 fall=2
web    PE 10.0.0.1:8080 weight=10 site=fra
web    PE 10.0.0.2:8080 weight=20 site=ams loaddeg=0.05
web    PE [2001:db8::1]:8080 name=v6box
$POOL api
api    PE 192.0.2.10,[2001:db8::10]:443 prio=1      ; one element with two addresses
`
	def := mustParse(t, mapFS("z.zone", src))
	if def.Origin != "pool.example." || def.File != "z.zone" {
		t.Errorf("origin %q file %q", def.Origin, def.File)
	}
	want := []string{
		"pool.example. 300 IN SOA ns1.pool.example. hostmaster.pool.example. 1 3600 600 86400 5",
		"pool.example. 300 IN NS ns1.pool.example.",
		"ns1.pool.example. 300 IN A 192.0.2.53",
	}
	if got := records(def); !reflect.DeepEqual(got, want) {
		t.Errorf("records\n got %q\nwant %q", got, want)
	}
	web := pool(t, def, "web")
	wantSpec := handlespace.PoolSpec{Policy: "rr", Service: "_http._tcp", TTL: 5, Answers: 3,
		Probe: handlespace.ProbeSpec{Kind: "http", Target: "/healthz", Interval: time.Second, Timeout: 300 * time.Millisecond, Rise: 2, Fall: 2, Jitter: 0.1}}
	if web.Spec != wantSpec || web.Line != 7 {
		t.Errorf("web spec %+v line %d, want %+v line 7", web.Spec, web.Line, wantSpec)
	}
	a1, a2, a6 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("2001:db8::1")
	id1, id2, id6 := handlespace.ElementID(a1, 8080), handlespace.ElementID(a2, 8080), handlespace.ElementID(a6, 8080)
	wantElems := []*handlespace.Element{
		{ID: id1, Label: handlespace.LabelOf(handlespace.IDString(id1)), Addrs: handlespace.AddrsOf(a1), Port: 8080, Weight: 10, Site: handlespace.SiteNameOf("fra"), Static: true},
		{ID: id2, Label: handlespace.LabelOf(handlespace.IDString(id2)), Addrs: handlespace.AddrsOf(a2), Port: 8080, Weight: 20, Site: handlespace.SiteNameOf("ams"), LoadDeg: handlespace.LoadFromFraction(0.05), Static: true},
		{ID: id6, Label: handlespace.LabelOf("v6box"), Addrs: handlespace.AddrsOf(a6), Port: 8080, Weight: 1, Static: true},
	}
	if !reflect.DeepEqual(web.Elements, wantElems) {
		t.Errorf("web elements\n got %+v\nwant %+v", deref(web.Elements), deref(wantElems))
	}
	api := pool(t, def, "api")
	if want := (handlespace.PoolSpec{Policy: "rr", TTL: 5, Answers: 3, Probe: defaultProbe()}); api.Spec != want {
		t.Errorf("api spec %+v, want the defaults %+v", api.Spec, want)
	}
	b4, b6 := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")
	ida := handlespace.ElementID(b4, 443)
	wantAPI := []*handlespace.Element{{ID: ida, Label: handlespace.LabelOf(handlespace.IDString(ida)), Addrs: handlespace.AddrsOf(b4, b6), Port: 443, Weight: 1, Priority: 1, Static: true}}
	if !reflect.DeepEqual(api.Elements, wantAPI) {
		t.Errorf("api elements\n got %+v\nwant %+v", deref(api.Elements), deref(wantAPI))
	}
}

func deref(es []*handlespace.Element) []handlespace.Element {
	out := make([]handlespace.Element, len(es))
	for i, e := range es {
		out[i] = *e
	}
	return out
}

// TestPoolKeys checks every $POOL key and its default.
func TestPoolKeys(t *testing.T) {
	def := handlespace.DefaultPoolSpec()
	def.Probe = defaultProbe()
	with := func(f func(s *handlespace.PoolSpec)) handlespace.PoolSpec {
		s := def
		f(&s)
		return s
	}
	tests := []struct {
		args string
		want handlespace.PoolSpec
	}{
		{"", def},
		{"policy=rr", def},
		{"service=_http._tcp", with(func(s *handlespace.PoolSpec) { s.Service = "_http._tcp" })},
		{"service=_LDAP._UDP", with(func(s *handlespace.PoolSpec) { s.Service = "_ldap._udp" })},
		{"ttl=0", with(func(s *handlespace.PoolSpec) { s.TTL = 0 })},
		{"ttl=30", with(func(s *handlespace.PoolSpec) { s.TTL = 30 })},
		{"ttl=5s", with(func(s *handlespace.PoolSpec) { s.TTL = 5 })},
		{"ttl=1m", with(func(s *handlespace.PoolSpec) { s.TTL = 60 })},
		{"ttl=1h30m", with(func(s *handlespace.PoolSpec) { s.TTL = 5400 })},
		{"ttl=1.5h", with(func(s *handlespace.PoolSpec) { s.TTL = 5400 })},
		{"ttl=1w2d", with(func(s *handlespace.PoolSpec) { s.TTL = 9 * 86400 })},
		{"ttl=2147483647", with(func(s *handlespace.PoolSpec) { s.TTL = 2147483647 })},
		{"answers=1", with(func(s *handlespace.PoolSpec) { s.Answers = 1 })},
		{"answers=1000", with(func(s *handlespace.PoolSpec) { s.Answers = 1000 })},
		{"alldown=none", def},
		{"alldown=all", with(func(s *handlespace.PoolSpec) { s.AllDown = handlespace.AllDownAll })},
		{"service=_http._tcp uri=http://{name}:{port}/", with(func(s *handlespace.PoolSpec) {
			s.Service, s.URI = "_http._tcp", "http://{name}:{port}/"
		})},
		{`service=_http._tcp uri="https://{addr}:{port}/a;b?c={name}"`, with(func(s *handlespace.PoolSpec) {
			s.Service, s.URI = "_http._tcp", "https://{addr}:{port}/a;b?c={name}"
		})},
		{"probe=none", with(func(s *handlespace.PoolSpec) { s.Probe.Kind = "none" })},
		{"probe=tcp", with(func(s *handlespace.PoolSpec) { s.Probe.Kind = "tcp" })},
		{"probe=http", with(func(s *handlespace.PoolSpec) { s.Probe.Kind, s.Probe.Target = "http", "/" })},
		{"probe=http:/healthz?full=1", with(func(s *handlespace.PoolSpec) { s.Probe.Kind, s.Probe.Target = "http", "/healthz?full=1" })},
		{"probe=https:/", with(func(s *handlespace.PoolSpec) { s.Probe.Kind, s.Probe.Target = "https", "/" })},
		{"probe=dns:WWW.Example.com", with(func(s *handlespace.PoolSpec) { s.Probe.Kind, s.Probe.Target = "dns", "www.example.com." })},
		{"probe=dns:example.com.", with(func(s *handlespace.PoolSpec) { s.Probe.Kind, s.Probe.Target = "dns", "example.com." })},
		{"probe=tls", with(func(s *handlespace.PoolSpec) { s.Probe.Kind = "tls" })},
		{"probe=tls:API.example.com", with(func(s *handlespace.PoolSpec) { s.Probe.Kind, s.Probe.Target = "tls", "api.example.com" })},
		{"interval=100ms timeout=50ms", with(func(s *handlespace.PoolSpec) {
			s.Probe.Interval, s.Probe.Timeout = 100*time.Millisecond, 50*time.Millisecond
		})},
		{"interval=2s", with(func(s *handlespace.PoolSpec) { s.Probe.Interval = 2 * time.Second })},
		{"timeout=999ms", with(func(s *handlespace.PoolSpec) { s.Probe.Timeout = 999 * time.Millisecond })},
		{"rise=1 fall=5", with(func(s *handlespace.PoolSpec) { s.Probe.Rise, s.Probe.Fall = 1, 5 })},
		{"jitter=0", with(func(s *handlespace.PoolSpec) { s.Probe.Jitter = 0 })},
		{"jitter=25%", with(func(s *handlespace.PoolSpec) { s.Probe.Jitter = 0.25 })},
		{"jitter=0.5", with(func(s *handlespace.PoolSpec) { s.Probe.Jitter = 0.5 })},
		{"probe=http:/ready#200,3xx,body=ok%20now,host=WWW.example.com", with(func(s *handlespace.PoolSpec) {
			s.Probe.Kind, s.Probe.Target = "http", "/ready#200,3xx,body=ok%20now,host=WWW.example.com"
		})},
		{"probe=dns:Probe.Example#NXDOMAIN,type=aaaa", with(func(s *handlespace.PoolSpec) {
			s.Probe.Kind, s.Probe.Target = "dns", "probe.example.#NXDOMAIN,type=aaaa"
		})},
		{"policy=lu-dpf", with(func(s *handlespace.PoolSpec) { s.Policy = "lu-dpf" })},
		{"policy=wrand-dpf dpf=0.5% distancestep=10ms", with(func(s *handlespace.PoolSpec) {
			s.Policy, s.DPF, s.DistanceStep = "wrand-dpf", handlespace.LoadFromFraction(0.005), 10*time.Millisecond
		})},
		{"distancestep=1m dpf=0.0000001 policy=plud-dpf", with(func(s *handlespace.PoolSpec) {
			s.Policy, s.DPF, s.DistanceStep = "plud-dpf", handlespace.LoadFromFraction(1e-7), time.Minute
		})},
		{"policy=lud-dpf dpf=1", with(func(s *handlespace.PoolSpec) { s.Policy, s.DPF = "lud-dpf", handlespace.LoadFull })},
		{"( policy=rr\n ttl=7 ) ; split over lines", with(func(s *handlespace.PoolSpec) { s.TTL = 7 })},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			d := mustParse(t, mapFS("z.zone", head+"$POOL web "+tt.args+"\n"))
			if got := pool(t, d, "web").Spec; got != tt.want {
				t.Errorf("spec\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestPolicies checks that every policy handlespace knows is accepted.
func TestPolicies(t *testing.T) {
	for _, name := range handlespace.PolicyNames() {
		d := mustParse(t, mapFS("z.zone", head+"$POOL web policy="+name+"\nweb PE 192.0.2.1:80\n"))
		if got := pool(t, d, "web").Spec.Policy; got != name {
			t.Errorf("policy=%s: got %s", name, got)
		}
	}
}

// TestPEKeys checks every PE key and its default.
func TestPEKeys(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	id := handlespace.ElementID(a, 80)
	def := handlespace.Element{ID: id, Label: handlespace.LabelOf(handlespace.IDString(id)), Addrs: handlespace.AddrsOf(a), Port: 80, Weight: 1, Static: true}
	with := func(f func(e *handlespace.Element)) handlespace.Element {
		e := def
		f(&e)
		return e
	}
	tests := []struct {
		line string
		want handlespace.Element
	}{
		{"web PE 192.0.2.1:80", def},
		{"web 60 PE 192.0.2.1:80", def},
		{"web IN PE 192.0.2.1:80", def},
		{"web 60 in pe 192.0.2.1:80", def},
		{"WEB.Pool.Example. PE 192.0.2.1:80", def},
		{"web PE 192.0.2.1:80 weight=0", with(func(e *handlespace.Element) { e.Weight = 0 })},
		{"web PE 192.0.2.1:80 weight=4294967295", with(func(e *handlespace.Element) { e.Weight = 4294967295 })},
		{"web PE 192.0.2.1:80 prio=7", with(func(e *handlespace.Element) { e.Priority = 7 })},
		{"web PE 192.0.2.1:80 load=0.5", with(func(e *handlespace.Element) { e.Load = handlespace.LoadFromFraction(0.5) })},
		{"web PE 192.0.2.1:80 load=35%", with(func(e *handlespace.Element) { e.Load = handlespace.LoadFromFraction(0.35) })},
		{"web PE 192.0.2.1:80 load=1", with(func(e *handlespace.Element) { e.Load = handlespace.LoadFull })},
		{"web PE 192.0.2.1:80 load=100%", with(func(e *handlespace.Element) { e.Load = handlespace.LoadFull })},
		{"web PE 192.0.2.1:80 loaddeg=.05", with(func(e *handlespace.Element) { e.LoadDeg = handlespace.LoadFromFraction(0.05) })},
		{"web PE 192.0.2.1:80 loaddeg=0%", def},
		{"web PE 192.0.2.1:80 site=FRA-1", with(func(e *handlespace.Element) { e.Site = handlespace.SiteNameOf("fra-1") })},
		{"web PE 192.0.2.1:80 name=Box-1", with(func(e *handlespace.Element) { e.Label = handlespace.LabelOf("box-1") })},
		{"web PE 192.0.2.1:80 transport=udp", with(func(e *handlespace.Element) { e.Transport = handlespace.TransportUDP })},
		{"web PE 192.0.2.1:80 transport=sctp", with(func(e *handlespace.Element) { e.Transport = handlespace.TransportSCTP })},
		{"web PE 192.0.2.1:80 transport=tcp", def},
		{"web PE 192.0.2.1,10.0.0.1:80", with(func(e *handlespace.Element) { e.Addrs = handlespace.AddrsOf(a, netip.MustParseAddr("10.0.0.1")) })},
		{"web PE 192.0.2.1,[2001:DB8::1]:80", with(func(e *handlespace.Element) { e.Addrs = handlespace.AddrsOf(a, netip.MustParseAddr("2001:db8::1")) })},
		{"web PE 192.0.2.1:80 (\n weight=2\n prio=3 )", with(func(e *handlespace.Element) { e.Weight, e.Priority = 2, 3 })},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			d := mustParse(t, mapFS("z.zone", head+"$POOL web\n"+tt.line+"\n"))
			es := pool(t, d, "web").Elements
			if len(es) != 1 || !reflect.DeepEqual(*es[0], tt.want) {
				t.Errorf("elements\n got %+v\nwant %+v", deref(es), tt.want)
			}
		})
	}
	// IPv6 first: the ID comes from the first address.
	d := mustParse(t, mapFS("z.zone", head+"$POOL web\nweb PE [2001:db8::1],192.0.2.1:80\n"))
	if got, want := pool(t, d, "web").Elements[0].ID, handlespace.ElementID(netip.MustParseAddr("2001:db8::1"), 80); got != want {
		t.Errorf("id %x, want %x", got, want)
	}
}

// TestMasterFile checks the RFC 1035 parts: $ORIGIN, $TTL, owners,
// parentheses, comments, escapes, quoting, TTL and class fields.
func TestMasterFile(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // the records after the head's three
	}{
		{"relative and absolute names", head + "www A 192.0.2.1\nwww.pool.example. A 192.0.2.2\n@ TXT x\n",
			[]string{"www.pool.example. 300 IN A 192.0.2.1", "www.pool.example. 300 IN A 192.0.2.2", `pool.example. 300 IN TXT "x"`}},
		{"blank owner", head + "www A 192.0.2.1\n  A 192.0.2.2\n\tAAAA 2001:db8::1\n",
			[]string{"www.pool.example. 300 IN A 192.0.2.1", "www.pool.example. 300 IN A 192.0.2.2", "www.pool.example. 300 IN AAAA 2001:db8::1"}},
		{"blank owner after a comment and blank lines", head + "www A 192.0.2.1\n\n; note\n   ; note\n  A 192.0.2.2\n",
			[]string{"www.pool.example. 300 IN A 192.0.2.1", "www.pool.example. 300 IN A 192.0.2.2"}},
		{"blank owner after $ORIGIN keeps the absolute owner", head + "www A 192.0.2.1\n$ORIGIN sub.pool.example.\n  A 192.0.2.2\nx A 192.0.2.3\n",
			[]string{"www.pool.example. 300 IN A 192.0.2.1", "www.pool.example. 300 IN A 192.0.2.2", "x.sub.pool.example. 300 IN A 192.0.2.3"}},
		{"relative $ORIGIN", head + "$ORIGIN sub\nx A 192.0.2.3\n$ORIGIN deep\ny A 192.0.2.4\n",
			[]string{"x.sub.pool.example. 300 IN A 192.0.2.3", "y.deep.sub.pool.example. 300 IN A 192.0.2.4"}},
		{"rdata names are relative to $ORIGIN", head + "$ORIGIN sub.pool.example.\nx CNAME y\nz MX 10 @\n",
			[]string{"x.sub.pool.example. 300 IN CNAME y.sub.pool.example.", "z.sub.pool.example. 300 IN MX 10 sub.pool.example."}},
		{"$TTL changes", head + "$TTL 1h\na A 192.0.2.1\n$TTL 0\nb A 192.0.2.2\n",
			[]string{"a.pool.example. 3600 IN A 192.0.2.1", "b.pool.example. 0 IN A 192.0.2.2"}},
		{"TTL and class in either order", head + "a 60 IN A 192.0.2.1\nb IN 61 A 192.0.2.2\nc 1d A 192.0.2.3\nd in a 192.0.2.4\n",
			[]string{"a.pool.example. 60 IN A 192.0.2.1", "b.pool.example. 61 IN A 192.0.2.2", "c.pool.example. 86400 IN A 192.0.2.3", "d.pool.example. 300 IN A 192.0.2.4"}},
		{"no $TTL: the last TTL written", "$ORIGIN pool.example.\n@ 600 SOA ns1 hostmaster 1 3600 600 86400 5\n@ NS ns1\nns1 60 A 192.0.2.53\nns2 A 192.0.2.54\n", nil},
		{"parentheses and comments", head + "txt TXT ( \"one\" ; first\n \"two\" ; second\n \"three\" )\nnext A 192.0.2.9\n",
			[]string{`txt.pool.example. 300 IN TXT "one" "two" "three"`, "next.pool.example. 300 IN A 192.0.2.9"}},
		{"quoted semicolons and parentheses", head + "txt TXT \"a;b (c)\" x\\;y\n",
			[]string{`txt.pool.example. 300 IN TXT "a;b (c)" "x;y"`}},
		{"mixed case keeps static names as written", head + "WWW.Pool.Example. A 192.0.2.1\nMail mx 10 Mail\n",
			[]string{"WWW.Pool.Example. 300 IN A 192.0.2.1", "Mail.pool.example. 300 IN MX 10 Mail.pool.example."}},
		{"generic type", head + "x TYPE65000 \\# 2 abcd\n",
			[]string{`x.pool.example. 300 CLASS1 TYPE65000 \# 2 abcd`}}, // miekg/dns prints class IN so
		{"SRV, CAA, wildcard, delegation", head + "_ldap._tcp SRV 0 0 389 ns1\n@ CAA 0 issue \"ca.example\"\n*.wild A 192.0.2.7\nsub NS ns.other.example.\n",
			[]string{"_ldap._tcp.pool.example. 300 IN SRV 0 0 389 ns1.pool.example.", `pool.example. 300 IN CAA 0 issue "ca.example"`, "*.wild.pool.example. 300 IN A 192.0.2.7", "sub.pool.example. 300 IN NS ns.other.example."}},
		{"CRLF line ends", strings.ReplaceAll(head+"a A 192.0.2.1\n", "\n", "\r\n"),
			[]string{"a.pool.example. 300 IN A 192.0.2.1"}},
		{"no final newline", head + "a A 192.0.2.1", []string{"a.pool.example. 300 IN A 192.0.2.1"}},
		{"directive in lower case", head + "$ttl 60\na A 192.0.2.1\n", []string{"a.pool.example. 60 IN A 192.0.2.1"}},
		{"SOA over lines", "$TTL 60\n$ORIGIN Pool.Example.\n@ SOA ns1 hostmaster (\n 1 ; serial\n 3600 600\n 86400 5 )\n NS ns1\nns1 A 192.0.2.53\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, mapFS("z.zone", tt.src))
			got := records(d)[3:]
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("records\n got %q\nwant %q", got, tt.want)
			}
		})
	}
	d := mustParse(t, mapFS("z.zone", "$ORIGIN pool.example.\n@ 600 SOA ns1 hostmaster 1 3600 600 86400 5\n@ NS ns1\nns1 60 A 192.0.2.53\nns2 A 192.0.2.54\n"))
	if got := records(d); got[1] != "pool.example. 600 IN NS ns1.pool.example." || got[3] != "ns2.pool.example. 60 IN A 192.0.2.54" {
		t.Errorf("last TTL: %q", got)
	}
	d = mustParse(t, mapFS("z.zone", "$TTL 60\n$ORIGIN Pool.Example.\n@ SOA ns1 hostmaster (\n 1 ; serial\n 3600 600\n 86400 5 )\n NS ns1\nns1 A 192.0.2.53\n"))
	if d.Origin != "pool.example." {
		t.Errorf("origin %q, want it lower case", d.Origin)
	}
}

// TestPoolNames checks handles: relative, absolute, mixed case, $ORIGIN
// changes, blank owners after $POOL.
func TestPoolNames(t *testing.T) {
	tests := []struct {
		name, src string
		handles   []string
		elems     []int
	}{
		{"relative", head + "$POOL web\nweb PE 192.0.2.1:80\n", []string{"web"}, []int{1}},
		{"absolute", head + "$POOL web.pool.example.\nweb.pool.example. PE 192.0.2.1:80\n", []string{"web"}, []int{1}},
		{"mixed case", head + "$POOL Web_1\nWEB_1 PE 192.0.2.1:80\nweb_1.POOL.example. PE 192.0.2.2:80\n", []string{"web_1"}, []int{2}},
		{"@ under another $ORIGIN", head + "$ORIGIN api.pool.example.\n$POOL @\n@ PE 192.0.2.1:80\n", []string{"api"}, []int{1}},
		{"blank owner after $POOL", head + "$POOL web\n  PE 192.0.2.1:80\n  PE 192.0.2.2:80\n$POOL api\n\tPE 192.0.2.3:80\n", []string{"web", "api"}, []int{2, 1}},
		{"pool without elements", head + "$POOL web\n", []string{"web"}, []int{0}},
		{"static records beside pools", head + "$POOL web\nwww CNAME web\nweb PE 192.0.2.1:80\nwebx A 192.0.2.2\n", []string{"web"}, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, mapFS("z.zone", tt.src))
			var hs []string
			var ns []int
			for _, p := range d.Pools {
				hs = append(hs, p.Handle)
				ns = append(ns, len(p.Elements))
			}
			if !reflect.DeepEqual(hs, tt.handles) || !reflect.DeepEqual(ns, tt.elems) {
				t.Errorf("pools %v with %v elements, want %v with %v", hs, ns, tt.handles, tt.elems)
			}
		})
	}
}

func TestInclude(t *testing.T) {
	fsys := mapFS(
		"z.zone", "$ORIGIN pool.example.\n$TTL 300\n$INCLUDE inc/soa.inc\n$INCLUDE inc/pools.inc\n$INCLUDE inc/sub.inc sub\nafter A 192.0.2.9\n",
		"inc/soa.inc", "@ SOA ns1 hostmaster 1 3600 600 86400 5\n@ NS ns1\nns1 A 192.0.2.53\n",
		"inc/pools.inc", "$TTL 60 ; stays in here\n$POOL web\nweb PE 192.0.2.1:80\nwww A 192.0.2.2\n",
		"inc/sub.inc", "x A 192.0.2.3\n$ORIGIN other.pool.example.\ny A 192.0.2.4\n",
	)
	d := mustParse(t, fsys)
	want := []string{
		"pool.example. 300 IN SOA ns1.pool.example. hostmaster.pool.example. 1 3600 600 86400 5",
		"pool.example. 300 IN NS ns1.pool.example.",
		"ns1.pool.example. 300 IN A 192.0.2.53",
		"www.pool.example. 60 IN A 192.0.2.2",
		"x.sub.pool.example. 300 IN A 192.0.2.3",
		"y.other.pool.example. 300 IN A 192.0.2.4",
		"after.pool.example. 300 IN A 192.0.2.9", // $ORIGIN and $TTL are back
	}
	if got := records(d); !reflect.DeepEqual(got, want) {
		t.Errorf("records\n got %q\nwant %q", got, want)
	}
	if p := pool(t, d, "web"); len(p.Elements) != 1 || p.Line != 2 {
		t.Errorf("pool web: %d elements, line %d", len(p.Elements), p.Line)
	}
	// A PE in the top file for a pool of an included file.
	fsys = mapFS("z.zone", head+"$INCLUDE p.inc\nweb PE 192.0.2.1:80\n", "p.inc", "$POOL web\n")
	if p := pool(t, mustParse(t, fsys), "web"); len(p.Elements) != 1 {
		t.Errorf("pool web: %d elements", len(p.Elements))
	}
	// Nesting up to the limit works.
	fsys = mapFS("z.zone", head+"$INCLUDE i1\n")
	for i := 1; i <= MaxIncludeDepth; i++ {
		next := ""
		if i < MaxIncludeDepth {
			next = "$INCLUDE i" + string(rune('0'+i+1)) + "\n"
		}
		fsys["i"+string(rune('0'+i))] = &fstest.MapFile{Data: []byte(next + "a" + string(rune('0'+i)) + " A 192.0.2.1\n")}
	}
	if d := mustParse(t, fsys); len(d.Records) != 3+MaxIncludeDepth {
		t.Errorf("%d records, want %d", len(d.Records), 3+MaxIncludeDepth)
	}
}

func TestParseDoesNotModifyCaseOfRdata(t *testing.T) {
	d := mustParse(t, mapFS("z.zone", head+"t TXT \"MiXeD\"\n"))
	if got := d.Records[3].(*dns.TXT).Txt[0]; got != "MiXeD" {
		t.Errorf("TXT %q", got)
	}
}

func TestErrorType(t *testing.T) {
	_, err := Parse(mapFS("z.zone", head+"x BOGUS 1\n"), "z.zone")
	var ze *Error
	if !errors.As(err, &ze) || ze.File != "z.zone" || ze.Line != 6 || ze.Col != 3 {
		t.Fatalf("error %#v", err)
	}
}

// writeDir makes a directory with the given files.
func writeDir(t *testing.T, kv ...string) string {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i+1 < len(kv); i += 2 {
		p := filepath.Join(dir, filepath.FromSlash(kv[i]))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(kv[i+1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func zoneText(origin string) string {
	return "$ORIGIN " + origin + "\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 5\n@ NS ns1\nns1 A 192.0.2.53\n"
}

func TestLoadDir(t *testing.T) {
	dir := writeDir(t,
		"b.zone", zoneText("b.example.")+"$INCLUDE inc/web.inc\n",
		"a.zone", zoneText("a.example."),
		"inc/web.inc", "$POOL web\nweb PE 192.0.2.1:80\n",
		"zones.go", "package zones\n",
		"notes.txt", "not a zone\n",
		"sub/c.zone", "not read: in a subdirectory\n",
		"x.zone.bak", "not a zone\n",
	)
	if err := os.Mkdir(filepath.Join(dir, "d.zone"), 0o755); err != nil { // a directory, not a file
		t.Fatal(err)
	}
	defs, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range defs {
		got = append(got, d.Origin+" "+d.File)
	}
	want := []string{"a.example. " + filepath.Join(dir, "a.zone"), "b.example. " + filepath.Join(dir, "b.zone")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if err := handlespace.New(handlespace.Options{}).ApplyZones(defs); err != nil {
		t.Errorf("ApplyZones: %v", err)
	}
	if len(defs) == 2 && len(defs[1].Pools) != 1 {
		t.Errorf("pools of b: %+v", defs[1].Pools)
	}
}

// TestLoadDirEscapedDots: a zone's parent is found label by label, a dot
// inside an escaped label (`a\.b`) being no label's end: the zone
// `a\.b.pool.example.` is beside pool b of pool.example., not inside it
// (the label `a.b` is a child of pool.example.).
func TestLoadDirEscapedDots(t *testing.T) {
	dir := writeDir(t,
		"a.zone", zoneText("pool.example.")+"$POOL b\nb PE 192.0.2.1:80\n",
		"b.zone", zoneText(`a\.b.pool.example.`),
	)
	defs, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range defs {
		got = append(got, d.Origin)
	}
	if want := []string{"pool.example.", `a\.b.pool.example.`}; !reflect.DeepEqual(got, want) {
		t.Errorf("origins %q, want %q", got, want)
	}
}

func TestLoadDirErrors(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  string // DIR stands for the directory
	}{
		{"empty", nil, "no *.zone files in DIR; want at least one zone file named NAME.zone there"},
		{"no zone files", []string{"a.txt", "x"}, "no *.zone files in DIR; want at least one zone file named NAME.zone there"},
		{"same origin twice", []string{"a.zone", zoneText("pool.example."), "b.zone", zoneText("Pool.Example.")},
			"DIR/b.zone:3:1: zone pool.example. is already defined in DIR/a.zone:3; want each zone in one file"},
		{"errors of several files, joined", []string{
			"a.zone", zoneText("a.example.") + "x BOGUS 1\n",
			"b.zone", zoneText("b.example."),
			"c.zone", zoneText("c.example.") + "$INCLUDE inc/c.inc\n",
			"inc/c.inc", "\n$POOL web policy=nope\n",
		}, "DIR/a.zone:6:3: unknown record type \"BOGUS\"; want a type such as A, AAAA, NS, TXT, SRV or PE\n" +
			"DIR/inc/c.inc:2:18: " + policyError("nope")},
		{"zone inside a pool", []string{"a.zone", zoneText("pool.example.") + "$POOL web\n", "b.zone", zoneText("x.web.pool.example.")},
			"DIR/b.zone:3:1: zone x.web.pool.example. is inside pool web of zone pool.example. (DIR/a.zone:6); want zones outside the names of pools"},
		{"zone inside a pool, its label escaped", []string{"a.zone", zoneText("pool.example.") + "$POOL web\n", "b.zone", zoneText(`x\.y.web.pool.example.`)},
			`DIR/b.zone:3:1: zone x\.y.web.pool.example. is inside pool web of zone pool.example. (DIR/a.zone:6); want zones outside the names of pools`},
		{"include escapes", []string{"a.zone", zoneText("pool.example.") + "$INCLUDE ../secret\n"},
			`DIR/a.zone:6:10: $INCLUDE path "../secret" is not inside the zones directory; want a relative path such as inc/web.inc, without .. or a leading /`},
		{"absolute include", []string{"a.zone", zoneText("pool.example.") + "$INCLUDE /etc/passwd\n"},
			`DIR/a.zone:6:10: $INCLUDE path "/etc/passwd" is not inside the zones directory; want a relative path such as inc/web.inc, without .. or a leading /`},
		{"missing include", []string{"a.zone", zoneText("pool.example.") + "$INCLUDE nope.inc\n"},
			`DIR/a.zone:6:10: cannot read $INCLUDE file "nope.inc": no such file or directory; want a readable file in the zones directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, tt.files...)
			_, err := LoadDir(dir)
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			if err == nil || err.Error() != want {
				t.Errorf("error\n got %v\nwant %s", err, want)
			}
		})
	}
	_, err := LoadDir(filepath.Join(t.TempDir(), "missing"))
	if err == nil || !strings.HasSuffix(err.Error(), "missing: cannot read the directory: no such file or directory; want a directory of *.zone files") {
		t.Errorf("missing dir: %v", err)
	}
}

func TestLoadPaths(t *testing.T) {
	dir := writeDir(t,
		"a.zone", zoneText("a.example."),
		"b.zone", zoneText("b.example."),
		"other/c.conf", zoneText("c.example.")+"$INCLUDE inc.txt\n",
		"other/inc.txt", "x A 192.0.2.1\n",
	)
	defs, err := LoadPaths(dir, filepath.Join(dir, "other", "c.conf"), filepath.Join(dir, "a.zone"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range defs {
		got = append(got, d.Origin)
	}
	if want := []string{"a.example.", "b.example.", "c.example."}; !reflect.DeepEqual(got, want) {
		t.Errorf("origins %v, want %v (a.zone read once)", got, want)
	}
	if err := handlespace.New(handlespace.Options{}).ApplyZones(defs); err != nil {
		t.Errorf("ApplyZones: %v", err)
	}
	missing := filepath.Join(dir, "nope.zone")
	_, err = LoadPaths(missing)
	if want := missing + ": cannot read: no such file or directory; want a zone file or a directory of them"; err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
	bad := writeDir(t, "bad.zone", zoneText("bad.example.")+"x A 1.2.3.400\n")
	_, err = LoadPaths(filepath.Join(bad, "bad.zone"))
	if want := filepath.Join(bad, "bad.zone") + `:6:5: bad A record: bad A A "1.2.3.400"; want an IPv4 address`; err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
	if _, err := LoadPaths(); err == nil {
		t.Error("LoadPaths() without paths: no error")
	}
}

// TestExampleZone loads this package's directory, as `poolnsd serve` does
// on its defaults, and serves it.
func TestExampleZone(t *testing.T) {
	var missing []string
	for _, p := range []string{"rr", "wrr", "prio", "lu"} {
		if !slices.Contains(handlespace.PolicyNames(), p) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Skipf("handlespace lacks the policies %v that example.zone uses", missing)
	}
	defs, err := LoadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) != 1 || defs[0].Origin != "pool.example." || defs[0].File != "example.zone" {
		t.Fatalf("defs %+v", defs)
	}
	var hs []string
	for _, p := range defs[0].Pools {
		hs = append(hs, p.Handle+"/"+p.Spec.Policy)
		for _, e := range p.Elements {
			if e.Label.String() == handlespace.IDString(e.ID) {
				t.Errorf("element %s of %s has no name=", e.Label.String(), p.Handle)
			}
		}
	}
	if want := []string{"web/rr", "api/wrr", "db/prio", "edge/lu"}; !reflect.DeepEqual(hs, want) {
		t.Errorf("pools %v, want %v", hs, want)
	}
	hsp := handlespace.New(handlespace.Options{})
	if err := hsp.ApplyZones(defs); err != nil {
		t.Fatal(err)
	}
	for _, p := range defs[0].Pools {
		if p.Spec.Probe.Probed() {
			t.Errorf("pool %s has a probe", p.Handle)
		}
		v := hsp.View().Zone("pool.example.").Pool(p.Handle)
		if v.All.Len() != len(p.Elements) {
			t.Errorf("pool %s serves %d of %d elements", p.Handle, v.All.Len(), len(p.Elements))
		}
	}
}

// TestExampleZoneSyntax checks example.zone's syntax even while handlespace
// lacks some of its policies.
func TestExampleZoneSyntax(t *testing.T) {
	src, err := os.ReadFile("example.zone")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(mapFS("example.zone", string(src)), "example.zone")
	if err != nil && !strings.Contains(err.Error(), "unknown policy") {
		t.Fatal(err)
	}
}
