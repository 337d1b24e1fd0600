package dnsfront

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
)

// discard is a ResponseWriter that drops replies, for benchmarks.
type discard struct {
	recorder
	bytes int
}

var discardAddr = &net.UDPAddr{IP: net.IPv4(192, 0, 2, 200), Port: 40000}

func (d *discard) RemoteAddr() net.Addr        { return discardAddr }
func (d *discard) Write(b []byte) (int, error) { d.bytes = len(b); return len(b), nil }
func (d *discard) WriteMsg(m *dns.Msg) error   { b, err := m.Pack(); d.bytes = len(b); return err }

// serveCases are the questions of BenchmarkServe and BenchmarkServeLoop.
var serveCases = []struct {
	name  string
	qtype uint16
}{
	// nearest, from 192.0.2.200: fra's element first (site lookup).
	{"near.pool.test.", dns.TypeA},
	{"near.pool.test.", dns.TypeSRV},
	{"web.pool.test.", dns.TypeA},
	{"_http._tcp.web.pool.test.", dns.TypeSRV},
	{"api.pool.test.", dns.TypeSRV},
	{"w1.web.pool.test.", dns.TypeA},
	{"ns1.pool.test.", dns.TypeA},
	{"nothing.pool.test.", dns.TypeA},
}

// BenchmarkServe measures the handler alone (no sockets, no unpacking) per
// query type, with allocations: the part of a query's cost that poolnsd owns.
func BenchmarkServe(b *testing.B) {
	h := NewHandler(newTestSpace(b, nearPool()), Config{Sites: testSiteMap(b)})
	for _, c := range serveCases {
		m := new(dns.Msg)
		m.SetQuestion(c.name, c.qtype)
		m.SetEdns0(1232, false)
		b.Run(fmt.Sprintf("%s/%s", c.name, dns.TypeToString[c.qtype]), func(b *testing.B) {
			w := &discard{}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeDNS(w, m)
			}
			b.ReportMetric(float64(w.bytes), "bytes/reply")
		})
	}
}

// BenchmarkServeLoop measures the UDP loop's serving of one datagram in
// process (no socket): the query read from its bytes, looked up and
// answered into the batch's buffer, the path UDP queries take.
func BenchmarkServeLoop(b *testing.B) {
	h := NewHandler(newTestSpace(b, nearPool()), Config{Sites: testSiteMap(b)})
	u := loopFor(b, h)
	from := udpbatch.AddrFrom(netip.MustParseAddrPort("192.0.2.200:40000"), false)
	for _, c := range serveCases {
		m := new(dns.Msg)
		m.SetQuestion(c.name, c.qtype)
		m.SetEdns0(1232, false)
		q, _ := m.Pack()
		b.Run(fmt.Sprintf("%s/%s", c.name, dns.TypeToString[c.qtype]), func(b *testing.B) { benchLoopServe(b, u, q, from) })
	}
}

// BenchmarkServeSitesECS: a nearest answer for a query with an EDNS Client
// Subnet option (ams's), its site looked up and its scope set.
func BenchmarkServeSitesECS(b *testing.B) {
	h := NewHandler(newTestSpace(b, nearPool()), Config{Sites: testSiteMap(b)})
	m := new(dns.Msg)
	m.SetQuestion("near.pool.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 25, Address: net.IPv4(198, 51, 100, 0).To4()})
	w := &discard{}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeDNS(w, m)
	}
	b.ReportMetric(float64(w.bytes), "bytes/reply")
}

// BenchmarkServeLargePool: SRV and A answers from pools of 10, 1 000 and
// 100 000 elements (A carries 3; SRV over TCP carries all that fit 64 KiB).
func BenchmarkServeLargePool(b *testing.B) {
	for _, n := range []int{10, 1000, 100000} {
		h := NewHandler(bigSpace(b, n, 5), Config{})
		for _, qt := range []uint16{dns.TypeA, dns.TypeSRV} {
			m := new(dns.Msg)
			m.SetQuestion("big.pool.test.", qt)
			b.Run(fmt.Sprintf("n=%d/%s", n, dns.TypeToString[qt]), func(b *testing.B) {
				w := &discard{}
				b.ReportAllocs()
				for b.Loop() {
					h.ServeDNS(w, m)
				}
			})
		}
	}
}

