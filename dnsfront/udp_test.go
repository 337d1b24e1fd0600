package dnsfront

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/dnsserve"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/nettest"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
	"github.com/poolnsd/poolnsd/internal/updatetest"
	"github.com/poolnsd/poolnsd/regcommit"
)

// stuckUpdater holds every update until release is closed.
type stuckUpdater struct {
	got     chan struct{}
	release chan struct{}
}

func (u *stuckUpdater) Allow(netip.Addr) bool { return true }
func (u *stuckUpdater) Submit(ctx context.Context, _ *regcommit.Request) (regcommit.Result, error) {
	u.got <- struct{}{}
	select {
	case <-u.release:
	case <-ctx.Done():
	}
	return regcommit.Result{}, context.Canceled
}

// TestUDPUpdateDoesNotStall: an UPDATE waiting for its commit holds no UDP
// loop: with one socket, queries sent after it are answered while it
// waits, and its own reply comes once it is done.
func TestUDPUpdateDoesNotStall(t *testing.T) {
	up := &stuckUpdater{got: make(chan struct{}, 1), release: make(chan struct{})}
	addr, _ := serveTest(t, Config{Logger: discardLog(), Updates: up, TSIG: testKeys, UDPSockets: 1}, newTestSpace(t))
	m := new(dns.Msg)
	m.SetUpdate("pool.test.")
	rr, _ := dns.NewRR("x1.web.pool.test. 60 IN SRV 0 0 80 x1.web.pool.test.")
	m.Insert([]dns.RR{rr})
	b := signed(t, m, updatetest.KeyAll, dns.HmacSHA256, updatetest.Secret, time.Now())
	uc, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	if _, err := uc.Write(b); err != nil {
		t.Fatal(err)
	}
	select {
	case <-up.got:
	case <-time.After(5 * time.Second):
		t.Fatal("the update did not reach the updater")
	}
	// The update waits; the loop answers queries meanwhile.
	for i := 0; i < 5; i++ {
		q := new(dns.Msg)
		q.SetQuestion("web.pool.test.", dns.TypeA)
		if r, err := nettest.Exchange(nil, q, addr); err != nil || len(r.Answer) == 0 {
			t.Fatalf("query %d while an update waits: %v %v", i, r, err)
		}
	}
	close(up.release)
	uc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := uc.Read(buf)
	if err != nil {
		t.Fatalf("the update's reply: %v", err)
	}
	r := unpack(t, buf[:n])
	if r.Opcode != dns.OpcodeUpdate || r.Rcode != dns.RcodeServerFailure || r.IsTsig() == nil {
		t.Errorf("update reply: opcode %d rcode %s TSIG %v; want UPDATE, SERVFAIL (the updater failed), signed", r.Opcode, dns.RcodeToString[r.Rcode], r.IsTsig())
	}
}

// TestUDPFastAndSlowAgree: the loop's answers to queries read from their
// bytes are the same as the handler's through miekg/dns's dns.Msg, for
// every kind of result (a pool that rotates is compared by count).
func TestUDPFastAndSlowAgree(t *testing.T) {
	h := NewHandler(newTestSpace(t), Config{})
	u := loopFor(t, h)
	for _, q := range []struct {
		name  string
		qtype uint16
		edns  bool
	}{
		{"web.pool.test.", dns.TypeA, false}, {"WEB.pool.test.", dns.TypeSRV, true},
		{"w1.web.pool.test.", dns.TypeA, true}, {"ns1.pool.test.", dns.TypeA, true},
		{"Nothing.pool.test.", dns.TypeA, false}, {"x.wild.pool.test.", dns.TypeTXT, true},
		{"alias.pool.test.", dns.TypeAAAA, true}, {"host.sub.pool.test.", dns.TypeA, true},
		{"example.com.", dns.TypeA, true}, {"dead.pool.test.", dns.TypeA, true},
		{"pool.test.", dns.TypeANY, true}, {"pool.test.", dns.TypeOPT, true},
	} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		if q.edns {
			m.SetEdns0(1232, true)
		}
		b, _ := m.Pack()
		loop := new(dns.Msg)
		out := u.serve(&udpbatch.Msg{Buf: b, Addr: udpbatch.AddrFrom(netip.MustParseAddrPort("192.0.2.200:40000"), false)}, nil)
		if err := loop.Unpack(out); err != nil {
			t.Fatalf("%s %s: loop reply does not unpack: %v", q.name, dns.TypeToString[q.qtype], err)
		}
		w := newRecorder(false)
		h.ServeDNS(w, m)
		got, want := loop, w.msg
		if got.MsgHdr != want.MsgHdr || len(got.Answer) != len(want.Answer) || len(got.Ns) != len(want.Ns) || len(got.Extra) != len(want.Extra) ||
			got.Question[0] != want.Question[0] {
			t.Errorf("%s %s:\nloop:\n%v\nhandler:\n%v", q.name, dns.TypeToString[q.qtype], got, want)
		}
	}
}

