package handlespace

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"
)

// Edit is one change of ApplyEdits: exactly one of Put, Delete and Update.
// Update may not change an element's ID or label.
type Edit struct {
	// Pool is the pool's name (an FQDN: handle.zone.).
	Pool string
	// ID is the element's identifier (Delete, Update; Put takes Put.ID).
	ID uint32
	// Put adds or replaces the element as given: its health, home, lease
	// and everything else stay as they are (unlike Register, which sets
	// the health and home). The handlespace takes ownership of Put and
	// never modifies it. A missing pool is created with Policy ("" for the
	// default); an existing pool with another policy refuses the element
	// with ErrInconsistentPolicy.
	Put    *Element
	Policy string
	// Delete removes element ID.
	Delete bool
	// Update applies a function to a copy of element ID.
	Update func(e *Element)
}

// ApplyEdits applies edits, each pool's edits together under one new view of
// that pool (a peer's handle table of many elements costs one rebuild per
// pool, not one per element). It returns one error per edit, nil where the
// edit was applied: ErrNoZone, ErrNoElement (Delete or Update of an element
// that is not there), ErrInconsistentPolicy, ErrLabelInUse, ErrBadElement.
func (h *Handlespace) ApplyEdits(edits []Edit) []error {
	errs := make([]error, len(edits))
	order := []string{}
	byPool := map[string][]int{}
	for i := range edits {
		p := strings.ToLower(dns.Fqdn(edits[i].Pool))
		if _, ok := byPool[p]; !ok {
			order = append(order, p)
		}
		byPool[p] = append(byPool[p], i)
	}
	for _, pool := range order {
		idx := byPool[pool]
		var create *PoolSpec
		for _, i := range idx {
			if ed := &edits[i]; ed.Put != nil {
				spec := h.opts.DefaultSpec
				if ed.Policy != "" {
					if _, err := NewPolicy(ed.Policy, nil); err == nil {
						spec.Policy = ed.Policy
					}
				}
				create = &spec
				break
			}
		}
		applied := false
		err := h.modify(pool, create, func(spec PoolSpec, elems []*Element) ([]*Element, error) {
			w := newEditSet(elems)
			for _, i := range idx {
				errs[i] = w.apply(spec, &edits[i])
				if errs[i] == nil {
					applied = true
				}
			}
			if !applied {
				return nil, errNothing
			}
			return w.result(), nil
		})
		if err != nil && err != errNothing {
			for _, i := range idx {
				if errs[i] == nil {
					errs[i] = err
				}
			}
		}
	}
	return errs
}

// errNothing makes modify publish nothing when no edit of a pool applied.
var errNothing = fmt.Errorf("handlespace: nothing to apply")

// editSet is a pool's elements while edits apply, indexed by ID and label
// so that each edit costs O(1), whatever the size of the pool.
type editSet struct {
	es      []*Element // nil where deleted
	byID    map[uint32]int
	byLabel map[string]uint32
	deleted int
}

func newEditSet(elems []*Element) *editSet {
	w := &editSet{es: elems, byID: make(map[uint32]int, len(elems)), byLabel: make(map[string]uint32, len(elems))}
	for i, e := range elems {
		w.byID[e.ID] = i
		w.byLabel[e.Label] = e.ID
	}
	return w
}

func (w *editSet) apply(spec PoolSpec, ed *Edit) error {
	switch {
	case ed.Put != nil:
		e := ed.Put
		if e.Label == "" || e.Port == 0 || len(e.Addrs) == 0 {
			return ErrBadElement
		}
		if ed.Policy != "" && ed.Policy != spec.Policy {
			return fmt.Errorf("%w: pool uses %s, element's pool %s", ErrInconsistentPolicy, spec.Policy, ed.Policy)
		}
		if id, ok := w.byLabel[e.Label]; ok && id != e.ID {
			return ErrLabelInUse
		}
		if i, ok := w.byID[e.ID]; ok {
			delete(w.byLabel, w.es[i].Label)
			w.es[i] = e
		} else {
			w.byID[e.ID] = len(w.es)
			w.es = append(w.es, e)
		}
		w.byLabel[e.Label] = e.ID
	case ed.Delete:
		i, ok := w.byID[ed.ID]
		if !ok {
			return ErrNoElement
		}
		delete(w.byLabel, w.es[i].Label)
		delete(w.byID, ed.ID)
		w.es[i] = nil
		w.deleted++
	case ed.Update != nil:
		i, ok := w.byID[ed.ID]
		if !ok {
			return ErrNoElement
		}
		c := w.es[i].Clone()
		ed.Update(c)
		c.ID, c.Label = w.es[i].ID, w.es[i].Label
		w.es[i] = c
	default:
		return fmt.Errorf("handlespace: empty edit of %s", ed.Pool)
	}
	return nil
}

// result returns the elements left (modify sorts them).
func (w *editSet) result() []*Element {
	if w.deleted == 0 {
		return w.es
	}
	out := make([]*Element, 0, len(w.es)-w.deleted)
	for _, e := range w.es {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}

// StaticHomeFunc returns the home registrar of zone-file element id of
// pool.
type StaticHomeFunc func(pool string, id uint32) uint32

// staticHomes holds the StaticHomeFunc that SetStaticHome installed.
type staticHomes struct {
	f atomic.Pointer[StaticHomeFunc]
}

// SetStaticHome sets how zone-file elements get their home registrar when
// zones are applied (nil: this registrar, the default). Registrar peering
// homes them by rendezvous hashing over the live registrars, so that each
// is probed by one registrar. f is called with the writer lock held and
// must not call into the handlespace.
func (h *Handlespace) SetStaticHome(f StaticHomeFunc) {
	if f == nil {
		h.static.f.Store(nil)
		return
	}
	h.static.f.Store(&f)
}

func (h *Handlespace) staticHome(pool string, id uint32) uint32 {
	if f := h.static.f.Load(); f != nil {
		if home := (*f)(pool, id); home != 0 {
			return home
		}
	}
	return h.opts.RegistrarID
}
