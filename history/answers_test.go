package history_test

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/history"
)

// TestAnswers: a pool's answers per second and the shares of first places
// over the last 10 s and the last minute, from the tally's counts; an
// element that stops coming first falls to zero in the short window
// first.
func TestAnswers(t *testing.T) {
	hs, els := space(t)
	ans := history.NewAnswers()
	r := history.New(history.Config{}, history.Inputs{View: hs.View, Answers: ans})
	const pool = "web.pool.test."
	info := hs.View().Pool(pool).PoolInfo
	// 60 s: each second 10 answers, w1 first 2, w2 3, w3 5.
	for i := range 60 {
		for range 2 {
			ans.Table().Add(info.Name, els[0].ID, 0)
		}
		for range 3 {
			ans.Table().Add(info.Name, els[1].ID, 0)
		}
		for range 5 {
			ans.Table().Add(info.Name, els[2].ID, 0)
		}
		r.Sample(t0.Add(time.Duration(i) * time.Second))
	}
	// 15 s more without w2.
	for i := 60; i < 75; i++ {
		for range 4 {
			ans.Table().Add(info.Name, els[0].ID, 0)
		}
		for range 6 {
			ans.Table().Add(info.Name, els[2].ID, 0)
		}
		r.Sample(t0.Add(time.Duration(i) * time.Second))
	}
	web := pool_(t, r, pool)
	a := web.Series["answers"]
	if a[len(a)-1] != 10 || a[len(a)-30] != 10 {
		t.Errorf("answers/s %v, want 10", a[len(a)-31:])
	}
	if len(web.Actual) != 2 {
		t.Fatalf("actual shares %+v", web.Actual)
	}
	short, long := web.Actual[0], web.Actual[1]
	if short.WindowS < 10 || short.WindowS >= 15 || long.WindowS < 60 || long.WindowS >= 65 {
		t.Errorf("windows %v s and %v s, want about 10 and 60", short.WindowS, long.WindowS)
	}
	share := func(as history.ActualShare) map[string]float64 {
		m := map[string]float64{}
		for _, e := range as.Elements {
			m[e.Label] = e.Share
		}
		return m
	}
	if s := share(short); s["w2"] != 0 || !approx(s["w1"], 0.4) || !approx(s["w3"], 0.6) || short.Answers != uint64(10*short.WindowS) {
		t.Errorf("last %v s: %v over %d answers, want w1 0.4, w3 0.6, no w2", short.WindowS, s, short.Answers)
	}
	if s := share(long); s["w2"] == 0 || s["w2"] > 0.3 {
		t.Errorf("last %v s: %v, want w2 still there, below its 0.3", long.WindowS, s)
	}
	// A pool that leaves the handlespace is forgotten by the tally, in time.
	reload(t, hs, []*handlespace.Element{els[0], els[2]})
	for i := 75; i < 140; i++ {
		r.Sample(t0.Add(time.Duration(i) * time.Second))
	}
	web = pool_(t, r, pool)
	for _, as := range web.Actual {
		for _, e := range as.Elements {
			if e.Label == "w2" {
				t.Errorf("w2 deregistered and without answers still in the shares: %+v", as)
			}
		}
	}
}

func pool_(t *testing.T, r *history.Recorder, name string) history.PoolHistory {
	t.Helper()
	return pool(t, r.History(history.Query{Pool: name}), name)
}

func approx(a, b float64) bool { return a-b < 1e-6 && b-a < 1e-6 }

// TestAnswersConcurrent: answers counted from several goroutines while
// the recorder samples and prunes (run with -race) add up.
func TestAnswersConcurrent(t *testing.T) {
	hs, els := space(t)
	ans := history.NewAnswers()
	r := history.New(history.Config{}, history.Inputs{View: hs.View, Answers: ans})
	r.Sample(t0.Add(-time.Second)) // the base of the first rate
	infos := []*handlespace.PoolInfo{hs.View().Pool("web.pool.test.").PoolInfo, hs.View().Pool("api.pool.test.").PoolInfo}
	a1 := hs.View().Pool("api.pool.test.").Elements()[0].ID
	var wg sync.WaitGroup
	const per = 20000
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if i%2 == 0 {
					ans.Table().Add(infos[0].Name, els[(g+i)%3].ID, 0)
				} else {
					ans.Table().Add(infos[1].Name, a1, 0)
				}
			}
		}()
	}
	for i := range 200 {
		r.Sample(t0.Add(time.Duration(i) * time.Second))
	}
	wg.Wait()
	r.Sample(t0.Add(200 * time.Second))
	var sum float32
	for _, p := range r.History(history.Query{}).Pools {
		for _, v := range p.Series["answers"] {
			if v == v {
				sum += v
			}
		}
	}
	if sum != 4*per {
		t.Errorf("answers add up to %v, want %d", sum, 4*per)
	}
}

// TestConcurrentReads: History, Peers and Event while Sample runs (for
// -race).
func TestConcurrentReads(t *testing.T) {
	hs, els := space(t)
	r := history.New(history.Config{}, history.Inputs{View: hs.View, Answers: history.NewAnswers(),
		Peers: func() []history.Peer { return []history.Peer{{ID: 9, State: history.PeerUp}} }})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 300 {
			h := handlespace.HealthUp
			if i%2 == 0 {
				h = handlespace.HealthDown
			}
			hs.Update("web.pool.test.", els[0].ID, func(x *handlespace.Element) { x.Health = h })
			r.Sample(t0.Add(time.Duration(i) * time.Second))
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-done:
			if r.History(history.Query{}).Time.IsZero() {
				t.Errorf("no sample seen")
			}
			return
		default:
		}
		r.History(history.Query{Window: time.Duration(1+i%2) * time.Hour / 2})
		r.Peers(t0)
		r.Event(t0, "peer-up", 9, 0, 0, "")
	}
}

// TestPoolLatency: a pool's latency_us series is the mean latency of the
// answers timed in each sample; a sample without timed answers is null,
// and a pool's answers per second count the timed ones too.
func TestPoolLatency(t *testing.T) {
	hs, els := space(t)
	ans := history.NewAnswers()
	r := history.New(history.Config{}, history.Inputs{View: hs.View, Answers: ans})
	info := hs.View().Pool("web.pool.test.").PoolInfo
	for i := range 10 {
		if i < 5 {
			ans.Table().Add(info.Name, els[0].ID, 20*time.Microsecond)
			ans.Table().Add(info.Name, els[1].ID, 40*time.Microsecond)
		}
		ans.Table().Add(info.Name, els[2].ID, 0)
		ans.Table().Add(info.Name, els[2].ID, 0)
		r.Sample(t0.Add(time.Duration(i) * time.Second))
	}
	web := pool_(t, r, "web.pool.test.")
	lat, qps := web.Series["latency_us"], web.Series["answers"]
	n := len(lat)
	// Samples 1..4 saw two timed answers each, 5..9 none.
	for i := n - 9; i < n; i++ {
		want := float32(30)
		if i >= n-5 {
			want = float32(math.NaN())
		}
		if got := lat[i]; (want == want) != (got == got) || (want == want && got != want) {
			t.Errorf("latency_us[%d] = %v, want %v (series %v)", i, got, want, lat[n-9:])
		}
	}
	if qps[n-9] != 4 || qps[n-1] != 2 {
		t.Errorf("answers/s %v, want 4 then 2", qps[n-9:])
	}
}
