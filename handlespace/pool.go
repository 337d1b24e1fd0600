package handlespace

import (
	"cmp"
	"github.com/poolnsd/poolnsd/handlespace/internal/ptree"
	"iter"
	"slices"
	"sync/atomic"
	"time"
)

// AllDown says what a pool answers when none of its elements is up.
type AllDown uint8

const (
	// AllDownNone answers NOERROR/NODATA: no element is better than a dead
	// one, and a client falls back to whatever else it knows. The default.
	AllDownNone AllDown = iota
	// AllDownAll answers with every element (fail open), in policy order.
	AllDownAll
)

func (a AllDown) String() string {
	if a == AllDownAll {
		return "all"
	}
	return "none"
}

// ProbeSpec is how a pool's elements are probed. Kind "" or "none" means no
// active probe: elements are up while registered.
type ProbeSpec struct {
	Kind     string        // none, tcp, http, https, dns, tls
	Target   string        // kind-specific: HTTP path, DNS name, TLS server name
	Interval time.Duration // between probes of one element
	Timeout  time.Duration // a probe that takes longer has failed
	Rise     int           // successes in a row to become up
	Fall     int           // failures in a row to become down
	// Jitter is the fraction (0 to 0.5) of the interval by which each
	// delay between probes is shortened at random, so that elements added
	// together drift apart; the interval stays the longest delay.
	Jitter float64
}

// ProbeSpec returns the probe settings of element e of this pool: its own
// override, else the pool's.
func (v *PoolView) ProbeSpec(e *Element) ProbeSpec {
	if ps := e.Probe.Spec(); ps != nil {
		return *ps
	}
	return v.Spec.Probe
}

// Probed reports whether the spec asks for active probes.
func (p ProbeSpec) Probed() bool { return p.Kind != "" && p.Kind != "none" }

// PoolSpec is a pool's settings, from its $POOL directive or the server's
// defaults for pools created by a registration.
type PoolSpec struct {
	Policy  string // policy name, see PolicyNames
	Service string // "_http._tcp": SRV and URI also at <service>.<handle>.<zone>; "" none
	TTL     uint32 // of pool answers, seconds; 0 allowed
	Answers int    // A/AAAA answers carry up to this many elements
	AllDown AllDown
	URI     string // URI RR template (RFC 7553), "" none: {name}, {addr}, {port} are filled per element
	Probe   ProbeSpec
	// HTTPS is the ALPN protocol IDs (comma-separated: "h2,h3") of the
	// pool's HTTPS and SVCB records (RFC 9460); "" none.
	HTTPS string
	// NAPTR is the pool's NAPTR services fields (comma-separated, each
	// "APP[:PROTO…]", RFC 3958 / RFC 4848); "" none. With a URI template
	// the records are U-NAPTR, else S-NAPTR to the pool's SRV name.
	NAPTR string
	// DPF is the distance penalty factor of the distance-penalty policies
	// (DistancePolicy): per millisecond of an element's distance, the
	// load it adds (lu-dpf, lud-dpf, plu-dpf, plud-dpf) or the fraction
	// of its weight it takes away (wrand-dpf), on the scale of LoadFull
	// (RSPLIB's load and weight DPF); 0 means DefaultDPF (a factor of 0
	// is the policy without -dpf). Other policies ignore it.
	DPF uint32
	// DistanceStep is the step to which the distance-penalty policies
	// round an element's distance (RSPLIB's distancestep), whole
	// milliseconds; 0 means DefaultDistanceStep.
	DistanceStep time.Duration
}

// DefaultPoolSpec is the spec of a pool that no zone file defines.
func DefaultPoolSpec() PoolSpec {
	return PoolSpec{Policy: "rr", TTL: 5, Answers: 3, AllDown: AllDownNone}
}

// ElementSet is a served set of a pool view: its elements, kept in the
// order the pool's policy needs, and the selector built for them.
type ElementSet struct {
	set Set
	sel Selector
	seq *atomic.Uint64 // the set's sequence, kept across its versions (round robin, ties)
	// nlast is how many of the set's elements go last (Element.Last).
	nlast int32
}

// Len returns the number of elements in the set.
func (s *ElementSet) Len() int { return s.set.len() }

