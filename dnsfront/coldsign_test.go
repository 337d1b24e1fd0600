package dnsfront

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnssec"
	"github.com/poolnsd/poolnsd/internal/udpbatch"
)

// blockingSign is a dnssec.Options.BeforeSign hook that, armed, stops the
// next signature until released, and says when it has stopped one.
type blockingSign struct {
	mu      sync.Mutex
	armed   bool
	started chan struct{}
	release chan struct{}
	once    sync.Once
	signs   int
}

func newBlockingSign() *blockingSign {
	return &blockingSign{started: make(chan struct{}, 1), release: make(chan struct{})}
}

func (b *blockingSign) hook() {
	b.mu.Lock()
	b.signs++
	stop := b.armed
	b.armed = false
	b.mu.Unlock()
	if stop {
		b.started <- struct{}{}
		<-b.release
	}
}

func (b *blockingSign) arm() { b.mu.Lock(); b.armed = true; b.mu.Unlock() }

// unblock lets the stopped signature go on (once; again does nothing).
func (b *blockingSign) unblock() { b.once.Do(func() { close(b.release) }) }

func (b *blockingSign) count() int { b.mu.Lock(); defer b.mu.Unlock(); return b.signs }

// udpRxQueue returns the bytes waiting in the receive queue of the UDP
// socket bound to addr (127.0.0.1:port), from /proc/net/udp.
func udpRxQueue(t *testing.T, addr *net.UDPAddr) int {
	t.Helper()
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		t.Skipf("no /proc/net/udp: %v", err)
	}
	defer f.Close()
	local := fmt.Sprintf("0100007F:%04X", addr.Port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && fields[1] == local {
			_, rx, _ := strings.Cut(fields[4], ":")
			n, err := strconv.ParseInt(rx, 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
	}
	t.Fatalf("no UDP socket on %s in /proc/net/udp", addr)
	return 0
}

// waitRxQueue waits (5 s at most) until the server's socket holds more
// than above bytes of datagrams, and returns how many it holds.
func waitRxQueue(t *testing.T, addr *net.UDPAddr, above int) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if n := udpRxQueue(t, addr); n > above {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("the datagrams sent did not reach the server's socket within 5 s")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestColdSignatureOffTheBatch: on a real loopback socket, a query whose
// signatures are cached, read in one batch with a query whose answer
// needs a new signature, is answered without waiting for that signature.
// The signer is stopped (a test hook) in the middle of a first cold
// answer's signature while a second cold query and a warm one wait in the
// socket; once it goes on, the warm reply comes before the second cold
// one (signing that one inline would put the warm one last). Pool
// answers (the wire renderer) and compact denials (the dns.Msg renderer)
// alike.
func TestColdSignatureOffTheBatch(t *testing.T) {
	for _, c := range []struct {
		name       string
		cold0      string
		cold1      string
		coldQtype  uint16
		wantCold   int // rcode of the cold answers
		wantAnswer bool
		wantSigns  int
	}{
		{"pool answer, new RRset", "big.pool.test.", "big.pool.test.", dns.TypeA, dns.RcodeSuccess, true, 2},
		// The first denial signs the SOA (stopped) and its NSEC in two
		// turns, the warm answer going out between them.
		{"compact denial of a new name", "nx-a.pool.test.", "NX-b.Pool.Test.", dns.TypeA, dns.RcodeSuccess, false, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			bs := newBlockingSign()
			signer, key := newTestSignerOpts(t, dns.ECDSAP256SHA256, dnssec.Options{BeforeSign: bs.hook})
			t.Cleanup(bs.unblock) // before the server's shutdown
			big := bigPool(1000, 5)
			big.Spec.Policy = "rand"
			addr, srv := serveTest(t, Config{Signer: signer, Logger: discardLog()}, newTestSpace(t, big))
			uaddr, err := net.ResolveUDPAddr("udp", addr)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := net.DialUDP("udp", nil, uaddr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			send := func(id uint16, name string, qtype uint16) {
				m := new(dns.Msg)
				m.SetQuestion(name, qtype)
				m.Id = id
				m.SetEdns0(1232, true)
				b, _ := m.Pack()
				if _, err := conn.Write(b); err != nil {
					t.Fatal(err)
				}
			}
			read := func() *dns.Msg {
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				n, err := conn.Read(buf)
				if err != nil {
					t.Fatalf("no reply: %v", err)
				}
				r := new(dns.Msg)
				if err := r.Unpack(buf[:n]); err != nil {
					t.Fatal(err)
				}
				return r
			}
			// Warm: web (rr over 4) makes at most 4 RRsets.
			for i := range 8 {
				send(uint16(100+i), "web.pool.test.", dns.TypeA)
				if r := read(); r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
					t.Fatalf("warming: %v", r)
				}
			}
			before := bs.count()

			bs.arm()
			send(1, c.cold0, c.coldQtype)
			select {
			case <-bs.started:
			case <-time.After(5 * time.Second):
				t.Fatal("the first cold answer was not signed")
			}
			send(2, c.cold1, c.coldQtype)
			n := waitRxQueue(t, uaddr, 0)
			send(3, "web.pool.test.", dns.TypeA)
			waitRxQueue(t, uaddr, n)
			bs.unblock()

			var order []uint16
			for range 3 {
				r := read()
				order = append(order, r.Id)
				wantRcode, wantName := c.wantCold, c.cold0
				if r.Id == 2 {
					wantName = c.cold1
				}
				if r.Id == 3 {
					wantRcode, wantName = dns.RcodeSuccess, "web.pool.test."
				}
				if r.Rcode != wantRcode || r.Truncated || len(r.Question) != 1 || r.Question[0].Name != wantName {
					t.Errorf("reply %d: rcode %s TC %v question %v; want %s, %s as sent", r.Id,
						dns.RcodeToString[r.Rcode], r.Truncated, r.Question, dns.RcodeToString[wantRcode], wantName)
				}
				checkSigned(t, r, key, r.Id == 3 || c.wantAnswer)
			}
			if slices.Index(order, 3) > slices.Index(order, 2) {
				t.Errorf("replies in the order %v: the warm answer (3) after the second cold one (2)", order)
			}
			if got := bs.count() - before; got != c.wantSigns {
				t.Errorf("%d signatures; want %d", got, c.wantSigns)
			}
			if st := srv.Handler().ColdStats(); st.Queued < 2 || st.Truncated != 0 {
				t.Errorf("cold stats %+v; want the 2 cold answers queued, none truncated", st)
			}
		})
	}
}

// checkSigned checks that r's answer (or, for a denial, authority)
// section's RRsets carry valid RRSIGs by key.
func checkSigned(t *testing.T, r *dns.Msg, key *dns.DNSKEY, answer bool) {
	t.Helper()
	section := r.Ns
	if answer {
		section = r.Answer
	}
	sets := map[uint16][]dns.RR{}
	var sigs []*dns.RRSIG
	for _, rr := range section {
		if s, ok := rr.(*dns.RRSIG); ok {
			sigs = append(sigs, s)
			continue
		}
		sets[rr.Header().Rrtype] = append(sets[rr.Header().Rrtype], rr)
	}
	if len(sets) == 0 {
		t.Errorf("reply %d: no records", r.Id)
	}
	for typ, set := range sets {
		found := false
		for _, s := range sigs {
			if s.TypeCovered != typ {
				continue
			}
			found = true
			if err := s.Verify(key, set); err != nil {
				t.Errorf("reply %d: RRSIG over %s does not verify: %v", r.Id, dns.TypeToString[typ], err)
			}
		}
		if !found {
			t.Errorf("reply %d: %s RRset without RRSIG", r.Id, dns.TypeToString[typ])
		}
	}
}

// TestColdBurstOneSignature: a burst of identical cold queries, queued
// together, makes one signature; the others are answered from the cache
// when their turn comes.
func TestColdBurstOneSignature(t *testing.T) {
	bs := newBlockingSign()
	signer, key := newTestSignerOpts(t, dns.ECDSAP256SHA256, dnssec.Options{BeforeSign: bs.hook})
	t.Cleanup(bs.unblock)
	addr, srv := serveTest(t, Config{Signer: signer, Logger: discardLog()}, newTestSpace(t))
	uaddr, _ := net.ResolveUDPAddr("udp", addr)
	conn, err := net.DialUDP("udp", nil, uaddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	const n = 12
	// A first cold query stops the loop in its signature while the burst
	// gathers in the socket: the burst is read in one batch.
	bs.arm()
	for i := range n + 1 {
		name := "nx-burst.pool.test."
		if i == 0 {
			name = "nx-first.pool.test."
		}
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		m.Id = uint16(i)
		m.SetEdns0(1232, true)
		b, _ := m.Pack()
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			select {
			case <-bs.started:
			case <-time.After(5 * time.Second):
				t.Fatal("the first cold answer was not signed")
			}
		}
	}
	waitRxQueue(t, uaddr, 0)
	bs.unblock()
	seen := map[uint16]bool{}
	for range n + 1 {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		k, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("%d replies of %d: %v", len(seen), n+1, err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:k]); err != nil {
			t.Fatal(err)
		}
		seen[r.Id] = true
		checkSigned(t, r, key, false)
	}
	if len(seen) != n+1 {
		t.Errorf("replies to %d queries; want %d", len(seen), n+1)
	}
	// The SOA, the first name's NSEC and the burst's NSEC: 3 signatures.
	if got := bs.count(); got != 3 {
		t.Errorf("%d signatures; want 3 (SOA, NSEC of the first name, NSEC of the burst's)", got)
	}
	if st := srv.Handler().ColdStats(); st.Queued < n {
		t.Errorf("cold stats %+v; want the burst queued", st)
	}
}

