package history_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/history"
	"github.com/poolnsd/poolnsd/internal/hstest"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// space is a handlespace with pool web (w1..w3, wrr with weights 1, 1, 2)
// and pool api (a1, rr), every element up.
func space(t *testing.T) (*handlespace.Handlespace, []*handlespace.Element) {
	t.Helper()
	hs := handlespace.New(handlespace.Options{RegistrarID: 0x0a0a0a0a, Now: func() time.Time { return t0 }})
	els := []*handlespace.Element{hstest.Elem("w1", "10.0.0.1", 80, 1), hstest.Elem("w2", "10.0.0.2", 80, 1), hstest.Elem("w3", "10.0.0.3", 80, 2)}
	reload(t, hs, els)
	return hs, els
}

// reload applies the zone of space with the web pool's elements els (a
// zone file edited and reloaded).
func reload(t *testing.T, hs *handlespace.Handlespace, els []*handlespace.Element) {
	t.Helper()
	rrs := hstest.RRs(t, "pool.test. 3600 IN SOA ns1.pool.test. h.pool.test. 1 3600 600 86400 30\npool.test. 3600 IN NS ns1.pool.test.\nns1.pool.test. 3600 IN A 192.0.2.53\n")
	web := handlespace.DefaultPoolSpec()
	web.Policy = "wrr"
	api := handlespace.DefaultPoolSpec()
	var cl []*handlespace.Element
	for _, e := range els {
		cl = append(cl, e.Clone())
	}
	if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "pool.test.", File: "t.zone", Records: rrs, Pools: []handlespace.PoolDef{
		{Handle: "web", Spec: web, Elements: cl},
		{Handle: "api", Spec: api, Elements: []*handlespace.Element{hstest.Elem("a1", "10.0.1.1", 80, 1)}},
	}}}); err != nil {
		t.Fatal(err)
	}
}

