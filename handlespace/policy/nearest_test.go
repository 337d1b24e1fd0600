package policy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

func TestNearest(t *testing.T) {
	p := mustPolicy(t, "nearest", nil)
	elems := polElems(5, nil)
	for i, rtt := range []time.Duration{3 * time.Millisecond, 0, 1 * time.Millisecond, 1*time.Millisecond + 20*time.Microsecond, 7 * time.Millisecond} {
		elems[i].RTT = rtt
	}
	sel := build(p, elems, nil)
	// 2 and 3 are equally near (same 100 µs unit): they take turns first;
	// then 0 (3 ms), 4 (7 ms), and 1 (unknown) last.
	want := [][]int32{{2, 3, 0, 4, 1}, {3, 2, 0, 4, 1}, {2, 3, 0, 4, 1}}
	for q, w := range want {
		got := sel.Select(nil, 0, nil)
		for i := range w {
			if got[i] != w[i] {
				t.Fatalf("query %d: order %v, want %v", q, got, w)
			}
		}
	}
	if got := sel.Select(nil, 1, nil); len(got) != 1 || (got[0] != 2 && got[0] != 3) {
		t.Errorf("k=1: %v", got)
	}
}

// TestNearestLocalRTT: an element's own RTT at this registrar (LocalRTT)
// orders it where it is known, else the home's RTT; a peer's new version
// of the element (a Put) keeps the LocalRTT while its address stays, a
// reload of a zone file keeps it, and an Update or a registration of the
// same address too.
func TestNearestLocalRTT(t *testing.T) {
	p := mustPolicy(t, "nearest", nil)
	elems := polElems(3, nil)
	// The home measured 1, 2, 3 ms; this registrar 9 ms, nothing, 4 ms.
	for i, rtt := range []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond} {
		elems[i].RTT = rtt
	}
	elems[0].LocalRTT, elems[2].LocalRTT = 9*time.Millisecond, 4*time.Millisecond
	if got := build(p, elems, nil).Select(nil, 0, nil); len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 0 {
		t.Errorf("order %v, want [1 2 0]: 1 by the home's 2 ms, 2 by its own 4 ms, 0 by its own 9 ms", got)
	}
	for _, tt := range []struct {
		e    handlespace.Element
		want time.Duration
	}{
		{handlespace.Element{}, 0},
		{handlespace.Element{RTT: time.Millisecond}, time.Millisecond},
		{handlespace.Element{RTT: time.Millisecond, LocalRTT: 5 * time.Millisecond}, 5 * time.Millisecond},
		{handlespace.Element{LocalRTT: 5 * time.Millisecond}, 5 * time.Millisecond},
	} {
		if got := NearestRTT(&tt.e); got != tt.want {
			t.Errorf("NearestRTT(RTT %v, LocalRTT %v) = %v, want %v", tt.e.RTT, tt.e.LocalRTT, got, tt.want)
		}
	}

	hs := handlespace.New(handlespace.Options{RegistrarID: 1, Probing: true})
	z := testElem("z", "10.0.0.9", 80)
	if err := hs.ApplyZones([]handlespace.ZoneDef{zoneDef(t, poolDef("near", "nearest", z))}); err != nil {
		t.Fatal(err)
	}
	pool := "near.z.test."
	peer := testElem("p", "10.1.0.1", 80)
	peer.Home, peer.Health, peer.RTT = 7, handlespace.HealthUp, 3*time.Millisecond
	if errs := hs.ApplyEdits([]handlespace.Edit{{Pool: pool, Put: peer}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	local := 8 * time.Millisecond
	for _, id := range []uint32{z.ID, peer.ID} {
		if err := hs.Update(pool, id, func(e *handlespace.Element) { e.LocalRTT = local }); err != nil {
			t.Fatal(err)
		}
	}
	localOf := func(id uint32) time.Duration { return hs.View().Pool(pool).Element(id).LocalRTT }
	// The peer's next version (its home's new RTT): this registrar's own
	// stays, and the handed-over element is not modified.
	next := peer.Clone()
	next.RTT = 4 * time.Millisecond
	if errs := hs.ApplyEdits([]handlespace.Edit{{Pool: pool, Put: next}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if got := localOf(peer.ID); got != local || hs.View().Pool(pool).Element(peer.ID).RTT != 4*time.Millisecond || next.LocalRTT != 0 {
		t.Errorf("after a peer's put: LocalRTT %v, element %+v", got, hs.View().Pool(pool).Element(peer.ID))
	}
	if err := hs.Update(pool, peer.ID, func(e *handlespace.Element) { e.Weight = 5 }); err != nil || localOf(peer.ID) != local {
		t.Errorf("after an update: LocalRTT %v, %v", localOf(peer.ID), err)
	}
	if err := hs.ApplyZones([]handlespace.ZoneDef{zoneDef(t, poolDef("near", "nearest", z))}); err != nil || localOf(z.ID) != local {
		t.Errorf("zone-file element after a reload: LocalRTT %v, %v", localOf(z.ID), err)
	}
	// A new address is another place: its distance is not known.
	moved := next.Clone()
	moved.LocalRTT = 0
	moved.Addrs = handlespace.AddrsOf(netip.MustParseAddr("10.1.0.2"))
	if errs := hs.ApplyEdits([]handlespace.Edit{{Pool: pool, Put: moved}}); errs[0] != nil || localOf(peer.ID) != 0 {
		t.Errorf("after a put with another address: LocalRTT %v, %v", localOf(peer.ID), errs[0])
	}
}

// TestNearestSites: the client's site first (by RTT, ties in turn), then
// the rest by RTT; a client of no site or of a site no element has gets
// the order by RTT alone.
func TestNearestSites(t *testing.T) {
	p := mustPolicy(t, "nearest", nil)
	ms := time.Millisecond
	elems := polElems(7, nil)
	for i, x := range []struct {
		site string
		rtt  time.Duration
	}{
		{"t-fra", 5 * ms}, {"t-ams", 1 * ms}, {"T-FRA", 2 * ms}, {"", 3 * ms}, {"t-fra", 0}, {"t-ams", 2 * ms}, {"t-fra", 2 * ms},
	} {
		elems[i].Site, elems[i].RTT = handlespace.SiteNameOf(x.site), x.rtt
	}
	sel := build(p, elems, nil)
	for _, c := range []struct {
		site string
		k    int
		want [][]int32 // successive selections
	}{
		// 2 and 6 tie at 2 ms: they take turns; 4 (unknown RTT) last of fra.
		{"t-fra", 0, [][]int32{{2, 6, 0, 4, 1, 5, 3}, {6, 2, 0, 4, 1, 5, 3}}},
		{"t-fra", 2, [][]int32{{2, 6}, {6, 2}}},
		{"t-ams", 0, [][]int32{{1, 5, 2, 6, 3, 0, 4}, {1, 5, 6, 2, 3, 0, 4}}},
		{"t-ams", 3, [][]int32{{1, 5, 2}, {1, 5, 6}}},
		{"t-ams", 1, [][]int32{{1}, {1}}},
		// No site, a site no element has: by RTT; 2, 5 and 6 tie.
		{"", 0, [][]int32{{1, 2, 5, 6, 3, 0, 4}, {1, 5, 6, 2, 3, 0, 4}, {1, 6, 2, 5, 3, 0, 4}}},
		{"t-lon", 4, [][]int32{{1, 2, 5, 6}, {1, 5, 6, 2}, {1, 6, 2, 5}}},
	} {
		t.Run(fmt.Sprintf("%s/k=%d", c.site, c.k), func(t *testing.T) {
			sel.seq.Store(0)
			for q, w := range c.want {
				got := sel.Select(nil, c.k, &handlespace.Client{Site: handlespace.SiteOf(c.site)})
				if !slices.Equal(got, w) {
					t.Fatalf("query %d: %v, want %v", q, got, w)
				}
			}
		})
	}
	// A nil client is one of no site.
	sel.seq.Store(0)
	if got := sel.Select(nil, 0, nil); !slices.Equal(got, []int32{1, 2, 5, 6, 3, 0, 4}) {
		t.Errorf("nil client: %v", got)
	}
}

// TestNearestSitesLarge: a pool of many leaves, sites among a few values
// and RTTs with many ties, against the naive order, for every k and many
// sequences (so that the turns of groups split by the site's elements are
// checked too: each element tied for a place is first there equally
// often).
func TestNearestSitesLarge(t *testing.T) {
	p := mustPolicy(t, "nearest", nil)
	r := rand.New(rand.NewPCG(polSeed(t), 3))
	elems := polElems(700, func(i int, e *handlespace.Element) {
		e.Site = handlespace.SiteNameOf([]string{"", "l-a", "l-b", "l-c"}[r.IntN(4)])
		if r.IntN(5) > 0 {
			e.RTT = time.Duration(r.IntN(6)) * 100 * time.Microsecond
		}
	})
	// Two of a site with the same RTT: their turns make the positions to
	// leave out of the rest come in either order.
	elems[5].Site, elems[300].Site = handlespace.SiteNameOf("l-rare"), handlespace.SiteNameOf("l-rare")
	elems[5].RTT, elems[300].RTT = 200*time.Microsecond, 200*time.Microsecond
	sel := build(p, elems, nil)
	for _, site := range []string{"l-a", "l-rare", "l-none"} {
		c := &handlespace.Client{Site: handlespace.SiteOf(site)}
		type key struct {
			mine bool
			rank uint64
		}
		keyOf := func(i int32) key { return key{elems[i].Site.Site() == c.Site, nearestRank(elems[i])} }
		for _, k := range []int{1, 3, 40, 0} {
			firsts := map[int32]int{}
			for q := range 60 {
				got := sel.Select(nil, k, c)
				if len(got) != wantK(k, len(elems)) {
					t.Fatalf("%s k=%d: %d picks", site, k, len(got))
				}
				seen := map[int32]bool{}
				for j, i := range got {
					if seen[i] {
						t.Fatalf("%s k=%d q=%d: %d twice", site, k, q, i)
					}
					seen[i] = true
					if j > 0 {
						a, b := keyOf(got[j-1]), keyOf(i)
						if a.mine != b.mine && !a.mine || a.mine == b.mine && a.rank > b.rank {
							t.Fatalf("%s k=%d q=%d: pick %d %+v after %+v", site, k, q, j, b, a)
						}
					}
				}
				if site == "l-rare" && k >= 3 {
					firsts[got[2]]++ // the third place: the best of the rest, in turn
				}
			}
			if site == "l-rare" && k >= 3 && len(firsts) < 2 {
				t.Errorf("k=%d: the tied second place is always %v", k, firsts)
			}
		}
	}
}