// loopSink returns a loopback socket that receives what a loop sends
// after its batch, and its address as a datagram's source.
func loopSink(t testing.TB) (*net.UDPConn, udpbatch.Addr) {
	t.Helper()
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	sink.SetReadBuffer(4 << 20) // a loop's queue of replies at once, if the system allows
	return sink, udpbatch.AddrFrom(sink.LocalAddr().(*net.UDPAddr).AddrPort(), false)
}

// TestColdQueueFull: a loop's queue holds coldQueueMax answers; a cold
// query beyond them gets TC=1 at once (the resolver asks again over TCP),
// counted as truncated; the queued ones are all answered, signed, when
// the loop stops. The 0x20 case of the question and the ECS option are
// kept in the queued replies.
func TestColdQueueFull(t *testing.T) {
	// The drain's time bound (TestColdDrainBounded checks it) is not what
	// this test counts: under the race detector on a loaded machine, 256
	// signatures can take longer than a second, and the rest would be
	// dropped. A bound the drain never reaches here.
	old := coldDrainTime
	coldDrainTime = time.Minute
	t.Cleanup(func() { coldDrainTime = old })
	signer, key := newTestSigner(t, dns.ED25519)
	big := bigPool(1000, 5)
	big.Spec.Policy = "rand"
	h := NewHandler(newTestSpace(t, big), Config{Signer: signer, Logger: discardLog()})
	u := loopFor(t, h)
	sink, from := loopSink(t)
	pack := func(id uint16) []byte {
		m := new(dns.Msg)
		m.SetQuestion("BiG.pool.TEST.", dns.TypeA)
		m.Id = id
		m.SetEdns0(1232, true)
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(192, 0, 2, 0)})
		b, _ := m.Pack()
		return b
	}
	out := make([]byte, 0, 4096)
	for i := range coldQueueMax {
		if r := u.serve(&udpbatch.Msg{Buf: pack(uint16(i)), Addr: from}, out[:0]); r != nil {
			t.Fatalf("query %d answered at once (%d bytes); want it queued", i, len(r))
		}
	}
	r := u.serve(&udpbatch.Msg{Buf: pack(coldQueueMax), Addr: from}, out[:0])
	if r == nil {
		t.Fatal("a query beyond the full queue got no reply")
	}
	tc := new(dns.Msg)
	if err := tc.Unpack(r); err != nil {
		t.Fatal(err)
	}
	if !tc.Truncated || len(tc.Answer) != 0 || tc.Id != coldQueueMax || tc.Question[0].Name != "BiG.pool.TEST." || tc.IsEdns0() == nil {
		t.Errorf("beyond the full queue: %v; want TC=1, no records, the question as sent, an OPT record", tc)
	}
	if st := h.ColdStats(); st.Queued != coldQueueMax || st.Truncated != 1 {
		t.Errorf("cold stats %+v; want %d queued, 1 truncated", st, coldQueueMax)
	}

	// The replies, read as they come (the sink's buffer holds fewer).
	replies := make(chan []byte, coldQueueMax)
	go func() {
		defer close(replies)
		for range coldQueueMax {
			buf := make([]byte, 4096)
			sink.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := sink.Read(buf)
			if err != nil {
				return
			}
			replies <- buf[:n]
		}
	}()
	misses := signer.CacheStats().Misses
	u.Close() // stops: sends what waits
	if got := signer.CacheStats().Misses - misses; got == 0 || got > coldQueueMax {
		t.Errorf("%d signatures for %d queued answers", got, coldQueueMax)
	}
	seen := map[uint16]bool{}
	for b := range replies {
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			t.Fatal(err)
		}
		seen[m.Id] = true
		if m.Truncated || len(m.Question) != 1 || m.Question[0].Name != "BiG.pool.TEST." {
			t.Errorf("reply %d: TC %v question %v; want the question as sent", m.Id, m.Truncated, m.Question)
		}
		if ecs := subnetOption(m.IsEdns0()); ecs == nil || ecs.SourceNetmask != 24 {
			t.Errorf("reply %d: ECS option %v; want it echoed", m.Id, ecs)
		}
		checkSigned(t, m, key, true)
	}
	if len(seen) != coldQueueMax {
		t.Errorf("replies to %d queries; want %d", len(seen), coldQueueMax)
	}
	if st := h.ColdStats(); st.Answered != coldQueueMax || st.Dropped != 0 {
		t.Errorf("cold stats %+v; want %d answered, none dropped", st, coldQueueMax)
	}
}

