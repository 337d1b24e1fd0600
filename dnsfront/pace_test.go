package dnsfront

import (
	"encoding/base64"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/updatetest"
	"github.com/poolnsd/poolnsd/regcommit"
)

// probePacer is a Pacer whose turns each send a query to the loop's
// socket; a turn granted checks that the query of the turn before it was
// answered already.
type probePacer struct {
	t      *testing.T
	client *net.UDPConn
	query  []byte

	mu      sync.Mutex
	wake    func() bool
	left    int      // turns waiting
	granted int      // turns granted
	late    []int    // turns granted before the query of the one before was answered
	done    chan int // the number granted, once none is left
}

func (p *probePacer) Attach(wake func() bool) func() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wake = wake
	return func() {}
}

func (p *probePacer) Turn() {}

func (p *probePacer) Waiting() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.left > 0
}

func (p *probePacer) Grant() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.left == 0 {
		return false
	}
	if p.granted > 0 {
		// The reply to the last turn's query is on the client's socket
		// (loopback delivers as the loop sends) if the loop read its
		// socket and answered before this grant.
		p.client.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		buf := make([]byte, 512)
		if _, err := p.client.Read(buf); err != nil {
			p.late = append(p.late, p.granted+1)
		}
	}
	if _, err := p.client.Write(p.query); err != nil {
		p.t.Error(err)
	}
	p.left--
	p.granted++
	if p.left == 0 {
		p.done <- p.granted
	}
	return true
}

// TestLoopGrantsTurnByTurn: a UDP loop grants the registrar's turns one
// at a time, and reads and answers its socket between two grants: each
// turn here sends a query, which is answered before the next turn is
// granted. The turns come while the loop is parked (the Pacer wakes it).
// Only a loop that waits in Go's network poller paces (dnsserve's Paces).
func TestLoopGrantsTurnByTurn(t *testing.T) {
	p := &probePacer{t: t, done: make(chan int, 1)}
	addr, _ := serveTest(t, Config{Logger: discardLog(), Pacer: p, UDPPoller: true}, newTestSpace(t))
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p.client = c.(*net.UDPConn)
	q := new(dns.Msg)
	q.SetQuestion("web.pool.test.", dns.TypeA)
	p.query, _ = q.Pack()
	time.Sleep(20 * time.Millisecond) // the loop parks
	const turns = 20
	p.mu.Lock()
	p.left = turns
	wake := p.wake
	p.mu.Unlock()
	if wake == nil || !wake() {
		t.Fatal("the loop did not attach, or its wake failed")
	}
	select {
	case n := <-p.done:
		if n != turns {
			t.Fatalf("%d turns granted; want %d", n, turns)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("turns not granted: %d of %d", p.granted, turns)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.late) > 0 {
		t.Errorf("turns %v were granted before the query of the turn before was answered", p.late)
	}
}

// TestUpdatePacedByLoop: with the registrar's Pacer and loops that wait
// in Go's network poller, a DNS UPDATE is checked, committed and answered
// through turns that the UDP loop grants (the UPDATE goroutine's, the
// committer's and the answer's): with a hold of a minute, nothing but the
// loop grants them within the test's time. Loops that wait in their own
// recvmmsg (the default) hold a P of their own and do not pace: the turns
// are granted at once, none by a loop, none by the hold.
func TestUpdatePacedByLoop(t *testing.T) {
	for _, poller := range []bool{true, false} {
		t.Run(fmt.Sprintf("poller=%v", poller), func(t *testing.T) {
			hs := newTestSpace(t)
			_, reg := updatetest.Committer(t, hs, regcommit.Config{PaceHold: time.Minute})
			addr, _ := serveTest(t, Config{Logger: discardLog(), Updates: reg, Pacer: reg.Pacer(), TSIG: testKeys, UDPPoller: poller}, hs)
			c := &dns.Client{Net: "udp", Timeout: 5 * time.Second,
				TsigSecret: map[string]string{updatetest.KeyAll: base64.StdEncoding.EncodeToString(updatetest.Secret)}}
			for i, label := range []string{"p1", "p2", "p3"} {
				m := updatetest.Msg(t, updatetest.PE(label, 80, "192.0.2.1", 30)...)
				m.SetTsig(updatetest.KeyAll, dns.HmacSHA256, 300, time.Now().Unix())
				r, _, err := c.Exchange(m, addr)
				if err != nil || r.Rcode != dns.RcodeSuccess {
					t.Fatalf("update %d: %v %v", i, r, err)
				}
				if pv := hs.View().Zone("pool.test.").Pool("dyn"); pv == nil || pv.Label(label) == nil {
					t.Fatalf("update %d answered but %s not registered", i, label)
				}
			}
			s := reg.Pacer().Stats()
			switch {
			case poller && (s.Granted < 9 || s.Expired != 0):
				t.Errorf("pacer %+v; want the turns of the 3 UPDATEs, their batches and their answers granted by the loop, none expired", s)
			case !poller && (s.Granted != 0 || s.Expired != 0):
				t.Errorf("pacer %+v; want no turn waiting for a loop that holds its own P", s)
			}
		})
	}
}
