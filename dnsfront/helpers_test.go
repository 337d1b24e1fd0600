package dnsfront

import (
	"context"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/hstest"
)

// recorder is a dns.ResponseWriter that keeps the reply. Replies written as
// bytes (the fast path) are unpacked, so every test also checks that what the
// fast path packs is a well-formed message.
type recorder struct {
	tcp   bool
	raddr net.Addr
	msg   *dns.Msg
	raw   []byte
	err   error
	n     int

	onWrite func() // when set, called as a reply is written, before it is kept
}

func newRecorder(tcp bool) *recorder {
	r := &recorder{tcp: tcp}
	if tcp {
		r.raddr = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 200), Port: 40000}
	} else {
		r.raddr = &net.UDPAddr{IP: net.IPv4(192, 0, 2, 200), Port: 40000}
	}
	return r
}

func (r *recorder) LocalAddr() net.Addr  { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (r *recorder) RemoteAddr() net.Addr { return r.raddr }
func (r *recorder) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		r.err = err
		return err
	}
	_, err = r.Write(b)
	return err
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.onWrite != nil {
		r.onWrite()
	}
	r.n++
	r.raw = append([]byte(nil), b...)
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		r.err = err
		return 0, err
	}
	r.msg = m
	return len(b), nil
}
func (r *recorder) Close() error        { return nil }
func (r *recorder) TsigStatus() error   { return nil }
func (r *recorder) TsigTimersOnly(bool) {}
func (r *recorder) Hijack()             {}

var _ dns.ResponseWriter = (*recorder)(nil)

const testZone = `$ORIGIN pool.test.
@      3600 IN SOA ns1.pool.test. hostmaster.pool.test. 1 3600 600 86400 30
@      3600 IN NS  ns1.pool.test.
ns1    3600 IN A   192.0.2.53
ns1    3600 IN AAAA 2001:db8::53
www    300  IN CNAME txt.pool.test.
alias  300  IN CNAME web.pool.test.
gone   300  IN CNAME nope.web.pool.test.
mail   300  IN MX  10 mx1.pool.test.
mx1    300  IN A   192.0.2.25
txt    300  IN TXT "hello"
a.b.deep 300 IN TXT "deep"
*.wild 300  IN TXT "wild"
sub    300  IN NS  ns.sub.pool.test.
ns.sub 300  IN A   192.0.2.99
`

// mustRRs and elem are hstest's, under the names these tests use.
var (
	mustRRs = hstest.RRs
	elem    = hstest.Elem
)

// newTestSpace builds the handlespace the handler tests query: pool.test.
// with static records and pools web (rr, 4 elements, one dual-stack), api
// (wrr), dead (all down, fails closed) and open (all down, fails open).
func newTestSpace(t testing.TB, extra ...handlespace.PoolDef) *handlespace.Handlespace {
	t.Helper()
	hs := handlespace.New(handlespace.Options{RegistrarID: 7})
	spec := func(policy string) handlespace.PoolSpec {
		s := handlespace.DefaultPoolSpec()
		s.Policy = policy
		return s
	}
	web := spec("rr")
	web.Service = "_http._tcp"
	web.URI = "http://{name}:{port}/"
	open := spec("rr")
	open.AllDown = handlespace.AllDownAll
	def := handlespace.ZoneDef{
		Origin: "pool.test.", File: "test.zone", Records: mustRRs(t, testZone),
		Pools: []handlespace.PoolDef{
			{Handle: "web", Spec: web, Elements: []*handlespace.Element{
				elem("w1", "10.0.0.1", 8080, 1), elem("w2", "10.0.0.2", 8080, 1),
				elem("w3", "10.0.0.3", 8080, 1), elem("w4", "10.0.0.4,2001:db8::4", 8080, 1),
			}},
			{Handle: "api", Spec: spec("wrr"), Elements: []*handlespace.Element{
				elem("a1", "10.0.1.1", 443, 10), elem("a2", "10.0.1.2", 443, 20),
			}},
			{Handle: "dead", Spec: spec("rr"), Elements: []*handlespace.Element{elem("d1", "10.0.2.1", 80, 1)}},
			{Handle: "open", Spec: open, Elements: []*handlespace.Element{elem("o1", "10.0.3.1", 80, 1)}},
		},
	}
	def.Pools = append(def.Pools, extra...)
	if err := hs.ApplyZones([]handlespace.ZoneDef{def}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"dead.pool.test.", "open.pool.test."} {
		pv := hs.View().Zone("pool.test.").Pool(strings.Split(p, ".")[0])
		if err := hs.Update(p, pv.Elements()[0].ID, func(x *handlespace.Element) { x.Health = handlespace.HealthDown }); err != nil {
			t.Fatal(err)
		}
	}
	return hs
}

// query sends one question through h and returns the reply.
func query(t testing.TB, h *Handler, name string, qtype uint16, tcp bool, edns int) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if edns > 0 {
		m.SetEdns0(uint16(edns), false)
	}
	w := newRecorder(tcp)
	h.ServeDNS(w, m)
	if w.err != nil {
		t.Fatalf("%s %s: reply does not unpack: %v", name, dns.TypeToString[qtype], w.err)
	}
	if w.n != 1 || w.msg == nil {
		t.Fatalf("%s %s: %d replies written, want 1", name, dns.TypeToString[qtype], w.n)
	}
	if w.msg.Id != m.Id || !w.msg.Response {
		t.Fatalf("%s: reply ID %d response %v, want ID %d and QR", name, w.msg.Id, w.msg.Response, m.Id)
	}
	return w.msg
}

// sectionText renders a section as sorted zone-file lines (ignoring order).
func sectionText(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	sort.Strings(out)
	return out
}

func normalise(lines []string) []string {
	var out []string
	for _, l := range lines {
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	sort.Strings(out)
	return out
}

// serveTest starts a server of hs with cfg on a loopback port (one UDP
// socket unless cfg says otherwise), shut down at the end of the test, and
// returns its address and the server.
func serveTest(t *testing.T, cfg Config, hs *handlespace.Handlespace) (string, *Server) {
	t.Helper()
	if cfg.Listen == nil {
		cfg.Listen = []string{"127.0.0.1:0"}
	}
	if cfg.UDPSockets == 0 {
		cfg.UDPSockets = 1
	}
	srv, err := Start(cfg, hs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv.Addrs()[0].String(), srv
}

// subnetOption returns a reply's EDNS Client Subnet option, if any.
func subnetOption(opt *dns.OPT) *dns.EDNS0_SUBNET {
	if opt == nil {
		return nil
	}
	for _, o := range opt.Option {
		if s, ok := o.(*dns.EDNS0_SUBNET); ok {
			return s
		}
	}
	return nil
}