// loopFor makes a UDP loop of h on a loopback socket, to call serve on
// directly.
func loopFor(t testing.TB, h *Handler) *loopAnswerer {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	u := h.NewLoop(dnsserve.NewSocket(c)).(*loopAnswerer)
	t.Cleanup(u.Close)
	return u
}

// FuzzUDPServe feeds arbitrary datagrams to the UDP loop's serve: no
// panic; every reply unpacks, carries the query's ID and QR, and fits the
// size the query allows.
func FuzzUDPServe(f *testing.F) {
	for _, q := range []struct {
		name string
		qt   uint16
	}{{"web.pool.test.", dns.TypeA}, {"_http._tcp.web.pool.test.", dns.TypeSRV}, {"big.pool.test.", dns.TypeSRV},
		{"x.wild.pool.test.", dns.TypeTXT}, {"nothing.pool.test.", dns.TypeA},
		{"h.pool.test.", dns.TypeHTTPS}, {"_8080._foo.h.pool.test.", dns.TypeSVCB}, {"bs.pool.test.", dns.TypeHTTPS},
		{"s.pool.test.", dns.TypeNAPTR}, {"bs.pool.test.", dns.TypeNAPTR}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qt)
		m.SetEdns0(1232, true)
		b, _ := m.Pack()
		f.Add(b)
	}
	// Cookies, NSID and the ACL are on, with seeds that carry them.
	for _, ck := range []string{"0102030405060708", "01020304050607080100000000000000aabbccddeeff0011", "0102"} {
		m := new(dns.Msg)
		m.SetQuestion("web.pool.test.", dns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: ck},
			&dns.EDNS0_NSID{Code: dns.EDNS0NSID})
		b, _ := m.Pack()
		f.Add(b)
	}
	// UPDATEs, signed (their TSIG verified from the datagram, tsig.go's
	// updateWriter) and not.
	for _, key := range []string{updatetest.KeyAll, ""} {
		m := updatetest.Msg(f, updatetest.PE("fz", 80, "192.0.2.1", 30)...)
		m.SetEdns0(1232, false)
		if key != "" {
			m.SetTsig(key, dns.HmacSHA256, 300, time.Now().Unix())
			b, _, err := dns.TsigGenerate(m, base64.StdEncoding.EncodeToString(updatetest.Secret), "", false)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
			continue
		}
		b, _ := m.Pack()
		f.Add(b)
	}
	prot := testProtections(f)
	prot.Allow = prefixes(f, "127.0.0.0/8")
	h := NewHandler(fuzzSpace(f), Config{Protect: prot, TSIG: testKeys})
	u := loopFor(f, h)
	// The client is a socket of the test's own, on loopback: the replies
	// of UPDATEs, which go straight to the socket, land there.
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { sink.Close() })
	from := udpbatch.AddrFrom(sink.LocalAddr().(*net.UDPAddr).AddrPort(), false)
	f.Fuzz(func(t *testing.T, b []byte) {
		in := append([]byte(nil), b...)
		out := u.serve(&udpbatch.Msg{Buf: b, Addr: from}, nil)
		if !bytes.Equal(b, in) {
			t.Fatalf("the datagram was changed while served:\n% x\nbecame\n% x", in, b)
		}
		if out == nil {
			return
		}
		checkFuzzReply(t, b, out)
	})
}

