package main

import (
	"crypto/tls"
	"strings"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrpnet"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/metrics/metered"
	"github.com/poolnsd/poolnsd/store"
)

// peering is the daemon's registrar peering (ENRP): the driver, and the
// keeper that keeps the store in step with the registrations this
// registrar takes over or gives up.
type peering struct {
	drv  *enrpnet.Driver
	keep *enrpnet.StoreKeeper
}

// ownershipStore is the store as the peering's StoreKeeper writes to it:
// its own one-change writes, and Commit of the keeper's batches.
type ownershipStore struct{ *store.Store }

var (
	_ enrpnet.OwnershipStore = ownershipStore{}
	_ enrpnet.ElementWriter  = (*store.Store)(nil)
)

// Commit writes the ownership changes in one transaction.
func (s ownershipStore) Commit(batch []enrpnet.Ownership) error {
	ops := make([]store.Write, len(batch))
	for i, o := range batch {
		ops[i] = store.Write{Pool: o.Pool, Elem: o.Elem, ID: o.ID}
	}
	return s.Store.Commit(ops)
}

// startPeering starts peering if enrp.listen is set. It returns exitOK or
// the exit code of the failure, which it has logged.
func (d *daemon) startPeering() int {
	e := d.cfg.ENRP
	if !e.Enabled() {
		return exitOK
	}
	var tlsc *tls.Config
	if e.Insecure {
		d.log.Warn("ENRP peering without TLS (enrp.insecure): peers are not authenticated and their traffic is in the clear",
			"listen", e.Listen)
	} else {
		var err error
		tlsc, err = enrpnet.LoadTLS(enrpnet.TLSFiles{Cert: e.TLS.Cert, Key: e.TLS.Key, CA: e.TLS.CA, PostQuantum: e.TLS.PostQuantum})
		if err != nil {
			d.log.Error("cannot load the peering TLS files", "keys", "enrp.tls.cert, enrp.tls.key, enrp.tls.ca", "err", err.Error())
			return exitUsage
		}
	}
	presence, lastHeard, noResponse := e.Durations()
	_, syncWait := e.Waits()
	if syncWait <= 0 {
		syncWait = -1 // enrp.sync_wait 0s: no hold
	}
	p := &peering{keep: enrpnet.StartStoreKeeper(enrpnet.StoreKeeperConfig{
		Store:     ownershipStore{d.store},
		Resync:    func() { d.reg.Resync() },
		KeepHomed: func() error { return d.admin.KeepHomed() },
		Logger:    d.log,
	})}
	d.vantage = &vantageLink{m: d.ops.metrics}
	drv, err := enrpnet.StartDriver(enrpnet.DriverConfig{
		Node: enrp.Config{ID: d.store.RegistrarID(), PresenceInterval: presence,
			MaxTimeLastHeard: lastHeard, MaxTimeNoResponse: noResponse, PageSize: e.PageSize,
			Confirm: d.cfg.Health.Confirm, Quorum: d.cfg.Health.Quorum, ResyncWait: syncWait, PeerRTT: d.vantage.peerRTT},
		Listen:      e.Listen,
		Advertise:   e.Advertise,
		Peers:       e.PeerAddrs(),
		TLS:         tlsc,
		Handlespace: d.hs,
		Logger:      d.log,
		OnOwnership: p.keep.Ownership,
		Durable:     p.keep.Durable,
		OnEvent: func(ev enrp.Event) {
			metered.PeeringEvent(d.ops.metrics, ev)
			d.historyEvent(ev)
			if ev.Kind == enrp.EventStaticHomes {
				p.keep.StaticHomes() // the homes of zone-file elements moved: keep their admin states where they are homed
			}
		},
		OnAdmin:   func(a enrp.AdminRequest) error { return d.admin.SetLocal(a.Pool, a.ID, a.Admin) },
		OnReport:  d.admin.ReportLocal,
		OnMessage: func(sent bool, t wire.Type) { d.ops.metrics.ENRPMessage(sent, uint8(t)) },

		// Confirmations and hand-offs (serve_vantage.go).
		OnProbe:   d.vantage.probe,
		OnVerdict: d.vantage.verdict,
		OnHanded: func(hs []enrp.Handed) {
			d.vantage.handed(hs)
			p.keep.Handed() // the registrar counts the leases of the registrations handed here
		},
		HandoffState: d.vantage.state,
	})
	if err != nil {
		p.keep.Close()
		d.logListenError("cannot start peering", "enrp.listen", err)
		return exitRuntime
	}
	p.drv = drv
	d.vantage.drv.Store(drv)
	d.peering = p
	d.admin.SetPeering(drv)
	d.ops.metrics.SetPeerStates(func() map[string]int { return metered.PeerStates(drv.Peers()) })
	d.ops.metrics.SetConfirmRefused(func() uint64 { return drv.Stats().Confirm.Refused })
	d.ops.metrics.SetApplyConflicts(func() uint64 { return uint64(drv.Stats().Conflicts) })
	mode := "tls"
	if tlsc == nil {
		mode = "insecure"
	}
	d.log.Info("peering", "enrp", drv.Addr().String(), "peers", strings.Join(e.PeerAddrs(), ","), "transport", mode,
		"registrar", handlespace.IDString(d.store.RegistrarID()))
	return exitOK
}

// dnsCurrent is the DNS front's Config.Current: with peering, whether
// this registrar's view is current enough to answer from (enrp's
// Driver.Current: not just resumed from a stop, not healed from a
// minority and waiting to sync, at most enrp.sync_wait); nil without.
func (d *daemon) dnsCurrent() func() bool {
	if d.peering == nil {
		return nil
	}
	return d.peering.drv.Current
}

// stopPeering stops the driver and writes what is left for the store.
func (d *daemon) stopPeering() {
	p := d.peering
	if p == nil {
		return
	}
	p.drv.Close()
	p.keep.Close()
}
