package monitor

import (
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/store"
)

// StoredHealth is where RestoreStored reads the last known health: the
// store (store.Store).
type StoredHealth interface {
	// Healths calls f for every stored health and returns when they were
	// written (zero: never).
	Healths(f func(pool string, id uint32, h handlespace.Health)) (time.Time, error)
	// PruneHealth removes the healths of the elements keep says no to,
	// and returns how many.
	PruneHealth(keep func(pool string, id uint32) bool) (int, error)
}

var _ StoredHealth = (*store.Store)(nil)

// Restored is what RestoreStored did.
type Restored struct {
	// Given are the healths given, by Key (Config.Provisional); Stored
	// what the store holds for the elements that are still there, by Key
	// (KeeperConfig.Stored).
	Given, Stored map[string]handlespace.Health
	// Up and Down count the elements given up and down; Dropped the
	// stored healths removed, of elements that are gone.
	Up, Down, Dropped int
	// Written is when the store's healths were written (zero: never).
	Written time.Time
}

// RestoreStored gives the last known health back at a start: it drops
// the stored healths of elements that are gone (a zone file or a
// registration removed while poolnsd was stopped) and gives the unknown
// probed elements of hs the health that mode says (RestoreHealth) from
// the store's. Call it once the zones, registrations and administrative
// states are loaded, before DNS is served.
func RestoreStored(hs *handlespace.Handlespace, st StoredHealth, mode StartMode) (Restored, error) {
	v := hs.View()
	exists := func(pool string, id uint32) bool {
		pv := v.Pool(pool)
		return pv != nil && pv.Element(id) != nil
	}
	r := Restored{Stored: map[string]handlespace.Health{}}
	var err error
	if r.Written, err = st.Healths(func(pool string, id uint32, h handlespace.Health) {
		if exists(pool, id) {
			r.Stored[Key(pool, id)] = h
		}
	}); err != nil {
		return r, err
	}
	if r.Dropped, err = st.PruneHealth(exists); err != nil {
		return r, err
	}
	r.Given, r.Up, r.Down, err = RestoreHealth(hs, mode, r.Stored)
	return r, err
}