// checkFuzzReply fails t unless out is a reply to the datagram b that
// unpacks, carries b's ID with QR set, and fits b's UDP size (at most
// the server's 1232).
func checkFuzzReply(t *testing.T, b, out []byte) {
	t.Helper()
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil {
		t.Fatalf("reply does not unpack: %v", err)
	}
	if len(b) < 2 || r.Id != uint16(b[0])<<8|uint16(b[1]) || !r.Response {
		t.Fatalf("reply ID %d QR %v", r.Id, r.Response)
	}
	limit := dns.MinMsgSize
	q := new(dns.Msg)
	if q.Unpack(b) == nil {
		if opt := q.IsEdns0(); opt != nil {
			limit = min(max(int(opt.UDPSize()), dns.MinMsgSize), 1232)
		}
	}
	if len(out) > limit {
		t.Fatalf("UDP reply of %d bytes, limit %d", len(out), limit)
	}
}

// TestPlainName: the fast path's names (msgcheck.AppendPlainName's,
// tested there) are kept: a name seen before costs no allocation and is
// the same string; a full table is emptied, not grown.
func TestPlainName(t *testing.T) {
	u := loopFor(t, NewHandler(newTestSpace(t), Config{}))
	wire := func(s string) []byte {
		b := make([]byte, 256)
		n, err := dns.PackDomainName(s, b, 0, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		return b[:n]
	}
	w := wire("WeB.Pool.TEST.")
	first, ok := u.plainName(w)
	if !ok || first != "web.pool.test." {
		t.Fatalf("plainName = %q, %v", first, ok)
	}
	if n := testing.AllocsPerRun(100, func() { u.plainName(w) }); n != 0 {
		t.Errorf("a name seen before: %v allocations, want 0", n)
	}
	if again, _ := u.plainName(wire("web.pool.TEST.")); unsafe.StringData(again) != unsafe.StringData(first) {
		t.Error("a name seen before is a new string")
	}
	if _, ok := u.plainName([]byte{0xC0, 12}); ok {
		t.Errorf("a compressed name taken")
	}
	for i := range maxNames + 1 {
		u.plainName(wire(fmt.Sprintf("n%d.pool.test.", i)))
	}
	if len(u.names) > maxNames {
		t.Errorf("%d names kept, want at most %d", len(u.names), maxNames)
	}
}

// panicSource is a Source whose view panics once armed: a defect anywhere
// below the loop.
type panicSource struct {
	src   Source
	armed bool
	calls int // with armed false: the views given; panics on call panicAt
	at    int
}

func (p *panicSource) View() *handlespace.View {
	p.calls++
	if p.armed || p.calls == p.at {
		panic("a defect")
	}
	return p.src.View()
}

// serveRecovering answers m as package dnsserve's loop does: Serve, and
// Recover when it panics.
func serveRecovering(u *loopAnswerer, m *udpbatch.Msg, out []byte) (reply []byte) {
	defer func() {
		if p := recover(); p != nil {
			reply = u.Recover(m, out, p)
		}
	}()
	return u.Serve(m, time.Now(), out)
}

// TestLoopSurvivesPanic: a panic while answering is answered SERVFAIL by
// the loop's Recover (with EDE 0 when the query had EDNS, with the
// question, ID and RD), and the next query is answered as usual. (That
// the loop goes on with the rest of its batch is package dnsserve's test.)
func TestLoopSurvivesPanic(t *testing.T) {
	src := &panicSource{src: newTestSpace(t)}
	h := NewHandler(src, Config{Logger: slog.New(slog.DiscardHandler)})
	u := loopFor(t, h)
	from := udpbatch.AddrFrom(netip.MustParseAddrPort("127.0.0.1:40000"), false)
	ask := func(edns bool) *dns.Msg {
		t.Helper()
		q := new(dns.Msg)
		q.SetQuestion("web.pool.test.", dns.TypeA)
		q.Id = 4711
		if edns {
			q.SetEdns0(1232, true)
		}
		b, _ := q.Pack()
		out := serveRecovering(u, &udpbatch.Msg{Buf: b, Addr: from}, make([]byte, 0, 1232))
		r := new(dns.Msg)
		if err := r.Unpack(out); err != nil {
			t.Fatalf("reply does not unpack: %v (% x)", err, out)
		}
		return r
	}
	src.armed = true
	for _, edns := range []bool{false, true} {
		r := ask(edns)
		if r.Rcode != dns.RcodeServerFailure || r.Id != 4711 || !r.Response || !r.RecursionDesired ||
			len(r.Question) != 1 || r.Question[0].Name != "web.pool.test." || len(r.Answer) != 0 {
			t.Fatalf("edns %v: reply to a query that panicked:\n%v", edns, r)
		}
		var ede *dns.EDNS0_EDE
		if opt := r.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				if e, ok := o.(*dns.EDNS0_EDE); ok {
					ede = e
				}
			}
		}
		switch {
		case edns && (ede == nil || ede.InfoCode != 0 || ede.ExtraText != "internal error"):
			t.Errorf("EDNS query: want EDE 0 (internal error), got %v", r)
		case !edns && r.IsEdns0() != nil:
			t.Errorf("query without EDNS got an OPT record: %v", r)
		}
	}
	// The handler's own path (TCP, and what the loop hands it) answers the
	// same.
	q := new(dns.Msg)
	q.SetQuestion("web.pool.test.", dns.TypeA)
	q.SetEdns0(1232, false)
	w := newRecorder(true)
	h.ServeDNS(w, q)
	if r := w.msg; r == nil || r.Rcode != dns.RcodeServerFailure || r.IsEdns0() == nil ||
		len(r.IsEdns0().Option) != 1 || r.IsEdns0().Option[0].(*dns.EDNS0_EDE).InfoCode != 0 {
		t.Errorf("handler: reply to a query that panicked:\n%v", r)
	}
	src.armed = false
	if r := ask(true); r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		t.Fatalf("after the panic: %v", r)
	}
	// Not a query (a response): nothing to answer, even after a panic.
	resp := new(dns.Msg)
	resp.SetQuestion("web.pool.test.", dns.TypeA)
	resp.Response = true
	b, _ := resp.Pack()
	if out := u.Recover(&udpbatch.Msg{Buf: b, Addr: from}, nil, "a defect"); out != nil {
		t.Errorf("Recover answered a response: % x", out)
	}
}

