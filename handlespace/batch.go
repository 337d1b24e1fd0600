package handlespace

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// ErrStaticElement: a batch operation named an element that a zone file
// defines; those change only with their zone file.
var ErrStaticElement = errors.New("handlespace: element is defined by a zone file")

// ErrIDInUse: a registration's identifier belongs to another element
// (another label) of the pool.
var ErrIDInUse = errors.New("handlespace: identifier used by another element of the pool")

// ErrCommit wraps the error of a batch's commit function: nothing of the
// batch was published.
var ErrCommit = errors.New("handlespace: commit failed")

// Op is one operation of a batch (see Apply): a registration when Elem is
// set, else a removal of element ID.
type Op struct {
	// Pool is the pool's name (handle.zone., any case, final dot optional).
	Pool string
	// Elem, if not nil, is registered: added, or replacing the registered
	// element with its ID, as Register does. The handlespace takes
	// ownership of it.
	Elem *Element
	// Policy is the policy the registration asks for ("" any), as for
	// Register.
	Policy string
	// ID is the element that a removal (Elem nil) removes.
	ID uint32
	// ExpiredBy, when set on a removal, makes it conditional: the element
	// goes only if its lease ended at or before this time (so that an
	// expiry sweep does not remove an element that was refreshed since the
	// sweep looked). A removal that finds the element refreshed fails with
	// ErrNoElement.
	ExpiredBy time.Time

	// legacy gives the operation the semantics of Register and Deregister:
	// zone-file elements may be replaced and removed, a registration may
	// rename an element.
	legacy bool
	// update, when set, changes a copy of element ID (UpdateMany).
	update func(*Element)
}

// Apply runs groups of operations as one change: each group all or nothing
// (an operation that fails undoes its group's earlier ones and the group's
// error says which), groups in order, each seeing the ones before it. Every
// pool the batch touches gets one new view, whatever the number of
// operations on it, which is what makes batches cheap for large pools.
//
// Unlike Register and Deregister, Apply never touches an element that a
// zone file defines (ErrStaticElement), and a registration does not rename
// an element: another label with the identifier of an element is
// ErrIDInUse.
//
// commit, if not nil, is called once the outcome of every group is known
// (ok[i] says whether group i succeeded) and before anything is published,
// with the writer lock held: it is the place to make the accepted groups
// durable. If it returns an error nothing is published and every group gets
// that error wrapped in ErrCommit. Apply returns one error per group.
func (h *Handlespace) Apply(groups [][]Op, commit func(ok []bool) error) []error {
	errs := make([]error, len(groups))
	h.mu.Lock()
	defer h.mu.Unlock()
	b := &batch{h: h, v: h.view.Load(), work: map[string]*poolWork{}}
	for gi, g := range groups {
		mark := len(b.undo)
		for oi := range g {
			if err := b.apply(&g[oi]); err != nil {
				b.rollback(mark)
				if len(g) > 1 {
					err = fmt.Errorf("operation %d of %d: %w", oi+1, len(g), err)
				}
				errs[gi] = err
				break
			}
		}
	}
	if commit != nil {
		ok := make([]bool, len(groups))
		for i, err := range errs {
			ok[i] = err == nil
		}
		if err := commit(ok); err != nil {
			err = fmt.Errorf("%w: %v", ErrCommit, err)
			for i := range errs {
				if errs[i] == nil {
					errs[i] = err
				}
			}
			return errs
		}
	}
	b.publish()
	return errs
}

// batch is Apply's working state: per touched pool, the changes over its
// current view, and an undo log for failing groups.
type batch struct {
	h     *Handlespace
	v     *View
	work  map[string]*poolWork // by lower-case pool name
	order []*poolWork          // in first-touch order, for publishing
	undo  []undoEntry
}

