package handlespace

import (
	"slices"
	"strings"
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
	// ids and flags are each element's identifier and flags, aligned with
	// Elements; byLabel holds Elements sorted by label and lkeys their
	// labels' first eight bytes (labelKey), for Label. The searches read
	// these compact arrays, not the elements.
	ids     []uint32
	flags   []uint8
	byLabel []*Element
	lkeys   []uint64

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
	i, ok := slices.BinarySearch(v.ids, id)
	if !ok {
		return nil
	}
	return v.Elements[i]
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
	return buildPoolViewFrom(name, handle, zone, spec, static, elems, nil, prev, pol)
}

// Element flags, kept beside Elements so that building the served sets
// reads a byte per element, not the element.
const (
	flagServed uint8 = 1 << iota
	flagV4
	flagV6
	flagAdminAuto
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
	return f
}

// buildPoolViewFrom is buildPoolView with the elements' label index
// (sorted by label) and flags given when the caller has them (nil: made
// here).
func buildPoolViewFrom(name, handle, zone string, spec PoolSpec, static bool, elems []*Element, ix *viewIndex, prev *PoolView, pol Policy) *PoolView {
	v := &PoolView{Name: name, Handle: handle, Zone: zone, Spec: spec, Static: static, Elements: elems}
	if ix != nil {
		v.ids, v.flags, v.byLabel, v.lkeys = ix.ids, ix.flags, ix.byLabel, ix.lkeys
	} else {
		v.ids = make([]uint32, len(elems))
		v.flags = make([]uint8, len(elems))
		for i, e := range elems {
			v.ids[i], v.flags[i] = e.ID, elementFlags(e)
		}
		v.byLabel = slices.Clone(elems)
		slices.SortFunc(v.byLabel, func(a, b *Element) int { return strings.Compare(a.Label, b.Label) })
		v.lkeys = make([]uint64, len(elems))
		for i, e := range v.byLabel {
			v.lkeys[i] = labelKey(e.Label)
		}
	}
	n, n4, n6 := 0, 0, 0
	for _, f := range v.flags {
		if f&flagServed != 0 {
			n++
			if f&flagV4 != 0 {
				n4++
			}
			if f&flagV6 != 0 {
				n6++
			}
		}
	}
	want := flagServed
	if n == 0 && spec.AllDown == AllDownAll {
		// Fail open: every element that an operator did not take out.
		want = flagAdminAuto
		for _, f := range v.flags {
			if f&flagAdminAuto != 0 {
				n++
				if f&flagV4 != 0 {
					n4++
				}
				if f&flagV6 != 0 {
					n6++
				}
			}
		}
		v.FailOpen = n > 0
	}
	// One allocation for the three sets; a set that is the whole of the
	// served one (an IPv4-only pool's V4) shares it, and when every
	// element is served the served set is Elements itself.
	all4, all6 := n4 == n, n6 == n
	if n == len(elems) && (all4 || n4 == 0) && (all6 || n6 == 0) {
		var v4, v6 []*Element
		if n4 > 0 {
			v4 = elems
		}
		if n6 > 0 {
			v6 = elems
		}
		return v.finish(elems, v4, v6, prev, pol)
	}
	size := n
	if !all4 {
		size += n4
	}
	if !all6 {
		size += n6
	}
	buf := make([]*Element, 0, size)
	served := buf[:0:n]
	var v4, v6 []*Element
	if !all4 && n4 > 0 {
		v4 = buf[n : n : n+n4]
	}
	if !all6 && n6 > 0 {
		off := n
		if !all4 {
			off += n4
		}
		v6 = buf[off : off : off+n6]
	}
	for i, f := range v.flags {
		if f&want == 0 {
			continue
		}
		e := elems[i]
		served = append(served, e)
		if !all4 && f&flagV4 != 0 {
			v4 = append(v4, e)
		}
		if !all6 && f&flagV6 != 0 {
			v6 = append(v6, e)
		}
	}
	if all4 {
		v4 = served
	}
	if all6 {
		v6 = served
	}
	if n4 == 0 {
		v4 = nil
	}
	if n6 == 0 {
		v6 = nil
	}
	return v.finish(served, v4, v6, prev, pol)
}

// finish builds the selectors of the served sets.
func (v *PoolView) finish(served, v4, v6 []*Element, prev *PoolView, pol Policy) *PoolView {
	var pa, p4, p6 Selector
	if prev != nil && prev.Spec.Policy == v.Spec.Policy {
		pa, p4, p6 = prev.All.Sel, prev.V4.Sel, prev.V6.Sel
		v.Gen = prev.Gen + 1
	}
	v.All = ElementSet{served, pol.Build(served, pa)}
	v.V4 = ElementSet{v4, pol.Build(v4, p4)}
	v.V6 = ElementSet{v6, pol.Build(v6, p6)}
	return v
}

// viewIndex is what a batch hands buildPoolViewFrom besides the elements:
// the arrays of PoolView that it kept up to date.
type viewIndex struct {
	ids     []uint32
	flags   []uint8
	byLabel []*Element
	lkeys   []uint64
}

// labelKey is a label's first eight bytes, big-endian, zero-padded: keys
// order as the labels do, and differ where the labels' first eight bytes
// do.
func labelKey(l string) uint64 {
	var k uint64
	for i := 0; i < 8; i++ {
		k <<= 8
		if i < len(l) {
			k |= uint64(l[i])
		}
	}
	return k
}

// labelPos returns where label is or would be in the label index.
func labelPos(byLabel []*Element, lkeys []uint64, label string) (int, bool) {
	key := labelKey(label)
	lo, hi := 0, len(lkeys)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		c := 0
		switch {
		case lkeys[m] < key:
			c = -1
		case lkeys[m] > key:
			c = 1
		case len(label) >= 8:
			// A label of eight bytes or more shares its key with every
			// label that it starts or that starts like it.
			c = strings.Compare(byLabel[m].Label, label)
		}
		// Labels of up to seven bytes are their key (labels hold no zero
		// byte): equal keys are equal labels.
		if c < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(lkeys) && lkeys[lo] == key && byLabel[lo].Label == label
}

// Label returns the element whose label is label, or nil.
func (v *PoolView) Label(label string) *Element {
	if i, ok := labelPos(v.byLabel, v.lkeys, label); ok {
		return v.byLabel[i]
	}
	return nil
}
