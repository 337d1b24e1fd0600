package dnsfront

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkServeUDP measures the whole UDP path in process, per query: a
// client socket on loopback sends a burst of 16 queries and reads their
// 16 replies, served by Start's server (one socket: its loop reads the
// burst in batches, answers each query and writes the replies in
// batches). The figure holds the loop's system calls and the client's
// own; under callgrind (bench/regress.sh), its instructions compare the
// serving machinery of two versions, which BenchmarkServeLoop (no socket)
// does not reach.
func BenchmarkServeUDP(b *testing.B) {
	srv, err := Start(Config{Listen: []string{"127.0.0.1:0"}, UDPSockets: 1, Logger: discardLog()}, newTestSpace(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	c, err := net.Dial("udp", srv.Addrs()[0].String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	const burst = 16
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"web.pool.test.", dns.TypeA}, {"_http._tcp.web.pool.test.", dns.TypeSRV}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.SetEdns0(1232, false)
		wire, _ := m.Pack()
		b.Run(fmt.Sprintf("%s/%s", q.name, dns.TypeToString[q.qtype]), func(b *testing.B) {
			before := srv.UDPStats()
			buf := make([]byte, 4096)
			c.SetDeadline(time.Now().Add(time.Minute))
			for i := 0; i < b.N; i += burst {
				n := min(burst, b.N-i)
				for range n {
					if _, err := c.Write(wire); err != nil {
						b.Fatal(err)
					}
				}
				for range n {
					if k, err := c.Read(buf); err != nil || k < len(wire) {
						b.Fatalf("reply: %d bytes, %v", k, err)
					}
				}
			}
			// How the loop batched: the system calls per query, which
			// the instructions per query depend on.
			st := srv.UDPStats()
			b.ReportMetric(float64(st.ReadCalls-before.ReadCalls)/float64(b.N), "reads/q")
			b.ReportMetric(float64(st.WriteCalls-before.WriteCalls)/float64(b.N), "writes/q")
		})
	}
}
