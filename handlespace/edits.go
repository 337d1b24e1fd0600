package handlespace

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// ErrConflict: a conditional edit (Edit.If) found the element changed.
var ErrConflict = errors.New("handlespace: the element changed meanwhile")

// Edit is one change of ApplyEdits: exactly one of Put, Delete and Update.
// Update may not change an element's ID or label.
type Edit struct {
	// Pool is the pool's name (an FQDN: handle.zone.).
	Pool string
	// ID is the element's identifier (Delete, Update; Put takes Put.ID).
	ID uint32
	// Put adds or replaces the element as given: its health, home, lease
	// and everything else stay as they are (unlike a registration, an Op,
	// which sets the health and home). The handlespace takes ownership of
	// Put and never modifies it. A missing pool is created with Policy ("" for the
	// default); an existing pool with another policy refuses the element
	// with ErrInconsistentPolicy.
	Put    *Element
	Policy string
	// Delete removes element ID.
	Delete bool
	// Update applies a function to a copy of element ID.
	Update func(e *Element)
	// If, when set, makes the edit conditional: it is applied only if If
	// holds for the element's version at that point of the batch (nil:
	// none), else it fails with ErrConflict. So a writer that works from
	// a view it read earlier (registrar peering) undoes no change made
	// since by another. If is called with the writer lock held and must
	// not call into the handlespace.
	If func(cur *Element) bool
}

// ApplyEdits applies edits as one change (see Apply): every pool it
// touches gets one new view, so a peer's handle table of many elements
// costs one rebuild per pool, not one per element. Each edit stands alone:
// it returns one error per edit, nil where the edit was applied:
// ErrNoZone, ErrNoElement (Delete or Update of an element that is not
// there), ErrStaticElement (a Put or Delete of a zone-file element),
// ErrInconsistentPolicy, ErrLabelInUse, ErrBadElement.
func (h *Handlespace) ApplyEdits(edits []Edit) []error {
	groups := make([][]Op, len(edits))
	errs := make([]error, len(edits))
	for i := range edits {
		ed := &edits[i]
		op := Op{Pool: ed.Pool, ID: ed.ID}
		switch {
		case ed.Put != nil:
			op.Elem, op.Policy, op.asIs = ed.Put, ed.Policy, true
			if ed.Policy != "" {
				if _, err := NewPolicy(ed.Policy, nil); err != nil {
					op.Policy = "" // a peer's policy this build does not know
				}
			}
		case ed.Delete:
		case ed.Update != nil:
			op.update = ed.Update
		default:
			errs[i] = fmt.Errorf("handlespace: empty edit of %s", ed.Pool)
			continue
		}
		op.cond = ed.If
		groups[i] = []Op{op}
	}
	for i, err := range h.Apply(groups, nil) {
		if errs[i] == nil {
			errs[i] = err
		}
	}
	return errs
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
