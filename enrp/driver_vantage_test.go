package enrp_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
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
	handed := map[uint32]int{}
	edit := func(id uint32) func(*enrp.DriverConfig) {
		return func(c *enrp.DriverConfig) {
			c.Node.Confirm = 2
			c.OnProbe = func(req enrp.ProbeRequest, done func(handlespace.Health, time.Duration)) {
				go done(handlespace.HealthUp, time.Millisecond)
			}
			c.OnVerdict = func(v enrp.Verdict) { verdicts <- v }
			c.OnHanded = func(hs []enrp.Handed) {
				mu.Lock()
				handed[id] += len(hs)
				mu.Unlock()
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
	owned := 0
	for _, e := range a.hs.View().Pool("static.pool.test.").Elements() {
		if e.Home == 0xa {
			owned++
		}
	}
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
	mu.Lock()
	got := handed[0xb] + handed[0xc]
	mu.Unlock()
	if got != owned {
		t.Errorf("B and C were handed %d elements, A owned %d", got, owned)
	}
	a.log.waitLog(t, "handoff-done")
	t.Logf("A handed %d elements off in %v", owned, took)
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
