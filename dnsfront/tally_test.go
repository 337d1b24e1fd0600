package dnsfront

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/history"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
)

// tallyRec records PoolAnswer calls.
type tallyRec struct {
	mu    sync.Mutex
	calls []string
}

func (r *tallyRec) PoolAnswer(pool *handlespace.PoolInfo, first uint32) {
	r.mu.Lock()
	r.calls = append(r.calls, fmt.Sprintf("%s %08x", pool.Name, first))
	r.mu.Unlock()
}

var _ Tally = (*tallyRec)(nil)
var _ Tally = (*history.Answers)(nil)

// TestTally: each pool answer (A over UDP, SRV over TCP) is reported with
// the element its first record is; answers that are not a pool's
// (an element's own name, a static name, NXDOMAIN, a pool with no
// element served) are not.
func TestTally(t *testing.T) {
	hs := newTestSpace(t)
	rec := &tallyRec{}
	h := NewHandler(hs, Config{Answers: rec})
	web := hs.View().Pool("web.pool.test.")
	byAddr := map[string]uint32{}
	byTarget := map[string]uint32{}
	for _, e := range web.Elements() {
		byAddr[e.Addrs[0].String()] = e.ID
		byTarget[e.Label+".web.pool.test."] = e.ID
	}
	var want []string
	for range 3 {
		m := query(t, h, "web.pool.test.", dns.TypeA, false, 1232)
		want = append(want, fmt.Sprintf("web.pool.test. %08x", byAddr[m.Answer[0].(*dns.A).A.String()]))
	}
	m := query(t, h, "_http._tcp.web.pool.test.", dns.TypeSRV, true, 0)
	first := m.Answer[0].(*dns.SRV)
	for _, rr := range m.Answer {
		if s := rr.(*dns.SRV); s.Priority < first.Priority {
			first = s
		}
	}
	want = append(want, fmt.Sprintf("web.pool.test. %08x", byTarget[first.Target]))
	query(t, h, "w1.web.pool.test.", dns.TypeA, false, 0)
	query(t, h, "ns1.pool.test.", dns.TypeA, false, 0)
	query(t, h, "nothing.pool.test.", dns.TypeA, false, 0)
	query(t, h, "dead.pool.test.", dns.TypeA, false, 0)
	if fmt.Sprint(rec.calls) != fmt.Sprint(want) {
		t.Errorf("tally calls %v, want %v", rec.calls, want)
	}
}

// BenchmarkServeTally is BenchmarkServe's pool answer without and with a
// tally (history.Answers, as the daemon has it): run with -count and
// compare the pairs.
func BenchmarkServeTally(b *testing.B) {
	m := new(dns.Msg)
	m.SetQuestion("web.pool.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	for _, on := range []bool{false, true} {
		cfg := Config{}
		if on {
			cfg.Answers = history.NewAnswers()
		}
		h := NewHandler(newTestSpace(b), cfg)
		b.Run(fmt.Sprintf("tally=%v", on), func(b *testing.B) {
			w := &discard{}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeDNS(w, m)
			}
		})
	}
}

// BenchmarkServeLoopTally is BenchmarkServeLoop with the pools' answers
// counted as the daemon counts them (Config.Answers): what the tally
// costs the UDP loop, per query (bench/regress.sh BENCHES=ServeLoopTally).
func BenchmarkServeLoopTally(b *testing.B) {
	h := NewHandler(newTestSpace(b, nearPool()), Config{Sites: testSiteMap(b), Answers: history.NewAnswers()})
	u := loopFor(b, h)
	from := udpbatch.AddrFrom(netip.MustParseAddrPort("192.0.2.200:40000"), false)
	for _, c := range serveCases {
		m := new(dns.Msg)
		m.SetQuestion(c.name, c.qtype)
		m.SetEdns0(1232, false)
		q, _ := m.Pack()
		b.Run(fmt.Sprintf("%s/%s", c.name, dns.TypeToString[c.qtype]), func(b *testing.B) {
			out := make([]byte, 0, 4096)
			msg := udpbatch.Msg{Buf: q, Addr: from}
			b.ReportAllocs()
			for b.Loop() {
				u.serve(&msg, out[:0])
			}
		})
	}
}
