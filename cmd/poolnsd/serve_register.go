package main

import (
	"fmt"
	"time"

	"github.com/poolnsd/poolnsd/config"
	"github.com/poolnsd/poolnsd/dnsfront"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/metrics/metered"
	"github.com/poolnsd/poolnsd/regcommit"
	"github.com/poolnsd/poolnsd/store"
)

// The wiring of dynamic registration: the registrar (group commit, leases,
// quotas) behind DNS UPDATE and the HTTP API.

// loadBatch is how many stored registrations go into one handlespace
// batch at start.
const loadBatch = 65536

// loadRegistrations puts the registered elements of the store into the
// handlespace, after the zones so that registrations into zone-file pools
// find their pools, in batches (one new view per pool and batch, so that a
// large pool loads in linear time). Elements whose lease ended while
// poolnsd was down are dropped from the store. It returns how many it
// loaded.
func (d *daemon) loadRegistrations() (int, error) {
	now := d.hs.Now()
	var (
		groups  [][]handlespace.Op
		expired []store.Write
		loaded  int
	)
	flush := func() {
		errs := d.hs.Apply(groups, nil)
		for i, err := range errs {
			op := groups[i][0]
			if err != nil {
				// Kept in the store: the zone may come back with a reload.
				d.log.Warn("registration not loaded", "pool", op.Pool, "element", handlespace.IDString(op.Elem.ID), "err", err.Error())
				continue
			}
			loaded++
		}
		groups = groups[:0]
	}
	err := d.store.Elements(func(pool string, e *handlespace.Element) error {
		if !e.Expires.IsZero() && !e.Expires.After(now) {
			d.log.Info("registration expired while stopped", "pool", pool, "element", handlespace.IDString(e.ID), "expired", e.Expires)
			expired = append(expired, store.Write{Pool: pool, ID: e.ID})
			return nil
		}
		if err := storedOK(pool, e); err != nil {
			// Stored by an older poolnsd that took such names: not served
			// nor sent to peers; the store keeps it until its lease ends.
			d.log.Warn("stored registration not loaded", "pool", pool, "element", handlespace.IDString(e.ID), "err", err.Error())
			return nil
		}
		groups = append(groups, []handlespace.Op{{Pool: pool, Elem: e}})
		if len(groups) >= loadBatch {
			flush()
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	flush()
	if err := d.store.Commit(expired); err != nil {
		return loaded, err
	}
	d.ops.metrics.Expired(len(expired))
	return loaded, nil
}

// storedOK checks a stored registration as a new one is checked (but
// loopback, which the configuration allowed when it was made).
func storedOK(pool string, e *handlespace.Element) error {
	if err := handlespace.CheckPoolName(pool); err != nil {
		return err
	}
	if err := handlespace.CheckLabel(e.Label); err != nil {
		return err
	}
	if err := handlespace.CheckElementName(pool, e.Label); err != nil {
		return err
	}
	for _, a := range e.Addrs {
		if err := handlespace.CheckAddr(a, true); err != nil {
			return err
		}
	}
	return nil
}

// startRegistrar starts the registrar over the handlespace and the store.
func (d *daemon) startRegistrar() {
	def, lo, hi := d.cfg.Leases()
	d.reg = regcommit.New(d.hs, d.store, regcommit.Config{
		LeaseDefault: def, LeaseMin: lo, LeaseMax: hi,
		MaxPerOwner: d.cfg.Registration.MaxPerKey,
		MaxPerPool:  d.cfg.Registration.MaxPerPool,
		Rate:        float64(d.cfg.Registration.Rate),
		Burst:       d.cfg.Registration.Burst,
		Logger:      d.log,

		AllowLoopback: d.cfg.Registration.AllowLoopback,
	})
	d.log.Info("registration", "tsig_keys", len(d.cfg.TSIG), "lease_default", def.String(),
		"lease_min", lo.String(), "lease_max", hi.String(), "allow_loopback", d.cfg.Registration.AllowLoopback)
}

// tsigKeys returns the configured TSIG keys for the DNS front.
func (d *daemon) tsigKeys() []dnsfront.Key { return tsigKeys(d.cfg.TSIG) }

// tsigKeys returns TSIG keys of the configuration as the DNS front takes
// them.
func tsigKeys(cfg []config.TSIGKey) []dnsfront.Key {
	keys := make([]dnsfront.Key, len(cfg))
	for i, k := range cfg {
		keys[i] = dnsfront.Key{Name: k.Name, Algorithm: k.TSIGAlgorithm(), Secret: k.SecretBytes(), Pools: k.Pools}
	}
	return keys
}

// expire removes the registrations whose lease has ended, from the
// handlespace and the store.
func (d *daemon) expire(now time.Time) {
	if n := d.reg.Sweep(now); n > 0 {
		d.ops.metrics.Expired(n)
		d.log.Debug("lease sweep", "expired", n)
	}
}

// registrarStats is the registrar's counters for the log.
func (d *daemon) registrarStats() string {
	s := d.reg.Stats()
	return fmt.Sprintf("requests=%d batches=%d commits=%d max_batch=%d elements=%d", s.Requests, s.Batches, s.Commits, s.MaxBatch, s.Elements)
}

// The registrar the front ends submit to counts in the metrics.
var (
	_ dnsfront.Updater  = metered.Registrar{}
	_ httpapi.Registrar = metered.Registrar{}
)
