package handlespace

import (
	"errors"
	"fmt"
	"slices"
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
	// element of its ID, which must have its label (a registration does not
	// rename an element). Its home (if 0) and initial health are filled in,
	// and health, administrative state, reports and RTT carry over from the
	// element it replaces. The handlespace takes ownership of it.
	Elem *Element
	// Policy is the policy the registration asks for: "" for any. If the
	// pool exists with another policy the registration fails with
	// ErrInconsistentPolicy; a pool that does not exist yet is created
	// with it (with the handlespace's default spec otherwise).
	Policy string
	// ID is the element that a removal (Elem nil) removes.
	ID uint32
	// ExpiredBy, when set on a removal, makes it conditional: the element
	// goes only if its lease ended at or before this time (so that an
	// expiry sweep does not remove an element that was refreshed since the
	// sweep looked). A removal that finds the element refreshed fails with
	// ErrNoElement.
	ExpiredBy time.Time

	// update, when set, changes a copy of element ID (UpdateMany).
	update func(*Element)
	// asIs puts Elem as given, health and home included, and lets it
	// rename the element with its ID (ApplyEdits: a peer's element).
	asIs bool
	// cond, when set, must hold for the element's current version (nil:
	// none), else the operation fails with ErrConflict (Edit.If).
	cond func(*Element) bool
}

// Apply runs groups of operations as one change: each group all or nothing
// (an operation that fails undoes its group's earlier ones and the group's
// error says which), groups in order, each seeing the ones before it. Every
// pool the batch touches gets one new view, whatever the number of
// operations on it, which is what makes batches cheap for large pools.
//
// Apply never touches an element that a zone file defines
// (ErrStaticElement), and a registration does not rename an element:
// another label with the identifier of an element is ErrIDInUse.
//
// commit, if not nil, is called once the outcome of every group is known
// (ok[i] says whether group i succeeded) and before anything is published,
// with the writer lock held: it is the place to make the accepted groups
// durable. If it returns an error nothing is published and every group gets
// that error wrapped in ErrCommit. Apply returns one error per group.
func (h *Handlespace) Apply(groups [][]Op, commit func(ok []bool) error) []error {
	errs := make([]error, len(groups))
	h.apply(groups, commit, errs)
	return errs
}

// apply is Apply, with errs (len(groups) long) for the errors.
func (h *Handlespace) apply(groups [][]Op, commit func(ok []bool) error, errs []error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.batch()
	defer b.reset()
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
			return
		}
	}
	b.publish()
}

// batch is Apply's working state: per touched pool, the changes over its
// current view, and an undo log for failing groups.
type batch struct {
	h     *Handlespace
	v     *View
	work  map[string]*poolWork // by lower-case pool name, once order is long
	order []*poolWork          // in first-touch order, for publishing
	undo  []undoEntry
	free  []*poolWork // for reuse
}

// poolWork is a pool's pending change: its elements are prev's with
// delta applied (an ID mapped to nil is removed).
type poolWork struct {
	name, handle, parent string
	z                    *Zone
	slot                 *poolSlot // nil: the pool does not exist yet
	prev                 *PoolView // nil: the pool does not exist yet
	spec                 PoolSpec
	static               bool
	delta                delta
	labels               map[string]uint32 // label → ID of the elements in delta; nil while delta is small
	count                int               // elements after the delta
}

// delta is a pool's pending changes: element ID to its new version (nil:
// removed), and to its version in the pool's previous view (base), found
// once when the batch first changed it. A few are kept in a slice, more
// in a map.
type delta struct {
	few  []deltaEntry
	many map[uint32]deltaEntry
}

type deltaEntry struct {
	id      uint32
	e, base *Element
}

const deltaFew = 8

func (d *delta) len() int {
	if d.many != nil {
		return len(d.many)
	}
	return len(d.few)
}

func (d *delta) get(id uint32) (*Element, bool) {
	x, ok := d.entry(id)
	return x.e, ok
}

// entry returns id's entry.
func (d *delta) entry(id uint32) (deltaEntry, bool) {
	if d.many != nil {
		x, ok := d.many[id]
		return x, ok
	}
	for _, x := range d.few {
		if x.id == id {
			return x, true
		}
	}
	return deltaEntry{}, false
}

// put sets id's new version to e; base is id's version in the previous
// view, kept from the first put of id.
func (d *delta) put(id uint32, e, base *Element) {
	if d.many != nil {
		if x, ok := d.many[id]; ok {
			base = x.base
		}
		d.many[id] = deltaEntry{id, e, base}
		return
	}
	for i := range d.few {
		if d.few[i].id == id {
			d.few[i].e = e
			return
		}
	}
	if len(d.few) < deltaFew {
		d.few = append(d.few, deltaEntry{id, e, base})
		return
	}
	d.many = make(map[uint32]deltaEntry, 4*deltaFew)
	for _, x := range d.few {
		d.many[x.id] = x
	}
	d.many[id] = deltaEntry{id, e, base}
}

