package netlab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// echo serves a line echo on ln until it is closed, and then closes the
// connections it accepted: a connection whose client went silently (cut
// off, its namespace gone) would otherwise wait for a line forever.
func echo(ln net.Listener) {
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for c := range conns {
			c.Close()
		}
		conns = nil
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		mu.Lock()
		conns[c] = true
		mu.Unlock()
		go func() {
			defer func() {
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
			}()
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if _, err := c.Write([]byte(line)); err != nil {
					return
				}
			}
		}()
	}
}

// roundTrip dials addr from nd (within limit), then times n line echoes
// and returns the shortest.
func roundTrip(nd *Node, addr string, n int, limit time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	c, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(limit))
	r := bufio.NewReader(c)
	best := time.Duration(1<<63 - 1)
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if _, err := fmt.Fprintf(c, "ping %d\n", i); err != nil {
			return 0, err
		}
		if _, err := r.ReadString('\n'); err != nil {
			return 0, err
		}
		best = min(best, time.Since(t0))
	}
	return best, nil
}

// TestNet builds two sites 40 ms apart (1 ms inside one) and checks that
// the relay delays node-to-node traffic by the sites' delay both ways, that
// a blackhole, a link down and a split cut what they should and heal, and
// that Close leaves no namespace behind.
func TestNet(t *testing.T) {
	Require(t)
	delays := map[[2]string]time.Duration{{"x", "x"}: time.Millisecond, {"x", "y"}: 40 * time.Millisecond, {"y", "y"}: time.Millisecond}
	n := New(t, Config{Sites: []string{"x", "y"}, Delay: func(a, b string) time.Duration {
		if d, ok := delays[[2]string{a, b}]; ok {
			return d
		}
		return delays[[2]string{b, a}]
	}})
	a, err := n.AddNode("a", "x")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := n.AddNode("a2", "x")
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.AddNode("b", "y")
	if err != nil {
		t.Fatal(err)
	}
	blk, err := b.AddBlock()
	if err != nil {
		t.Fatal(err)
	}
	if a.Addr != netip.MustParseAddr("198.18.1.11") || a2.Addr != netip.MustParseAddr("198.18.1.12") ||
		b.Addr != netip.MustParseAddr("198.18.2.11") || blk != netip.MustParsePrefix("198.19.1.0/24") {
		t.Fatalf("addresses a %v a2 %v b %v block %v", a.Addr, a2.Addr, b.Addr, blk)
	}
	for _, nd := range []*Node{a2, b} {
		ln, err := nd.Listen("tcp", "0.0.0.0:7000")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go echo(ln)
	}
	far := net.JoinHostPort(blk.Addr().Next().Next().String(), "7000") // 198.19.1.2, one of b's block
	near := net.JoinHostPort(a2.Addr.String(), "7000")

	rtt, err := roundTrip(a, far, 5, 5*time.Second)
	if err != nil {
		t.Fatalf("a to %s: %v", far, err)
	}
	if rtt < 80*time.Millisecond || rtt > 120*time.Millisecond {
		t.Errorf("a to b's block: round trip %v, want 80 ms (40 ms each way) and little more", rtt)
	}
	t.Logf("round trip a to b's block (40 ms apart): %v", rtt)
	rtt, err = roundTrip(a, near, 5, 5*time.Second)
	if err != nil {
		t.Fatalf("a to a2: %v", err)
	}
	if rtt < 2*time.Millisecond || rtt > 30*time.Millisecond {
		t.Errorf("a to a2 (one site): round trip %v, want 2 ms (1 ms each way) and little more", rtt)
	}
	t.Logf("round trip a to a2 (one site, 1 ms): %v", rtt)
	// The hub (the checker's place) reaches nodes directly.
	rtt, err = roundTrip(n.Hub(), far, 3, 5*time.Second)
	if err != nil {
		t.Fatalf("hub to %s: %v", far, err)
	}
	if rtt > 20*time.Millisecond {
		t.Errorf("hub to b: round trip %v, want no relay delay", rtt)
	}

	// A blackhole at a to one address of b's block: a cannot reach it,
	// a2 can, and a reaches b's other addresses.
	bh := a.Blackhole(netip.PrefixFrom(blk.Addr().Next().Next(), 32))
	if _, err := bh.Inject(); err != nil {
		t.Fatal(err)
	}
	if _, err := roundTrip(a, far, 1, time.Second); err == nil {
		t.Errorf("a reached %s through a blackhole", far)
	}
	if _, err := roundTrip(a2, far, 1, 2*time.Second); err != nil {
		t.Errorf("a2 cannot reach %s while a has a blackhole to it: %v", far, err)
	}
	if _, err := roundTrip(a, net.JoinHostPort(blk.Addr().Next().String(), "7000"), 1, 2*time.Second); err != nil {
		t.Errorf("a cannot reach the address beside the blackhole: %v", err)
	}
	if _, err := bh.Heal(); err != nil {
		t.Fatal(err)
	}
	if _, err := roundTrip(a, far, 1, 2*time.Second); err != nil {
		t.Errorf("a cannot reach %s after the blackhole went: %v", far, err)
	}

	// A split of {a} from {b}: an open connection stalls, a new one cannot
	// be made; a2 (in no group) still reaches b.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	open, err := a.DialContext(ctx, "tcp", far)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	sp := n.Split([]*Node{a}, []*Node{b})
	sp.Inject()
	open.SetDeadline(time.Now().Add(500 * time.Millisecond))
	fmt.Fprintf(open, "hello\n")
	if _, err := bufio.NewReader(open).ReadString('\n'); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("an open connection across the split: %v, want a stall (deadline exceeded)", err)
	}
	if _, err := roundTrip(a, far, 1, 500*time.Millisecond); err == nil {
		t.Errorf("a reached b across the split")
	}
	if _, err := roundTrip(a2, far, 1, 2*time.Second); err != nil {
		t.Errorf("a2 (in no group) cannot reach b during the split: %v", err)
	}
	if st := n.Relay().Stats(); st.Dropped == 0 {
		t.Errorf("the relay dropped nothing during the split: %+v", st)
	}
	sp.Heal()
	if _, err := roundTrip(a, far, 1, 2*time.Second); err != nil {
		t.Errorf("a cannot reach b after the split healed: %v", err)
	}

	// a's link down: a reaches nothing and the hub does not reach a.
	ld := a.LinkDown()
	ld.Inject()
	if _, err := roundTrip(a, near, 1, 500*time.Millisecond); err == nil {
		t.Errorf("a reached a2 with its link down")
	}
	ln, err := a.Listen("tcp", a.Addr.String()+":7001")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go echo(ln)
	if _, err := roundTrip(n.Hub(), ln.Addr().String(), 1, 500*time.Millisecond); err == nil {
		t.Errorf("the hub reached a with a's link down")
	}
	up, err := ld.Heal()
	if err != nil {
		t.Fatal(err)
	}
	// Dialled again until it works, as a registrar's dialler does: a
	// SYN queued behind an ARP request sent as the link came back (its
	// bridge port not yet forwarding) fails with EHOSTUNREACH.
	for try := 0; ; try++ {
		_, err := roundTrip(a, near, 1, time.Second)
		if err == nil {
			// The first packet after the heal waits for a's next ARP
			// request (NeighRetrans, set in a's namespace), not the
			// kernel's 1 s.
			t.Logf("a reached a2 again %v after its link came back (attempt %d)", time.Since(up).Round(time.Millisecond), try+1)
			break
		}
		if try == 9 || time.Since(up) > 5*time.Second {
			t.Errorf("a cannot reach a2 after its link came back: %v", err)
			break
		}
	}
	var retrans []byte
	if err := a.Do(func() (err error) {
		retrans, err = os.ReadFile("/proc/sys/net/ipv4/neigh/eth0/retrans_time_ms")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(retrans)), fmt.Sprint(NeighRetrans.Milliseconds()); got != want {
		t.Errorf("a's eth0 retrans_time_ms %s, want %s", got, want)
	}
	if _, err := roundTrip(n.Hub(), ln.Addr().String(), 1, 5*time.Second); err != nil {
		t.Errorf("the hub cannot reach a after its link came back: %v", err)
	}
	t.Logf("relay: %+v", n.Relay().Stats())

	// Close removes every namespace of the net.
	name := n.Name()
	n.Close()
	ents, _ := os.ReadDir(netnsDir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), name+"-") {
			t.Errorf("namespace %s left after Close", e.Name())
		}
	}
}

