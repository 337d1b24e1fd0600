package enrpnet_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrpnet"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// TestDriverConfirmAndLeave: over real TCP, A's confirmation of its
// element goes to B and C, whose probes (OnProbe) see it up: A's verdict
// (OnVerdict) keeps it up and disputed. Then A leaves: Leave returns once
// B and C took its elements (OnHanded) and acknowledged, and both show
// them homed at one of them.
func TestDriverConfirmAndLeave(t *testing.T) {
	verdicts := make(chan enrp.Verdict, 4)
	var mu sync.Mutex
	handed := map[uint32]int{}          // times each element was handed to B or C, by ID
	handedNow := make(chan struct{}, 1) // OnHanded was called
	edit := func(id uint32) func(*enrpnet.DriverConfig) {
		return func(c *enrpnet.DriverConfig) {
			c.Node.Confirm = 2
			c.OnProbe = func(req enrp.ProbeRequest, done func(handlespace.Health, time.Duration)) {
				go done(handlespace.HealthUp, time.Millisecond)
			}
			c.OnVerdict = func(v enrp.Verdict) { verdicts <- v }
			c.OnHanded = func(hs []enrp.Handed) {
				mu.Lock()
				for _, h := range hs {
					handed[h.ID]++
				}
				mu.Unlock()
				select {
				case handedNow <- struct{}{}:
				default:
				}
			}
			c.HandoffState = func(pool string, id uint32) (time.Duration, int) { return 2 * time.Millisecond, 1 }
		}
	}
	a := startRegistrarWith(t, 0xa, nil, edit(0xa))
	b := startRegistrarWith(t, 0xb, nil, edit(0xb), a.drv.Addr().String())
	c := startRegistrarWith(t, 0xc, nil, edit(0xc), a.drv.Addr().String(), b.drv.Addr().String())
	for _, r := range []*registrar{a, b, c} {
		r.log.waitLog(t, "static-homes", "live 3")
	}
	var mine *handlespace.Element
	waitHS(t, a.hs, "an element homed at A", func() bool {
		for _, e := range a.hs.View().Pool("static.pool.test.").Elements() {
			if e.Home == 0xa {
				mine = e
				return true
			}
		}
		return false
	})
	if !a.drv.Confirm("static.pool.test.", mine.ID, handlespace.HealthDown, time.Second) {
		t.Fatal("Confirm refused")
	}
	select {
	case v := <-verdicts:
		if v.Health != handlespace.HealthUp || len(v.Vantage) != 3 || v.Asked != 2 {
			t.Fatalf("verdict %+v, want up, disputed by 3 vantage points", v)
		}
	case <-time.After(waitLimit):
		t.Fatal("no verdict")
	}
	var owned []uint32
	for _, e := range a.hs.View().Pool("static.pool.test.").Elements() {
		if e.Home == 0xa {
			owned = append(owned, e.ID)
		}
	}
	mu.Lock()
	clear(handed) // those handed back as the three met (a late one may still come: other elements)
	mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	start := time.Now()
	if !a.drv.Leave(ctx) {
		t.Fatal("Leave did not end")
	}
	took := time.Since(start)
	for _, r := range []*registrar{b, c} {
		waitHS(t, r.hs, "no element homed at A", func() bool {
			for _, e := range r.hs.View().Pool("static.pool.test.").Elements() {
				if e.Home == 0xa {
					return false
				}
			}
			return true
		})
	}
	// OnHanded comes just after the handlespace shows the hand-off (in
	// the same turn of B's and C's loops): wait for it as well.
	allHanded := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range owned {
			if handed[id] == 0 {
				return false
			}
		}
		return true
	}
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
wait:
	for !allHanded() {
		select {
		case <-handedNow:
		case <-deadline.C:
			break wait // the check below says which
		}
	}
	mu.Lock()
	for _, id := range owned {
		if n := handed[id]; n != 1 {
			t.Errorf("element %s, owned by A, was handed to B or C %d times, want once", handlespace.IDString(id), n)
		}
	}
	mu.Unlock()
	a.log.waitLog(t, "handoff-done")
	t.Logf("A handed %d elements off in %v", len(owned), took)
	// A confirmation after the hand-off asks nobody.
	if !a.drv.Confirm("static.pool.test.", mine.ID, handlespace.HealthDown, time.Second) {
		t.Fatal("Confirm refused")
	}
	select {
	case v := <-verdicts:
		if v.Asked != 0 || v.Health != handlespace.HealthDown {
			t.Fatalf("verdict after leaving %+v, want the proposal, nobody asked", v)
		}
	case <-time.After(waitLimit):
		t.Fatal("no verdict")
	}
}

