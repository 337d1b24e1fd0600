package dnsfront

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/updatetest"
	"github.com/poolnsd/poolnsd/regcommit"
)

// BenchmarkUpdateUDP measures one TSIG-signed DNS UPDATE through Start's
// server over a loopback UDP socket, with the real registrar and a real
// bbolt store: the refresh of one element in bench/bigpool's form (SRV, A
// and a TXT load=, an OPT with UPDATE-LEASE, hmac-sha256), its load
// changing from one update to the next, and the signed reply. The client
// sends messages signed before the timer runs and reads the replies
// without allocating, so that -benchmem counts the server's side alone
// (the loop, the UPDATE's goroutine, TSIG, the registrar and the store).
//
//	go test -run XXX -bench UpdateUDP -benchmem -benchtime 2000x ./dnsfront
func BenchmarkUpdateUDP(b *testing.B) { benchUpdates(b, "udp") }

// BenchmarkUpdateTCP is BenchmarkUpdateUDP over one TCP connection: the
// same updates, each framed and sent when the reply to the one before
// has come.
//
//	go test -run XXX -bench UpdateTCP -benchmem -benchtime 2000x ./dnsfront
func BenchmarkUpdateTCP(b *testing.B) { benchUpdates(b, "tcp") }

// benchUpdates is BenchmarkUpdateUDP and BenchmarkUpdateTCP over network
// ("udp" or "tcp"): they differ only in the framing of the messages and
// in how a reply is read.
func benchUpdates(b *testing.B, network string) {
	tcp := network == "tcp"
	hs := newTestSpace(b)
	_, reg := updatetest.Committer(b, hs, regcommit.Config{Rate: 1e9, Burst: 1 << 30})
	srv, err := Start(Config{Listen: []string{"127.0.0.1:0"}, UDPSockets: 1, Logger: discardLog(),
		Updates: reg, TSIG: testKeys}, hs)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	c, err := net.Dial(network, srv.Addrs()[0].String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(time.Hour))

	// The messages, signed now: within the fudge (300 s) of the server's
	// clock while the benchmark runs; signed again if it runs longer.
	// Over TCP each is framed with its length.
	var msgs [100][]byte
	var signedAt time.Time
	sign := func() {
		signedAt = time.Now()
		for i := range msgs {
			m := bigpoolUpdate(b, i, signedAt)
			if tcp {
				m = append(binary.BigEndian.AppendUint16(nil, uint16(len(m))), m...)
			}
			msgs[i] = m
		}
	}
	sign()
	buf := make([]byte, 4096)
	// read reads the reply to the message whose ID is id into buf.
	read := func(i int, id uint16) int {
		if tcp {
			if _, err := io.ReadFull(c, buf[:2]); err != nil {
				b.Fatal(err)
			}
			n := int(binary.BigEndian.Uint16(buf))
			if _, err := io.ReadFull(c, buf[:n]); err != nil {
				b.Fatal(err)
			}
			if n < 12 || binary.BigEndian.Uint16(buf) != id {
				b.Fatalf("update %d: a reply of another ID: %x", i, buf[:n])
			}
			return n
		}
		for {
			n, err := c.Read(buf)
			if err != nil {
				b.Fatal(err)
			}
			if n >= 12 && binary.BigEndian.Uint16(buf) == id {
				return n
			}
			// not this update's reply
		}
	}
	send := func(i int) {
		m := msgs[i%len(msgs)]
		if _, err := c.Write(m); err != nil {
			b.Fatal(err)
		}
		id := binary.BigEndian.Uint16(m)
		if tcp {
			id = binary.BigEndian.Uint16(m[2:])
		}
		n := read(i, id)
		if rcode := buf[3] & 0xF; rcode != dns.RcodeSuccess {
			b.Fatalf("update %d: %s", i, dns.RcodeToString[int(rcode)])
		}
		// The reply's TSIG: the last record, its owner the key's name.
		if binary.BigEndian.Uint16(buf[10:]) < 2 {
			b.Fatalf("update %d: reply without OPT and TSIG: %x", i, buf[:n])
		}
	}
	send(0) // the element exists: the rest are refreshes
	i := 1
	for b.Loop() {
		if time.Since(signedAt) > 200*time.Second {
			b.StopTimer()
			sign()
			b.StartTimer()
		}
		send(i)
		i++
	}
}

// bigpoolUpdate is the i-th update of BenchmarkUpdateUDP, packed and
// signed at t with updatetest.KeyAll: bench/bigpool's registration of
// b1.dyn.pool.test. with load=i%.
func bigpoolUpdate(tb testing.TB, i int, t time.Time) []byte {
	const name = "b1.dyn.pool.test."
	m := new(dns.Msg)
	m.SetUpdate("pool.test.")
	m.Id = uint16(i + 1)
	m.Insert([]dns.RR{
		&dns.SRV{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 60},
			Port: 8080, Weight: 1, Target: name},
		&dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
			A: net.IPv4(10, 0, 0, 1)},
		&dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
			Txt: []string{fmt.Sprintf("load=%d%%", i%100)}},
	})
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_UL{Code: dns.EDNS0UL, Lease: 7200})
	m.SetTsig(updatetest.KeyAll, dns.HmacSHA256, 300, t.Unix())
	wire, _, err := dns.TsigGenerate(m, base64.StdEncoding.EncodeToString(updatetest.Secret), "", false)
	if err != nil {
		tb.Fatal(err)
	}
	return wire
}