// poolWork is a pool's pending change: its elements are prev.Elements with
// delta applied (an ID mapped to nil is removed).
type poolWork struct {
	name, handle, parent string
	z                    *Zone
	slot                 *poolSlot // nil: the pool does not exist yet
	prev                 *PoolView // nil: the pool does not exist yet
	spec                 PoolSpec
	static               bool
	delta                map[uint32]*Element
	labels               map[string]uint32 // label → ID of the elements in delta
	count                int               // elements after the delta
}

type undoEntry struct {
	w       *poolWork
	created bool // undo the creation of w (it is the last entry for w)
	id      uint32
	had     bool     // delta had an entry for id before
	old     *Element // that entry
}

// element returns the element id of the pool with the pending changes.
func (w *poolWork) element(id uint32) *Element {
	if e, ok := w.delta[id]; ok {
		return e
	}
	if w.prev != nil {
		return w.prev.Element(id)
	}
	return nil
}

// byLabel returns the element with label with the pending changes.
func (w *poolWork) byLabel(label string) *Element {
	if id, ok := w.labels[label]; ok {
		if e := w.delta[id]; e != nil && e.Label == label {
			return e
		}
	}
	if w.prev != nil {
		if e := w.prev.Label(label); e != nil {
			if d, changed := w.delta[e.ID]; !changed || (d != nil && d.Label == label) {
				return w.element(e.ID)
			}
		}
	}
	return nil
}

// set records element e (nil: removed) for id, logging the undo.
func (b *batch) set(w *poolWork, id uint32, e *Element) {
	old, had := w.delta[id]
	b.undo = append(b.undo, undoEntry{w: w, id: id, had: had, old: old})
	before := w.element(id)
	if before != nil {
		w.count--
	}
	if e != nil {
		w.count++
		w.labels[e.Label] = id
	}
	w.delta[id] = e
}

func (b *batch) rollback(mark int) {
	for i := len(b.undo) - 1; i >= mark; i-- {
		u := b.undo[i]
		w := u.w
		if u.created {
			delete(b.work, w.name)
			b.order = slices.DeleteFunc(b.order, func(x *poolWork) bool { return x == w })
			continue
		}
		if cur := w.element(u.id); cur != nil {
			w.count--
		}
		if u.had {
			w.delta[u.id] = u.old
		} else {
			delete(w.delta, u.id)
		}
		if e := w.element(u.id); e != nil {
			w.count++
			w.labels[e.Label] = u.id
		}
	}
	b.undo = b.undo[:mark]
}

// pool returns the working state of pool, creating it (when create is not
// nil, with that spec) if the pool does not exist.
func (b *batch) pool(name string, create *PoolSpec) (*poolWork, error) {
	name = strings.ToLower(dns.Fqdn(name))
	if w := b.work[name]; w != nil {
		if w.prev == nil && w.count == 0 && create == nil {
			return nil, ErrNoPool
		}
		return w, nil
	}
	handle, parent, ok := splitPool(name)
	if !ok {
		return nil, ErrNoZone
	}
	z := b.v.zones[parent]
	if z == nil {
		return nil, ErrNoZone
	}
	w := &poolWork{name: name, handle: handle, parent: parent, z: z, delta: map[uint32]*Element{}, labels: map[string]uint32{}}
	if slot := z.pools[handle]; slot != nil {
		w.slot, w.prev = slot, slot.View()
		w.spec, w.static, w.count = w.prev.Spec, w.prev.Static, len(w.prev.Elements)
	} else {
		if create == nil {
			return nil, ErrNoPool
		}
		if _, taken := z.Nodes[name]; taken {
			return nil, ErrNameTaken
		}
		w.spec = *create
		b.undo = append(b.undo, undoEntry{w: w, created: true})
	}
	b.work[name] = w
	b.order = append(b.order, w)
	return w, nil
}