// TestDriverConfirmFlood: a peer (trusted: plain TCP here; over TLS an
// untrusted one is refused at the handshake, TestDriverRefusesUntrusted)
// floods A with 5000 confirmation requests for elements homed at A, not
// at the asker, and for an element A does not know: every one is refused,
// at most a burst and a trickle of ERRORs say so, nothing is probed, A's
// handlespace does not change, and A goes on answering.
func TestDriverConfirmFlood(t *testing.T) {
	var probed atomic.Int64
	a := startRegistrarWith(t, 0xa, nil, func(c *enrpnet.DriverConfig) {
		c.Node.Confirm = 2
		c.Node.PresenceInterval = 10 * time.Second // the hand-made peer stays live without a word
		c.OnProbe = func(req enrp.ProbeRequest, done func(handlespace.Health, time.Duration)) {
			probed.Add(1)
			done(handlespace.HealthUp, 0)
		}
	})
	r := dialRaw(t, a.drv.Addr().String())
	hello, _ := (&wire.Message{Type: wire.TypePresence, Sender: 0xe, Receiver: 0xa, Checksum: 0xffff}).Encode()
	r.send(hello)
	// Some elements are homed at the peer now (the handlespace shows it
	// once the operations held back by A's table request apply).
	waitHS(t, a.hs, "an element homed at the peer", func() bool {
		return slices.ContainsFunc(a.hs.View().Pool("static.pool.test.").Elements(), func(e *handlespace.Element) bool { return e.Home == 0xe })
	})
	before := a.hs.View().Pool("static.pool.test.").Elements()
	var atA []*handlespace.Element
	for _, e := range before {
		if e.Home == 0xa {
			atA = append(atA, e)
		}
	}
	if len(atA) == 0 {
		t.Fatal("no element homed at A")
	}
	var buf []byte
	for i := 0; i < 5000; i++ {
		e := atA[i%len(atA)].Clone()
		if i%10 == 0 {
			e.ID = 0xdead0000 + uint32(i)
		}
		b, err := enrptest.ConfirmRequest(0xe, 0xa, "static.pool.test.", e, uint32(i)).Encode()
		if err != nil {
			t.Fatal(err)
		}
		buf = append(buf, b...)
	}
	flood := time.Now()
	r.send(buf)
	ask, _ := (&wire.Message{Type: wire.TypeListRequest, Sender: 0xe, Receiver: 0xa}).Encode()
	r.send(ask)
	errs, reasons := 0, map[uint8]int{}
	for {
		m := r.next()
		if m == nil {
			t.Fatal("A closed the connection")
		}
		if m.Type == wire.TypeError && m.Refused != nil && m.Refused.Request == wire.ParamXConfirmReq {
			errs++
			reasons[m.Refused.Reason]++
		}
		if m.Type == wire.TypeListResponse {
			break // the answer to the last message sent, after the flood
		}
	}
	// The answer may come before the driver has counted its message.
	for deadline := time.Now().Add(waitLimit); a.drv.Stats().Confirm.Refused < 5000 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if st := a.drv.Stats().Confirm; st.Refused != 5000 || st.Probes != 0 {
		t.Errorf("confirmation stats %+v, want 5000 refused, no probe", st)
	}
	// The refusals' ERRORs: a burst of 20, then 10 a second.
	if limit := 21 + int(10*time.Since(flood).Seconds()); errs == 0 || errs > limit || probed.Load() != 0 {
		t.Errorf("%d ERRORs for 5000 refused requests (reasons %v), %d probes; want a few ERRORs and no probe", errs, reasons, probed.Load())
	}
	after := a.hs.View().Pool("static.pool.test.").Elements()
	if len(after) != len(before) {
		t.Fatalf("A has %d elements, had %d", len(after), len(before))
	}
	for i := range after {
		if a, b := after[i], before[i]; a.ID != b.ID || a.Home != b.Home || a.Health != b.Health || a.Served() != b.Served() || a.Disputed() {
			t.Errorf("A's element %s changed: %+v, was %+v", handlespace.IDString(a.ID), *a, *b)
		}
	}
	t.Logf("5000 requests refused (%d ERRORs sent: %v), A answered its peer's LIST_REQUEST after them", errs, reasons)
}
