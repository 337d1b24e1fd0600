package history

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// Query selects what History returns.
type Query struct {
	// Window is how far back the series go: up to the short window, its
	// points; longer, the long window's (whole minutes at the defaults).
	// 0 is the short window; more than the long window is the long window.
	Window time.Duration
	// Pool, if set, is the only pool returned (a lower-case FQDN).
	Pool string
	// NoTimelines leaves the elements' timelines out.
	NoTimelines bool
}

// Reply is the history as GET /v1/history returns it.
type Reply struct {
	Time      time.Time `json:"time"`                // of the last sample; zero before the first
	Registrar string    `json:"registrar,omitempty"` // this registrar's ID
	// StepS is the time between points, WindowS the time they cover,
	// Start the time of the first point (the last is Start + (n-1)·step).
	StepS   float64   `json:"step_s"`
	WindowS float64   `json:"window_s"`
	Start   time.Time `json:"start"`
	// ShortWindowS and LongWindowS are what the server keeps.
	ShortWindowS float64 `json:"short_window_s"`
	LongWindowS  float64 `json:"long_window_s"`
	// Global are the registrar's series: qps, latency_us, changes,
	// peers_up (null without peering), served and elements (all pools).
	Global map[string]Values `json:"global"`
	Pools  []PoolHistory     `json:"pools"`
	// UntrackedPools and UntrackedElements are how many pools have no
	// series and how many elements no timeline (the Recorder's bounds).
	UntrackedPools    int `json:"untracked_pools"`
	UntrackedElements int `json:"untracked_elements"`
}

// PoolHistory is one pool's history.
type PoolHistory struct {
	Name   string `json:"name"`
	Policy string `json:"policy"`
	// Gone is true for a pool no longer in the handlespace (its series
	// are kept for the long window).
	Gone bool `json:"gone,omitempty"`
	// Series: elements, served, up, down, changes, answers (per second)
	// and latency_us (the mean latency of its timed answers).
	Series map[string]Values `json:"series"`
	// Timelines are the elements' health timelines in the short window,
	// sorted by label.
	Timelines []Timeline `json:"timelines,omitempty"`
	// Expected is how the pool's policy shares the first position of the
	// answers among the elements served now.
	Expected *Share `json:"expected_share,omitempty"`
	// Actual is how the answers did share it, over the last 10 s or so
	// and the last minute (when the DNS front counts answers).
	Actual []ActualShare `json:"actual_share,omitempty"`
}

// ActualShare is how a pool's answers shared the first position among
// its elements over a window (WindowS, from the snapshot nearest to
// ForS, the window it stands for; shorter while the history is young):
// Answers answers, each element's count and share.
type ActualShare struct {
	ForS     float64        `json:"for_s"`
	WindowS  float64        `json:"window_s"`
	Answers  uint64         `json:"answers"`
	Elements []ElementShare `json:"elements"`
}

// Timeline is an element's states over the short window: its past spans,
// oldest first, then its current state since Since.
type Timeline struct {
	ID     string    `json:"id"`
	Label  string    `json:"label"`
	State  string    `json:"state"`
	Since  time.Time `json:"since"`
	Reason string    `json:"reason,omitempty"`
	Spans  []Span    `json:"spans"`
}

// Span is one past state of an element.
type Span struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	State  string    `json:"state"`
	Reason string    `json:"reason,omitempty"`
}

// Share is a policy's expected share of first positions.
type Share struct {
	// Basis says how the shares follow from the policy: "equal",
	// "weight", "priority"; or, with no Elements, why there is no fixed
	// share ("load": the least-used kinds; "client": nearest; "distance":
	// the -dpf policies, whose penalties follow each registrar's RTTs).
	Basis    string         `json:"basis"`
	Elements []ElementShare `json:"elements,omitempty"`
	// Omitted is, instead of Elements, the number of elements served when
	// there are more than MaxShareElements: their shares are not listed
	// (the reply would be as large as the pool, and its sort as slow).
	Omitted int `json:"omitted,omitempty"`
}

