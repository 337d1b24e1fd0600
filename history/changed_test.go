package history_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/history"
)

// TestSampleChanged: a recorder that looks only at the pools a
// handlespace.Watch names (Inputs.Changed) replies exactly as one that
// looks at every pool each sample, through random registrations,
// removals, health and home changes, pools that come and go (gone pools
// with series kept for the long window), zone reloads, answers, gaps
// between samples, and more pools than have series and more elements
// than have timelines (series and timelines going to the pools and
// elements the full walk gives them to).
func TestSampleChanged(t *testing.T) {
	hs, _ := space(t)
	els := []*handlespace.Element{}
	w := hs.Watch()
	defer w.Close()
	ans := history.NewAnswers()
	reason := func(pool string, id uint32) string {
		if id%3 == 0 {
			return fmt.Sprintf("refused (%d)", id)
		}
		return ""
	}
	cfg := history.Config{Points: 12, CoarseEvery: 4, CoarsePoints: 8, MaxPools: 5, MaxElements: 12, MaxSpans: 3}
	in := history.Inputs{View: hs.View, Self: hs.RegistrarID, Reason: reason, Answers: ans}
	full := history.New(cfg, in)
	in.Changed = w.Changed
	inc := history.New(cfg, in)

	rng := rand.New(rand.NewPCG(21, 6))
	elem := func(i int) *handlespace.Element {
		a := netip.AddrFrom4([4]byte{10, 3, 0, byte(i)})
		return &handlespace.Element{ID: handlespace.ElementID(a, 80), Label: handlespace.LabelOf(fmt.Sprintf("e%d", i)), Addrs: handlespace.AddrsOf(a), Port: 80, Weight: 1}
	}
	now := t0
	for round := range 300 {
		// Some changes: in the first rounds many pools appear; later
		// some empty out (and go) and come back.
		// Rounds 100 to 200: p0 to p7 empty out and stay away longer
		// than the long window (their series go, and others get them).
		lo := 0
		if round >= 100 && round < 200 {
			lo = 8
			if round == 100 {
				for p := range 8 {
					for i := range 8 {
						hs.Do(handlespace.Op{Pool: fmt.Sprintf("p%d.pool.test.", p), ID: elem(i).ID})
					}
				}
			}
		}
		for range rng.IntN(12) {
			pool := fmt.Sprintf("p%d.pool.test.", lo+rng.IntN(16-lo))
			i := rng.IntN(8)
			e := elem(i)
			switch rng.IntN(5) {
			case 0, 1:
				hs.Do(handlespace.Op{Pool: pool, ID: e.ID}) // may be missing: fine
			case 2:
				hs.Update(pool, e.ID, func(x *handlespace.Element) {
					x.Health = handlespace.Health(rng.IntN(3))
					x.Home = uint32(1 + rng.IntN(3))
				})
			default:
				hs.Do(handlespace.Op{Pool: pool, Elem: e})
			}
		}
		if round%97 == 96 {
			reload(t, hs, els)
		}
		for range rng.IntN(20) {
			pool := fmt.Sprintf("p%d.pool.test.", rng.IntN(16))
			if pv := hs.View().Pool(pool); pv != nil {
				ans.Table().Add(pv.Name, elem(rng.IntN(8)).ID, 0)
			}
		}
		now = now.Add(time.Duration(1+rng.IntN(2)) * time.Second)
		if rng.IntN(50) == 0 {
			now = now.Add(30 * time.Second) // a gap longer than the short window
		}
		full.Sample(now)
		inc.Sample(now)
		for i, q := range []history.Query{{}, {Window: time.Hour}} {
			if i == 1 && round%5 != 0 {
				continue
			}
			a, b := reply(t, inc.History(q)), reply(t, full.History(q))
			if !bytes.Equal(a, b) {
				t.Fatalf("round %d, window %v: looking at the changed pools\n%s\nlooking at every pool\n%s", round, q.Window, a, b)
			}
		}
		if a, b := reply(t, inc.Peers(now)), reply(t, full.Peers(now)); !bytes.Equal(a, b) {
			t.Fatalf("round %d: peers looking at the changed pools\n%s\nlooking at every pool\n%s", round, a, b)
		}
		// The counts kept as pools change are those of a walk of every
		// pool.
		for _, r := range []*history.Recorder{inc, full} {
			up, ue, homes, kept := history.WalkCounts(r)
			h := r.History(history.Query{})
			if h.UntrackedPools != up || h.UntrackedElements != ue || !maps.Equal(homes, kept) {
				t.Fatalf("round %d: untracked pools %d, elements %d, homes %v; a walk of every pool: %d, %d, %v",
					round, h.UntrackedPools, h.UntrackedElements, kept, up, ue, homes)
			}
		}
		// The totals are the view's; no span ends before the short
		// window, no gone element stays longer.
		h := inc.History(history.Query{})
		var elements, served int
		for _, z := range hs.View().Zones() {
			for _, handle := range z.PoolHandles() {
				pv := z.Pool(handle)
				elements += pv.Len()
				served += pv.All.Len()
			}
		}
		if g := h.Global; g["elements"][len(g["elements"])-1] != float32(elements) || g["served"][len(g["served"])-1] != float32(served) {
			t.Fatalf("round %d: elements %v, served %v; the view has %d and %d", round, g["elements"], g["served"], elements, served)
		}
		cut := now.Add(-time.Duration(cfg.Points) * time.Second)
		for _, p := range h.Pools {
			for _, tl := range p.Timelines {
				if tl.State == history.StateGone && tl.Since.Before(cut) {
					t.Fatalf("round %d: %s %s gone since %v, kept after the short window (from %v)", round, p.Name, tl.Label, tl.Since, cut)
				}
				for _, sp := range tl.Spans {
					if sp.To.Before(cut) {
						t.Fatalf("round %d: %s %s has a span ending %v, before the short window (from %v)", round, p.Name, tl.Label, sp.To, cut)
					}
				}
			}
		}
		if round == 199 {
			for _, p := range h.Pools {
				if n := 0; strings.HasPrefix(p.Name, "p") && must(fmt.Sscanf(p.Name, "p%d.", &n)) == 1 && n < 8 {
					t.Fatalf("round %d: pool %s gone for 100 rounds still has series", round, p.Name)
				}
			}
		}
	}
	h := full.History(history.Query{})
	if len(h.Pools) != cfg.MaxPools || h.UntrackedPools == 0 || h.UntrackedElements == 0 {
		t.Errorf("%d pools with series, %d without, %d elements without a timeline: want %d, some and some",
			len(h.Pools), h.UntrackedPools, h.UntrackedElements, cfg.MaxPools)
	}
}

func reply(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func must(n int, err error) int {
	if err != nil {
		panic(err)
	}
	return n
}
