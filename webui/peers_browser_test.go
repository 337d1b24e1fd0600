package webui_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/poolnsd/poolnsd/history"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/internal/browsertest"
	"github.com/poolnsd/poolnsd/webui"
)

// TestHistoryBrowserPeersLatency: a pool's answer latency plot (the mean
// latency of its timed answers, 50 µs, then 150 µs for the last minute),
// and the peers panel with each peer's RTT (unknown for a dead one), its
// last takeover or hand-off, and the takeovers and hand-offs listed apart
// from a burst of other events. Screenshots are kept.
func TestHistoryBrowserPeersLatency(t *testing.T) {
	hs, b, web := newSpace(t)
	ans := history.NewAnswers()
	peers := []history.Peer{
		{ID: 0x0b0b0b0b, Addr: "127.0.0.2:9901", State: history.PeerUp, LastHeard: time.Now(), RTT: 1500 * time.Microsecond, RTTVar: 200 * time.Microsecond},
		{ID: 0x0c0c0c0c, Addr: "127.0.0.3:9901", State: history.PeerDead},
		{ID: 0x0d0d0d0d, Addr: "127.0.0.4:9901", State: history.PeerUp, LastHeard: time.Now(), RTT: 240 * time.Microsecond},
	}
	rec := history.New(history.Config{}, history.Inputs{View: hs.View, Self: hs.RegistrarID, Answers: ans,
		Peers: func() []history.Peer { return peers }, PeerAddr: func() string { return "127.0.0.1:9901" }})
	info := hs.View().Pool("web.pool.test.").PoolInfo
	end := time.Now()
	start := end.Add(-299 * time.Second)
	for i := range 300 {
		at := start.Add(time.Duration(i) * time.Second)
		lat := 50 * time.Microsecond
		if i >= 240 {
			lat = 150 * time.Microsecond
		}
		for j := range 10 {
			ans.Table().Add(info.Name, web[j%3].ID, lat)
		}
		switch i {
		case 100:
			rec.Event(at, "peer-dead", 0x0c0c0c0c, 0, 0, "")
			rec.Event(at, "takeover-start", 0, 0x0c0c0c0c, 0, "")
		case 101:
			rec.Event(at, "takeover-done", 0, 0x0c0c0c0c, 4, "")
		case 200:
			rec.Event(at, "handoff-in", 0x0d0d0d0d, 0, 3, "leaving")
		}
		if i > 250 { // a burst of other events after them
			rec.Event(at, "sync-done", 0x0b0b0b0b, 0, 1, "")
		}
		rec.Sample(at)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", httpapi.NewHandler(b, httpapi.Config{History: rec}))
	mux.Handle("/", webui.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	br := browsertest.New(t, 90*time.Second)
	ctx := br.Ctx
	eval := func(js string) any {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return v
	}
	waitFor := func(what, js string, d time.Duration) {
		t.Helper()
		start := time.Now()
		for i := 0; ; i++ {
			if v, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); v {
				return
			}
			if time.Since(start) > d {
				t.Fatalf("%s: not after %v (%d checks); page errors: %v", what, d, i, br.Errors())
			}
			time.Sleep(20 * time.Millisecond) // a poll interval of the condition, not a wait for a result
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	waitFor("pools listed, peers drawn", `document.querySelector('section.pool[data-pool="web.pool.test."]') !== null && document.querySelector('#peers table.peers') !== null`, 15*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`section[data-pool="web.pool.test."] .pool-head`))); err != nil {
		t.Fatal(err)
	}
	const lat = `document.querySelector('section[data-pool="web.pool.test."] figure.chart[data-series="pool-latency"]')`
	waitFor("web's latency plot", lat+` !== null`, 10*time.Second)
	if got := eval(lat + `.querySelector('b.chart-val').textContent`); got != "150 µs" {
		t.Errorf("web's latency now %q, want 150 µs", got)
	}
	// 5 minutes at 1 s; the first sample has no rate (nothing before it).
	if got := eval(lat + `.querySelector('svg').dataset.points`); got != "299" {
		t.Errorf("web's latency plot has %v points, want 299", got)
	}
	if got, _ := eval(lat + `.querySelector('.chart-foot').textContent`).(string); !strings.Contains(got, "max 150") {
		t.Errorf("web's latency range %q, want max 150", got)
	}
	row := func(id string) string { return `document.querySelector('#peers tr[data-peer="` + id + `"]')` }
	cell := func(id, cls string) string {
		v, _ := eval(row(id) + `.querySelector('td.` + cls + `').textContent`).(string)
		return v
	}
	if got := cell("0b0b0b0b", "rtt"); got != "1.50 ms" {
		t.Errorf("b's RTT %q, want 1.50 ms", got)
	}
	if got := cell("0d0d0d0d", "rtt"); got != "240 µs" {
		t.Errorf("d's RTT %q, want 240 µs", got)
	}
	if got := cell("0c0c0c0c", "rtt"); got != "?" {
		t.Errorf("dead c's RTT %q, want ?", got)
	}
	if got := eval(row("0c0c0c0c") + `.querySelector('td.handover').dataset.kind`); got != "takeover-done" {
		t.Errorf("c's last takeover/hand-off %v, want takeover-done", got)
	}
	if got := cell("0d0d0d0d", "handover"); !strings.HasPrefix(got, "handoff-in (3), ") {
		t.Errorf("d's last takeover/hand-off %q, want handoff-in (3), …", got)
	}
	if got := cell("0b0b0b0b", "handover"); got != "—" {
		t.Errorf("b's last takeover/hand-off %q, want none", got)
	}
	// The takeovers and hand-offs, newest first, though 48 syncs came
	// after them (the recent events show the last 12, syncs only).
	if got := eval(`[...document.querySelectorAll('#peers .events.handovers li')].map(l => l.dataset.kind).join()`); got != "handoff-in,takeover-done,takeover-start" {
		t.Errorf("takeovers and hand-offs listed %v", got)
	}
	if got := eval(`[...document.querySelectorAll('#peers .events.recent li')].every(l => l.dataset.kind === 'sync-done')`); got != true {
		t.Errorf("recent events %v, want the syncs", eval(`document.querySelector('#peers .events.recent').textContent`))
	}
	if errs := br.Errors(); len(errs) > 0 {
		t.Errorf("page errors:\n%s", strings.Join(errs, "\n"))
	}
	for _, u := range br.Requests() {
		if !strings.HasPrefix(u, srv.URL+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("the page requested %s, not on %s", u, srv.URL)
		}
	}
	br.ScreenshotOf(t, "#peers", "status-peers-rtt-handovers.png")
	br.ScreenshotOf(t, `section[data-pool="web.pool.test."] .pool-hist`, "status-pool-latency.png")
}