// Select appends to dst up to k elements of the set in policy order and
// returns dst. k <= 0 means all. It takes no lock and never waits.
//
// Elements marked Last (disputed ones that this registrar cannot reach)
// come after all the others, in policy order among themselves; to find k
// others the policy is asked for k more than it would be, so a policy that
// counts its picks (lud's degradation) counts those too.
func (s *ElementSet) Select(dst []Pick, k int, c *Client) []Pick {
	if s.set.len() == 0 {
		return dst
	}
	if s.nlast == 0 {
		return s.sel.Select(dst, k, c)
	}
	start := len(dst)
	kk := k
	if k > 0 {
		kk = k + int(s.nlast)
	}
	dst = s.sel.Select(dst, kk, c)
	picks := dst[start:]
	var buf [8]Pick
	last := buf[:0]
	n := 0
	for _, p := range picks {
		if p.Elem().Last {
			last = append(last, p)
		} else {
			picks[n] = p
			n++
		}
	}
	copy(picks[n:], last)
	if k > 0 && len(picks) > k {
		dst = dst[:start+k]
	}
	return dst
}

// Set returns the set's storage and its sequence (carried from one
// version of the set to the next), for a policy that selects from the
// ElementSet itself (see InSetPolicy).
func (s *ElementSet) Set() (*Set, *atomic.Uint64) { return &s.set, s.seq }

// HasSites reports whether the set's order depends on the client's site
// (Client.Site): its policy is nearest and some of its elements have a
// site.
func (s *ElementSet) HasSites() bool { return s.set.t.Kind() == byRank && s.set.z.Len() > 0 }

// Elements returns a new slice of the set's elements, sorted by ID.
func (s *ElementSet) Elements() []*Element {
	out := s.set.t.AppendElems(make([]*Element, 0, s.Len()))
	if s.set.t.Kind() != byRank {
		out = s.set.z.AppendElems(out)
	}
	if s.set.t.Kind() == byRank || s.set.z.Len() > 0 {
		slices.SortFunc(out, func(a, b *Element) int { return cmp.Compare(a.ID, b.ID) })
	}
	return out
}

// Pick is an element of a selection, with where it lies in its set: in
// one of the set's parts, runs of a few dozen neighbours that outlive the
// pool's views (a change makes new parts only where it changed).
type Pick struct {
	part *tnode
	i    int32
}

// Elem returns the picked element.
func (p Pick) Elem() *Element { return p.part.Elems()[p.i] }

// Index returns p's index among the elements of its part.
func (p Pick) Index() int { return int(p.i) }

// PickOf returns the pick of element i of part, a leaf of a set's tree
// (Set.Tree, Set.Aside): how a policy's selector makes its picks.
func PickOf(part *ptree.Node[Element], i int32) Pick { return Pick{part, i} }

// Part returns the part p lies in, for the policies (see PickOf).
func (p Pick) Part() *ptree.Node[Element] { return p.part }

// SamePart reports whether p and q lie in the same part, so that what
// PartMemo returned for one serves for the other.
func (p Pick) SamePart(q Pick) bool { return p.part == q.part }

// Set is the storage of a served set, which a policy's selector reads:
// the elements in the policy's order (see Order), in the trees of package
// internal/ptree.
type Set struct {
	t tree // byID, byRank, or, for weighted policies, those of positive weight byID
	// z: weighted policies: the elements of weight 0, byID; nearest: the
	// elements that have a site, again, by site and rank (byRank, see
	// Order.Site), so that a site's elements are one run of it.
	z tree
}

// Tree returns the set's main tree: its elements by ID, by rank (Order.Rank)
// or, for a weighted order, those of positive weight by ID, weighted.
func (s *Set) Tree() *ptree.Tree[Element] { return &s.t }

// Aside returns the set's second tree: for a weighted order the elements
// of weight 0, by ID; for an order with Order.Site its elements that have
// a site, by site key and ID; else empty.
func (s *Set) Aside() *ptree.Tree[Element] { return &s.z }

func (s *Set) len() int {
	if s.t.Kind() == byRank {
		return s.t.Len()
	}
	return s.t.Len() + s.z.Len()
}