// TestLoopFollowsViews: the loop remembers its last lookups and names
// (loopAnswerer.lookup, plainName), and still answers from the current
// view: each change (one element down, then the rest) shows in the very
// next answer to the same question, and a question asked again in another
// letter case keeps its case in the reply.
func TestLoopFollowsViews(t *testing.T) {
	hs := newTestSpace(t)
	u := loopFor(t, NewHandler(hs, Config{}))
	from := udpbatch.AddrFrom(netip.MustParseAddrPort("192.0.2.200:40000"), false)
	ask := func(name string) *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		m.SetEdns0(1232, false)
		b, _ := m.Pack()
		r := new(dns.Msg)
		if err := r.Unpack(u.serve(&udpbatch.Msg{Buf: b, Addr: from}, nil)); err != nil {
			t.Fatalf("%s: reply does not unpack: %v", name, err)
		}
		if r.Question[0].Name != name {
			t.Errorf("reply's question %q, want %q", r.Question[0].Name, name)
		}
		return r
	}
	pv := hs.View().Zone("pool.test.").Pool("web")
	elems := pv.Elements()
	has := func(r *dns.Msg, e *handlespace.Element) bool {
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok && a.A.String() == e.Addrs.At(0).String() {
				return true
			}
		}
		return false
	}
	seen := false
	for i := 0; i < 20; i++ {
		r := ask("web.pool.test.")
		if len(r.Answer) == 0 {
			t.Fatal("all up: no answer")
		}
		seen = seen || has(r, elems[0])
	}
	if !seen {
		t.Fatalf("all up: %v never answered in 20 queries", elems[0].Addrs.At(0))
	}
	down := func(e *handlespace.Element) {
		t.Helper()
		if err := hs.Update("web.pool.test.", e.ID, func(x *handlespace.Element) { x.Health = handlespace.HealthDown }); err != nil {
			t.Fatal(err)
		}
	}
	down(elems[0])
	for i := 0; i < 20; i++ {
		name := "web.pool.test."
		if i%2 == 1 {
			name = "WeB.pool.TEST."
		}
		if r := ask(name); len(r.Answer) == 0 || has(r, elems[0]) {
			t.Fatalf("one down (%s): %v", name, r.Answer)
		}
	}
	for _, e := range elems[1:] {
		down(e)
	}
	if r := ask("WeB.pool.TEST."); len(r.Answer) != 0 || r.Rcode != dns.RcodeSuccess || len(r.Ns) != 1 {
		t.Errorf("all down: want NODATA with SOA, got %v", r)
	}
}