// TestColdDrainBounded: a loop that stops signs its queued answers for
// at most coldDrainTime and counts the rest as dropped.
func TestColdDrainBounded(t *testing.T) {
	signer, _ := newTestSigner(t, dns.ED25519)
	big := bigPool(1000, 5)
	big.Spec.Policy = "rand"
	h := NewHandler(newTestSpace(t, big), Config{Signer: signer, Logger: discardLog()})
	u := loopFor(t, h)
	_, from := loopSink(t)
	m := new(dns.Msg)
	m.SetQuestion("big.pool.test.", dns.TypeA)
	m.SetEdns0(1232, true)
	q, _ := m.Pack()
	out := make([]byte, 0, 4096)
	for i := range 10 {
		if r := u.serve(&udpbatch.Msg{Buf: q, Addr: from}, out[:0]); r != nil {
			t.Fatalf("query %d answered at once; want it queued", i)
		}
	}
	old := coldDrainTime
	coldDrainTime = 0
	t.Cleanup(func() { coldDrainTime = old })
	u.Close()
	if st := h.ColdStats(); st.Queued != 10 || st.Answered != 0 || st.Dropped != 10 {
		t.Errorf("cold stats %+v; want 10 queued, none answered, 10 dropped", st)
	}
	if u.Pending() {
		t.Error("work pending after Close")
	}
}