func (b *batch) apply(op *Op) error {
	if op.update != nil {
		w, err := b.pool(op.Pool, nil)
		if err != nil {
			return err
		}
		cur := w.element(op.ID)
		if cur == nil {
			return ErrNoElement
		}
		c := cur.Clone()
		op.update(c)
		c.ID = cur.ID
		if c.Label != cur.Label {
			if o := w.byLabel(c.Label); o != nil && o.ID != c.ID {
				return ErrLabelInUse
			}
		}
		b.set(w, op.ID, c)
		return nil
	}
	if op.Elem == nil {
		w, err := b.pool(op.Pool, nil)
		if err != nil {
			return err
		}
		cur := w.element(op.ID)
		switch {
		case cur == nil:
			return ErrNoElement
		case cur.Static && !op.legacy:
			return ErrStaticElement
		case !op.ExpiredBy.IsZero() && (cur.Expires.IsZero() || cur.Expires.After(op.ExpiredBy)):
			return ErrNoElement
		}
		b.set(w, op.ID, nil)
		return nil
	}
	e := op.Elem
	if e.Label == "" || e.Port == 0 || len(e.Addrs) == 0 {
		return ErrBadElement
	}
	create := b.h.opts.DefaultSpec
	if op.Policy != "" {
		if _, err := NewPolicy(op.Policy, nil); err != nil {
			return err
		}
		create.Policy = op.Policy
	}
	w, err := b.pool(op.Pool, &create)
	if err != nil {
		return err
	}
	if w.prev == nil && w.count == 0 && op.Policy != "" {
		// The pool is being created by this batch and has no element yet:
		// the first registration names its policy.
		w.spec.Policy = op.Policy
	}
	if op.Policy != "" && op.Policy != w.spec.Policy {
		return fmt.Errorf("%w: pool uses %s, registration asks for %s", ErrInconsistentPolicy, w.spec.Policy, op.Policy)
	}
	old := w.element(e.ID)
	if old != nil && old.Static && !op.legacy {
		return ErrStaticElement
	}
	if old != nil && old.Label != e.Label && !op.legacy {
		return ErrIDInUse
	}
	if o := w.byLabel(e.Label); o != nil && o.ID != e.ID {
		if o.Static && !op.legacy {
			return ErrStaticElement
		}
		return ErrLabelInUse
	}
	b.h.prepareRegister(w.spec, e, old)
	b.set(w, e.ID, e)
	return nil
}

// prepareRegister fills in what a registration does not say: the home
// registrar, the initial health, and what carries over from the element it
// replaces (old, may be nil).
func (h *Handlespace) prepareRegister(spec PoolSpec, e, old *Element) {
	if e.Home == 0 {
		e.Home = h.opts.RegistrarID
	}
	e.Health = h.initialHealth(spec, e)
	if old != nil {
		if e.Health != HealthUp {
			e.Health = old.Health
		}
		e.Admin, e.Reported, e.RTT = old.Admin, old.Reported, old.RTT
	}
}

// publish builds and publishes the new view of every touched pool. Called
// with mu held.
func (b *batch) publish() {
	changed := false
	var created, removed []*poolWork
	for _, w := range b.order {
		if len(w.delta) == 0 {
			continue
		}
		changed = true
		if w.count == 0 && !w.static {
			if w.slot != nil {
				removed = append(removed, w)
			}
			continue
		}
		elems, byLabel, flags := w.merge()
		pol, err := b.h.policy(w.spec.Policy)
		if err != nil {
			// Checked when the operations were applied; a policy name
			// that was valid then is valid now.
			panic("handlespace: " + err.Error())
		}
		nv := buildPoolViewFrom(w.name, w.handle, w.parent, w.spec, w.static, elems, byLabel, flags, w.prev, pol)
		if w.slot == nil {
			w.slot = &poolSlot{}
			w.slot.v.Store(nv)
			created = append(created, w)
			continue
		}
		w.slot.v.Store(nv)
	}
	if len(created)+len(removed) > 0 {
		b.h.replacePools(b.v, created, removed)
	}
	if changed {
		b.h.notify()
	}
}

