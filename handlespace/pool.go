package handlespace

import (
	"sort"
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
	if e.Probe != nil {
		return *e.Probe
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
}

// DefaultPoolSpec is the spec of a pool that no zone file defines.
func DefaultPoolSpec() PoolSpec {
	return PoolSpec{Policy: "rr", TTL: 5, Answers: 3, AllDown: AllDownNone}
}

// ElementSet is a set of elements in a fixed order together with the
// selector built for it.
type ElementSet struct {
	Elems []*Element
	Sel   Selector
}

// Select returns up to k elements of the set in policy order, appended to
// dst (which may be nil). k <= 0 means all.
func (s *ElementSet) Select(idx []int32, k int, c *Client) []int32 {
	if len(s.Elems) == 0 {
		return idx[:0]
	}
	return s.Sel.Select(idx[:0], k, c)
}

// PoolView is an immutable view of one pool. Nothing in it changes after it
// is published; a change publishes a new view of that pool only.
type PoolView struct {
	Name   string // owner name of the pool, lower case FQDN: web.pool.example.
	Handle string // first label of Name
	Zone   string // the zone's origin
	Spec   PoolSpec
	Static bool // defined by a zone file ($POOL), not only by registrations

	// Elements are all elements, sorted by ID.
	Elements []*Element
	// ByLabel finds an element by the first label of its own name.
	ByLabel map[string]*Element

	// Served sets: the elements that answers may carry (those up, or all of
	// them when none is up and the pool fails open), all of them, those
	// with an IPv4 address and those with an IPv6 address.
	All, V4, V6 ElementSet
	// FailOpen is true when the served sets hold elements that are not up.
	FailOpen bool

	// Gen increases with every view of the pool.
	Gen uint64

	memo atomic.Pointer[memoBox]
}

type memoBox struct{ v any }

// Memo returns the value build computes from this view, computing it at most
// once per view in the common case (concurrent first callers may each build;
// one result wins). The DNS front keeps its packed reply material here.
func (v *PoolView) Memo(build func(*PoolView) any) any {
	if b := v.memo.Load(); b != nil {
		return b.v
	}
	b := &memoBox{build(v)}
	if v.memo.CompareAndSwap(nil, b) {
		return b.v
	}
	return v.memo.Load().v
}

// Element returns the element with the given ID, or nil.
func (v *PoolView) Element(id uint32) *Element {
	i := sort.Search(len(v.Elements), func(i int) bool { return v.Elements[i].ID >= id })
	if i < len(v.Elements) && v.Elements[i].ID == id {
		return v.Elements[i]
	}
	return nil
}

// poolSlot holds the current view of one pool. Its identity is stable as long
// as the pool exists, across zone reloads.
type poolSlot struct {
	v atomic.Pointer[PoolView]
}

// View returns the pool's current view.
func (s *poolSlot) View() *PoolView { return s.v.Load() }

// buildPoolView makes a view of a pool from its elements (sorted by ID),
// building selectors from the previous view's so that per-query policy state
// carries over.
func buildPoolView(name, handle, zone string, spec PoolSpec, static bool, elems []*Element, prev *PoolView, pol Policy) *PoolView {
	v := &PoolView{Name: name, Handle: handle, Zone: zone, Spec: spec, Static: static, Elements: elems}
	v.ByLabel = make(map[string]*Element, len(elems))
	for _, e := range elems {
		v.ByLabel[e.Label] = e
	}
	served := make([]*Element, 0, len(elems))
	for _, e := range elems {
		if e.Served() {
			served = append(served, e)
		}
	}
	if len(served) == 0 && spec.AllDown == AllDownAll {
		// Fail open: every element that an operator did not take out.
		for _, e := range elems {
			if e.Admin == AdminAuto {
				served = append(served, e)
			}
		}
		v.FailOpen = len(served) > 0
	}
	var v4, v6 []*Element
	for _, e := range served {
		if e.HasV4() {
			v4 = append(v4, e)
		}
		if e.HasV6() {
			v6 = append(v6, e)
		}
	}
	var pa, p4, p6 Selector
	if prev != nil && prev.Spec.Policy == spec.Policy {
		pa, p4, p6 = prev.All.Sel, prev.V4.Sel, prev.V6.Sel
		v.Gen = prev.Gen + 1
	}
	v.All = ElementSet{served, pol.Build(served, pa)}
	v.V4 = ElementSet{v4, pol.Build(v4, p4)}
	v.V6 = ElementSet{v6, pol.Build(v6, p6)}
	return v
}
