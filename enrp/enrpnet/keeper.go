package enrpnet

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// OwnershipStore is where a StoreKeeper writes: the daemon's store.
type OwnershipStore interface {
	// Commit writes the changes of batch (an element stored, or removed
	// when Elem is nil) in one transaction, on disk when it returns.
	Commit(batch []Ownership) error
	ElementWriter
}

// ElementWriter writes one change of the store at a time (store.Store is
// one).
type ElementWriter interface {
	PutElement(pool string, e *handlespace.Element) error
	DeleteElement(pool string, id uint32) error
	PutAdmin(pool string, id uint32, a handlespace.Admin) error
}

// StoreKeeperConfig configures a StoreKeeper.
type StoreKeeperConfig struct {
	Store OwnershipStore
	// Resync has the registrar count the leases of what it owns again,
	// after a batch that gained registrations (taken over, or handed
	// here and now in the handlespace).
	Resync func()
	// KeepHomed keeps the administrative states of the zone-file
	// elements where they are homed (after StaticHomes).
	KeepHomed func() error
	Logger    *slog.Logger
}

// A StoreKeeper keeps the store in step with the registrations this
// registrar takes over or gives up: what a Driver reports (OnOwnership,
// Durable, OnHanded, the event EventStaticHomes) is handed to it, and one
// goroutine of its own writes it. A registration taken over, or handed
// here, is stored with its administrative state (a restart keeps both);
// one given up or deleted by a peer is removed.
//
// The requests waiting when it gets to them are written together (one
// fsync): a hand-off or a table transfer sends one batch a page, hundreds
// a second, which one fsync each could not keep up with (the driver waits
// while the keeper's queue is full).
type StoreKeeper struct {
	cfg    StoreKeeperConfig
	reqs   chan storeReq
	done   sync.WaitGroup
	closed sync.Once
}

// storeReq is one request: ownership changes to write, the zone-file
// elements' administrative states to follow their homes (admin), the
// leases to count again (resync), or a func to call once everything asked
// before is written (durable).
type storeReq struct {
	batch   []Ownership
	admin   bool
	resync  bool
	durable func()
}

// The keeper's batches: at most maxStoreBatch changes a transaction; a
// hand-off coming in is gathered up to handedBatch elements before it is
// written, unless its end (its durable request) comes first or nothing
// more comes for handedWait.
const (
	maxStoreBatch = 1 << 17
	handedBatch   = 16384
	handedWait    = 100 * time.Millisecond
)

// StartStoreKeeper starts a StoreKeeper.
func StartStoreKeeper(cfg StoreKeeperConfig) *StoreKeeper {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	k := &StoreKeeper{cfg: cfg, reqs: make(chan storeReq, 64)}
	k.done.Add(1)
	go k.run()
	return k
}

// Ownership writes the ownership changes (DriverConfig.OnOwnership).
func (k *StoreKeeper) Ownership(batch []Ownership) { k.reqs <- storeReq{batch: batch} }

// Durable calls done once everything given before is written
// (DriverConfig.Durable: a hand-off coming in is acknowledged then).
func (k *StoreKeeper) Durable(done func()) { k.reqs <- storeReq{durable: done} }

// StaticHomes has the zone-file elements' administrative states follow
// their homes, which moved (EventStaticHomes).
func (k *StoreKeeper) StaticHomes() { k.reqs <- storeReq{admin: true} }

// Handed has the registrar count the leases again once the registrations
// handed here are in the handlespace (DriverConfig.OnHanded).
func (k *StoreKeeper) Handed() { k.reqs <- storeReq{resync: true} }

// Close writes what is left and stops the keeper; later calls do nothing.
// No other method may be called after it (close the Driver first).
func (k *StoreKeeper) Close() {
	k.closed.Do(func() { close(k.reqs) })
	k.done.Wait()
}

// run writes the requests, gathered into batches, until Close.
func (k *StoreKeeper) run() {
	defer k.done.Done()
	for first := range k.reqs {
		batch, admin, resync, open := first.batch, first.admin, first.resync, true
		var durable []func()
		if first.durable != nil {
			durable = append(durable, first.durable)
		}
		take := func(more storeReq) {
			admin = admin || more.admin
			resync = resync || more.resync
			if more.durable != nil {
				durable = append(durable, more.durable)
			}
			batch = append(batch, more.batch...)
		}
		for open && len(batch) < maxStoreBatch {
			select {
			case more, ok := <-k.reqs:
				if !ok {
					open = false
					break
				}
				take(more)
				continue
			default:
			}
			if onlyHanded(batch) && len(durable) == 0 && !admin && !resync && len(batch) < handedBatch {
				// A hand-off coming in, its end not yet asked for: wait for
				// more rather than commit a few pages at a time (each
				// commit rewrites the tree's path and fsyncs; a few large
				// ones cost far less than a hundred small ones).
				// At most handedWait, in case no end comes (the leaver
				// died): what was given is stored anyway.
				select {
				case more, ok := <-k.reqs:
					if ok {
						take(more)
						continue
					}
					open = false
				case <-time.After(handedWait):
				}
			}
			break
		}
		gained := resync || slices.ContainsFunc(batch, func(o Ownership) bool { return o.Elem != nil && !o.Handed })
		if len(batch) > 0 {
			k.write(batch)
		}
		// Written (what failed is logged: a store that cannot write
		// loses what it was given, acknowledged or not).
		for _, f := range durable {
			f()
		}
		if gained && k.cfg.Resync != nil {
			k.cfg.Resync()
		}
		if admin && k.cfg.KeepHomed != nil {
			if err := k.cfg.KeepHomed(); err != nil {
				k.cfg.Logger.Error("cannot keep the administrative states of the zone-file elements homed here in the store", "err", err.Error())
			}
		}
		if !open {
			return
		}
	}
}

// onlyHanded reports whether batch is not empty and all of a hand-off
// coming in (Ownership.Handed).
func onlyHanded(batch []Ownership) bool {
	if len(batch) == 0 {
		return false
	}
	for _, o := range batch {
		if !o.Handed {
			return false
		}
	}
	return true
}

// write stores a batch of ownership changes (one per element): the
// elements in one transaction (one fsync however many a takeover moves),
// then the administrative states of the ones taken over drained or forced
// down (the drain is this registrar's to keep now). If the transaction
// fails, each element is written alone, so that one that cannot be stored
// costs only itself.
func (k *StoreKeeper) write(batch []Ownership) {
	st, log := k.cfg.Store, k.cfg.Logger
	cerr := st.Commit(batch)
	if cerr != nil {
		log.Warn("cannot store the registrations' changes of home together; storing them one by one", "count", len(batch), "err", cerr.Error())
	}
	for _, o := range batch {
		var err error
		switch {
		case cerr != nil && o.Elem != nil:
			err = st.PutElement(o.Pool, o.Elem)
		case cerr != nil:
			err = st.DeleteElement(o.Pool, o.ID)
		}
		if err == nil && o.Elem != nil && o.Elem.Admin != handlespace.AdminAuto {
			err = st.PutAdmin(o.Pool, o.ID, o.Elem.Admin)
		}
		if err != nil {
			log.Error("cannot keep a registration's change of home in the store", "pool", o.Pool,
				"element", handlespace.IDString(o.ID), "err", err.Error())
		}
	}
}
