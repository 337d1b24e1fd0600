package regcommit

import (
	"log/slog"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/store"
)

// Stored is the store that Restore reads the registrations from.
// *store.Store is one.
type Stored interface {
	// Elements calls f for each stored registration.
	Elements(f func(pool string, e *handlespace.Element) error) error
	// Commit writes ops in one transaction (Store's).
	Commit(ops []store.Write) error
}

var _ Stored = (*store.Store)(nil)

// Restored counts what Restore did with the stored registrations.
type Restored struct {
	// Loaded went into the handlespace.
	Loaded int
	// Expired had a lease that ended while the registrar was stopped:
	// removed from the store.
	Expired int
	// Refused are kept in the store but not served: the handlespace
	// refused them (their zone-file pool is gone, say: a reload may bring
	// it back), or an older poolnsd stored a name or address that a
	// registration may no longer have.
	Refused int
}

// restoreBatch is how many stored registrations go into one handlespace
// change.
const restoreBatch = 65536

// Restore puts the registrations stored in st into hs, at a registrar's
// start: after the zones, so that registrations into zone-file pools find
// their pools, and before New, whose counts of owners and pools start
// from the handlespace. It applies them in batches (one new view per pool
// and batch, so that a large pool loads in linear time) and removes from
// the store those whose lease ended while the registrar was stopped
// (hs.Now). log gets a line per expired or refused registration (nil:
// slog.Default()). The error is the store's: reading it, or removing the
// expired ones.
func Restore(hs *handlespace.Handlespace, st Stored, log *slog.Logger) (Restored, error) {
	if log == nil {
		log = slog.Default()
	}
	now := hs.Now()
	var (
		res     Restored
		groups  [][]handlespace.Op
		expired []store.Write
	)
	flush := func() {
		for i, err := range hs.Apply(groups, nil) {
			op := groups[i][0]
			if err != nil {
				// Kept in the store: the zone may come back with a reload.
				log.Warn("registration not loaded", "pool", op.Pool, "element", handlespace.IDString(op.Elem.ID), "err", err.Error())
				res.Refused++
				continue
			}
			res.Loaded++
		}
		groups = groups[:0]
	}
	err := st.Elements(func(pool string, e *handlespace.Element) error {
		if !e.Expires.Time().IsZero() && !e.Expires.Time().After(now) {
			log.Info("registration expired while stopped", "pool", pool, "element", handlespace.IDString(e.ID), "expired", e.Expires.Time())
			expired = append(expired, store.Write{Pool: pool, ID: e.ID})
			return nil
		}
		if err := storedOK(pool, e); err != nil {
			// Stored by an older poolnsd that took such names: not served
			// nor sent to peers; the store keeps it until its lease ends.
			log.Warn("stored registration not loaded", "pool", pool, "element", handlespace.IDString(e.ID), "err", err.Error())
			res.Refused++
			return nil
		}
		groups = append(groups, []handlespace.Op{{Pool: pool, Elem: e}})
		if len(groups) >= restoreBatch {
			flush()
		}
		return nil
	})
	if err != nil {
		return Restored{}, err
	}
	flush()
	if err := st.Commit(expired); err != nil {
		return res, err
	}
	res.Expired = len(expired)
	return res, nil
}

// storedOK checks a stored registration as a new one is checked (but
// loopback, which the configuration allowed when it was made).
func storedOK(pool string, e *handlespace.Element) error {
	if err := handlespace.CheckPoolName(pool); err != nil {
		return err
	}
	if err := e.Label.Check(); err != nil {
		return err
	}
	if err := handlespace.CheckElementName(pool, e.Label.String()); err != nil {
		return err
	}
	for _, a := range e.Addrs.All() {
		if err := handlespace.CheckAddr(a, true); err != nil {
			return err
		}
	}
	return nil
}
