package main

import (
	"context"
	"time"

	"github.com/poolnsd/poolnsd/admin"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/monitor"
)

// The last known health of the elements (probe.start): kept in the store
// by a monitor.Keeper, in batches, and given back at the start,
// provisionally, before DNS is served, so that a restarted registrar
// answers at once with what it last knew rather than with nothing until
// its probes pass (an empty answer that resolvers would cache).

// healthKeeper is the daemon's Keeper and what the start gave back.
type healthKeeper struct {
	// given is the health the start gave, by monitor.Key (the monitor's
	// Config.Provisional); stored is what the store held, the Keeper's
	// baseline.
	given  map[string]handlespace.Health
	stored map[string]handlespace.Health

	stop context.CancelFunc
	done chan struct{}
}

// restoreHealth drops the stored healths of elements that are gone (a zone
// file or a registration removed while poolnsd was stopped) and gives the
// unknown probed elements the health that probe.start says. Called after
// the zones, registrations and administrative states are loaded, before
// DNS is served.
func (d *daemon) restoreHealth() error {
	mode, err := monitor.ParseStartMode(d.cfg.Probe.Start)
	if err != nil {
		return err // Validate checked it
	}
	v := d.hs.View()
	stored := map[string]handlespace.Health{}
	at, err := d.store.Healths(func(pool string, id uint32, h handlespace.Health) {
		if admin.Exists(v, pool, id) {
			stored[monitor.Key(pool, id)] = h
		}
	})
	if err != nil {
		return err
	}
	dropped, err := d.store.PruneHealth(func(pool string, id uint32) bool { return admin.Exists(v, pool, id) })
	if err != nil {
		return err
	}
	given, up, down, err := monitor.RestoreHealth(d.hs, mode, stored)
	if err != nil {
		return err
	}
	d.health = &healthKeeper{given: given, stored: stored}
	args := []any{"probe_start", mode.String(), "up", up, "down", down, "stored", len(stored), "dropped", dropped}
	if !at.IsZero() {
		args = append(args, "written", at.UTC().Format(time.RFC3339), "age", time.Since(at).Round(time.Second).String())
	}
	d.log.Info("health at start", args...)
	return nil
}

// startKeeper starts keeping the elements' health in the store.
func (d *daemon) startKeeper() {
	h := d.health
	if h == nil {
		h = &healthKeeper{}
		d.health = h
	}
	kp := monitor.NewKeeper(d.hs, d.store, monitor.KeeperConfig{Stored: h.stored, Logger: d.log})
	h.stored = nil
	ctx, cancel := context.WithCancel(context.Background())
	h.stop, h.done = cancel, make(chan struct{})
	go func() {
		defer close(h.done)
		kp.Run(ctx)
	}()
}

// stopKeeper writes the latest health and stops the Keeper; later calls
// do nothing.
func (d *daemon) stopKeeper() {
	if h := d.health; h != nil && h.stop != nil {
		h.stop()
		<-h.done
		h.stop = nil
	}
}

// givenHealth is the health the start gave, for the monitor (nil if none).
func (d *daemon) givenHealth() map[string]handlespace.Health {
	if d.health == nil {
		return nil
	}
	g := d.health.given
	d.health.given = nil
	return g
}
