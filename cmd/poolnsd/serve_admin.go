package main

import (
	"fmt"
	"sync"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/monitor"
)

// Administrative states (drain, force-down) are kept in the store, so that
// an element drained for maintenance stays out of the answers across a
// restart: written before the change is acknowledged, put back at start
// after the zones and the registrations are loaded.

// adminKeeper sets administrative states through the monitor and keeps
// them in the store. mu orders the changes so that the store and the
// handlespace end in the same state.
type adminKeeper struct {
	mu    sync.Mutex
	hs    *handlespace.Handlespace
	mon   *monitor.Monitor
	store *handlespace.Store
}

// set stores a, then applies it. An element that does not exist is the
// monitor's error and nothing is stored.
func (k *adminKeeper) set(pool string, id uint32, a handlespace.Admin) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !elementExists(k.hs.View(), pool, id) {
		return k.mon.SetAdmin(pool, id, a) // its error names what is missing
	}
	if err := k.store.PutAdmin(pool, id, a); err != nil {
		return fmt.Errorf("administrative state not changed: %w", err)
	}
	return k.mon.SetAdmin(pool, id, a)
}

func elementExists(v *handlespace.View, pool string, id uint32) bool {
	pv := v.Pool(pool)
	return pv != nil && pv.Element(id) != nil
}

// restoreAdmin puts the stored administrative states back on the elements
// that exist, and drops the stored states of elements that do not (an
// element a zone file no longer has). One log line per restored element.
func (d *daemon) restoreAdmin() error {
	v := d.hs.View()
	restored := 0
	var err error
	if e := d.store.Admins(func(pool string, id uint32, a handlespace.Admin) {
		if err != nil || !elementExists(v, pool, id) {
			return
		}
		var label string
		if err = d.hs.Update(pool, id, func(e *handlespace.Element) { e.Admin, label = a, e.Label }); err != nil {
			err = fmt.Errorf("restore the administrative state of element %s of %s: %w", handlespace.IDString(id), pool, err)
			return
		}
		restored++
		d.log.Info("admin state restored", "pool", pool, "element", handlespace.IDString(id), "name", label, "state", a.String())
	}); e != nil {
		return e
	}
	if err != nil {
		return err
	}
	dropped, err := d.pruneAdmin()
	if err != nil {
		return err
	}
	if restored > 0 || dropped > 0 {
		d.log.Info("admin states", "restored", restored, "dropped", dropped)
	}
	return nil
}

// pruneAdmin drops the stored administrative states of elements that the
// handlespace does not have (after a reload removed them from a zone
// file), so that an element of the same ID added later starts in auto.
func (d *daemon) pruneAdmin() (int, error) {
	v := d.hs.View()
	return d.store.PruneAdmins(func(pool string, id uint32) bool { return elementExists(v, pool, id) })
}
