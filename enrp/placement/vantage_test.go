package placement

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

const (
	hUp      = handlespace.HealthUp
	hDown    = handlespace.HealthDown
	hUnknown = handlespace.HealthUnknown
)

func TestQuorum(t *testing.T) {
	v := func(hs ...handlespace.Health) []Vote {
		out := make([]Vote, len(hs))
		for i, h := range hs {
			out[i] = Vote{Registrar: uint32(len(hs) - i), Health: h} // the home (first) has the highest ID
		}
		return out
	}
	for _, c := range []struct {
		name          string
		cur, proposed handlespace.Health
		votes         []Vote
		quorum        int
		want          handlespace.Health
		disputed      bool
	}{
		{"alone: the home decides", hUp, hDown, v(hDown), 0, hDown, false},
		{"all agree down", hUp, hDown, v(hDown, hDown, hDown), 0, hDown, false},
		{"all agree up", hDown, hUp, v(hUp, hUp, hUp), 0, hUp, false},
		{"home alone sees it down", hUp, hDown, v(hDown, hUp, hUp), 0, hUp, true},
		{"one peer sees it up", hUp, hDown, v(hDown, hDown, hUp), 0, hDown, true},
		{"recovery seen by the home only", hDown, hUp, v(hUp, hDown, hDown), 0, hDown, true},
		{"recovery with one peer", hDown, hUp, v(hUp, hUp, hDown), 0, hUp, true},
		{"tie keeps the current", hUp, hDown, v(hDown, hUp), 0, hUp, true},
		{"tie from unknown: the home's", hUnknown, hDown, v(hDown, hUp), 0, hDown, true},
		{"from unknown, the majority against the home", hUnknown, hDown, v(hDown, hUp, hUp), 0, hUp, true},
		{"a peer that could not probe does not count", hUp, hDown, v(hDown, hUnknown, hUnknown), 0, hDown, false},
		{"unknown votes do not break a tie", hUp, hDown, v(hDown, hUp, hUnknown), 0, hUp, true},
		{"quorum 1: the home decides, disputed", hUp, hDown, v(hDown, hUp, hUp), 1, hDown, true},
		{"quorum 3 (all): two of three are not enough", hUp, hDown, v(hDown, hDown, hUp), 3, hUp, true},
		{"quorum 3 clamped to the two that answered", hUp, hDown, v(hDown, hDown), 3, hDown, false},
		{"five vantage points, three down", hUp, hDown, v(hDown, hDown, hDown, hUp, hUp), 0, hDown, true},
		{"re-check agrees with the current", hUp, hUp, v(hUp, hDown, hDown), 0, hUp, true},
		{"re-check of a divergent home", hUp, hDown, v(hDown, hDown, hDown), 0, hDown, false},
		{"no vote counts", hUp, hDown, v(hUnknown), 0, hUp, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, views := Quorum(c.cur, c.proposed, c.votes, c.quorum)
			if got != c.want || (views != nil) != c.disputed {
				t.Errorf("Quorum(%v, %v, %v, %d) = %v %v, want %v disputed %v", c.cur, c.proposed, c.votes, c.quorum, got, views, c.want, c.disputed)
			}
			if views != nil && !slices.IsSortedFunc(views, func(a, b handlespace.Vantage) int { return int(int64(a.Registrar) - int64(b.Registrar)) }) {
				t.Errorf("views %v not sorted by registrar", views)
			}
			for _, w := range views {
				if w.Health == hUnknown {
					t.Errorf("views %v list a vote that did not count", views)
				}
			}
		})
	}
}

