package history_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/history"
	"github.com/poolnsd/poolnsd/internal/hstest"
)

// TestBounds: beyond MaxPools a pool has no series and beyond MaxElements
// an element no timeline (both counted); a flapping element keeps at most
// MaxSpans changes; hours of samples keep every series at its length.
func TestBounds(t *testing.T) {
	hs, els := space(t)
	r := history.New(history.Config{Points: 30, CoarseEvery: 10, CoarsePoints: 6, MaxPools: 1, MaxElements: 2, MaxSpans: 5},
		history.Inputs{View: hs.View})
	for i := range 4 * 3600 {
		h := handlespace.HealthUp
		if i%2 == 1 {
			h = handlespace.HealthDown
		}
		if i < 100 { // flap w1 every second for 100 s
			if err := hs.Update("web.pool.test.", els[0].ID, func(x *handlespace.Element) { x.Health = h }); err != nil {
				t.Fatal(err)
			}
		}
		r.Sample(t0.Add(time.Duration(i) * time.Second))
	}
	h := r.History(history.Query{})
	if len(h.Pools) != 1 || h.UntrackedPools != 1 {
		t.Fatalf("%d pools with series, %d untracked; want 1 and 1", len(h.Pools), h.UntrackedPools)
	}
	p := h.Pools[0] // api sorts first and was seen first
	if p.Name != "api.pool.test." {
		t.Errorf("tracked pool %s", p.Name)
	}
	for name, v := range p.Series {
		if len(v) != 30 {
			t.Errorf("series %s has %d points, want 30", name, len(v))
		}
	}
	if got := len(r.History(history.Query{Window: 24 * time.Hour}).Global["served"]); got != 6 {
		t.Errorf("long series has %d points, want 6", got)
	}

	// Spans: a pool with two elements tracked, w1 flapping.
	hs2, els2 := space(t)
	r2 := history.New(history.Config{Points: 1000, MaxElements: 2, MaxSpans: 5}, history.Inputs{View: hs2.View})
	for i := range 50 {
		h := handlespace.HealthUp
		if i%2 == 1 {
			h = handlespace.HealthDown
		}
		if err := hs2.Update("web.pool.test.", els2[0].ID, func(x *handlespace.Element) { x.Health = h }); err != nil {
			t.Fatal(err)
		}
		r2.Sample(t0.Add(time.Duration(i) * time.Second))
	}
	h2 := r2.History(history.Query{})
	tracked := 0
	for _, p := range h2.Pools {
		for _, tl := range p.Timelines {
			tracked++
			if len(tl.Spans) > 5 {
				t.Errorf("%s keeps %d spans, want at most 5", tl.Label, len(tl.Spans))
			}
			if tl.Label == "w1" && len(tl.Spans) != 5 {
				t.Errorf("w1 flapped 49 times and keeps %d spans, want 5", len(tl.Spans))
			}
		}
	}
	if tracked != 2 || h2.UntrackedElements != 2 {
		t.Errorf("%d timelines, %d untracked; want 2 and 2 (4 elements, MaxElements 2)", tracked, h2.UntrackedElements)
	}
}

// TestPeers: peers with their state, presence age, elements homed and
// last sync event; events newest first, at most MaxEvents.
func TestPeers(t *testing.T) {
	hs, els := space(t)
	// w3 is homed at registrar 0x0b0b0b0b.
	if err := hs.Update("web.pool.test.", els[2].ID, func(e *handlespace.Element) { e.Home = 0x0b0b0b0b }); err != nil {
		t.Fatal(err)
	}
	peers := []history.Peer{{ID: 0x0b0b0b0b, Addr: "127.0.0.2:9901", State: history.PeerUp, LastHeard: t0.Add(-500 * time.Millisecond)},
		{ID: 0x0c0c0c0c, Addr: "127.0.0.3:9901", State: history.PeerDead}}
	r := history.New(history.Config{MaxEvents: 3}, history.Inputs{View: hs.View, Self: hs.RegistrarID, Peers: func() []history.Peer { return peers }})
	r.Event(t0, "sync-done", 0x0b0b0b0b, 0, 3, "")
	r.Event(t0.Add(time.Second), "peer-dead", 0x0c0c0c0c, 0, 0, "")
	r.Event(t0.Add(2*time.Second), "takeover-start", 0, 0x0c0c0c0c, 0, "")
	r.Event(t0.Add(3*time.Second), "takeover-done", 0, 0x0c0c0c0c, 7, "")
	r.Sample(t0)
	p := r.Peers(t0.Add(time.Second))
	if !p.Peering || p.Registrar != "0a0a0a0a" || p.Homed != 3 {
		t.Errorf("peering %v registrar %s homed %d; want true 0a0a0a0a 3", p.Peering, p.Registrar, p.Homed)
	}
	if len(p.Peers) != 2 {
		t.Fatalf("peers %+v", p.Peers)
	}
	b, c := p.Peers[0], p.Peers[1]
	if b.ID != "0b0b0b0b" || b.State != "up" || b.Homed != 1 || b.HeardAgoS == nil || *b.HeardAgoS != 1.5 || b.Sync == nil || b.Sync.Kind != "sync-done" || b.Sync.Count != 3 {
		t.Errorf("peer b %+v", b)
	}
	if c.State != "dead" || c.LastHeard != nil || c.Homed != 0 || c.Sync != nil {
		t.Errorf("peer c %+v", c)
	}
	var kinds []string
	for _, e := range p.Events {
		kinds = append(kinds, e.Kind)
	}
	if len(kinds) != 3 || kinds[0] != "takeover-done" || kinds[2] != "peer-dead" || p.Events[0].Target != "0c0c0c0c" || p.Events[0].Count != 7 {
		t.Errorf("events %+v, want the last 3 newest first", p.Events)
	}
	// Without peering.
	r2 := history.New(history.Config{}, history.Inputs{View: hs.View})
	r2.Sample(t0)
	if p := r2.Peers(t0); p.Peering || len(p.Peers) != 0 {
		t.Errorf("without peering: %+v", p)
	}
}

