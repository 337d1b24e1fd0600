package dnsfront

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/history"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
)

// firstOf returns the element ID of a reply's first record (an A's
// address or the SRV of lowest priority's target).
func firstOf(t *testing.T, web *handlespace.PoolView, m *dns.Msg) uint32 {
	t.Helper()
	if len(m.Answer) == 0 {
		t.Fatalf("no answer: %v", m)
	}
	var first dns.RR = m.Answer[0]
	for _, rr := range m.Answer {
		if s, ok := rr.(*dns.SRV); ok && s.Priority < first.(*dns.SRV).Priority {
			first = s
		}
	}
	for e := range web.Range() {
		switch rr := first.(type) {
		case *dns.A:
			if e.Addrs.At(0).String() == rr.A.String() {
				return e.ID
			}
		case *dns.SRV:
			if e.Label.String()+"."+web.Name == rr.Target {
				return e.ID
			}
		}
	}
	t.Fatalf("first record %v is no element of %s", first, web.Name)
	return 0
}

// TestTally: each pool answer (A over UDP through the loop and through
// the handler, SRV over TCP) is counted for the element its first record
// is; answers that are not a pool's (an element's own name, a static
// name, NXDOMAIN, a pool with no element served) are not. The loop times
// its batch's first pool answer. A second handler of the same
// handlespace, with a tally of its own, counts its own answers.
func TestTally(t *testing.T) {
	hs := newTestSpace(t)
	ans, ans2 := history.NewAnswers(), history.NewAnswers()
	h := NewHandler(hs, Config{Answers: ans})
	h2 := NewHandler(hs, Config{Answers: ans2})
	u := loopFor(t, h)
	web := hs.View().Pool("web.pool.test.")
	want := map[uint32]uint64{}
	for range 3 {
		want[firstOf(t, web, query(t, h, "web.pool.test.", dns.TypeA, false, 1232))]++
	}
	want[firstOf(t, web, query(t, h, "_http._tcp.web.pool.test.", dns.TypeSRV, true, 0))]++
	// Through the loop: its own shard, and the batch's time.
	m := new(dns.Msg)
	m.SetQuestion("web.pool.test.", dns.TypeA)
	q, _ := m.Pack()
	read := time.Now()
	for range 5 {
		msg := udpbatch.Msg{Buf: q, Addr: udpbatch.AddrFrom(netip.MustParseAddrPort("192.0.2.200:40000"), false)}
		reply := new(dns.Msg)
		if err := reply.Unpack(u.serve(&msg, nil)); err != nil {
			t.Fatal(err)
		}
		want[firstOf(t, web, reply)]++
	}
	u.s.tally.timeBatch(read)
	for _, name := range []string{"w1.web.pool.test.", "ns1.pool.test.", "nothing.pool.test.", "dead.pool.test."} {
		query(t, h, name, dns.TypeA, false, 0)
	}
	// The second handler: two answers of its own.
	want2 := map[uint32]uint64{}
	for range 2 {
		want2[firstOf(t, web, query(t, h2, "web.pool.test.", dns.TypeA, false, 1232))]++
	}
	check := func(a *history.Answers, want map[uint32]uint64) {
		t.Helper()
		got := map[uint32]uint64{}
		total, _ := a.Table().Read("web.pool.test.", got)
		var n uint64
		for id, w := range want {
			n += w
			if got[id] != w {
				t.Errorf("element %08x first in %d answers, want %d", id, got[id], w)
			}
		}
		if total.Answers != n {
			t.Errorf("%d answers counted, want %d", total.Answers, n)
		}
		for _, p := range []string{"dead.pool.test.", "pool.test.", "ns1.pool.test.", "w1.web.pool.test."} {
			if c, ok := a.Table().Read(p, nil); ok && c.Answers > 0 {
				t.Errorf("%s: %d answers counted, want none", p, c.Answers)
			}
		}
	}
	check(ans, want)
	check(ans2, want2)
	if total, _ := ans.Table().Read("web.pool.test.", nil); total.Timed != 1 || total.TimedNS == 0 || total.TimedNS > uint64(time.Since(read)) {
		t.Errorf("timed %+v; want the batch's first answer timed once, within the test's time", total)
	}
}

// TestTallyFreesSlots: when an element changes, its old packed material
// is collected and its slot given back; its counts stay.
func TestTallyFreesSlots(t *testing.T) {
	hs := newTestSpace(t)
	ans := history.NewAnswers()
	h := NewHandler(hs, Config{Answers: ans})
	for range 8 {
		query(t, h, "web.pool.test.", dns.TypeA, false, 1232)
	}
	before, _ := ans.Table().Read("web.pool.test.", nil)
	inUse := ans.Table().InUse()
	if inUse == 0 || before.Answers != 8 {
		t.Fatalf("%d slots in use, %d answers; want some and 8", inUse, before.Answers)
	}
	// New elements (new weights) make new packed material.
	for _, e := range hs.View().Pool("web.pool.test.").Elements() {
		if err := hs.Update("web.pool.test.", e.ID, func(x *handlespace.Element) { x.Weight = 5 }); err != nil {
			t.Fatal(err)
		}
	}
	query(t, h, "web.pool.test.", dns.TypeA, false, 1232)
	deadline := time.Now().Add(10 * time.Second)
	for ans.Table().InUse() > 1 && time.Now().Before(deadline) {
		runtime.GC() // the cleanups run after a collection, on their own goroutine
		runtime.Gosched()
	}
	if n := ans.Table().InUse(); n > 1 {
		t.Errorf("%d slots in use after the old material went, want 1 (the last answer's)", n)
	}
	if after, _ := ans.Table().Read("web.pool.test.", nil); after.Answers != 9 {
		t.Errorf("%d answers after the slots were freed, want 9", after.Answers)
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
