package bind

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/placement"
	"github.com/poolnsd/poolnsd/handlespace"
	_ "github.com/poolnsd/poolnsd/handlespace/policy" // the policies register themselves
)

// Binding joins an enrp.Node to a handlespace: it turns the Node's operations
// into handlespace edits, the handlespace's changes into Changes for the
// Node, and homes zone-file elements by rendezvous hashing over the live
// set that the Node last reported. Apply and Changes belong to the driver
// goroutine; the home function is safe from any goroutine.
type Binding struct {
	hs    *handlespace.Handlespace
	self  uint32
	watch *handlespace.Watch               // the pools changed since Changes last ran
	last  map[string]*handlespace.PoolView // pool views Changes last saw, by name
	live  atomic.Pointer[[]uint32]
	// put are the elements that Apply put into the handlespace since
	// Changes last ran: one that a local change removed before Changes
	// runs shows in no view diff, yet the Node believes it there.
	put       map[key]*handlespace.Element
	conflicts int
}

// New returns a Binding of hs for registrar self and installs its
// zone-file home function in hs.
func New(hs *handlespace.Handlespace, self uint32) *Binding {
	b := &Binding{hs: hs, self: self, watch: hs.Watch(), last: map[string]*handlespace.PoolView{}, put: map[key]*handlespace.Element{}}
	live := []uint32{self}
	b.live.Store(&live)
	hs.SetStaticHome(b.StaticHome)
	return b
}

// Close stops following the handlespace's changes (Changes must not be
// called after it).
func (b *Binding) Close() { b.watch.Close() }

// SetLive sets the live set (a Ready's Live) that zone-file elements are
// homed over when zones are applied.
func (b *Binding) SetLive(live []uint32) {
	if live == nil {
		return
	}
	l := slices.Clone(live)
	b.live.Store(&l)
}

// StaticHome is the home of a zone-file element over the live set.
func (b *Binding) StaticHome(pool string, id uint32) uint32 {
	return placement.Rendezvous(*b.live.Load(), pool, id)
}

// OpError is an operation that the handlespace refused.
type OpError struct {
	Op  enrp.Op
	Err error
}

// Apply applies ops to the handlespace and returns those it refused (for
// example a pool in a zone this registrar does not serve). Set-home and
// set-state operations on elements that are not there are not errors: the
// Node keeps elements that this registrar's zones lack. Nor are guarded
// operations whose guard did not hold (see Guard; Conflicts counts
// them): the next Changes tells the Node what changed instead.
func (b *Binding) Apply(ops []enrp.Op) []OpError {
	if len(ops) == 0 {
		return nil
	}
	edits := make([]handlespace.Edit, len(ops))
	for i := range ops {
		o := &ops[i]
		ed := handlespace.Edit{Pool: o.Pool, ID: o.ID}
		if o.Guard != nil {
			ed.If = o.Guard.Holds
		}
		switch o.Kind {
		case enrp.OpPut:
			ed.Put, ed.Policy = o.Elem, o.Policy
		case enrp.OpDelete:
			ed.Delete = true
		case enrp.OpSetHome:
			home := o.Home
			ed.Update = func(e *handlespace.Element) { e.Home = home }
		case enrp.OpSetState:
			src, self := o.Elem, b.self
			ed.Update = func(e *handlespace.Element) {
				e.Health, e.Admin, e.Reported, e.Load, e.RTT = src.Health, src.Admin, src.Reported, src.Load, src.RTT
				e.Vantage = src.Vantage
				e.Last = handlespace.LastAt(e, self)
			}
		}
		edits[i] = ed
	}
	var out []OpError
	var retry []handlespace.Edit
	var retryOps []enrp.Op
	for i, err := range b.hs.ApplyEdits(edits) {
		switch {
		case err == nil:
			if ops[i].Kind == enrp.OpPut {
				b.put[key{ops[i].Pool, ops[i].ID}] = ops[i].Elem
			}
		case errors.Is(err, handlespace.ErrConflict):
			b.conflicts++
		case ops[i].Kind != enrp.OpPut && errors.Is(err, handlespace.ErrNoElement):
		case ops[i].Kind == enrp.OpPut && errors.Is(err, handlespace.ErrInconsistentPolicy):
			// The pool here has another policy than at the element's
			// home (each registrar makes a registration's pool with the
			// policy of the first registration it sees). The element is
			// served all the same, under this registrar's policy.
			ed := edits[i]
			ed.Policy = ""
			retry = append(retry, ed)
			retryOps = append(retryOps, ops[i])
			out = append(out, OpError{ops[i], err})
		default:
			out = append(out, OpError{ops[i], err})
		}
	}
	for i, err := range b.hs.ApplyEdits(retry) {
		switch {
		case err == nil:
			b.put[key{retryOps[i].Pool, retryOps[i].ID}] = retryOps[i].Elem
		case errors.Is(err, handlespace.ErrConflict):
			b.conflicts++
		default:
			out = append(out, OpError{retryOps[i], err})
		}
	}
	return out
}

// Conflicts returns how many guarded operations Apply did not carry out
// because the handlespace had changed meanwhile.
func (b *Binding) Conflicts() int { return b.conflicts }