// get asks url from nd and returns the status, or the error.
func get(nd *Node, url string, limit time.Duration) (int, error) {
	c := &http.Client{Timeout: limit, Transport: &http.Transport{DialContext: nd.DialContext, DisableKeepAlives: true}}
	r, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	r.Body.Close()
	return r.StatusCode, nil
}

// TestBackends serves a block from a backend node through the lab
// process and checks each element state as a prober sees it, and the
// probe records: who probed what and when, the first probe by another
// after a time, and the longest time without a probe.
func TestBackends(t *testing.T) {
	Require(t)
	n := New(t, Config{Sites: []string{"x"}})
	a, err := n.AddNode("a", "x")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := n.AddNode("a2", "x")
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.AddNode("b", "x")
	if err != nil {
		t.Fatal(err)
	}
	blk, err := b.AddBlock()
	if err != nil {
		t.Fatal(err)
	}
	be := NewBackends(n)
	if err := be.Serve(b, 80); err != nil {
		t.Fatal(err)
	}
	e1 := blk.Addr().Next()
	e2 := e1.Next()
	url := func(e netip.Addr) string { return "http://" + net.JoinHostPort(e.String(), "80") + "/" }
	t0 := time.Now()
	for _, e := range []netip.Addr{e1, e2} {
		if code, err := get(a, url(e), 2*time.Second); err != nil || code != 200 {
			t.Fatalf("alive %s: %d %v", e, code, err)
		}
	}
	be.Set(e1, Dead)
	if code, err := get(a, url(e1), 2*time.Second); err == nil {
		t.Errorf("dead %s answered %d", e1, code)
	}
	if st := be.State(e1); st != Dead {
		t.Errorf("state of %s: %v, want dead", e1, st)
	}
	be.Set(e1, Frozen)
	if code, err := get(a, url(e1), 300*time.Millisecond); err == nil {
		t.Errorf("frozen %s answered %d", e1, code)
	}
	be.Set(e1, Alive)
	if code, err := get(a, url(e1), 2*time.Second); err != nil || code != 200 {
		t.Errorf("revived %s: %d %v", e1, code, err)
	}
	handover := time.Now()
	if code, err := get(a2, url(e1), 2*time.Second); err != nil || code != 200 {
		t.Fatalf("a2 to %s: %d %v", e1, code, err)
	}
	ps, err := be.Probes(e1, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 5 || ps[0].From != a.Addr || ps[4].From != a2.Addr || ps[0].At.Before(t0) {
		t.Fatalf("probes of %s: %+v, want 4 from a then 1 from a2", e1, ps)
	}
	by, err := be.ProbedBy(a.Addr, t0, time.Now())
	if err != nil || len(by) != 2 || by[0] != e1 || by[1] != e2 {
		t.Errorf("probed by a: %v %v, want %v and %v", by, err, e1, e2)
	}
	took, missing, err := be.Takeover([]netip.Addr{e1, e2}, a.Addr, handover)
	if err != nil || len(took) != 1 || took[0] < 0 || took[0] > time.Second || len(missing) != 1 || missing[0] != e2 {
		t.Errorf("takeover after %v: %v, missing %v, %v; want e1 taken over at once, e2 missing", handover, took, missing, err)
	}
	end := time.Now()
	gaps, err := be.MaxProbeGap([]netip.Addr{e2}, t0, end)
	if err != nil || len(gaps) != 1 || gaps[0] < end.Sub(ps[0].At)-time.Second {
		t.Errorf("longest gap of %s: %v %v", e2, gaps, err)
	}
}
