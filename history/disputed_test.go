package history_test

import (
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/history"
)

// TestDisputed: an element whose vantage points disagree shows as
// disputed, with the reason, and back to up once they agree.
func TestDisputed(t *testing.T) {
	hs, els := space(t)
	r := history.New(history.Config{}, history.Inputs{View: hs.View})
	r.Sample(t0)
	set := func(v []handlespace.Vantage) {
		if err := hs.Update("web.pool.test.", els[0].ID, func(e *handlespace.Element) { e.Vantage = handlespace.VantagesOf(v) }); err != nil {
			t.Fatal(err)
		}
	}
	set([]handlespace.Vantage{{Registrar: 1, Health: handlespace.HealthUp}, {Registrar: 2, Health: handlespace.HealthDown}})
	r.Sample(t0.Add(time.Second))
	w1 := timeline(t, pool(t, r.History(history.Query{}), "web.pool.test."), "w1")
	if w1.State != "disputed" || w1.Reason == "" {
		t.Errorf("w1 with disagreeing vantage points: %+v", w1)
	}
	set(nil)
	r.Sample(t0.Add(2 * time.Second))
	w1 = timeline(t, pool(t, r.History(history.Query{}), "web.pool.test."), "w1")
	if w1.State != "up" || len(w1.Spans) != 2 || w1.Spans[1].State != "disputed" {
		t.Errorf("w1 once they agree: %+v", w1)
	}
}