func TestVantages(t *testing.T) {
	live := []uint32{1, 2, 3, 4, 5}
	for _, c := range []struct {
		home uint32
		n    int
		want int
	}{{1, 2, 2}, {3, 2, 2}, {1, 0, 0}, {1, 4, 4}, {1, 9, 4}, {9, 2, 2}} {
		got := Vantages(live, c.home, "web.pool.example.", 42, c.n)
		if len(got) != c.want || slices.Contains(got, c.home) {
			t.Errorf("home %d, n %d: %v, want %d others", c.home, c.n, got, c.want)
		}
		order := RendezvousOrder(live, "web.pool.example.", 42)
		var rest []uint32
		for _, r := range order {
			if r != c.home {
				rest = append(rest, r)
			}
		}
		if !slices.Equal(got, rest[:len(got)]) {
			t.Errorf("home %d: vantage points %v are not the first of the rendezvous order %v", c.home, got, order)
		}
	}
	// The order starts with the rendezvous winner, and without it goes on
	// with the winner of the rest; it does not depend on live's order.
	for id := uint32(0); id < 200; id++ {
		pool := fmt.Sprintf("p%d.example.", id%7)
		order := RendezvousOrder(live, pool, id)
		rest := slices.Clone(live)
		for i, r := range order {
			if w := Rendezvous(rest, pool, id); w != r {
				t.Fatalf("%s %d: order %v, but the winner of %v is %d", pool, id, order, rest, w)
			}
			rest = slices.DeleteFunc(rest, func(x uint32) bool { return x == order[i] })
		}
		rev := slices.Clone(live)
		slices.Reverse(rev)
		if !slices.Equal(RendezvousOrder(rev, pool, id), order) {
			t.Fatalf("%s %d: order depends on the order of live", pool, id)
		}
	}
	// Spread: over many elements each registrar confirms about as often.
	counts := map[uint32]int{}
	for id := uint32(0); id < 3000; id++ {
		for _, r := range Vantages(live, Rendezvous(live, "web.", id), "web.", id, 2) {
			counts[r]++
		}
	}
	for _, r := range live {
		if counts[r] < 900 || counts[r] > 1500 {
			t.Errorf("registrar %d confirms %d of 3000 elements' changes, want about 1200: %v", r, counts[r], counts)
		}
	}
}

// TestBudgets: near vantage points get a quarter more than the probe
// timeout; a far one, its round trip more, the home waiting as long
// (bounded by twice the timeout), and every vantage point's answer due
// back at the same time.
func TestBudgets(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name    string
		wait    time.Duration
		rtts    []time.Duration
		total   time.Duration
		budgets []time.Duration
	}{
		{"none", 800 * ms, nil, 1000 * ms, []time.Duration{}},
		{"unknown", 800 * ms, []time.Duration{0, 0}, 1000 * ms, []time.Duration{1000 * ms, 1000 * ms}},
		{"loopback", 50 * ms, []time.Duration{0, 100 * time.Microsecond}, 62600 * time.Microsecond, []time.Duration{62600 * time.Microsecond, 62500 * time.Microsecond}},
		// The lab: a near vantage point (2 ms) and one across sites (300 ms).
		{"across sites", 800 * ms, []time.Duration{2 * ms, 300 * ms}, 1300 * ms, []time.Duration{1298 * ms, 1000 * ms}},
		// Farther than three quarters of the wait: capped.
		{"capped", 100 * ms, []time.Duration{500 * ms, -ms}, 200 * ms, []time.Duration{125 * ms, 200 * ms}},
	} {
		total, budgets := Budgets(tc.wait, tc.rtts)
		if total != tc.total || !slices.Equal(budgets, tc.budgets) {
			t.Errorf("%s: Budgets(%v, %v) = %v, %v; want %v, %v", tc.name, tc.wait, tc.rtts, total, budgets, tc.total, tc.budgets)
		}
		if total > 2*tc.wait {
			t.Errorf("%s: waits %v, more than twice the probe timeout %v", tc.name, total, tc.wait)
		}
		for i, b := range budgets {
			// Four fifths of a budget, what a vantage point probes
			// with, is at least the probe timeout.
			if b*4/5 < tc.wait {
				t.Errorf("%s: vantage point %d gets %v, four fifths of it under the probe timeout %v", tc.name, i, b, tc.wait)
			}
		}
	}
}
