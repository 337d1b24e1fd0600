package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/history"
	"github.com/poolnsd/poolnsd/httpapi"
)

// historyFixture is the fixture with a history recorder over its
// handlespace, sampled at t0-2s, t0-1s and t0.
func historyFixture(t *testing.T) (*fixture, *history.Recorder) {
	var f *fixture
	rec := history.New(history.Config{}, history.Inputs{
		View: func() *handlespace.View { return f.hs.View() },
		Self: func() uint32 { return 7 },
		Reason: func(pool string, id uint32) string {
			st, _ := f.b.ProbeStatus(pool, id)
			return st.Err
		},
	})
	f = newFixtureWith(t, httpapi.Config{History: rec})
	for i := 2; i >= 0; i-- {
		rec.Sample(t0.Add(-time.Duration(i) * time.Second))
	}
	return f, rec
}

// TestHistoryEndpoint: GET /v1/history gives the series and timelines of
// every pool or of one, in the short or the long window; bad parameters
// are 400 and an unknown pool 404.
func TestHistoryEndpoint(t *testing.T) {
	f, _ := historyFixture(t)
	rp := f.do(t, "GET", "/v1/history", "", "")
	rp.want(t, http.StatusOK, "")
	var h history.Reply
	if err := json.Unmarshal([]byte(rp.body), &h); err != nil {
		t.Fatal(err)
	}
	if h.StepS != 1 || h.WindowS != 900 || !h.Time.Equal(t0) || h.Registrar != "00000007" {
		t.Errorf("step %v window %v time %v registrar %s", h.StepS, h.WindowS, h.Time, h.Registrar)
	}
	var names []string
	for _, p := range h.Pools {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, " "); got != "api.pool.test. solo.other.test. web.other.test. web.pool.test." {
		t.Errorf("pools %s", got)
	}
	web := h.Pools[3]
	if s := web.Series["served"]; len(s) != 900 || s[897] != 3 || s[899] != 3 || s[896] == s[896] {
		t.Errorf("web served: %d points, last three %v", len(s), s[896:])
	}
	var down *history.Timeline
	for i, tl := range web.Timelines {
		if tl.Label == "web2" {
			down = &web.Timelines[i]
		}
	}
	if down == nil || down.State != "down" || down.Reason != "connection refused" {
		t.Errorf("web2 timeline %+v, want down with the probe's error", down)
	}
	if web.Expected == nil || web.Expected.Basis != "equal" || len(web.Expected.Elements) != 3 {
		t.Errorf("web (rr) expected share %+v, want equal over its 3 served elements", web.Expected)
	}

	// One pool, the long window, no timelines.
	rp = f.do(t, "GET", "/v1/history?pool=web.pool.test&window=24h&timelines=0", "", "")
	rp.want(t, http.StatusOK, "")
	h = history.Reply{}
	if err := json.Unmarshal([]byte(rp.body), &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Pools) != 1 || h.Pools[0].Name != "web.pool.test." || h.Pools[0].Timelines != nil || h.StepS != 60 || h.WindowS != 86400 {
		t.Errorf("one pool, 24h: %d pools, step %v window %v", len(h.Pools), h.StepS, h.WindowS)
	}
	for _, tt := range []struct{ q, status, msg string }{
		{"window=soon", "400", "window"},
		{"window=-5m", "400", "window"},
		{"timelines=maybe", "400", "timelines"},
		{"pool=nope.pool.test", "404", "nope"},
	} {
		rp := f.do(t, "GET", "/v1/history?"+tt.q, "", "")
		if got := rp.code; http.StatusText(got) == "" || strings.TrimSpace(tt.status) != itoa(got) || !strings.Contains(rp.body, tt.msg) {
			t.Errorf("?%s: %d %s, want %s mentioning %q", tt.q, rp.code, rp.body, tt.status, tt.msg)
		}
	}
	f.do(t, "POST", "/v1/history", "{}", testToken).want(t, http.StatusMethodNotAllowed, "")

	// A server without history.
	g := newFixture(t, testToken)
	g.do(t, "GET", "/v1/history", "", "").want(t, http.StatusNotFound, "no history")
	g.do(t, "GET", "/v1/peers", "", "").want(t, http.StatusNotFound, "no history")
}

// TestPeersEndpoint: GET /v1/peers without peering says so, with this
// registrar's homed count; a takeover is in the events and the handovers.
func TestPeersEndpoint(t *testing.T) {
	f, rec := historyFixture(t)
	rec.Event(t0, "takeover-done", 0, 0x0a0b0c0d, 1, "")
	rp := f.do(t, "GET", "/v1/peers", "", "")
	rp.want(t, http.StatusOK, "")
	sameJSON(t, "peers", rp.json, `{"time":"2026-01-02T03:04:05Z","registrar":"00000007","peering":false,"homed":6,"peers":[],
		"events":[{"at":"2026-01-02T03:04:05Z","kind":"takeover-done","target":"0a0b0c0d","count":1}],
		"handovers":[{"at":"2026-01-02T03:04:05Z","kind":"takeover-done","target":"0a0b0c0d","count":1}]}`)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