func pool(t *testing.T, r history.Reply, name string) history.PoolHistory {
	t.Helper()
	for _, p := range r.Pools {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no pool %s in %v", name, r.Pools)
	return history.PoolHistory{}
}

func timeline(t *testing.T, p history.PoolHistory, label string) history.Timeline {
	t.Helper()
	for _, tl := range p.Timelines {
		if tl.Label == label {
			return tl
		}
	}
	t.Fatalf("no timeline of %s in pool %s", label, p.Name)
	return history.Timeline{}
}

func str(v history.Values) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRecorder: series of counts and changes per pool, an element's
// timeline with the reason of its fall, the registrar's query rate and
// latency from its counters, and a removed element shown as gone.
func TestRecorder(t *testing.T) {
	hs, els := space(t)
	var cnt history.Counters
	reasons := map[uint32]string{}
	r := history.New(history.Config{Points: 10, CoarseEvery: 5, CoarsePoints: 4}, history.Inputs{
		View:     hs.View,
		Self:     hs.RegistrarID,
		Reason:   func(pool string, id uint32) string { return reasons[id] },
		Counters: func() history.Counters { return cnt },
	})
	r.Sample(t0)
	cnt = history.Counters{Queries: 500, Timed: 10, TimedSum: 100 * time.Microsecond}
	r.Sample(t0.Add(time.Second))
	// w2 goes down at +2 s, with a reason.
	reasons[els[1].ID] = "connect: connection refused"
	if err := hs.Update("web.pool.test.", els[1].ID, func(x *handlespace.Element) { x.Health = handlespace.HealthDown }); err != nil {
		t.Fatal(err)
	}
	cnt = history.Counters{Queries: 1500, Timed: 20, TimedSum: 300 * time.Microsecond}
	r.Sample(t0.Add(2 * time.Second))
	// +3 s nothing; +5 s (a skipped sample) w3 drained.
	r.Sample(t0.Add(3 * time.Second))
	if err := hs.Update("web.pool.test.", els[2].ID, func(e *handlespace.Element) { e.Admin = handlespace.AdminDrain }); err != nil {
		t.Fatal(err)
	}
	r.Sample(t0.Add(5 * time.Second))

	h := r.History(history.Query{})
	if h.StepS != 1 || h.WindowS != 10 || !h.Start.Equal(t0.Add(-4*time.Second)) || !h.Time.Equal(t0.Add(5*time.Second)) {
		t.Errorf("step %v window %v start %v time %v", h.StepS, h.WindowS, h.Start, h.Time)
	}
	if h.Registrar != "0a0a0a0a" {
		t.Errorf("registrar %q", h.Registrar)
	}
	web := pool(t, h, "web.pool.test.")
	for name, want := range map[string]string{
		"elements": "[null,null,null,null,3,3,3,3,null,3]",
		"served":   "[null,null,null,null,3,3,2,2,null,1]",
		"up":       "[null,null,null,null,3,3,2,2,null,2]",
		"down":     "[null,null,null,null,0,0,1,1,null,1]",
		"changes":  "[null,null,null,null,0,0,1,0,null,1]",
	} {
		if got := str(web.Series[name]); got != want {
			t.Errorf("web %s %s, want %s", name, got, want)
		}
	}
	if got := str(h.Global["qps"]); got != "[null,null,null,null,null,500,1000,0,null,0]" {
		t.Errorf("qps %s", got)
	}
	if got := str(h.Global["latency_us"]); got != "[null,null,null,null,null,10,20,null,null,null]" {
		t.Errorf("latency %s", got)
	}
	if got := str(h.Global["served"]); got != "[null,null,null,null,4,4,3,3,null,2]" {
		t.Errorf("global served %s", got)
	}
	if got := str(h.Global["peers_up"]); got != "[null,null,null,null,null,null,null,null,null,null]" {
		t.Errorf("peers_up without peering %s", got)
	}
	w2 := timeline(t, web, "w2")
	if w2.State != "down" || !w2.Since.Equal(t0.Add(2*time.Second)) || w2.Reason != "connect: connection refused" {
		t.Errorf("w2 now %+v", w2)
	}
	if len(w2.Spans) != 1 || w2.Spans[0].State != "up" || !w2.Spans[0].From.Equal(t0) || !w2.Spans[0].To.Equal(t0.Add(2*time.Second)) {
		t.Errorf("w2 spans %+v", w2.Spans)
	}
	if w3 := timeline(t, web, "w3"); w3.State != "drained" || w3.Reason != "drained by an operator" || len(w3.Spans) != 1 {
		t.Errorf("w3 %+v", w3)
	}
	if w1 := timeline(t, web, "w1"); w1.State != "up" || len(w1.Spans) != 0 || !w1.Since.Equal(t0) {
		t.Errorf("w1 %+v", w1)
	}
	// wrr: shares by weight among the served (w1 only now).
	if web.Expected == nil || web.Expected.Basis != "weight" || len(web.Expected.Elements) != 1 || web.Expected.Elements[0].Label != "w1" || web.Expected.Elements[0].Share != 1 {
		t.Errorf("web expected share %+v", web.Expected)
	}

	// w1 removed from the zone file: gone. (This handlespace without
	// probing starts the reloaded elements up and auto, where the daemon
	// keeps their health and restores their administrative state: w2 is
	// down and w3 drained again, in the same sample.)
	reload(t, hs, els[1:])
	for id, f := range map[uint32]func(*handlespace.Element){
		els[1].ID: func(e *handlespace.Element) { e.Health = handlespace.HealthDown },
		els[2].ID: func(e *handlespace.Element) { e.Admin = handlespace.AdminDrain },
	} {
		if err := hs.Update("web.pool.test.", id, f); err != nil {
			t.Fatal(err)
		}
	}
	r.Sample(t0.Add(6 * time.Second))
	web = pool(t, r.History(history.Query{Pool: "web.pool.test."}), "web.pool.test.")
	if w1 := timeline(t, web, "w1"); w1.State != "gone" || w1.Reason == "" {
		t.Errorf("w1 after deregistration %+v", w1)
	}
	// Out of the short window, the gone element is forgotten and the
	// old spans dropped.
	r.Sample(t0.Add(20 * time.Second))
	web = pool(t, r.History(history.Query{}), "web.pool.test.")
	for _, tl := range web.Timelines {
		if tl.Label == "w1" {
			t.Errorf("w1 still there 14 s after it left a 10 s window: %+v", tl)
		}
		for _, s := range tl.Spans {
			if s.To.Before(t0.Add(10 * time.Second)) {
				t.Errorf("%s keeps a span that ended before the window: %+v", tl.Label, s)
			}
		}
	}
	// The long window: points of 5 s, minimum for counts, sum for changes.
	long := r.History(history.Query{Window: time.Minute})
	if long.StepS != 5 || long.WindowS != 20 {
		t.Errorf("long step %v window %v", long.StepS, long.WindowS)
	}
	lw := pool(t, long, "web.pool.test.")
	// Points of t0+5..9 s (served 1 then 0), two with no sample, t0+20 s.
	if got := str(lw.Series["served"]); got != "[0,null,null,0]" {
		t.Errorf("long served %s, want the minimum of each 5 s", got)
	}
	if got := str(lw.Series["changes"]); got != "[2,null,null,0]" {
		t.Errorf("long changes %s, want the sum of each 5 s", got)
	}
}
