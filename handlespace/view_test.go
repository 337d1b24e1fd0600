package handlespace

import (
	"cmp"
	"fmt"
	mrand "math/rand"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"testing/quick"
	"time"
)

// checkView checks a pool view against what its elements say: the element
// and label trees, the counts, fail-open, and that each served set holds
// exactly the elements it should, in the policy's order, with the policy's
// weights; self is the handlespace's registrar ID (the owned count).
func checkView(t *testing.T, pv *PoolView, self uint32) {
	t.Helper()
	elems := pv.Elements()
	if len(elems) != pv.Len() {
		t.Fatalf("%d elements, Len %d", len(elems), pv.Len())
	}
	var cnt viewCounts
	labels := map[string]bool{}
	for i, e := range elems {
		if i > 0 && elems[i-1].ID >= e.ID {
			t.Fatalf("elements out of order at %d", i)
		}
		if pv.Element(e.ID) != e || pv.Label(e.Label.String()) != e {
			t.Fatalf("element %d (%s) not found by ID or label", e.ID, e.Label.String())
		}
		if labels[e.Label.String()] {
			t.Fatalf("label %s twice", e.Label.String())
		}
		labels[e.Label.String()] = true
		cnt.add(elementFlags(e), 1)
		cnt.addStatus(e, 1, self)
	}
	// The disputed elements the view keeps apart are its elements'.
	var disp, wantDisp []*Element
	for e := range pv.Disputed() {
		disp = append(disp, e)
	}
	for _, e := range elems {
		if e.Disputed() {
			wantDisp = append(wantDisp, e)
		}
	}
	if !slices.Equal(disp, wantDisp) || (pv.disp == nil) != (len(wantDisp) == 0) {
		t.Fatalf("disputed elements %d (kept %v), want %d", len(disp), pv.disp != nil, len(wantDisp))
	}
	var lkeys []uint64
	for _, e := range elems {
		lkeys = append(lkeys, labelKey(e.Label.String(), e.ID))
	}
	slices.Sort(lkeys)
	// The index holds these keys and no other (its canonical form is
	// ptree's to check).
	for _, k := range lkeys {
		if !hasLabelKey(pv, k) {
			t.Fatalf("label index lacks key %x", k)
		}
	}
	if !labelIndexHolds(pv, lkeys) {
		t.Fatalf("label index holds keys other than its %d elements'", len(lkeys))
	}
	if cnt != pv.cnt {
		t.Fatalf("counts %+v, want %+v", pv.cnt, cnt)
	}
	failMode := cnt.served == 0 && pv.Spec.AllDown == AllDownAll
	if pv.failMode != failMode || pv.FailOpen != (failMode && cnt.auto > 0) {
		t.Fatalf("fail mode %v, fail open %v; want %v, %v", pv.failMode, pv.FailOpen, failMode, failMode && cnt.auto > 0)
	}
	pol, err := NewPolicy(pv.Spec.Policy, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := pol.Order()
	for _, st := range pv.sets() {
		var want []*Element
		for _, e := range elems {
			if elementFlags(e)&st.mask == st.mask {
				want = append(want, e)
			}
		}
		ref := o.NewSet(want)
		if st.s.Len() != len(want) || st.n != len(want) {
			t.Fatalf("set of mask %04b: %d elements (counted %d), want %d", st.mask, st.s.Len(), st.n, len(want))
		}
		for _, pair := range [][2]*tree{{&st.s.set.t, &ref.t}, {&st.s.set.z, &ref.z}} {
			got, exp := pair[0], pair[1]
			if got.Kind() != exp.Kind() || got.Weighted() != exp.Weighted() {
				t.Fatalf("set of mask %04b: tree kind %d/%v, want %d/%v", st.mask, got.Kind(), got.Weighted(), exp.Kind(), exp.Weighted())
			}
			if !slices.Equal(got.AppendElems(nil), exp.AppendElems(nil)) {
				t.Fatalf("set of mask %04b (policy %s) holds %v, want %v", st.mask, pv.Spec.Policy,
					elemIDs(got.AppendElems(nil)), elemIDs(exp.AppendElems(nil)))
			}
			if got.Weighted() && got.Total() != exp.Total() {
				t.Fatalf("set of mask %04b: weight %d, want %d", st.mask, got.Total(), exp.Total())
			}
			if got.Kind() == byRank {
				for r := 0; r < got.Len(); r++ {
					l, i := got.At(r)
					want := o.Rank(l.Elems()[i])
					if got == &st.s.set.z {
						want, _ = o.Site(l.Elems()[i])
					}
					if l.Keys()[i] != want {
						t.Fatalf("rank key of %d is %d, want %d", l.Elems()[i].ID, l.Keys()[i], want)
					}
				}
			}
		}
		if (st.s.sel == nil) != (st.n == 0) {
			t.Fatalf("set of mask %04b with %d elements has selector %v", st.mask, st.n, st.s.sel)
		}
		nlast := 0
		for _, e := range want {
			if e.Last {
				nlast++
			}
		}
		if st.s.Last() != nlast {
			t.Fatalf("set of mask %04b: %d elements last, want %d", st.mask, st.s.Last(), nlast)
		}
		if st.n > 0 {
			var got []*Element
			for i, p := range st.s.Select(nil, 0, &Client{Addr: netip.MustParseAddr("192.0.2.1")}) {
				if p.Elem().Last != (i >= st.n-nlast) {
					t.Fatalf("set of mask %04b: a full selection has %d (last %v) at %d of %d, with %d last", st.mask, p.Elem().ID, p.Elem().Last, i, st.n, nlast)
				}
				got = append(got, p.Elem())
			}
			if k := st.n - nlast; k > 0 {
				for _, p := range st.s.Select(nil, k, &Client{Addr: netip.MustParseAddr("192.0.2.1")}) {
					if p.Elem().Last {
						t.Fatalf("set of mask %04b: a selection of %d of the %d not last has %d, last", st.mask, k, st.n, p.Elem().ID)
					}
				}
			}
			slices.SortFunc(got, func(a, b *Element) int { return cmp.Compare(a.ID, b.ID) })
			if !slices.Equal(got, want) {
				t.Fatalf("set of mask %04b: a full selection gives %v, want %v", st.mask, elemIDs(got), elemIDs(want))
			}
			if pv.Spec.Policy == "nearest" {
				checkNearestSites(t, st.s, want, o.Rank)
			}
		}
	}
	// Serves answers for one element what the All set holds.
	all := pv.sets()[0].mask
	for _, e := range elems {
		if got, want := pv.Serves(e), elementFlags(e)&all == all; got != want {
			t.Fatalf("Serves(%d) = %v, want %v (health %v, admin %v, reported %v, fail mode %v)", e.ID, got, want, e.Health, e.Admin, e.Reported, pv.failMode)
		}
	}
}

func elemIDs(es []*Element) []uint32 {
	out := make([]uint32, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// TestQuickViewUpdates: random batches of registrations, deregistrations
// and updates (health, admin state, addresses, labels, every policy
// parameter) on pools of every policy, small and large, some failing open;
// after every batch each touched view must be what a view built from
// scratch of its elements is (checkView), and its selectors must carry
// the per-query state over.
func TestQuickViewUpdates(t *testing.T) {
	cfg := &quick.Config{MaxCount: 12, Rand: mrand.New(mrand.NewSource(int64(polSeed(t))))}
	if testing.Short() {
		cfg.MaxCount = 3
	}
	for _, policy := range PolicyNames() {
		t.Run(policy, func(t *testing.T) {
			f := func(seed uint64) bool {
				r := rand.New(rand.NewPCG(seed, 5))
				spec := DefaultPoolSpec()
				spec.Policy = policy
				if r.IntN(2) == 0 {
					spec.AllDown = AllDownAll
				}
				hs := New(Options{RegistrarID: 1, DefaultSpec: spec})
				if err := hs.ApplyZones([]ZoneDef{zoneDef(t)}); err != nil {
					t.Fatal(err)
				}
				span := []int{10, 200, 1500}[r.IntN(3)]
				mk := func(id int) *Element {
					e := &Element{ID: uint32(id), Label: LabelOf(fmt.Sprintf("e%d", id)), Port: 80, Expires: ExpiryOf(time.Unix(2e9, 0))}
					switch r.IntN(4) {
					case 0:
						e.Addrs = AddrsOf(netip.MustParseAddr("2001:db8::1"))
					case 1:
						e.Addrs = AddrsOf(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8::2"))
					default:
						e.Addrs = AddrsOf(netip.AddrFrom4([4]byte{10, 1, byte(id >> 8), byte(id)}))
					}
					e.Weight = []uint32{0, 1, 5, 100}[r.IntN(4)]
					e.Priority = uint32(r.IntN(3))
					e.Load = []uint32{0, 100, LoadFull / 2, LoadFull}[r.IntN(4)]
					e.LoadDeg = []uint32{0, 7, LoadFull}[r.IntN(3)]
					if r.IntN(3) == 0 {
						e.RTT = time.Duration(r.IntN(5)) * 100 * time.Microsecond
					}
					e.Site = SiteNameOf(testSites[r.IntN(len(testSites))])
					return e
				}
				// A first batch fills the pool.
				var groups [][]Op
				for id := 1; id <= span; id++ {
					if r.IntN(2) == 0 {
						groups = append(groups, []Op{{Pool: "web.z.test.", Elem: mk(id)}})
					}
				}
				hs.Apply(groups, nil)
				var last *PoolView
				for round := range 40 {
					groups = groups[:0]
					for range []int{1, 1, 1, 3, 20, 200}[r.IntN(6)] {
						id := 1 + r.IntN(span)
						switch r.IntN(6) {
						case 0:
							groups = append(groups, []Op{{Pool: "web.z.test.", ID: uint32(id)}})
						case 1:
							groups = append(groups, []Op{{Pool: "web.z.test.", Elem: mk(id)}})
						case 2:
							// A new label for the element (rename).
							label := fmt.Sprintf("r%d-%d", id, round)
							groups = append(groups, []Op{{Pool: "web.z.test.", ID: uint32(id), update: func(e *Element) { e.Label = LabelOf(label) }}})
						default:
							h, a, w, l, rtt := Health(r.IntN(3)), Admin(r.IntN(3)), uint32(r.IntN(3)), uint32(r.IntN(3)), time.Duration(r.IntN(3))*time.Millisecond
							site, home := testSites[r.IntN(len(testSites))], uint32(r.IntN(3))
							disputed := r.IntN(2) == 0
							groups = append(groups, []Op{{Pool: "web.z.test.", ID: uint32(id), update: func(e *Element) {
								switch r.IntN(7) {
								case 6:
									// Disputed (served whatever its
									// health), last here or not.
									e.Vantage, e.Last = VantagesOf(nil), false
									if disputed {
										e.Vantage = VantagesOf([]Vantage{{1, HealthDown}, {2, HealthUp}})
										e.Last = LastAt(e, 1)
									}
								case 5:
									e.Site, e.Home = SiteNameOf(site), home
								case 0:
									e.Health, e.Reported = h, disputed
								case 1:
									e.Admin = a
								case 2:
									e.Weight, e.Priority = w, w
								case 3:
									e.Load, e.LoadDeg = l, l*1000
								default:
									e.RTT = rtt
								}
							}}})
						}
					}
					hs.Apply(groups, nil)
					pv := hs.View().Zone("z.test.").Pool("web")
					if pv == nil {
						last = nil
						continue
					}
					checkView(t, pv, 1)
					if t.Failed() {
						return false
					}
					// Selectors of the sets that stay non-empty carry
					// their sequence over.
					if last != nil && last != pv {
						for i, st := range pv.sets() {
							ps := last.sets()[i].s.seq
							if ps != nil && st.s.seq != ps {
								t.Fatalf("round %d: set %d's sequence not carried over", round, i)
							}
						}
					}
					// Each set counts its own selections.
					if pv.All.seq != nil && (pv.All.seq == pv.V4.seq || pv.All.seq == pv.V6.seq) {
						t.Fatalf("round %d: served sets share a sequence", round)
					}
					last = pv
				}
				return true
			}
			if err := quick.Check(f, cfg); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// testSites are the sites of the quick checks' elements ("FRA" is "fra").
var testSites = []string{"", "", "fra", "ams", "FRA", "lon"}

// checkNearestSites checks the order of a nearest set (its elements: want,
// by ID) for a client of each site (and one of a site no element has)
// against a naive reference: the elements of the client's site first, by
// rank, then the rest by rank; within a group of equal ranks any order
// (the groups turn), so the comparison is of the sequence of ranks and of
// which site each pick has. A selection of k = 3 must be the full
// selection's start in the same sense.
func checkNearestSites(t *testing.T, s *ElementSet, want []*Element, rank func(*Element) uint64) {
	t.Helper()
	type sr struct {
		last bool
		mine bool
		rank uint64
	}
	for _, name := range []string{"fra", "ams", "lon", "nowhere"} {
		c := &Client{Site: SiteOf(name)}
		var ref []sr
		for _, e := range want {
			ref = append(ref, sr{e.Last, e.Site.Site() == c.Site, rank(e)})
		}
		slices.SortFunc(ref, func(a, b sr) int {
			if a.last != b.last {
				if b.last {
					return -1
				}
				return 1
			}
			if a.mine != b.mine {
				if a.mine {
					return -1
				}
				return 1
			}
			return cmp.Compare(a.rank, b.rank)
		})
		for _, k := range []int{0, 1, 3} {
			picks := s.Select(nil, k, c)
			n := len(want) // k = 0: all
			if k > 0 {
				n = min(k, n)
			}
			if len(picks) != n {
				t.Fatalf("site %s, k=%d: %d picks, want %d", name, k, len(picks), n)
			}
			seen := map[uint32]bool{}
			for i, p := range picks {
				e := p.Elem()
				if seen[e.ID] {
					t.Fatalf("site %s, k=%d: element %d twice", name, k, e.ID)
				}
				seen[e.ID] = true
				if got := (sr{e.Last, e.Site.Site() == c.Site, rank(e)}); got != ref[i] {
					t.Fatalf("site %s, k=%d: pick %d is element %d (site %q, rank %d), want site-first %v rank %d",
						name, k, i, e.ID, e.Site.String(), got.rank, ref[i].mine, ref[i].rank)
				}
			}
		}
	}
}