// merge returns the pool's elements after the delta, sorted by ID, with
// their flags and label index: the previous view's, with the changed
// elements taken out and put in. It copies runs of the previous arrays and
// looks at no unchanged element, so that its cost is a memory copy of the
// pool plus O(d log n) for d changes.
func (w *poolWork) merge() (elems, byLabel []*Element, flags []uint8) {
	ids := make([]uint32, 0, len(w.delta))
	for id := range w.delta {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if w.prev == nil {
		for _, id := range ids {
			if e := w.delta[id]; e != nil {
				elems = append(elems, e)
			}
		}
		return elems, nil, nil // buildPoolViewFrom makes the rest
	}
	prev, pflags, plabels := w.prev.Elements, w.prev.flags, w.prev.byLabel
	elems = make([]*Element, 0, w.count)
	flags = make([]uint8, 0, w.count)
	type ins struct {
		pos int
		e   *Element
	}
	var rem []int  // positions in plabels of elements that go
	var adds []ins // elements that come, with their position in plabels
	i := 0
	for _, id := range ids {
		j := i + sort.Search(len(prev)-i, func(k int) bool { return prev[i+k].ID >= id })
		elems = append(elems, prev[i:j]...)
		flags = append(flags, pflags[i:j]...)
		i = j
		if i < len(prev) && prev[i].ID == id {
			old := prev[i]
			p, _ := slices.BinarySearchFunc(plabels, old.Label, func(e *Element, l string) int { return strings.Compare(e.Label, l) })
			rem = append(rem, p)
			i++
		}
		if e := w.delta[id]; e != nil {
			elems = append(elems, e)
			flags = append(flags, elementFlags(e))
			p, _ := slices.BinarySearchFunc(plabels, e.Label, func(x *Element, l string) int { return strings.Compare(x.Label, l) })
			adds = append(adds, ins{p, e})
		}
	}
	elems = append(elems, prev[i:]...)
	flags = append(flags, pflags[i:]...)

	slices.Sort(rem)
	slices.SortFunc(adds, func(a, b ins) int {
		if a.pos != b.pos {
			return a.pos - b.pos
		}
		return strings.Compare(a.e.Label, b.e.Label)
	})
	byLabel = make([]*Element, 0, w.count)
	cur, ri, ai := 0, 0, 0
	for {
		next := len(plabels)
		if ri < len(rem) {
			next = min(next, rem[ri])
		}
		if ai < len(adds) {
			next = min(next, adds[ai].pos)
		}
		byLabel = append(byLabel, plabels[cur:next]...)
		cur = next
		for ai < len(adds) && adds[ai].pos == cur {
			byLabel = append(byLabel, adds[ai].e)
			ai++
		}
		if ri < len(rem) && rem[ri] == cur {
			cur++
			ri++
			continue
		}
		if ri >= len(rem) && ai >= len(adds) {
			byLabel = append(byLabel, plabels[cur:]...)
			break
		}
	}
	return elems, byLabel, flags
}

// replacePools publishes a new view of the handlespace with the created
// pools added and the removed ones gone: one copy of each zone's pool map
// per batch. Called with mu held.
func (h *Handlespace) replacePools(v *View, created, removed []*poolWork) {
	nv := &View{zones: make(map[string]*Zone, len(v.zones)), maxLabels: v.maxLabels}
	for k, z := range v.zones {
		nv.zones[k] = z
	}
	copied := map[string]*Zone{}
	zoneOf := func(w *poolWork) *Zone {
		if nz := copied[w.parent]; nz != nil {
			return nz
		}
		z := v.zones[w.parent]
		nz := *z
		nz.pools = make(map[string]*poolSlot, len(z.pools)+len(created))
		for k, s := range z.pools {
			nz.pools[k] = s
		}
		copied[w.parent] = &nz
		nv.zones[w.parent] = &nz
		return &nz
	}
	for _, w := range created {
		zoneOf(w).pools[w.handle] = w.slot
	}
	for _, w := range removed {
		delete(zoneOf(w).pools, w.handle)
	}
	h.view.Store(nv)
}