// Order is how a policy keeps its sets; the zero Order keeps them by ID.
type Order struct {
	// Rank, if set, orders the set by rank, then ID (byRank).
	Rank func(*Element) uint64
	// Weight, if set, keeps the elements of positive weight in a weighted
	// tree and those of weight 0 apart (Set.Aside), each by ID.
	Weight func(*Element) uint64
	// Site, with Rank, also keeps the elements that have a site in the
	// set's Aside tree, by the key Site returns (their site, then their
	// rank) and ID; ok is false for an element without a site.
	Site func(*Element) (key uint64, ok bool)
}

// plain reports whether the sets are kept by ID alone, as the pool's
// elements are: a set that holds every element is the elements' tree.
func (o *Order) plain() bool { return o.Rank == nil && o.Weight == nil }

func (o *Order) empty() Set {
	switch {
	case o.Rank != nil:
		return Set{t: ptree.Empty[Element](byRank, false), z: ptree.Empty[Element](byRank, false)}
	case o.Weight != nil:
		return Set{t: ptree.Empty[Element](byID, true)}
	}
	return Set{}
}

// place returns e's entry in a set, and whether it goes to the tree of
// weight 0.
func (o *Order) place(e *Element) (tent, bool) {
	x := tent{Key: uint64(e.ID), Elem: e}
	switch {
	case o.Rank != nil:
		x.Key, x.Tie = o.Rank(e), e.ID
	case o.Weight != nil:
		if x.W = o.Weight(e); x.W == 0 {
			return x, true
		}
	}
	return x, false
}

// sitePlace returns e's entry in a set's tree by site (Order.site), and
// false if e has none there.
func (o *Order) sitePlace(e *Element) (tent, bool) {
	if o.Site == nil {
		return tent{}, false
	}
	k, ok := o.Site(e)
	return tent{Key: k, Tie: e.ID, Elem: e}, ok
}

// Element flags: what decides which served sets an element is in.
const (
	flagServed uint8 = 1 << iota
	flagV4
	flagV6
	flagAdminAuto
	flagLast
)

func elementFlags(e *Element) uint8 {
	var f uint8
	if e.Served() {
		f |= flagServed
	}
	if e.HasV4() {
		f |= flagV4
	}
	if e.HasV6() {
		f |= flagV6
	}
	if e.Admin == AdminAuto {
		f |= flagAdminAuto
	}
	if e.Last {
		f |= flagLast
	}
	return f
}

// viewCounts counts a view's elements by flags, so that a change knows
// the size of each served set without looking at the other elements.
type viewCounts struct {
	served, served4, served6 int32
	auto, auto4, auto6       int32
	// The same of the elements that go last (flagLast).
	lserved, lserved4, lserved6 int32
	lauto, lauto4, lauto6       int32
	// What PoolView.Counts returns (with served), kept with the rest so
	// that a list of pools and a metrics scrape do not walk their
	// elements.
	up, down, unknown   int32
	drained, forcedDown int32
	reported, disputed  int32
	owned, lastd        int32
}

// PoolCounts counts a pool's elements by health and administrative state
// (an element counts in one of Up, Down and Unknown, and in any of the
// others that apply).
type PoolCounts struct {
	Up, Down, Unknown   int
	Drained, ForcedDown int
	Reported, Disputed  int
	// Served: in the answers (Element.Served), whether or not the pool
	// fails open.
	Served int
	// Owned: homed at this registrar (Options.RegistrarID, fixed for the
	// handlespace's life) or at none (Home 0, as a zone file's before
	// it is homed).
	Owned int
	// Last: disputed and put last in the answers (Element.Last).
	Last int
}

// addStatus counts e (d 1) or no longer counts it (d -1) in PoolCounts'
// counts; self is the handlespace's registrar ID (Owned).
func (c *viewCounts) addStatus(e *Element, d int32, self uint32) {
	switch e.Health {
	case HealthUp:
		c.up += d
	case HealthDown:
		c.down += d
	default:
		c.unknown += d
	}
	switch e.Admin {
	case AdminDrain:
		c.drained += d
	case AdminForceDown:
		c.forcedDown += d
	}
	if e.Reported {
		c.reported += d
	}
	if e.Home == self || e.Home == 0 {
		c.owned += d
	}
	if e.Disputed() {
		c.disputed += d
		if e.Last {
			c.lastd += d
		}
	}
}