// TestPeersRTTAndHandovers: a peer's RTT (null when unknown), the
// takeovers and hand-offs kept apart from the other events (a burst of
// syncs does not push them out), and each peer's last one.
func TestPeersRTTAndHandovers(t *testing.T) {
	hs, _ := space(t)
	peers := []history.Peer{{ID: 0x0b0b0b0b, State: history.PeerUp, RTT: 1500 * time.Microsecond, RTTVar: 250 * time.Microsecond},
		{ID: 0x0c0c0c0c, State: history.PeerDead}, {ID: 0x0d0d0d0d, State: history.PeerUp}}
	r := history.New(history.Config{MaxEvents: 3}, history.Inputs{View: hs.View, Self: hs.RegistrarID, Peers: func() []history.Peer { return peers }})
	r.Event(t0, "takeover-start", 0, 0x0c0c0c0c, 0, "")
	r.Event(t0.Add(time.Second), "takeover-done", 0, 0x0c0c0c0c, 7, "")
	r.Event(t0.Add(2*time.Second), "handoff-in", 0x0b0b0b0b, 0, 2, "it is leaving")
	for i := range 5 {
		r.Event(t0.Add(time.Duration(3+i)*time.Second), "sync-done", 0x0d0d0d0d, 0, 1, "")
	}
	r.Sample(t0.Add(8 * time.Second))
	p := r.Peers(t0.Add(8 * time.Second))
	var kinds []string
	for _, e := range p.Handovers {
		kinds = append(kinds, e.Kind)
	}
	if fmt.Sprint(kinds) != "[handoff-in takeover-done takeover-start]" {
		t.Errorf("handovers %v, want [handoff-in takeover-done takeover-start]", kinds)
	}
	for _, e := range p.Events {
		if e.Kind != "sync-done" {
			t.Errorf("events %+v: want the last 3, all syncs", p.Events)
			break
		}
	}
	b, c, d := p.Peers[0], p.Peers[1], p.Peers[2]
	if b.RTTMS == nil || *b.RTTMS != 1.5 || b.RTTVarMS == nil || *b.RTTVarMS != 0.25 || b.Handover == nil || b.Handover.Kind != "handoff-in" || b.Handover.Count != 2 {
		t.Errorf("peer b %+v, want RTT 1.5 ms ± 0.25 and its hand-off", b)
	}
	if c.RTTMS != nil || c.Handover == nil || c.Handover.Kind != "takeover-done" || c.Handover.Target != "0c0c0c0c" {
		t.Errorf("peer c %+v, want no RTT and its takeover", c)
	}
	if d.RTTMS != nil || d.Handover != nil {
		t.Errorf("peer d %+v, want no RTT, no handover", d)
	}
}

// TestChurn: elements that come and go (a registration a second, each
// deregistered a second later) for an hour leave no more timelines than
// the short window holds, and the answer tally forgets them.
func TestChurn(t *testing.T) {
	hs, _ := space(t)
	ans := history.NewAnswers()
	r := history.New(history.Config{Points: 60}, history.Inputs{View: hs.View, Answers: ans})
	var prev *handlespace.Element
	for i := range 3600 {
		e := hstest.Elem(fmt.Sprintf("c%d", i), fmt.Sprintf("10.9.%d.%d", i/250, i%250+1), 80, 1)
		e.Expires = handlespace.ExpiryOf(t0.Add(time.Hour))
		e.Health = handlespace.HealthUp
		if err := hs.Do(handlespace.Op{Pool: "churn.pool.test.", Elem: e, Policy: "rr"}); err != nil {
			t.Fatal(err)
		}
		ans.Table().Add("churn.pool.test.", e.ID, 0)
		if prev != nil {
			if err := hs.Do(handlespace.Op{Pool: "churn.pool.test.", ID: prev.ID}); err != nil {
				t.Fatal(err)
			}
		}
		prev = e
		r.Sample(t0.Add(time.Duration(i) * time.Second))
	}
	h := r.History(history.Query{Pool: "churn.pool.test."})
	if len(h.Pools) != 1 {
		t.Fatalf("pools %+v", h.Pools)
	}
	if n := len(h.Pools[0].Timelines); n > 62 {
		t.Errorf("%d timelines after an hour of churn, want at most the window's 61 or so", n)
	}
	for _, as := range h.Pools[0].Actual {
		if len(as.Elements) > 61 {
			t.Errorf("share over %v s lists %d elements", as.WindowS, len(as.Elements))
		}
	}
	if n := history.TallyLen(ans, hs.View().Pool("churn.pool.test.").PoolInfo); n > 61 {
		t.Errorf("the tally keeps %d elements of the pool, want those of the last minute at most", n)
	}
}
