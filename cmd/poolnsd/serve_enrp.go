package main

import (
	"crypto/tls"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrpnet"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/metrics"
	"github.com/poolnsd/poolnsd/store"
)

// peering is the daemon's registrar peering (ENRP): the driver, and the
// writer that keeps the store in step with the registrations this
// registrar takes over or gives up.
type peering struct {
	drv   *enrpnet.Driver
	store chan storeReq
	done  sync.WaitGroup
}

// storeReq is one request to keepStore: ownership changes to write, the
// zone-file elements' administrative states to follow their homes
// (admin), or a func to call once everything asked before is written
// (durable: a hand-off coming in is acknowledged then).
type storeReq struct {
	batch   []enrpnet.Ownership
	admin   bool
	resync  bool // the handlespace has the elements of a hand-off stored before (Ownership.Handed)
	durable func()
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
	p := &peering{store: make(chan storeReq, 64)}
	d.vantage = &vantageLink{m: d.ops.metrics}
	p.done.Add(1)
	go p.keepStore(d)
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
		OnOwnership: func(o []enrpnet.Ownership) { p.store <- storeReq{batch: o} },
		Durable:     func(done func()) { p.store <- storeReq{durable: done} },
		OnEvent: func(ev enrp.Event) {
			peeringEvent(d.ops.metrics, ev)
			d.historyEvent(ev)
			if ev.Kind == enrp.EventStaticHomes {
				p.store <- storeReq{admin: true} // the homes of zone-file elements moved: keep their admin states where they are homed
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
			p.store <- storeReq{resync: true} // the registrar counts the leases of the registrations handed here
		},
		HandoffState: d.vantage.state,
	})
	if err != nil {
		close(p.store)
		p.done.Wait()
		d.log.Error("cannot start peering", "err", err.Error())
		return exitRuntime
	}
	p.drv = drv
	d.vantage.drv.Store(drv)
	d.peering = p
	d.admin.SetPeering(drv)
	d.ops.metrics.SetPeerStates(func() map[string]int { return peerStates(drv.Peers()) })
	d.ops.metrics.SetConfirmRefused(func() uint64 { return drv.Stats().Confirm.Refused })
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

// keepStore writes the ownership changes that the driver reports: a
// registration taken over, or handed here, is stored here with its
// administrative state (a restart keeps both) and its lease is handed to
// the registrar, which expires it; one given up or deleted by a peer is
// removed. An admin request asks for the zone-file elements'
// administrative states to follow their homes (keepHomedAdmin); a
// durable one is answered once what came before it is written (and
// fsynced: bbolt's commit).
//
// The batches waiting when it gets to them are written together (one
// fsync): a hand-off or a table transfer sends one batch a page, hundreds
// a second, which one fsync each could not keep up with (the driver waits
// when the channel is full).
func (p *peering) keepStore(d *daemon) {
	defer p.done.Done()
	for first := range p.store {
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
			case more, ok := <-p.store:
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
				case more, ok := <-p.store:
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
		gained := resync || slices.ContainsFunc(batch, func(o enrpnet.Ownership) bool { return o.Elem != nil && !o.Handed })
		if len(batch) > 0 {
			p.write(d, batch)
		}
		// Written (what failed is logged: a store that cannot write
		// loses what it was given, acknowledged or not).
		for _, f := range durable {
			f()
		}
		if gained {
			// The registrar expires what it owns: have it count the
			// leases again, the ones just taken over included.
			d.reg.Resync()
		}
		if admin {
			if err := d.admin.KeepHomed(); err != nil {
				d.log.Error("cannot keep the administrative states of the zone-file elements homed here in the store", "err", err.Error())
			}
		}
		if !open {
			return
		}
	}
}

// maxStoreBatch bounds the ownership changes keepStore writes in one
// transaction.
const maxStoreBatch = 1 << 17

// handedBatch is how many elements of a hand-off coming in keepStore
// gathers before it writes them, unless the hand-off's end (its durable
// request) comes first, or nothing more comes for handedWait.
const (
	handedBatch = 16384
	handedWait  = 100 * time.Millisecond
)

// onlyHanded reports whether batch is not empty and all of a hand-off
// coming in (Ownership.Handed).
func onlyHanded(batch []enrpnet.Ownership) bool {
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
func (p *peering) write(d *daemon, batch []enrpnet.Ownership) {
	ops := make([]store.Write, len(batch))
	for i, o := range batch {
		ops[i] = store.Write{Pool: o.Pool, Elem: o.Elem, ID: o.ID}
	}
	cerr := d.store.Commit(ops)
	if cerr != nil {
		d.log.Warn("cannot store the registrations' changes of home together; storing them one by one", "count", len(ops), "err", cerr.Error())
	}
	for _, o := range batch {
		var err error
		switch {
		case cerr != nil && o.Elem != nil:
			err = d.store.PutElement(o.Pool, o.Elem)
		case cerr != nil:
			err = d.store.DeleteElement(o.Pool, o.ID)
		}
		if err == nil && o.Elem != nil && o.Elem.Admin != handlespace.AdminAuto {
			err = d.store.PutAdmin(o.Pool, o.ID, o.Elem.Admin)
		}
		if err != nil {
			d.log.Error("cannot keep a registration's change of home in the store", "pool", o.Pool,
				"element", handlespace.IDString(o.ID), "err", err.Error())
		}
	}
}

// stopPeering stops the driver and writes what is left for the store.
func (d *daemon) stopPeering() {
	p := d.peering
	if p == nil {
		return
	}
	p.drv.Close()
	close(p.store)
	p.done.Wait()
}

// peeringEvent counts the takeovers among the peering state machine's
// events.
func peeringEvent(m *metrics.Metrics, ev enrp.Event) {
	switch ev.Kind {
	case enrp.EventTakeoverStart:
		m.Takeover(metrics.TakeoverStarted, 0)
	case enrp.EventTakeoverDone:
		m.Takeover(metrics.TakeoverCompleted, ev.Count)
	case enrp.EventTakeoverAbort:
		m.Takeover(metrics.TakeoverAbandoned, 0)
	case enrp.EventTakenOver:
		m.Takeover(metrics.TakeoverYielded, 0)
	case enrp.EventHandoffStart:
		m.Handoff(metrics.HandoffGiven, ev.Count)
	case enrp.EventHandoffIn:
		m.Handoff(metrics.HandoffTaken, ev.Count)
	case enrp.EventHandback:
		if ev.Detail == "given" {
			m.Handoff(metrics.HandbackGiven, ev.Count)
		} else {
			m.Handoff(metrics.HandbackTaken, ev.Count)
		}
	}
}

// peerStates counts the peers by state for poolnsd_enrp_peers: up (heard
// from), suspect (asked to answer after a silence), dead, and left (by
// hand-off, for enrp.LeftMemory).
func peerStates(ps []enrp.PeerState) map[string]int {
	out := map[string]int{metrics.PeerUp: 0, metrics.PeerSuspect: 0, metrics.PeerDead: 0, metrics.PeerLeft: 0}
	for _, p := range ps {
		switch {
		case p.Left:
			out[metrics.PeerLeft]++
		case p.Dead:
			out[metrics.PeerDead]++
		case p.Suspect:
			out[metrics.PeerSuspect]++
		default:
			out[metrics.PeerUp]++
		}
	}
	return out
}