// BenchmarkUDPLoop measures whole queries through the UDP loop over a real
// loopback socket: a client sends bursts of 16 queries and reads their
// replies. Allocations per query count the whole process (the client
// allocates nothing either); syscalls/q are the loop's own (recvmmsg and
// sendmmsg calls per query, those that read nothing included), with the
// loop waiting in its own recvmmsg (thread) and in Go's network poller.
func BenchmarkUDPLoop(b *testing.B) {
	for _, c := range []struct {
		name  string
		qtype uint16
	}{{"web.pool.test.", dns.TypeA}, {"_http._tcp.web.pool.test.", dns.TypeSRV}, {"ns1.pool.test.", dns.TypeA}} {
		for _, poller := range []bool{false, true} {
			wait := map[bool]string{false: "thread", true: "poller"}[poller]
			b.Run(fmt.Sprintf("%s/%s/%s", c.name, dns.TypeToString[c.qtype], wait), func(b *testing.B) { benchUDPLoop(b, c.name, c.qtype, poller) })
		}
	}
}

func benchUDPLoop(b *testing.B, name string, qtype uint16, poller bool) {
	srv, err := Start(Config{Listen: []string{"127.0.0.1:0"}, UDPSockets: 1, UDPPoller: poller, Logger: discardLog()}, newTestSpace(b))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(srv.Addrs()[0].String())))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, false)
	q, _ := m.Pack()
	buf := make([]byte, 4096)
	const burst = 16
	exchange := func(n int) {
		for i := 0; i < n; i++ {
			if _, err := conn.Write(q); err != nil {
				b.Fatal(err)
			}
		}
		for i := 0; i < n; i++ {
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := conn.Read(buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	exchange(burst) // warm up: packed material, name cache
	st0 := srv.UDPStats()
	b.ReportAllocs()
	b.ResetTimer()
	for n := b.N; n > 0; n -= burst {
		exchange(min(n, burst))
	}
	b.StopTimer()
	st := srv.UDPStats()
	msgs := st.ReadMsgs - st0.ReadMsgs
	if msgs > 0 {
		b.ReportMetric(float64(st.ReadCalls-st0.ReadCalls+st.EmptyReads-st0.EmptyReads+st.WriteCalls-st0.WriteCalls)/float64(msgs), "syscalls/q")
	}
}

// BenchmarkServeLoopCookie: the same pool answer through the UDP loop with
// the protections on (cookies, NSID, an ACL): to a query without a cookie,
// with a client cookie (a fresh server cookie is made), and with a valid
// server cookie (checked and echoed).
func BenchmarkServeLoopCookie(b *testing.B) {
	p := testProtections(b)
	h := NewHandler(newTestSpace(b), Config{Protect: p})
	u := loopFor(b, h)
	from := udpbatch.AddrFrom(netip.MustParseAddrPort("192.0.2.200:40000"), false)
	// A valid server cookie for the client cookie, as the server makes it.
	var cc [8]byte
	copy(cc[:], "abcdefgh")
	sc := p.Cookies.ServerCookie(&cc, netip.MustParseAddr("192.0.2.200"), time.Now())
	for _, c := range []struct{ name, cookie string }{
		{"none", ""}, {"client", hex.EncodeToString(cc[:])}, {"valid", hex.EncodeToString(cc[:]) + hex.EncodeToString(sc[:])},
	} {
		m := new(dns.Msg)
		m.SetQuestion("web.pool.test.", dns.TypeA)
		m.SetEdns0(1232, false)
		if c.cookie != "" {
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: c.cookie})
		}
		q, _ := m.Pack()
		b.Run(c.name, func(b *testing.B) {
			u.now = time.Now()
			benchLoopServe(b, u, q, from)
		})
	}
}
