package main

// The status page's history: a recorder of the pools, elements and peers,
// sampled every second while the server runs (package history), served
// at GET /v1/history and GET /v1/peers.

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/poolnsd/poolnsd/admin"
	"github.com/poolnsd/poolnsd/dnsfront"
	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/history"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/metrics"
	"github.com/poolnsd/poolnsd/metrics/metered"
)

// historyRun is the daemon's history recorder and its sampling loop.
type historyRun struct {
	rec  *history.Recorder
	ans  *history.Answers // the DNS front's pool answers
	stop context.CancelFunc
	done chan struct{}
}

// newHistory makes the recorder; startHistory starts sampling. It reads
// the monitor and peering lazily: they start after it.
func (d *daemon) newHistory() {
	ans := history.NewAnswers()
	d.hist = &historyRun{ans: ans, rec: history.New(history.Config{}, history.Inputs{
		Answers: ans,
		View:    d.hs.View,
		Changed: d.hs.Watch().Changed,
		Self:    d.hs.RegistrarID,
		Reason: func(pool string, id uint32) string {
			if d.mon == nil {
				return ""
			}
			st, ok := admin.ProbeStatus(d.mon, pool, id)
			if !ok || st.OK {
				return ""
			}
			return st.Err
		},
		Counters: func() history.Counters {
			q, n, s := metrics.DNSTotals(d.ops.metrics.DNS())
			return history.Counters{Queries: q, Timed: n, TimedSum: s}
		},
		Peers:    d.historyPeers,
		PeerAddr: d.historyPeerAddr,
		// A sample's pieces take the registrations' turns, which the
		// DNS front's UDP loops grant (poller mode; at once otherwise).
		Turn: d.reg.Pacer().Turn,
	})}
}

// historyPeers are the peers for the history: nil without peering (the
// Inputs' Peers is set whether or not peering is on; a nil reply reads as
// no peer).
func (d *daemon) historyPeers() []history.Peer {
	if d.peering == nil {
		return nil
	}
	ps := d.peering.drv.Peers()
	rtts := d.peering.drv.PeerRTTs()
	out := make([]history.Peer, 0, len(ps))
	for _, p := range ps {
		hp := history.Peer{ID: p.ID, LastHeard: p.LastHeard, State: historyPeerStates[metered.PeerStatus(p)], RTT: rtts[p.ID].RTT, RTTVar: rtts[p.ID].RTTVar}
		if p.Info != nil && len(p.Info.Transport.Addrs) > 0 {
			hp.Addr = net.JoinHostPort(p.Info.Transport.Addrs[0].String(), strconv.Itoa(int(p.Info.Transport.Port)))
		}
		out = append(out, hp)
	}
	return out
}

// historyPeerStates are the status page's names of the peers' states
// (metered.PeerStatus: those of poolnsd_enrp_peers).
var historyPeerStates = map[string]string{metrics.PeerUp: history.PeerUp, metrics.PeerSuspect: history.PeerSuspect,
	metrics.PeerDead: history.PeerDead, metrics.PeerLeft: history.PeerLeft}

// historyPeerAddr is this registrar's peering address: enrp.advertise,
// else the address it listens on; "" without peering.
func (d *daemon) historyPeerAddr() string {
	if d.peering == nil {
		return ""
	}
	if d.cfg.ENRP.Advertise != "" {
		return d.cfg.ENRP.Advertise
	}
	if a := d.peering.drv.Addr(); a != nil {
		return a.String()
	}
	return ""
}

// historyEvent records a peering event (OnEvent of the driver).
func (d *daemon) historyEvent(ev enrp.Event) {
	if d.hist == nil {
		return
	}
	d.hist.rec.Event(time.Now(), ev.Kind.String(), ev.Peer, ev.Target, ev.Count, ev.Detail)
}

// historyAnswers is the DNS front's tally of pool answers (nil: none).
func (d *daemon) historyAnswers() dnsfront.Tally {
	if d.hist == nil {
		return nil
	}
	return d.hist.ans
}

// historySource is what the API serves history from; nil (no history) if
// there is no recorder.
func (d *daemon) historySource() httpapi.History {
	if d.hist == nil {
		return nil
	}
	return d.hist.rec
}

func (d *daemon) startHistory() {
	if d.hist == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.hist.stop, d.hist.done = cancel, make(chan struct{})
	go func() {
		defer close(d.hist.done)
		d.hist.rec.Run(ctx)
	}()
}

func (d *daemon) stopHistory() {
	if d.hist == nil || d.hist.stop == nil {
		return
	}
	d.hist.stop()
	<-d.hist.done
}