// MaxShareElements is how many served elements a pool may have for its
// expected share to list them.
const MaxShareElements = 1000

// ElementShare is one element's share, 0..1 (and, for an actual share,
// its count of first places).
type ElementShare struct {
	ID      string  `json:"id"`
	Label   string  `json:"label"`
	Share   float64 `json:"share"`
	Answers *uint64 `json:"answers,omitempty"`
}

// History returns the history that q selects.
func (r *Recorder) History(q Query) Reply {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := Reply{Time: r.last.UTC(), Global: map[string]Values{}, Pools: []PoolHistory{},
		ShortWindowS: r.shortWindow().Seconds(), LongWindowS: r.longWindow().Seconds()}
	if r.in.Self != nil {
		out.Registrar = handlespace.IDString(r.in.Self())
	}
	if q.Window <= 0 {
		q.Window = r.shortWindow()
	}
	// The tier, the number of points and the last slot.
	coarse := q.Window > r.shortWindow()
	step := r.cfg.Period
	n := int(math.Ceil(float64(q.Window) / float64(step)))
	n = min(n, r.cfg.Points)
	last := r.lastSlot
	if coarse {
		step = r.cfg.Period * time.Duration(r.cfg.CoarseEvery)
		n = min(int(math.Ceil(float64(q.Window)/float64(step))), r.cfg.CoarsePoints)
		last = floorDiv(r.lastSlot, int64(r.cfg.CoarseEvery))
	}
	out.StepS, out.WindowS = step.Seconds(), (time.Duration(n) * step).Seconds()
	if !r.last.IsZero() {
		out.Start = time.Unix(0, (last-int64(n-1))*int64(step)).UTC()
	}
	pick := func(s *series) Values {
		if r.last.IsZero() {
			return Values{}
		}
		if coarse {
			return s.coarse.window(last, n)
		}
		return s.fine.window(last, n)
	}
	for i, name := range r.global.names {
		out.Global[name] = pick(r.global.s[i])
	}
	// Only the pools with series are listed: the others are counted
	// (their elements have no timelines), without a walk of every pool.
	var names []string
	if q.Pool != "" {
		if ps := r.pools[q.Pool]; ps != nil && ps.series == nil {
			out.UntrackedPools++
		} else if ps != nil {
			names = []string{q.Pool}
		}
	} else {
		names = r.seriesNames()
		out.UntrackedPools = len(r.pools) - len(r.withSeries)
	}
	for _, name := range names {
		ps := r.withSeries[name]
		out.UntrackedElements += ps.untracked
		ph := PoolHistory{Name: name, Policy: ps.policy, Gone: !ps.goneAt.IsZero(), Series: map[string]Values{}}
		for i, sn := range ps.series.names {
			ph.Series[sn] = pick(ps.series.s[i])
		}
		if !q.NoTimelines {
			ph.Timelines = r.timelines(ps)
		}
		if ps.pv != nil {
			ph.Expected = expectedShare(ps.pv)
		}
		ph.Actual = r.actualShares(ps)
		out.Pools = append(out.Pools, ph)
	}
	return out
}

