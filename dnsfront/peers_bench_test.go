package dnsfront

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/poolrr"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
)

// peersPool is bench/peers' pool (web there, peers here): 10 elements of weight 10, wrr,
// service _http._tcp, answers=10, TTL 5.
func peersPool() handlespace.PoolDef {
	spec := handlespace.DefaultPoolSpec()
	spec.Policy, spec.Service, spec.Answers, spec.TTL = "wrr", "_http._tcp", 10, 5
	var elems []*handlespace.Element
	for i := 1; i <= 10; i++ {
		elems = append(elems, &handlespace.Element{ID: uint32(i), Label: handlespace.LabelOf(fmt.Sprintf("m%d", i)),
			Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{127, 0, 10, byte(i)})), Port: 18080, Weight: 10})
	}
	return handlespace.PoolDef{Handle: "peers", Spec: spec, Elements: elems}
}

// BenchmarkServeLoopPeers: the UDP loop's answer to bench/peers' two
// questions (web.pool.test A, _http._tcp.web.pool.test SRV, with EDNS; the
// pool is peers here), in
// process: what SRV costs over A, per answer (bench/regress.sh counts its
// instructions).
func BenchmarkServeLoopPeers(b *testing.B) {
	h := NewHandler(newTestSpace(b, peersPool()), Config{})
	u := loopFor(b, h)
	from := udpbatch.AddrFrom(netip.MustParseAddrPort("127.0.0.1:40000"), false)
	for qtype, name := range map[uint16]string{dns.TypeA: "peers.pool.test.", dns.TypeSRV: "_http._tcp.peers.pool.test."} {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.SetEdns0(1232, false)
		q, _ := m.Pack()
		b.Run(dns.TypeToString[qtype], func(b *testing.B) {
			r := new(dns.Msg)
			if err := r.Unpack(benchLoopServe(b, u, q, from)); err != nil || len(r.Answer) != 10 {
				b.Fatalf("reply: %v, %d answers, want 10", err, len(r.Answer))
			}
		})
	}
}

// benchLoopServe answers query q from from through loop u, b.N times,
// reports the reply's size and returns the last reply.
func benchLoopServe(b *testing.B, u *loopAnswerer, q []byte, from udpbatch.Addr) []byte {
	out := make([]byte, 0, 4096)
	msg := udpbatch.Msg{Buf: q, Addr: from}
	b.ReportAllocs()
	var reply []byte
	for b.Loop() {
		reply = u.serve(&msg, out[:0])
	}
	b.ReportMetric(float64(len(reply)), "bytes/reply")
	return reply
}

// TestSRVWholeMatchesParts: the SRV answer's usual case (appendSRVWhole:
// all glue fits, every target in pointer range) writes the same bytes,
// counts and order as the general one, for elements with one or several
// addresses of either family, or none, and in each ordering mode.
func TestSRVWholeMatchesParts(t *testing.T) {
	key := wireKey{Name: "p.pool.test.", TTL: 5}
	name := make([]byte, 64)
	n, err := dns.PackDomainName(key.Name, name, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	name = name[:n]
	addrs := func(ss ...string) (as []netip.Addr) {
		for _, s := range ss {
			as = append(as, netip.MustParseAddr(s))
		}
		return as
	}
	var wires []*elemWire
	for i, as := range [][]netip.Addr{
		addrs("10.0.0.1"), addrs("10.0.0.2", "2001:db8::2"), addrs("2001:db8::3", "2001:db8::4"),
		nil, addrs("10.0.0.5", "10.0.0.6", "10.0.0.7"), addrs("2001:db8::8"),
	} {
		e := &handlespace.Element{ID: uint32(i + 1), Label: handlespace.LabelOf(fmt.Sprintf("e%d%s", i, "xyz"[:i%3])), Addrs: handlespace.AddrsOf(as...),
			Port: uint16(8000 + i), Weight: uint32(i + 1), Priority: uint32(i % 2)}
		wires = append(wires, buildElemWire(e, key, name))
	}
	head := make([]byte, 12+len(name)+4, 4096) // header and question
	for mode := poolrr.Rank; mode <= poolrr.FreeDeg; mode++ {
		pw := &poolWire{ordering: mode}
		req := &request{maxSize: 4096}
		budget := req.maxSize - len(head) - optLen(req)
		answer, glue := 0, 0
		for _, ew := range wires {
			answer += len(ew.srv())
			glue += len(ew.a()) + len(ew.aaaa())
		}
		whole, n1, ar1 := appendSRVWhole(bytes.Clone(head), pw, wires, answer+glue)
		parts, n2, ar2 := appendSRVParts(bytes.Clone(head), req, pw, wires, 12, budget, answer)
		if !bytes.Equal(whole, parts) || n1 != n2 || ar1 != ar2 {
			t.Errorf("mode %d: whole %d answers, %d glue, %x\nparts %d answers, %d glue, %x", mode, n1, ar1, whole, n2, ar2, parts)
		}
		if ar1 != 9 || n1 != len(wires) {
			t.Errorf("mode %d: %d answers, %d glue; want %d and 9", mode, n1, ar1, len(wires))
		}
	}
}
