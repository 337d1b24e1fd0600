package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// TestQuietPieces: a recorder that passes over the changes it cannot see
// (quiet: refreshes) and cuts its samples into pieces (a turn every 16
// steps here) replies exactly as one that looks at every change in full
// in one run, through random refreshes, registrations, removals, health,
// home, admin and report changes, renames, probe reasons that come late, and
// timelines that expire and make room for others (more elements than
// timelines). Readers run meanwhile (the race detector's part); the
// turns are counted, so the pieces are there.
func TestQuietPieces(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	now := t0
	hs := poolTestSpace(t, func() time.Time { return now })
	pools := []string{"big.pool.test.", "small.pool.test."}
	round := 0
	reason := func(pool string, id uint32) string {
		if id%3 == 0 && (round/4)%2 == 1 { // the probe's error comes (and goes) late
			return fmt.Sprintf("refused (%d, %d)", id, round/4)
		}
		return ""
	}
	cfg := Config{Points: 12, CoarseEvery: 4, CoarsePoints: 8, MaxElements: 40, MaxSpans: 3}
	wl, wq := hs.Watch(), hs.Watch()
	defer wl.Close()
	defer wq.Close()
	loud := New(cfg, Inputs{View: hs.View, Self: hs.RegistrarID, Reason: reason, Changed: wl.Changed})
	loud.loud = true
	loud.pieces.Budget = time.Hour
	turns := 0
	var quiet *Recorder
	var readers sync.WaitGroup
	turn := func() {
		turns++
		readers.Add(1)
		go func() { // waits for the sample's end
			defer readers.Done()
			quiet.History(Query{})
			quiet.Peers(now)
		}()
	}
	defer func(b time.Duration) { pieceBudget = b }(pieceBudget)
	pieceBudget = 0
	quiet = New(cfg, Inputs{View: hs.View, Self: hs.RegistrarID, Reason: reason, Changed: wq.Changed, Turn: turn})

	rng := rand.New(rand.NewPCG(10, 7))
	elem := func(i, load int) *handlespace.Element {
		return &handlespace.Element{ID: uint32(i + 1), Label: handlespace.LabelOf(fmt.Sprintf("e%d", i)),
			Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})), Port: 80, Weight: 1,
			Load: uint32(load), Expires: handlespace.ExpiryOf(now.Add(time.Hour)), Lease: time.Hour}
	}
	var groups [][]handlespace.Op
	for _, pool := range pools {
		for i := range 100 {
			groups = append(groups, []handlespace.Op{{Pool: pool, Elem: elem(i, 0)}})
		}
	}
	hs.Apply(groups, nil)
	for round = range 120 {
		now = now.Add(time.Second)
		loud.Sample(now)
		quiet.Sample(now)
		readers.Wait()
		for _, q := range []Query{{}, {Window: time.Hour}} {
			a, b := reply(t, quiet.History(q)), reply(t, loud.History(q))
			if !bytes.Equal(a, b) {
				t.Fatalf("round %d, window %v: quiet, in pieces\n%s\nloud, at once\n%s", round, q.Window, a, b)
			}
		}
		if a, b := reply(t, quiet.Peers(now)), reply(t, loud.Peers(now)); !bytes.Equal(a, b) {
			t.Fatalf("round %d: peers quiet, in pieces\n%s\nloud, at once\n%s", round, a, b)
		}
		// Changes for the next round: mostly refreshes (a new load and
		// lease end); rounds 40 to 60 none, so that timelines expire
		// and make room.
		if round >= 40 && round < 60 {
			continue
		}
		groups = groups[:0]
		for range 10 + rng.IntN(60) {
			pool, i := pools[rng.IntN(len(pools))], rng.IntN(130)
			switch k := rng.IntN(20); {
			case k == 0:
				groups = append(groups, []handlespace.Op{{Pool: pool, ID: uint32(i + 1)}})
			case k == 4: // a peer's version, renamed
				if cur := hs.View().Pool(pool).Element(uint32(i + 1)); cur != nil {
					hs.Apply(groups, nil)
					groups = groups[:0]
					c := cur.Clone()
					c.Label = handlespace.LabelOf(fmt.Sprintf("r%d-%d", i, round))
					if err := hs.ApplyEdits([]handlespace.Edit{{Pool: pool, Put: c}})[0]; err != nil {
						t.Fatal(err)
					}
				}
			case k < 4:
				hs.Apply(groups, nil)
				groups = groups[:0]
				hs.Update(pool, uint32(i+1), func(e *handlespace.Element) {
					switch k {
					case 1:
						e.Health = handlespace.Health(rng.IntN(3))
					case 2:
						e.Home = uint32(1 + rng.IntN(3))
					case 3:
						e.Admin = handlespace.Admin(rng.IntN(3))
						e.Reported = rng.IntN(4) == 0
					}
				})
			default:
				groups = append(groups, []handlespace.Op{{Pool: pool, Elem: elem(i, rng.IntN(100))}})
			}
		}
		hs.Apply(groups, nil)
	}
	if turns < 100 {
		t.Errorf("%d turns in 120 samples: the samples were not cut in pieces", turns)
	}
	h := loud.History(Query{})
	if h.UntrackedElements == 0 {
		t.Errorf("no element without a timeline: MaxElements %d too high for the test", cfg.MaxElements)
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
