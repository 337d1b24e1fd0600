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

// testZone and newTestSpace are hstest's test zone and its handlespace.
const testZone = hstest.Zone

// mustRRs and elem are hstest's, under the names these tests use.
var (
	mustRRs = hstest.RRs
	elem    = hstest.Elem
)

var newTestSpace = hstest.Space

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