func (c *viewCounts) add(f uint8, d int32) {
	var v4, v6 int32
	if f&flagV4 != 0 {
		v4 = d
	}
	if f&flagV6 != 0 {
		v6 = d
	}
	if f&flagServed != 0 {
		c.served, c.served4, c.served6 = c.served+d, c.served4+v4, c.served6+v6
	}
	if f&flagAdminAuto != 0 {
		c.auto, c.auto4, c.auto6 = c.auto+d, c.auto4+v4, c.auto6+v6
	}
	if f&flagLast == 0 {
		return
	}
	if f&flagServed != 0 {
		c.lserved, c.lserved4, c.lserved6 = c.lserved+d, c.lserved4+v4, c.lserved6+v6
	}
	if f&flagAdminAuto != 0 {
		c.lauto, c.lauto4, c.lauto6 = c.lauto+d, c.lauto4+v4, c.lauto6+v6
	}
}

// PoolInfo is a pool's name and settings. A pool's views share one
// PoolInfo until its spec changes (a zone reload), so that a new view
// copies a pointer, not the spec. Never modify one.
type PoolInfo struct {
	Name   string // owner name of the pool, lower case FQDN: web.pool.example.
	Handle string // first label of Name
	Zone   string // the zone's origin
	Spec   PoolSpec
	Static bool // defined by a zone file ($POOL), not only by registrations
}

// PoolView is an immutable view of one pool. Nothing in it changes after it
// is published; a change publishes a new view of that pool only, which
// shares with the previous one everything the change did not touch.
type PoolView struct {
	// The pool's name and settings (v.Name, v.Spec, …), shared by the
	// pool's views while they stay the same.
	*PoolInfo

	elems  tree        // every element, byID
	labels ptree.Index // every element's labelKey

	// Served sets: the elements that answers may carry (those up, or all of
	// them when none is up and the pool fails open), all of them, those
	// with an IPv4 address and those with an IPv6 address.
	All, V4, V6 ElementSet
	// FailOpen is true when the served sets hold elements that are not up.
	FailOpen bool

	// Gen increases with every view of the pool.
	Gen uint64

	cnt      viewCounts
	disp     *tree    // the disputed elements (Element.Disputed), byID; nil: none
	log      *elemLog // the view's link of the pool's change log (difflog.go)
	failMode bool     // no element is served and the pool fails open: the sets hold the AdminAuto elements

	memo ptree.Memo // the readers' memo of the view (see Memo)
}

// Len returns the number of elements of the pool.
func (v *PoolView) Len() int { return v.elems.Len() }

// Counts returns the pool's elements counted by health and administrative
// state. O(1): the counts follow each change of the pool.
func (v *PoolView) Counts() PoolCounts {
	c := &v.cnt
	return PoolCounts{Up: int(c.up), Down: int(c.down), Unknown: int(c.unknown),
		Drained: int(c.drained), ForcedDown: int(c.forcedDown), Reported: int(c.reported), Disputed: int(c.disputed),
		Served: int(c.served), Owned: int(c.owned), Last: int(c.lastd)}
}

// Disputed returns the pool's disputed elements (Element.Disputed), sorted
// by ID: O(d) for d of them, however large the pool (the view keeps them
// apart as they change). It allocates nothing.
func (v *PoolView) Disputed() iter.Seq[*Element] {
	return func(yield func(*Element) bool) {
		if v.disp == nil {
			return
		}
		v.disp.EachLeaf(func(l *tnode) bool {
			for _, e := range l.Elems() {
				if !yield(e) {
					return false
				}
			}
			return true
		})
	}
}

// Range returns the pool's elements, sorted by ID. Iterating costs
// O(n); it allocates nothing.
func (v *PoolView) Range() iter.Seq[*Element] {
	return func(yield func(*Element) bool) {
		v.elems.EachLeaf(func(l *tnode) bool {
			for _, e := range l.Elems() {
				if !yield(e) {
					return false
				}
			}
			return true
		})
	}
}

// Elements returns a new slice of the pool's elements, sorted by ID.
func (v *PoolView) Elements() []*Element {
	return v.elems.AppendElems(make([]*Element, 0, v.elems.Len()))
}

