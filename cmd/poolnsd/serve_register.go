package main

import (
	"fmt"
	"time"

	"github.com/poolnsd/poolnsd/config"
	"github.com/poolnsd/poolnsd/dnsfront"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/metrics/metered"
	"github.com/poolnsd/poolnsd/regcommit"
)

// The wiring of dynamic registration: the registrar (group commit, leases,
// quotas) behind DNS UPDATE and the HTTP API.

// loadRegistrations puts the registrations of the store into the
// handlespace (regcommit.Restore: after the zones, before the registrar
// starts) and returns how many it loaded.
func (d *daemon) loadRegistrations() (int, error) {
	res, err := regcommit.Restore(d.hs, d.store, d.log)
	if err != nil {
		return res.Loaded, err
	}
	d.ops.metrics.Expired(res.Expired)
	return res.Loaded, nil
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
	s, p := d.reg.Stats(), d.reg.Pacer().Stats()
	return fmt.Sprintf("requests=%d batches=%d commits=%d max_batch=%d elements=%d turns_granted=%d turns_expired=%d",
		s.Requests, s.Batches, s.Commits, s.MaxBatch, s.Elements, p.Granted, p.Expired)
}

// The registrar the front ends submit to counts in the metrics.
var (
	_ dnsfront.Updater  = metered.Registrar{}
	_ httpapi.Registrar = metered.Registrar{}
)