func (d *delta) remove(id uint32) {
	if d.many != nil {
		delete(d.many, id)
		return
	}
	for i := range d.few {
		if d.few[i].id == id {
			d.few = append(d.few[:i], d.few[i+1:]...)
			return
		}
	}
}

func (d *delta) each(f func(id uint32, e *Element)) {
	if d.many != nil {
		for id, x := range d.many {
			f(id, x.e)
		}
		return
	}
	for _, x := range d.few {
		f(x.id, x.e)
	}
}

// withLabel returns an element of the delta with label (small deltas).
func (d *delta) withLabel(label string) *Element {
	var found *Element
	d.each(func(_ uint32, e *Element) {
		if e != nil && e.Label.String() == label {
			found = e
		}
	})
	return found
}

// batch returns the handlespace's batch, reset for use. Called with mu
// held.
func (h *Handlespace) batch() *batch {
	b := &h.b
	b.h, b.v = h, h.view.Load()
	return b
}

// reset forgets the batch's work, keeping its memory.
func (b *batch) reset() {
	for _, w := range b.order {
		clear(w.delta.few)
		*w = poolWork{delta: delta{few: w.delta.few[:0]}}
		b.free = append(b.free, w)
	}
	clear(b.order)
	clear(b.undo)
	b.order, b.undo, b.work, b.v = b.order[:0], b.undo[:0], nil, nil
}

// newWork returns a cleared poolWork.
func (b *batch) newWork() *poolWork {
	if n := len(b.free); n > 0 {
		w := b.free[n-1]
		b.free = b.free[:n-1]
		return w
	}
	return &poolWork{delta: delta{few: make([]deltaEntry, 0, deltaFew)}}
}

type undoEntry struct {
	w       *poolWork
	created bool // undo the creation of w (it is the last entry for w)
	id      uint32
	had     bool     // delta had an entry for id before
	old     *Element // that entry
}

// noteLabel records that the delta's element id has label, in the label
// map once the delta is large enough to need one.
func (w *poolWork) noteLabel(label string, id uint32) {
	if w.labels == nil {
		if w.delta.len() <= 16 {
			return // byLabel scans the delta
		}
		w.labels = make(map[string]uint32, 2*w.delta.len())
		w.delta.each(func(did uint32, e *Element) {
			if e != nil {
				w.labels[e.Label.String()] = did
			}
		})
	}
	w.labels[label] = id
}

// element returns the element id of the pool with the pending changes.
func (w *poolWork) element(id uint32) *Element {
	if e, ok := w.delta.get(id); ok {
		return e
	}
	if w.prev != nil {
		return w.prev.Element(id)
	}
	return nil
}

// byLabel returns the element with label with the pending changes.
func (w *poolWork) byLabel(label string) *Element {
	if w.labels == nil {
		if e := w.delta.withLabel(label); e != nil {
			return e
		}
	} else if id, ok := w.labels[label]; ok {
		if e, _ := w.delta.get(id); e != nil && e.Label.String() == label {
			return e
		}
	}
	if w.prev != nil {
		if e := w.prev.Label(label); e != nil {
			d, changed := w.delta.get(e.ID)
			if !changed {
				return e
			}
			if d != nil && d.Label.String() == label {
				return d
			}
		}
	}
	return nil
}

// set records element e (nil: removed) for id, logging the undo. before
// is w.element(id), which the caller looked up.
func (b *batch) set(w *poolWork, id uint32, e, before *Element) {
	old, had := w.delta.get(id)
	b.undo = append(b.undo, undoEntry{w: w, id: id, had: had, old: old})
	if before != nil {
		w.count--
	}
	// Without an entry for id, before is id's version in prev.
	w.delta.put(id, e, before)
	if e != nil {
		w.count++
		w.noteLabel(e.Label.String(), id)
	}
}

func (b *batch) rollback(mark int) {
	for i := len(b.undo) - 1; i >= mark; i-- {
		u := b.undo[i]
		w := u.w
		if u.created {
			if b.work != nil {
				delete(b.work, w.name)
			}
			b.order = slices.DeleteFunc(b.order, func(x *poolWork) bool { return x == w })
			continue
		}
		if cur := w.element(u.id); cur != nil {
			w.count--
		}
		if u.had {
			w.delta.put(u.id, u.old, nil) // keeps the entry's base
		} else {
			w.delta.remove(u.id)
		}
		if e := w.element(u.id); e != nil {
			w.count++
			w.noteLabel(e.Label.String(), u.id)
		}
	}
	b.undo = b.undo[:mark]
}

// find returns the working state of pool name, if the batch has one.
func (b *batch) find(name string) *poolWork {
	if b.work != nil {
		return b.work[name]
	}
	for _, w := range b.order {
		if w.name == name {
			return w
		}
	}
	return nil
}

