package history

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/hstest"
)

// TestWalkChanges: a recorder that follows a pool through random changes
// (registrations, deregistrations, health and home changes; walkChanges
// reads only what changed) holds the counts, homes and element states a
// full walk of the same view finds, tracked elements capped included.
func TestWalkChanges(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	hs := poolTestSpace(t, func() time.Time { return t0 })
	const pool = "big.pool.test."
	reason := func(pool string, id uint32) string {
		if id%3 == 0 {
			return fmt.Sprintf("connection refused (%d)", id)
		}
		return ""
	}
	in := Inputs{View: hs.View, Reason: reason, Self: func() uint32 { return 1 }}
	r := New(Config{MaxElements: 300}, in)
	full := New(Config{MaxElements: 300}, in) // walks every element each sample, as before walkChanges
	rng := rand.New(rand.NewPCG(13, 16))
	var groups [][]handlespace.Op
	for i := range 500 {
		groups = append(groups, []handlespace.Op{{Pool: pool, Elem: elemN(i)}})
	}
	hs.Apply(groups, nil)
	now := t0
	for round := range 40 {
		now = now.Add(time.Second)
		r.Sample(now)
		for _, ps := range full.pools {
			ps.pv = nil
		}
		full.Sample(now)
		a, b := r.pools[pool], full.pools[pool]
		if a.counts != b.counts {
			t.Fatalf("round %d: counts %v, a full walk %v", round, a.counts, b.counts)
		}
		if !maps.Equal(a.homes, b.homes) {
			t.Fatalf("round %d: homes %v, a full walk %v", round, a.homes, b.homes)
		}
		if a.untracked != b.untracked || len(live(a)) != len(live(b)) {
			t.Fatalf("round %d: %d untracked + %d tracked, a full walk %d + %d", round, a.untracked, len(live(a)), b.untracked, len(live(b)))
		}
		for id, tb := range b.tracks {
			if ta := a.tracks[id]; ta == nil || ta.state != tb.state || ta.reason != tb.reason {
				t.Fatalf("round %d: element %d %s (%q), a full walk %s (%q)", round, id, ta.state, ta.reason, tb.state, tb.reason)
			}
		}
		// Some changes for the next round.
		groups = groups[:0]
		for range 1 + rng.IntN(30) {
			i := rng.IntN(600)
			switch rng.IntN(4) {
			case 0:
				groups = append(groups, []handlespace.Op{{Pool: pool, ID: uint32(i + 1)}})
			default:
				groups = append(groups, []handlespace.Op{{Pool: pool, Elem: elemN(i)}})
			}
		}
		hs.Apply(groups, nil)
		for range rng.IntN(20) {
			id := uint32(rng.IntN(600) + 1)
			hs.Update(pool, id, func(e *handlespace.Element) {
				e.Health = handlespace.Health(rng.IntN(3))
				e.Home = uint32(1 + rng.IntN(3))
			})
		}
	}
}

// live are a pool's tracks of elements still there.
func live(ps *poolState) map[uint32]*track {
	m := map[uint32]*track{}
	for id, t := range ps.tracks {
		if t.state != StateGone {
			m[id] = t
		}
	}
	return m
}

func elemN(i int) *handlespace.Element {
	return &handlespace.Element{ID: uint32(i + 1), Label: handlespace.LabelOf(fmt.Sprintf("e%d", i)),
		Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})), Port: 80, Weight: 1, Home: 1}
}

// poolTestSpace is a handlespace of registrar 1 on the clock now, serving
// the zone pool.test. (no pool yet: the tests register theirs).
func poolTestSpace(t *testing.T, now func() time.Time) *handlespace.Handlespace {
	t.Helper()
	hs := handlespace.New(handlespace.Options{RegistrarID: 1, Now: now})
	rrs := hstest.RRs(t, "pool.test. 3600 IN SOA ns1.pool.test. h.pool.test. 1 3600 600 86400 30\npool.test. 3600 IN NS ns1.pool.test.\nns1.pool.test. 3600 IN A 192.0.2.53\n")
	if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "pool.test.", File: "t.zone", Records: rrs}}); err != nil {
		t.Fatal(err)
	}
	return hs
}