// Element returns the element with the given ID, or nil. O(log n).
func (v *PoolView) Element(id uint32) *Element { return v.elems.Get(uint64(id)) }

// Label returns the element whose label is label, or nil. O(log n).
func (v *PoolView) Label(label string) *Element {
	var found *Element
	v.labels.Each(labelHash(label), func(k uint64) bool {
		if e := v.elems.Get(uint64(uint32(k))); e != nil && e.Label.String() == label {
			found = e
			return false
		}
		return true
	})
	return found
}

// DiffElements calls f for each element that differs between old and v
// (old nil: every element of v), in ID order: with the old and the new
// version (either nil when the element was added or removed). When v is a
// newer view of old's pool, made by changes since, it composes the
// changes the views logged (difflog.go), O(d log d) for d changes and no
// read of the trees; else it walks both views, skipping the parts a
// change did not touch without reading them (ptree.Diff), O(d log n).
// Either way what reacts to a change (the monitor, the status history)
// pays for the change, not for the pool.
func DiffElements(old, v *PoolView, f func(was, now *Element)) {
	if old != nil && v != nil && diffLogged(old, v, f) {
		return
	}
	diffWalk(old, v, f)
}

// poolSlot holds the current view of one pool. Its identity is stable as long
// as the pool exists, across zone reloads.
type poolSlot struct {
	v atomic.Pointer[PoolView]
}

// View returns the pool's current view.
func (s *poolSlot) View() *PoolView { return s.v.Load() }

// buildPoolView makes a view of a pool from its elements (sorted by ID,
// distinct IDs and labels), building selectors from the previous view's so
// that per-query policy state carries over; self is the handlespace's
// registrar ID (PoolCounts.Owned). O(n log n).
func buildPoolView(name, handle, zone string, spec PoolSpec, static bool, elems []*Element, prev *PoolView, pol Policy, self uint32) *PoolView {
	v := &PoolView{PoolInfo: &PoolInfo{Name: name, Handle: handle, Zone: zone, Spec: spec, Static: static}}
	if prev != nil && prev.Name == name && prev.Handle == handle && prev.Zone == zone && prev.Spec == spec && prev.Static == static {
		v.PoolInfo = prev.PoolInfo
	}
	ents := make([]tent, len(elems))
	var disp []tent
	for i, e := range elems {
		ents[i] = tent{Key: uint64(e.ID), Elem: e}
		v.cnt.add(elementFlags(e), 1)
		v.cnt.addStatus(e, 1, self)
		if e.Disputed() {
			disp = append(disp, ents[i])
		}
	}
	v.elems = ptree.Build(byID, false, ents)
	if len(disp) > 0 {
		t := ptree.Build(byID, false, disp)
		v.disp = &t
	}
	lkeys := make([]uint64, len(elems))
	for i, e := range elems {
		lkeys[i] = labelKey(e.Label.String(), e.ID)
	}
	slices.Sort(lkeys)
	v.labels = ptree.BuildIndex(lkeys)
	if prev != nil {
		v.Gen = prev.Gen + 1
	}
	v.log = (*elemLog)(nil).extend(nil, len(elems)) // a new chain
	v.buildSets(prev, pol)
	return v
}

// sets returns the view's served sets with the flags each one's elements
// have (all of them).
func (v *PoolView) sets() [3]struct {
	s     *ElementSet
	mask  uint8
	n     int
	nlast int32
} {
	base, c := flagServed, v.cnt
	n, n4, n6 := int(c.served), int(c.served4), int(c.served6)
	l, l4, l6 := c.lserved, c.lserved4, c.lserved6
	if v.failMode {
		base, n, n4, n6 = flagAdminAuto, int(c.auto), int(c.auto4), int(c.auto6)
		l, l4, l6 = c.lauto, c.lauto4, c.lauto6
	}
	return [3]struct {
		s     *ElementSet
		mask  uint8
		n     int
		nlast int32
	}{{&v.All, base, n, l}, {&v.V4, base | flagV4, n4, l4}, {&v.V6, base | flagV6, n6, l6}}
}

// Serves reports whether e, an element of the view, is in its answers
// (the All set): served, or, when the pool fails open, not drained or
// forced down. It looks at e alone, without walking the set.
func (v *PoolView) Serves(e *Element) bool {
	if v.failMode {
		return e.Admin == AdminAuto
	}
	return e.Served()
}