func (r *Recorder) timelines(ps *poolState) []Timeline {
	out := make([]Timeline, 0, len(ps.tracks))
	for id, t := range ps.tracks {
		tl := Timeline{ID: handlespace.IDString(id), Label: t.label, State: t.state, Since: t.since.UTC(), Reason: t.reason, Spans: []Span{}}
		for _, s := range t.past {
			tl.Spans = append(tl.Spans, Span{From: s.from.UTC(), To: s.to.UTC(), State: s.state, Reason: s.reason})
		}
		out = append(out, tl)
	}
	slices.SortFunc(out, func(a, b Timeline) int {
		if c := naturalCompare(a.Label, b.Label); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// expectedShare is how pv's policy shares the first position among the
// elements it serves now.
func expectedShare(pv *handlespace.PoolView) *Share {
	sh := &Share{}
	weight := func(e *handlespace.Element) float64 { return 1 }
	switch pv.Spec.Policy {
	case "rr", "rand", "hash":
		sh.Basis = "equal"
	case "wrr", "wrand":
		sh.Basis = "weight"
		weight = func(e *handlespace.Element) float64 { return float64(e.Weight) }
	case "prio":
		sh.Basis = "priority" // the weight: below, once the elements are listed
	case "nearest":
		return &Share{Basis: "client"}
	}
	switch {
	case strings.HasSuffix(pv.Spec.Policy, "-dpf"):
		return &Share{Basis: "distance"}
	case sh.Basis == "":
		return &Share{Basis: "load"}
	}
	if n := pv.All.Len(); n > MaxShareElements {
		sh.Omitted = n
		return sh
	}
	els := pv.All.Elements()
	if pv.Spec.Policy == "prio" {
		best := uint32(math.MaxUint32)
		for _, e := range els {
			best = min(best, e.Priority)
		}
		weight = func(e *handlespace.Element) float64 {
			if e.Priority == best {
				return 1
			}
			return 0
		}
	}
	sum := 0.0
	for _, e := range els {
		sum += weight(e)
	}
	slices.SortFunc(els, func(a, b *handlespace.Element) int { return naturalCompare(a.Label.String(), b.Label.String()) })
	sh.Elements = []ElementShare{}
	for _, e := range els {
		s := 0.0
		if sum > 0 {
			s = weight(e) / sum
		}
		sh.Elements = append(sh.Elements, ElementShare{ID: handlespace.IDString(e.ID), Label: e.Label.String(), Share: s})
	}
	return sh
}

// PeersReply is the cluster as GET /v1/peers returns it.
type PeersReply struct {
	Time      time.Time `json:"time"`
	Registrar string    `json:"registrar,omitempty"`
	// Peering is false when this registrar does not peer; Addr is its
	// peering address.
	Peering bool   `json:"peering"`
	Addr    string `json:"addr,omitempty"`
	// Homed is how many elements this registrar is home for.
	Homed  int         `json:"homed"`
	Peers  []PeerJSON  `json:"peers"`
	Events []EventJSON `json:"events"` // newest first
	// Handovers are the recent takeovers (a peer died) and planned
	// hand-offs (a peer left, or this registrar did, on SIGTERM),
	// newest first: kept apart from Events, so that other events do not
	// push them out.
	Handovers []EventJSON `json:"handovers"`
}

// PeerJSON is one peer.
type PeerJSON struct {
	ID        string     `json:"id"`
	Addr      string     `json:"addr"`
	State     string     `json:"state"`
	LastHeard *time.Time `json:"last_heard"`  // null: never
	HeardAgoS *float64   `json:"heard_ago_s"` // null: never
	Homed     int        `json:"homed"`       // elements it is home for, in this registrar's view
	// RTTMS is the round-trip time to it in milliseconds, as the kernel
	// measures it on its peering connection (smoothed; RTTVarMS its mean
	// deviation); null when unknown (no connection up, or not Linux).
	RTTMS    *float64 `json:"rtt_ms"`
	RTTVarMS *float64 `json:"rttvar_ms,omitempty"`
	// Sync is the last handle table transfer with it: sync-done,
	// sync-abort or resync, null if none.
	Sync *EventJSON `json:"sync"`
	// Handover is the last takeover or hand-off it took part in (as the
	// peer or the target), null if none kept.
	Handover *EventJSON `json:"handover"`
}

// EventJSON is a peering event.
type EventJSON struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Peer   string    `json:"peer,omitempty"`
	Target string    `json:"target,omitempty"`
	Count  int       `json:"count,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

func eventJSON(e event) EventJSON {
	out := EventJSON{At: e.at.UTC(), Kind: e.kind, Count: e.count, Detail: e.detail}
	if e.peer != 0 {
		out.Peer = handlespace.IDString(e.peer)
	}
	if e.target != 0 {
		out.Target = handlespace.IDString(e.target)
	}
	return out
}

// Peers returns the peers as of the last sample (their presence ages as
// of now), with the events kept.
func (r *Recorder) Peers(now time.Time) PeersReply {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := PeersReply{Time: now.UTC(), Peering: r.in.Peers != nil, Peers: []PeerJSON{}, Events: []EventJSON{}, Handovers: []EventJSON{}}
	if r.in.PeerAddr != nil {
		out.Addr = r.in.PeerAddr()
	}
	var self uint32
	if r.in.Self != nil {
		self = r.in.Self()
		out.Registrar = handlespace.IDString(self)
	}
	homes := r.homes // the sum over all pools, kept as they change
	out.Homed = homes[self]
	for _, p := range r.peers {
		pj := PeerJSON{ID: handlespace.IDString(p.ID), Addr: p.Addr, State: p.State, Homed: homes[p.ID]}
		if !p.LastHeard.IsZero() {
			lh := p.LastHeard.UTC()
			ago := max(0, now.Sub(p.LastHeard).Seconds())
			pj.LastHeard, pj.HeardAgoS = &lh, &ago
		}
		if p.RTT > 0 {
			ms, vms := p.RTT.Seconds()*1000, p.RTTVar.Seconds()*1000
			pj.RTTMS, pj.RTTVarMS = &ms, &vms
		}
		if e, ok := r.peerEvents[p.ID]; ok {
			ej := eventJSON(e)
			pj.Sync = &ej
		}
		out.Peers = append(out.Peers, pj)
	}
	for _, e := range r.recentEvents() {
		out.Events = append(out.Events, eventJSON(e))
	}
	hos := r.recentHandovers()
	for _, e := range hos {
		out.Handovers = append(out.Handovers, eventJSON(e))
	}
	for i := range out.Peers {
		id := r.peers[i].ID
		for _, e := range hos { // newest first
			if e.peer == id || e.target == id {
				ej := eventJSON(e)
				out.Peers[i].Handover = &ej
				break
			}
		}
	}
	return out
}

// naturalCompare orders strings with their digit runs by value (web2
// before web10).
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := len(na) - len(nb); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

func digits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// actualShares are a pool's shares of first places over ShareWindows, the
// live counts against the newest snapshot at least that old (or the
// oldest, when there is none so old).
func (r *Recorder) actualShares(ps *poolState) []ActualShare {
	if r.in.Answers == nil || len(ps.snaps) == 0 || ps.pv == nil {
		return nil
	}
	now := map[uint32]uint64{}
	totals, ok := r.in.Answers.read(ps.pv.Name, now)
	total := totals.Answers
	if !ok {
		return nil
	}
	// Only the snapshots of the pool's current settings count.
	snaps := ps.snaps
	for len(snaps) > 0 && snaps[0].info != ps.pv.PoolInfo {
		snaps = snaps[1:]
	}
	if len(snaps) == 0 {
		return nil
	}
	var out []ActualShare
	for _, w := range ShareWindows {
		want := r.last.Add(-time.Duration(w) * r.cfg.Period)
		base := snaps[0]
		for _, sn := range snaps {
			if sn.at.After(want) {
				break
			}
			base = sn
		}
		as := ActualShare{ForS: (time.Duration(w) * r.cfg.Period).Seconds(), WindowS: r.last.Sub(base.at).Seconds(), Elements: []ElementShare{}}
		if total >= base.total {
			as.Answers = total - base.total
		}
		for id, n := range now {
			d := n - base.first[id]
			if n < base.first[id] {
				d = n
			}
			if d == 0 {
				continue
			}
			label := handlespace.IDString(id)
			if t := ps.tracks[id]; t != nil {
				label = t.label
			} else if ps.pv != nil {
				if e := ps.pv.Element(id); e != nil {
					label = e.Label.String()
				}
			}
			es := ElementShare{ID: handlespace.IDString(id), Label: label, Answers: &d}
			if as.Answers > 0 {
				es.Share = float64(d) / float64(as.Answers)
			}
			as.Elements = append(as.Elements, es)
		}
		slices.SortFunc(as.Elements, func(a, b ElementShare) int { return naturalCompare(a.Label, b.Label) })
		out = append(out, as)
	}
	return out
}
