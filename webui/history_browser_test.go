package webui_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/history"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/internal/browsertest"
	"github.com/poolnsd/poolnsd/webui"
)

// TestHistoryBrowserLarge loads the page over a history of 15 minutes of
// 1 005 elements (sampled with a clock the test sets: five elements of
// the big pool flap every minute, web's w2 went down 5 minutes ago): the
// big pool draws bands for its five flapping elements only and says how
// many it left out, web draws all four, the plots have their 900 points,
// and nothing comes from elsewhere. It logs what a refresh costs.
func TestHistoryBrowserLarge(t *testing.T) {
	hs, b, web := newSpace(t)
	ans := history.NewAnswers()
	rec := history.New(history.Config{}, history.Inputs{View: hs.View, Self: hs.RegistrarID, Answers: ans,
		Reason: func(pool string, id uint32) string {
			st, _ := b.ProbeStatus(pool, id)
			return st.Err
		}})
	big := hs.View().Pool("big.pool.test.").Elements()
	end := time.Now()
	start := end.Add(-899 * time.Second)
	for i := range 900 {
		at := start.Add(time.Duration(i) * time.Second)
		if i%60 == 30 { // down at 30 s, up at 90 s, …
			h := handlespace.HealthDown
			if (i/60)%2 == 1 {
				h = handlespace.HealthUp
			}
			for _, e := range big[:5] {
				if err := hs.Update("big.pool.test.", e.ID, func(x *handlespace.Element) { x.Health = h }); err != nil {
					t.Fatal(err)
				}
			}
		}
		if i == 600 {
			b.setStatus("web.pool.test.", web[1].ID, httpapi.ProbeStatus{At: at, Err: "connect: connection refused"})
			if err := hs.Update("web.pool.test.", web[1].ID, func(x *handlespace.Element) { x.Health = handlespace.HealthDown }); err != nil {
				t.Fatal(err)
			}
		}
		for j := range 20 {
			ans.Table().Add("web.pool.test.", web[j%3].ID, 0)
		}
		rec.Sample(at)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", httpapi.NewHandler(b, httpapi.Config{History: rec}))
	mux.Handle("/", webui.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// What a refresh moves: the history of 1 005 elements, gzipped.
	req, _ := http.NewRequest("GET", srv.URL+"/v1/history", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	zipped, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	zr, err := gzip.NewReader(strings.NewReader(string(zipped)))
	if err != nil {
		t.Fatalf("history reply not gzipped (%s): %v", resp.Header.Get("Content-Encoding"), err)
	}
	plain, _ := io.ReadAll(zr)
	t.Logf("GET /v1/history with 1005 elements: %d bytes, %d gzipped", len(plain), len(zipped))

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
	// More than 300 elements: the pools start closed and draw nothing of
	// their history until opened.
	waitFor("web and big listed", `document.querySelectorAll('section.pool.collapsed').length === 3 && window.poolnsdHistory() !== null`, 15*time.Second)
	if got := eval(`document.querySelectorAll('.pool-hist').length`); got != float64(0) {
		t.Errorf("%v closed pools drew their history", got)
	}
	for _, p := range []string{"web", "big"} {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`section[data-pool="`+p+`.pool.test."] .pool-head`))); err != nil {
			t.Fatal(err)
		}
	}
	const bigTL = `document.querySelector('section[data-pool="big.pool.test."] svg.tl')`
	const webTL = `document.querySelector('section[data-pool="web.pool.test."] svg.tl')`
	waitFor("both pools' bands", bigTL+` !== null && `+webTL+` !== null`, 10*time.Second)
	if got := eval(bigTL + `.querySelectorAll('g.tl-row').length`); got != float64(5) {
		t.Errorf("big pool draws %v bands, want the 5 flapping elements", got)
	}
	if got, _ := eval(`document.querySelector('section[data-pool="big.pool.test."] figure.timeline figcaption').textContent`).(string); !strings.Contains(got, "995 of 1000 elements up all the time") {
		t.Errorf("big pool caption %q", got)
	}
	// A flapping element: 15 spans of a minute each, alternating.
	if got := eval(bigTL + `.querySelector('g.tl-row').querySelectorAll('rect').length`); got.(float64) < 14 {
		t.Errorf("a flapping element has %v stretches, want about 15", got)
	}
	if got := eval(webTL + `.querySelectorAll('g.tl-row').length`); got != float64(4) {
		t.Errorf("web draws %v bands, want 4", got)
	}
	title, _ := eval(`[...[...` + webTL + `.querySelectorAll('g.tl-row')].find(g => g.textContent.startsWith('w2')).querySelectorAll('rect')].pop().querySelector('title').textContent`).(string)
	if !strings.Contains(title, "w2 down") || !strings.Contains(title, "connect: connection refused") || !strings.Contains(title, "(4m 59s)") {
		t.Errorf("w2's hover text %q, want down for 5 minutes with the probe's error", title)
	}
	if got := eval(`document.querySelector('figure.chart[data-series="served"] svg').dataset.points`); got != "1800" { // served and elements, 900 each
		t.Errorf("the served plot has %v points, want 1800", got)
	}
	if got := eval(`document.querySelector('#peers').textContent`); !strings.Contains(got.(string), "does not peer") {
		t.Errorf("peers panel without peering: %q", got)
	}
	// The long window.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[data-window="24h"]`))); err != nil {
		t.Fatal(err)
	}
	// 15 minutes are 15 or 16 points of a minute, each plot has two lines.
	waitFor("the 24 h window", `window.poolnsdHistory().step_s === 60 && ['30', '32'].includes(document.querySelector('figure.chart[data-series="served"] svg').dataset.points)`, 15*time.Second)
	var worst float64
	for range 3 {
		before := eval(`JSON.stringify(window.poolnsdHistoryTimings())`)
		waitFor("another history refresh", `JSON.stringify(window.poolnsdHistoryTimings()) !== '`+before.(string)+`'`, 15*time.Second)
		tm, _ := eval(`window.poolnsdHistoryTimings().render_ms`).(float64)
		worst = max(worst, tm)
	}
	t.Logf("a history refresh of 1005 elements: render at most %.1f ms (of 3)", worst)
	for _, u := range br.Requests() {
		if !strings.HasPrefix(u, srv.URL+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("the page requested %s, not on %s", u, srv.URL)
		}
	}
	if errs := br.Errors(); len(errs) > 0 {
		t.Errorf("page errors:\n%s", strings.Join(errs, "\n"))
	}
	// The big pool's history block alone (the page with 1 000 rows open is
	// 26 000 pixels tall).
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[data-window="15m"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor("the 15 min window", `window.poolnsdHistory().step_s === 1`, 15*time.Second)
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(`section[data-pool="big.pool.test."] .pool-hist`)))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(browsertest.ArtifactDir(t), "status-history-large.png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}