func (v *PoolView) setFailMode() {
	v.failMode = v.cnt.served == 0 && v.Spec.AllDown == AllDownAll
	v.FailOpen = v.failMode && v.cnt.auto > 0
}

// prevSet returns prev's version of the set (i: 0 All, 1 V4, 2 V6), or
// nil.
func prevSet(prev *PoolView, i int) *ElementSet {
	if prev == nil {
		return nil
	}
	return [3]*ElementSet{&prev.All, &prev.V4, &prev.V6}[i]
}

// finishSet builds set s's selector, carrying over the sequence of ps (the
// set's previous version, may be nil) and its selector when the policy is
// the same.
func finishSet(s, ps *ElementSet, samePolicy bool, pol Policy, full bool) {
	s.sel, s.seq = nil, nil
	var prevSel Selector
	if ps != nil {
		s.seq = ps.seq
		if samePolicy {
			prevSel = ps.sel
		}
	}
	if s.set.len() == 0 {
		return
	}
	if s.seq == nil {
		s.seq = new(atomic.Uint64)
	}
	if p, ok := pol.(InSetPolicy); ok {
		s.sel = p.InSet(s)
		return
	}
	s.sel = pol.Build(&s.set, s.seq, prevSel, full)
}

// buildSets builds the served sets from the elements. O(n log n).
func (v *PoolView) buildSets(prev *PoolView, pol Policy) {
	v.setFailMode()
	o := pol.Order()
	sets := v.sets()
	for i, st := range sets {
		if set, ok := v.sharedSet(&o, i, st.n, sets[0].n); ok {
			st.s.set = set
		} else {
			members := make([]*Element, 0, st.n)
			for e := range v.Range() {
				if elementFlags(e)&st.mask == st.mask {
					members = append(members, e)
				}
			}
			st.s.set = o.NewSet(members)
		}
		st.s.nlast = st.nlast
		finishSet(st.s, prevSet(prev, i), prev != nil && samePolicy(prev.Spec, v.Spec), pol, true)
	}
}

// sharedSet returns the set that served set i (of n elements; All, set 0,
// has n0) can be without a tree of its own, if any: the empty set, All's
// set (set i > 0 holding as many as All, whose set is already made) or,
// for a plain order, the element tree itself (all elements).
func (v *PoolView) sharedSet(o *Order, i, n, n0 int) (Set, bool) {
	switch {
	case n == 0:
		return o.empty(), true
	case i > 0 && n == n0:
		return v.All.set, true
	case o.plain() && n == v.elems.Len():
		return Set{t: v.elems}, true
	}
	return Set{}, false
}

// NewSet returns the set of elems (sorted by ID, distinct IDs) kept in
// order o: how a pool makes a served set, and a selector can be built
// without a pool (a policy's tests and benchmarks).
func (o *Order) NewSet(elems []*Element) Set {
	var ents, zero []tent
	for _, e := range elems {
		if x, z := o.place(e); z {
			zero = append(zero, x)
		} else {
			ents = append(ents, x)
		}
		if x, ok := o.sitePlace(e); ok {
			zero = append(zero, x)
		}
	}
	s := o.empty()
	byKey := func(a, b tent) int {
		if c := cmp.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return cmp.Compare(a.Tie, b.Tie)
	}
	if o.Rank != nil {
		slices.SortFunc(ents, byKey)
		slices.SortFunc(zero, byKey)
	}
	s.t = ptree.Build(s.t.Kind(), s.t.Weighted(), ents)
	s.z = ptree.Build(s.z.Kind(), false, zero)
	return s
}

// elemChange is one element's change: its old and its new version (nil:
// absent).
type elemChange struct {
	id       uint32
	old, new *Element
}

