package admin

import (
	"fmt"

	"github.com/poolnsd/poolnsd/handlespace"
)

// Administrative states are kept in the store, so that an element drained
// for maintenance stays out of the answers across a restart: written
// before the change is acknowledged (SetLocal), put back at start after
// the zones and the registrations are loaded (Restore).

// KeepHomed keeps the store's administrative states of zone-file
// elements in step with where they are homed, after peering moved them:
// the home keeps the states of the elements homed here (one that it took
// over keeps the drain its old home announced, across a restart), and
// forgets those of the elements homed elsewhere (their home keeps them).
// Registered elements go with their registrations (the daemon's peering
// writer).
func (r *Router) KeepHomed() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.hs.View()
	stored := map[string]handlespace.Admin{}
	if err := r.store.Admins(func(pool string, id uint32, a handlespace.Admin) {
		stored[pool+" "+handlespace.IDString(id)] = a
	}); err != nil {
		return err
	}
	for _, z := range v.Zones() {
		for _, h := range z.PoolHandles() {
			pv := z.Pool(h)
			if pv == nil {
				continue
			}
			for e := range pv.Range() {
				if !e.Static {
					continue
				}
				want := handlespace.AdminAuto
				if e.Home == r.self {
					want = e.Admin
				}
				if stored[pv.Name+" "+handlespace.IDString(e.ID)] == want {
					continue
				}
				if err := r.store.PutAdmin(pv.Name, e.ID, want); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Restored is an administrative state that Restore put back.
type Restored struct {
	Pool  string
	ID    uint32
	Label string // the element's label
	Admin handlespace.Admin
}

// Restore puts the stored administrative states back on the elements
// that exist, and drops the stored states of elements that do not (an
// element a zone file no longer has). It returns the states put back, in
// the store's order, and how many it dropped.
func (r *Router) Restore() (restored []Restored, dropped int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.hs.View()
	var states []*Restored
	byPool := map[string]map[uint32]func(*handlespace.Element){}
	if err := r.store.Admins(func(pool string, id uint32, a handlespace.Admin) {
		if !Exists(v, pool, id) {
			return // prune drops it
		}
		st := &Restored{Pool: pool, ID: id, Admin: a}
		states = append(states, st)
		if byPool[pool] == nil {
			byPool[pool] = map[uint32]func(*handlespace.Element){}
		}
		byPool[pool][id] = func(e *handlespace.Element) { e.Admin, st.Label = a, e.Label.String() }
	}); err != nil {
		return nil, 0, err
	}
	// One new view per pool, not per element.
	for pool, fs := range byPool {
		if err := r.hs.UpdateMany(pool, fs); err != nil {
			return nil, 0, fmt.Errorf("restore the administrative states of %d elements of %s: %w", len(fs), pool, err)
		}
	}
	restored = make([]Restored, len(states))
	for i, st := range states {
		restored[i] = *st
	}
	dropped, err = r.prune()
	if err != nil {
		return nil, 0, err
	}
	return restored, dropped, nil
}

// Prune drops the stored administrative states of elements that the
// handlespace does not have (after a reload removed them from a zone
// file), so that an element of the same ID added later starts in auto. It
// returns how many it dropped.
func (r *Router) Prune() (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.prune()
}

func (r *Router) prune() (int, error) {
	v := r.hs.View()
	return r.store.PruneAdmins(func(pool string, id uint32) bool { return Exists(v, pool, id) })
}