// Changes returns what changed in the handlespace since the last call (the
// first call: every element), pool by pool: only the pools that got a new
// view since (handlespace.Watch names them) are compared, and only their
// parts that changed (handlespace.DiffElements), so one change costs
// O(log n) whatever the number and size of the pools.
func (b *Binding) Changes() []enrp.Change {
	var out []enrp.Change
	// Elements that Apply put there and that neither the last views nor
	// the current ones have: a local change removed them before the Node
	// could see it.
	v := b.hs.View()
	if len(b.put) > 0 {
		var vanished []key
		for k := range b.put {
			if lookup(v, k.pool, k.id) == nil && (b.last[k.pool] == nil || b.last[k.pool].Element(k.id) == nil) {
				vanished = append(vanished, k)
			}
		}
		slices.SortFunc(vanished, func(a, b key) int {
			if c := cmp.Compare(a.pool, b.pool); c != 0 {
				return c
			}
			return cmp.Compare(a.id, b.id)
		})
		for _, k := range vanished {
			out = append(out, enrp.Change{Pool: k.pool, ID: k.id, Was: b.put[k]})
		}
		clear(b.put)
	}
	names, all := b.watch.Changed()
	if all {
		return b.walkAll(out, v)
	}
	// Only the pools the handlespace changed since the last call (a
	// handlespace.Watch): the work is the number of changes, not of pools.
	slices.Sort(names)
	for _, name := range names {
		old := b.last[name]
		pv := v.Pool(name)
		switch {
		case pv == old:
		case pv == nil:
			out = gonePool(out, old)
			delete(b.last, name)
		default:
			out = diffPool(out, old, pv)
			b.last[name] = pv
		}
	}
	return out
}

// walkAll appends the changes of every pool of v since the views in
// b.last (the first call, and after a zone reload, when any pool may have
// changed), zone by zone and pool by pool in name order, then the pools
// that are gone.
func (b *Binding) walkAll(out []enrp.Change, v *handlespace.View) []enrp.Change {
	seen := make(map[string]bool, len(b.last))
	zones := v.Zones()
	slices.SortFunc(zones, func(x, y *handlespace.Zone) int { return strings.Compare(x.Origin, y.Origin) })
	for _, z := range zones {
		handles := z.PoolHandles()
		slices.Sort(handles)
		for _, h := range handles {
			pv := z.Pool(h)
			if pv == nil {
				continue
			}
			seen[pv.Name] = true
			old := b.last[pv.Name]
			if old == pv {
				continue
			}
			out = diffPool(out, old, pv)
			b.last[pv.Name] = pv
		}
	}
	var gone []string
	for name := range b.last {
		if !seen[name] {
			gone = append(gone, name)
		}
	}
	slices.Sort(gone)
	for _, name := range gone {
		out = gonePool(out, b.last[name])
		delete(b.last, name)
	}
	return out
}

// gonePool appends the removal of every element of old (nil: none), a
// pool that is no longer there.
func gonePool(out []enrp.Change, old *handlespace.PoolView) []enrp.Change {
	if old == nil {
		return out
	}
	for e := range old.Range() {
		out = append(out, enrp.Change{Pool: old.Name, Policy: old.Spec.Policy, ID: e.ID, Was: e})
	}
	return out
}

// diffPool appends the changes from old (nil: none) to nv, in ID order.
// Parts of the pool the change did not touch are not read (see
// handlespace.DiffElements), unless the policy changed, which every
// element carries.
func diffPool(out []enrp.Change, old, nv *handlespace.PoolView) []enrp.Change {
	if old != nil && old.Spec.Policy != nv.Spec.Policy {
		oe, ne := old.Elements(), nv.Elements()
		i, j := 0, 0
		for i < len(oe) || j < len(ne) {
			switch {
			case j == len(ne) || (i < len(oe) && oe[i].ID < ne[j].ID):
				out = append(out, enrp.Change{Pool: nv.Name, Policy: nv.Spec.Policy, ID: oe[i].ID, Was: oe[i]})
				i++
			default:
				c := enrp.Change{Pool: nv.Name, Policy: nv.Spec.Policy, ID: ne[j].ID, Elem: ne[j]}
				if i < len(oe) && oe[i].ID == ne[j].ID {
					c.Was = oe[i]
					i++
				}
				out = append(out, c)
				j++
			}
		}
		return out
	}
	handlespace.DiffElements(old, nv, func(was, now *handlespace.Element) {
		if now == nil {
			out = append(out, enrp.Change{Pool: nv.Name, Policy: nv.Spec.Policy, ID: was.ID, Was: was})
			return
		}
		out = append(out, enrp.Change{Pool: nv.Name, Policy: nv.Spec.Policy, ID: now.ID, Elem: now, Was: was})
	})
	return out
}

// lookup finds element id of pool (a lower-case FQDN) in v.
func lookup(v *handlespace.View, pool string, id uint32) *handlespace.Element {
	pv := v.Pool(pool)
	if pv == nil {
		return nil
	}
	return pv.Element(id)
}

// key names an element: its pool (lower-case FQDN) and identifier.
type key struct {
	pool string
	id   uint32
}
