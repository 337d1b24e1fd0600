package dnsupdate

import (
	"encoding/base64"
	"net"
	"testing"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/updatetest"
)

// BenchmarkRead reads bench/bigpool's signed update (SRV, A, TXT load=,
// an OPT with UPDATE-LEASE, hmac-sha256) from its bytes: Read, against
// what it replaces, miekg/dns's Unpack (then FromMsg).
//
//	go test -run XXX -bench Read -benchmem ./dnsfront/dnsupdate
func BenchmarkRead(b *testing.B) {
	const name = "b1.dyn.pool.test."
	m := new(dns.Msg)
	m.SetUpdate("pool.test.")
	m.Insert([]dns.RR{
		&dns.SRV{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 60}, Port: 8080, Weight: 1, Target: name},
		&dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(10, 0, 0, 1)},
		&dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{"load=42%"}},
	})
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_UL{Code: dns.EDNS0UL, Lease: 7200})
	m.SetTsig(updatetest.KeyAll, dns.HmacSHA256, 300, updatetest.T0.Unix())
	wire, _, err := dns.TsigGenerate(m, base64.StdEncoding.EncodeToString(updatetest.Secret), "", false)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			u := new(Message)
			if !Read(wire, u) || u.TSIG == nil || len(u.Upd) != 3 {
				b.Fatal("not read")
			}
		}
	})
	b.Run("Unpack", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := new(dns.Msg)
			if err := r.Unpack(wire); err != nil {
				b.Fatal(err)
			}
			if u := FromMsg(r); u.TSIG == nil || len(u.Upd) != 3 {
				b.Fatal("not read")
			}
		}
	})
}
