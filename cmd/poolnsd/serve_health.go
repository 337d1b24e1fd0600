package main

import (
	"context"
	"time"

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

// restoreHealth gives the last known health back (monitor.RestoreStored:
// the stored healths of elements gone dropped, the unknown probed
// elements given the health that probe.start says). Called after the
// zones, registrations and administrative states are loaded, before DNS
// is served.
func (d *daemon) restoreHealth() error {
	mode, err := monitor.ParseStartMode(d.cfg.Probe.Start)
	if err != nil {
		return err // Validate checked it
	}
	r, err := monitor.RestoreStored(d.hs, d.store, mode)
	if err != nil {
		return err
	}
	d.health = &healthKeeper{given: r.Given, stored: r.Stored}
	args := []any{"probe_start", mode.String(), "up", r.Up, "down", r.Down, "stored", len(r.Stored), "dropped", r.Dropped}
	if !r.Written.IsZero() {
		args = append(args, "written", r.Written.UTC().Format(time.RFC3339), "age", time.Since(r.Written).Round(time.Second).String())
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