// FuzzUDPServeSigned feeds arbitrary datagrams to the UDP loop of a
// signed zone, with the queue of cold answers in play: no panic; a reply
// given at once, or sent after the batch for a queued query, unpacks,
// carries the query's ID and QR, and fits the size the query allows.
func FuzzUDPServeSigned(f *testing.F) {
	for _, q := range []struct {
		name string
		qt   uint16
		do   bool
	}{{"web.pool.test.", dns.TypeA, true}, {"big.pool.test.", dns.TypeA, true}, {"_http._tcp.web.pool.test.", dns.TypeSRV, true},
		{"big.pool.test.", dns.TypeSRV, true}, {"nothing.pool.test.", dns.TypeA, true}, {"x.wild.pool.test.", dns.TypeTXT, true},
		{"pool.test.", dns.TypeDNSKEY, false}, {"pool.test.", dns.TypeNSEC, true}, {"h.pool.test.", dns.TypeHTTPS, true},
		{"s.pool.test.", dns.TypeNAPTR, true}, {"web.pool.test.", dns.TypeAAAA, true}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qt)
		m.SetEdns0(1232, q.do)
		b, _ := m.Pack()
		f.Add(b)
	}
	signer, _ := newTestSigner(f, dns.ED25519)
	h := NewHandler(fuzzSpace(f), Config{Signer: signer, Logger: discardLog()})
	u := loopFor(f, h)
	sink, from := loopSink(f)
	buf := make([]byte, 65536)
	f.Fuzz(func(t *testing.T, b []byte) {
		queued := h.ColdStats().Queued
		out := u.serve(&udpbatch.Msg{Buf: b, Addr: from}, nil)
		if out != nil {
			checkFuzzReply(t, b, out)
			return
		}
		if h.ColdStats().Queued == queued {
			return // dropped, or an UPDATE (answered from its own goroutine)
		}
		u.s.cold.drain(&u.s)
		// The queued reply; an UPDATE's reply of an earlier input may
		// come first.
		for deadline := time.Now().Add(5 * time.Second); ; {
			sink.SetReadDeadline(deadline)
			n, err := sink.Read(buf)
			if err != nil {
				t.Fatalf("no reply to a queued query: %v", err)
			}
			if n >= 4 && buf[2]&0x78 == 0 && len(b) >= 2 && buf[0] == b[0] && buf[1] == b[1] { // opcode QUERY, the ID
				checkFuzzReply(t, b, buf[:n])
				return
			}
		}
	})
}