// update returns the view after changes (sorted by ID, one per element,
// each a real change): it copies the paths to what changed in the
// element, label, disputed and served-set trees, and shares the rest with
// v; self is the handlespace's registrar ID (PoolCounts.Owned).
// O(d log n) for d changes, plus the selectors' own work.
func (v *PoolView) update(spec PoolSpec, static bool, changes []elemChange, pol Policy, sc *scratch, self uint32) *PoolView {
	nv := &PoolView{PoolInfo: v.PoolInfo, Gen: v.Gen + 1, cnt: v.cnt, disp: v.disp}
	if spec != v.Spec || static != v.Static {
		nv.PoolInfo = &PoolInfo{Name: v.Name, Handle: v.Handle, Zone: v.Zone, Spec: spec, Static: static}
	}
	mods := sc.mods[:0]
	nv.labels = v.labels
	disputes := false
	for _, c := range changes {
		if c.new != nil {
			mods = append(mods, tent{Key: uint64(c.id), Elem: c.new})
			nv.cnt.add(elementFlags(c.new), 1)
			nv.cnt.addStatus(c.new, 1, self)
			disputes = disputes || c.new.Disputed()
		} else {
			mods = append(mods, tent{Key: uint64(c.id), Del: true, Elem: c.old})
		}
		if c.old != nil {
			nv.cnt.add(elementFlags(c.old), -1)
			nv.cnt.addStatus(c.old, -1, self)
			disputes = disputes || c.old.Disputed()
		}
		if c.old == nil || c.new == nil || c.old.Label.String() != c.new.Label.String() {
			if c.old != nil {
				nv.labels = nv.labels.Without(labelKey(c.old.Label.String(), c.id))
			}
			if c.new != nil {
				nv.labels = nv.labels.With(labelKey(c.new.Label.String(), c.id))
			}
		}
	}
	nv.elems = v.elems.Update(mods, &sc.t)
	nv.log = v.log.extend(changes, nv.elems.Len())
	clear(mods)
	sc.mods = mods[:0]
	if disputes {
		nv.disp = updateDisputed(v.disp, changes, sc)
	}
	nv.setFailMode()
	if nv.failMode != v.failMode || !samePolicy(spec, v.Spec) {
		nv.buildSets(v, pol)
		return nv
	}
	o := pol.Order()
	sets, old := nv.sets(), v.sets()
	for i, st := range sets {
		if set, ok := nv.sharedSet(&o, i, st.n, sets[0].n); ok {
			st.s.set = set
		} else {
			st.s.set = o.updateSet(old[i].s.set, changes, st.mask, sc)
		}
		st.s.nlast = st.nlast
		finishSet(st.s, old[i].s, true, pol, false)
	}
	return nv
}

// updateDisputed returns the tree of disputed elements d (nil: empty)
// with changes applied (sorted by ID, one per element): nil when none is
// left.
func updateDisputed(d *tree, changes []elemChange, sc *scratch) *tree {
	mods := sc.zmods[:0]
	for _, c := range changes {
		switch {
		case c.new != nil && c.new.Disputed():
			mods = append(mods, tent{Key: uint64(c.id), Elem: c.new})
		case c.old != nil && c.old.Disputed():
			mods = append(mods, tent{Key: uint64(c.id), Del: true, Elem: c.old})
		}
	}
	var t tree
	if d != nil {
		t = *d
	}
	t = t.Update(mods, &sc.t)
	clear(mods)
	sc.zmods = mods[:0]
	if t.Len() == 0 {
		return nil
	}
	return &t
}

// updateSet returns set s with changes applied, for the set of the
// elements with the flags mask.
func (o *Order) updateSet(s Set, changes []elemChange, mask uint8, sc *scratch) Set {
	tm, zm := sc.mods[:0], sc.zmods[:0]
	for _, c := range changes {
		for _, e := range [2]*Element{c.old, c.new} {
			if e == nil || elementFlags(e)&mask != mask {
				continue
			}
			x, z := o.place(e)
			x.Del = e == c.old
			if z {
				zm = append(zm, x)
			} else {
				tm = append(tm, x)
			}
			if x, ok := o.sitePlace(e); ok {
				x.Del = e == c.old
				zm = append(zm, x)
			}
		}
	}
	s.t = s.t.Update(s.t.SortMods(tm), &sc.t)
	s.z = s.z.Update(s.z.SortMods(zm), &sc.t)
	sc.mods, sc.zmods = tm[:0], zm[:0]
	return s
}

// scratch is a writer's reusable working memory (guarded by the
// handlespace's lock).
type scratch struct {
	t           ptree.Scratch[Element]
	mods, zmods []tent
	changes     []elemChange
	ids         []uint32
}