// pool returns the working state of pool, creating it (when create is not
// nil, with that spec) if the pool does not exist.
func (b *batch) pool(name string, create *PoolSpec) (*poolWork, error) {
	name = strings.ToLower(dns.Fqdn(name))
	if w := b.find(name); w != nil {
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
	w := b.newWork()
	w.name, w.handle, w.parent, w.z = name, handle, parent, z
	if slot := z.pools[handle]; slot != nil {
		w.slot, w.prev = slot, slot.View()
		w.spec, w.static, w.count = w.prev.Spec, w.prev.Static, w.prev.Len()
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
	b.order = append(b.order, w)
	if b.work != nil {
		b.work[name] = w
	} else if len(b.order) > 8 {
		b.work = make(map[string]*poolWork, 2*len(b.order))
		for _, x := range b.order {
			b.work[x.name] = x
		}
	}
	return w, nil
}

func (b *batch) apply(op *Op) error {
	if op.cond != nil {
		id := op.ID
		if op.Elem != nil {
			id = op.Elem.ID
		}
		var cur *Element
		if w, err := b.pool(op.Pool, nil); err == nil {
			cur = w.element(id)
		}
		if !op.cond(cur) {
			return ErrConflict
		}
	}
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
		if c.Label.String() != cur.Label.String() {
			if o := w.byLabel(c.Label.String()); o != nil && o.ID != c.ID {
				return ErrLabelInUse
			}
		}
		b.set(w, op.ID, c, cur)
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
		case cur.Static:
			return ErrStaticElement
		case !op.ExpiredBy.IsZero() && (cur.Expires.Time().IsZero() || cur.Expires.Time().After(op.ExpiredBy)):
			return ErrNoElement
		}
		b.set(w, op.ID, nil, cur)
		return nil
	}
	e := op.Elem
	if e.Label.Len() == 0 || e.Label.TooLong() || e.Port == 0 || e.Addrs.Len() == 0 {
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
	if old != nil && old.Static {
		return ErrStaticElement
	}
	if old != nil && old.Label.String() != e.Label.String() && !op.asIs {
		return ErrIDInUse
	}
	if old == nil || old.Label.String() != e.Label.String() { // else the label is old's
		if o := w.byLabel(e.Label.String()); o != nil && o.ID != e.ID {
			if o.Static {
				return ErrStaticElement
			}
			return ErrLabelInUse
		}
	}
	if !op.asIs {
		b.h.prepareRegister(w.spec, e, old)
	} else if old != nil && old.LocalRTT > 0 && e.LocalRTT == 0 && sameAddress(old, e) {
		// A peer's new version of its element: this registrar's own RTT
		// to it, which peers never carry, stays.
		e = e.Clone()
		e.LocalRTT = old.LocalRTT
	}
	b.set(w, e.ID, e, old)
	return nil
}

// sameAddress reports whether a and b are reached at the same addresses
// and port.
func sameAddress(a, b *Element) bool {
	return a.Port == b.Port && a.Addrs.Equal(b.Addrs)
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
		if sameAddress(old, e) {
			e.LocalRTT = old.LocalRTT
		}
	}
}

// publish builds and publishes the new view of every touched pool. Called
// with mu held.
func (b *batch) publish() {
	changed := false
	var created, removed []*poolWork
	for _, w := range b.order {
		if w.delta.len() == 0 {
			continue
		}
		changed = true
		if w.count == 0 && !w.static {
			if w.slot != nil {
				removed = append(removed, w)
			}
			continue
		}
		pol, err := b.h.policy(w.spec)
		if err != nil {
			// Checked when the operations were applied; a policy name
			// that was valid then is valid now.
			panic("handlespace: " + err.Error())
		}
		nv := w.build(pol, &b.h.sc, b.h.opts.RegistrarID)
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
		// The watches learn of a pool after its new view is in place, so
		// that one that takes the name reads that view or a newer one.
		for _, w := range b.order {
			if w.delta.len() > 0 {
				b.h.changedPool(w.name, false)
			}
		}
		b.h.notify()
	}
}

// build returns the pool's new view: the previous one with the delta
// applied, reading only the changed elements (O(d log n) for d changes),
// or, for a pool the batch creates, one built from the delta; self is the
// handlespace's registrar ID.
func (w *poolWork) build(pol Policy, sc *scratch, self uint32) *PoolView {
	ids := sc.ids[:0]
	w.delta.each(func(id uint32, _ *Element) { ids = append(ids, id) })
	slices.Sort(ids)
	sc.ids = ids[:0]
	if w.prev == nil {
		elems := make([]*Element, 0, len(ids))
		for _, id := range ids {
			if e, _ := w.delta.get(id); e != nil {
				elems = append(elems, e)
			}
		}
		return buildPoolView(w.name, w.handle, w.parent, w.spec, w.static, elems, nil, pol, self)
	}
	changes := sc.changes[:0]
	for _, id := range ids {
		x, _ := w.delta.entry(id)
		if x.base != x.e {
			changes = append(changes, elemChange{id: id, old: x.base, new: x.e})
		}
	}
	nv := w.prev.update(w.spec, w.static, changes, pol, sc, self)
	clear(changes)
	sc.changes = changes[:0]
	return nv
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
