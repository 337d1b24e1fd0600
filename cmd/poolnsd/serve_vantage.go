package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrpnet"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/metrics"
	"github.com/poolnsd/poolnsd/metrics/metered"
	"github.com/poolnsd/poolnsd/monitor"
)

// Health from other vantage points and the planned hand-off: the wiring
// between peering (which starts first) and the monitor (which starts
// after it).

// vantageLink joins the peering driver's hooks to the monitor once it
// runs; until then peers' probe requests are answered unknown.
type vantageLink struct {
	mon atomic.Pointer[monitor.Monitor]
	drv atomic.Pointer[enrpnet.Driver]
	m   *metrics.Metrics
}

// peerRTT is the round-trip time to a peer as the kernel measures it on
// the peer's connection (0 unknown), for the confirmations' budgets: a
// vantage point across sites gets its round trip more (see
// enrp/placement.Budgets).
func (v *vantageLink) peerRTT(id uint32) time.Duration {
	if drv := v.drv.Load(); drv != nil {
		r, _ := drv.RTTOf(id)
		return r.RTT
	}
	return 0
}

// probe carries out a peer's request to probe an element once.
func (v *vantageLink) probe(req enrp.ProbeRequest, done func(handlespace.Health, time.Duration)) {
	mon := v.mon.Load()
	if mon == nil {
		v.m.PeerProbe(handlespace.HealthUnknown)
		done(handlespace.HealthUnknown, 0)
		return
	}
	mon.ProbeFor(req.Pool, req.ID, req.Budget, func(h handlespace.Health, rtt time.Duration) {
		v.m.PeerProbe(h)
		done(h, rtt)
	})
}

// verdict counts the outcome of a confirmation this registrar asked for,
// and publishes it.
func (v *vantageLink) verdict(ev enrp.Verdict) {
	metered.Verdict(v.m, ev)
	if mon := v.mon.Load(); mon != nil {
		mon.Verdict(monitor.Verdict{Pool: ev.Pool, ID: ev.ID, Proposed: ev.Proposed, Health: ev.Health,
			Vantage: ev.Vantage, Asked: ev.Asked, Answered: len(ev.Votes) - 1, Moved: ev.Moved})
	}
}

// handed lets the monitor go on from the old home's state of the
// elements handed here.
func (v *vantageLink) handed(hs []enrp.Handed) {
	mon := v.mon.Load()
	if mon == nil {
		return
	}
	for _, h := range hs {
		mon.Adopt(h.Pool, h.ID, h.Health, h.Reports)
	}
}

// state is what the monitor keeps beside an element, for a hand-off.
func (v *vantageLink) state(pool string, id uint32) (time.Duration, int) {
	if mon := v.mon.Load(); mon != nil {
		return mon.HandoffState(pool, id)
	}
	return 0, 0
}

// waitSynced waits, before DNS is served, for the first handle table
// from a peer, at most enrp.sync_wait (not at all without enrp.peers:
// a registrar that only listens may have no peer to wait for).
func (d *daemon) waitSynced() {
	p := d.peering
	_, wait := d.cfg.ENRP.Waits()
	if p == nil || wait <= 0 || len(d.cfg.ENRP.Peers) == 0 {
		return
	}
	d.ops.setPhase("starting: syncing with a peer")
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if p.drv.WaitSynced(ctx) {
		d.log.Info("synced with a peer", "took", time.Since(start).Round(time.Millisecond).String())
		return
	}
	d.log.Warn("no peer gave its handle table within enrp.sync_wait; serving what this registrar knows", "sync_wait", wait.String())
}

// handOff hands the elements homed here to the live peers before the
// daemon stops, at most enrp.handoff_timeout, with registrations closed
// (one made now would be lost with this registrar) and DNS still served.
func (d *daemon) handOff() {
	p := d.peering
	timeout, _ := d.cfg.ENRP.Waits()
	if p == nil || timeout <= 0 {
		return
	}
	d.reg.Close()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if p.drv.Leave(ctx) {
		d.log.Info("handed off", "took", time.Since(start).Round(time.Millisecond).String())
		return
	}
	d.log.Warn("the hand-off did not end within enrp.handoff_timeout; stopping anyway (the peers take over when they find this registrar gone)",
		"handoff_timeout", timeout.String())
}
