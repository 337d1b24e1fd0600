package history

import (
	"container/heap"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/piece"
	"github.com/poolnsd/poolnsd/internal/tally"
)

var jsonUnmarshal = json.Unmarshal

// Defaults of Config.
const (
	DefaultPeriod       = time.Second
	DefaultPoints       = 900  // 15 minutes at 1 s
	DefaultCoarseEvery  = 60   // one long-window point per minute at 1 s
	DefaultCoarsePoints = 1440 // 24 hours of minutes
	DefaultMaxPools     = 256
	DefaultMaxElements  = 10000
	DefaultMaxSpans     = 30 // a change every 30 s for 15 minutes
	DefaultMaxEvents    = 256
)

// Config bounds a Recorder. Zero values have the defaults above.
type Config struct {
	// Period is the time between samples.
	Period time.Duration
	// Points is how many samples the short window holds (its length is
	// Points × Period).
	Points int
	// CoarseEvery is how many samples make one point of the long window,
	// which holds CoarsePoints of them.
	CoarseEvery  int
	CoarsePoints int
	// MaxPools is how many pools have series; MaxElements how many
	// elements have timelines, each with at most MaxSpans past changes
	// in the short window. MaxEvents is how many peering events are kept.
	MaxPools    int
	MaxElements int
	MaxSpans    int
	MaxEvents   int
}

func (c *Config) fill() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.Period <= 0 {
		c.Period = DefaultPeriod
	}
	def(&c.Points, DefaultPoints)
	def(&c.CoarseEvery, DefaultCoarseEvery)
	def(&c.CoarsePoints, DefaultCoarsePoints)
	def(&c.MaxPools, DefaultMaxPools)
	def(&c.MaxElements, DefaultMaxElements)
	def(&c.MaxSpans, DefaultMaxSpans)
	def(&c.MaxEvents, DefaultMaxEvents)
}

// Counters are the registrar's running totals that rates are made of.
type Counters struct {
	Queries uint64 // DNS queries answered
	// Timed and TimedSum are the count and total of the answer latencies
	// measured (a sample of the queries).
	Timed    uint64
	TimedSum time.Duration
}

// Peer is a registrar of the cluster as peering last saw it.
type Peer struct {
	ID        uint32
	Addr      string // host:port it is reached at; "" unknown
	State     string // PeerUp, PeerSuspect, PeerDead or PeerLeft
	LastHeard time.Time
	// RTT and RTTVar are the round-trip time to it and its mean
	// deviation, as peering measures them (0: unknown).
	RTT, RTTVar time.Duration
}

// Peer states.
const (
	PeerUp      = "up"      // heard from within the presence timeout
	PeerSuspect = "suspect" // silent too long; asked to answer
	PeerDead    = "dead"    // did not answer: its elements are taken over
	PeerLeft    = "left"    // stopped by plan: handed its elements off (listed for a while, enrp.LeftMemory)
)

// Inputs are what a Recorder reads at each sample. Only View is needed.
type Inputs struct {
	// View returns the current handlespace view (nil: none yet).
	View func() *handlespace.View
	// Self returns this registrar's ID.
	Self func() uint32
	// Reason returns why an element is down as this registrar knows it
	// (its last probe's error), "" if it does not know.
	Reason func(pool string, id uint32) string
	// Counters returns the running totals (nil: no query series).
	Counters func() Counters
	// Peers returns the peers (nil: no peering); PeerAddr this
	// registrar's own peering address (nil or "": unknown).
	Peers    func() []Peer
	PeerAddr func() string
	// Answers are the pools' answers as the DNS front counts them (nil:
	// no answer rates or shares).
	Answers *Answers
	// Changed, if set, returns the names of the pools whose view changed
	// since its last call, or all when any may have
	// (handlespace.Watch.Changed): a sample then looks only at those (see
	// Sample). Nil: every sample looks at every pool.
	Changed func() (names []string, all bool)
	// Turn, if set, is called between the pieces of a sample's work (each
	// about PieceBudget long) and returns when the sample may go on: the
	// daemon passes the registration committer's turns
	// (regcommit.Pacer.Turn), which the DNS front's UDP loops grant
	// between their batches, so that a sample after many changes in a
	// large pool does not hold a loop's processor for milliseconds. Nil:
	// runtime.Gosched between pieces. Readers (History, Peers) do not
	// wait for the turns of a sample's diffs and walks (see prepare), only
	// for those of its changes to the state.
	Turn func()
}

// PieceBudget is about how long a piece of a sample's work runs before
// the sampler takes a turn (Inputs.Turn).
const PieceBudget = 200 * time.Microsecond

// pieceBudget is PieceBudget; tests shorten it.
var pieceBudget = PieceBudget

// Element states in timelines.
const (
	StateUp         = "up"
	StateDown       = "down"
	StateUnknown    = "unknown"
	StateDrained    = "drained"
	StateForcedDown = "forced-down"
	StateReported   = "reported"
	StateDisputed   = "disputed" // the registrars' vantage points disagree
	StateGone       = "gone"     // no longer in the pool
)

// Names of the series.
const (
	SeriesElements = "elements" // a pool's elements
	SeriesServed   = "served"   // of them in the answers
	SeriesUp       = "up"
	SeriesDown     = "down"
	SeriesChanges  = "changes"    // elements whose state changed, per sample
	SeriesQPS      = "qps"        // DNS queries answered per second
	SeriesLatency  = "latency_us" // mean answer latency of the timed queries (a pool's: of its timed answers), µs
	SeriesPeersUp  = "peers_up"   // peers heard from
	SeriesAnswers  = "answers"    // a pool's answers per second (NODATA not counted)
)

// Answer shares: a snapshot of the pools' counts every shareEvery
// samples, shareSnaps of them, so that the shares over the last
// ShareWindows can be read.
const (
	shareEvery  = 5
	shareSnaps  = 13
	retainEvery = 60 // samples between prunings of Answers
)

// ShareWindows are the windows of the actual answer shares.
var ShareWindows = []int{10, 60} // samples

var poolSeries = []struct {
	name string
	agg  agg
}{{SeriesElements, aggMin}, {SeriesServed, aggMin}, {SeriesUp, aggMin}, {SeriesDown, aggMean}, {SeriesChanges, aggSum}, {SeriesAnswers, aggMean}, {SeriesLatency, aggMean}}

var globalSeries = []struct {
	name string
	agg  agg
}{{SeriesQPS, aggMean}, {SeriesLatency, aggMean}, {SeriesChanges, aggSum}, {SeriesPeersUp, aggMin}, {SeriesServed, aggMin}, {SeriesElements, aggMin}}

// set is the series of one pool (or the registrar's).
type set struct {
	names []string
	s     []*series
}

func (r *Recorder) newSet(defs []struct {
	name string
	agg  agg
}) *set {
	st := &set{}
	for _, d := range defs {
		st.names = append(st.names, d.name)
		st.s = append(st.s, newSeries(r.cfg.Points, r.cfg.CoarsePoints, r.cfg.CoarseEvery, d.agg))
	}
	return st
}

// span is a stretch of an element's timeline.
type span struct {
	from, to time.Time
	state    string
	reason   string
}

// track is one element's timeline.
type track struct {
	// label is a copy of the element's: the label may lie in the element
	// (handlespace keeps short labels there), and a track is not updated
	// for a change it does not see, so it would keep an old version of
	// the element, or one gone.
	label  string
	state  string
	reason string
	since  time.Time
	past   []span // oldest first, at most MaxSpans
	queued bool   // in Recorder.due
}

// poolState is what a Recorder keeps of a pool.
type poolState struct {
	pv        *handlespace.PoolView // the view last walked
	counts    [4]float32            // elements, served, up, down of pv
	homes     map[uint32]int        // elements of pv by home registrar
	series    *set                  // nil: not tracked (MaxPools)
	tracks    map[uint32]*track     // nil: no timelines (not tracked)
	goneAt    time.Time             // when it left the view; zero while in it
	policy    string
	changes   int // state changes seen in the sample sampled
	sampled   int // Recorder.samples of the last sample that looked at it
	untracked int // elements without a timeline (MaxElements)
	// noReason are the tracked elements down without a reason yet, which
	// walkChanges looks at again.
	noReason map[uint32]struct{}
	// pre is the diff Sample made before taking the lock (prepare), for
	// walkChanges.
	pre prepared

	// The answer counts: the running totals at the last sample, and
	// snapshots of the totals and first places (oldest first).
	ansTotal tally.Counts
	ansHave  bool
	snaps    []ansSnap
}

// ansSnap is a pool's answer counts at one time.
type ansSnap struct {
	info  *handlespace.PoolInfo // the settings counted
	at    time.Time
	total uint64
	first map[uint32]uint64
}

// prepared is a pool's diff from one view to another, made by prepare in
// sample number sample: the changes that are not quiet, Recorder.pre[lo:hi].
type prepared struct {
	from, to *handlespace.PoolView
	sample   int
	lo, hi   int
}

// prewalk is a pool's full walk, made by prepare before Sample takes the
// lock, so that a reader does not wait for a walk of every element (the
// first sample of a pool of a million, a pool that gets series): what
// walk would count, and the elements whose timelines walk then looks at
// under the lock, at most the pool's timelines and the timelines the
// sample can still make, whatever the pool's size.
type prewalk struct {
	pv     *handlespace.PoolView
	counts [4]float32
	homes  map[uint32]int
	// tracks: cands are, in ID order, the elements that have a timeline
	// and the first ones without that may get one, with their states;
	// rest is how many other elements there are (none has a timeline, and
	// the sample has made all it can before it comes to them).
	tracks bool
	cands  []walked
	rest   int
}

// walked is an element of a prewalk and its timeline state.
type walked struct {
	e       *handlespace.Element
	st, why string
}

// event is a peering event.
type event struct {
	at     time.Time
	kind   string
	peer   uint32
	target uint32
	count  int
	detail string
}

// Recorder keeps the history. It is safe for concurrent use: Sample and
// Event write, History and Peers read.
//
// Sample holds sampling throughout, mu (which the others hold) only to
// change the state: the pools' diffs and walks in full, the long parts of
// a sample, it makes before (prepare), reading the state that only it
// writes, so that a reader does not wait for them nor for their turns,
// and sees the state before the sample or after it.
type Recorder struct {
	cfg Config
	in  Inputs

	sampling sync.Mutex

	mu         sync.Mutex
	pools      map[string]*poolState
	global     *set
	tracked    int // elements with a track
	nSeries    int // pools with series
	last       time.Time
	lastSlot   int64
	lastCount  Counters
	haveCount  bool
	events     []event // ring of MaxEvents, evHead next to write
	evHead     int
	evN        int
	peers      []Peer
	peerEvents map[uint32]event // the last sync event by peer
	// handovers are the takeovers and hand-offs, a ring of maxHandovers
	// kept apart from events so that a burst of other events does not
	// push them out; hoHead is next to write.
	handovers []event
	hoHead    int
	hoN       int
	samples   int // Sample calls so far

	// withSeries are the pools with series, by name (at most MaxPools).
	withSeries map[string]*poolState
	// total is the sum of the counts of all pools in the view, homes the
	// sum of their homes (kept as pools change: Peers does not walk the
	// pools).
	total [4]float64
	homes map[uint32]int
	// changes are the state changes seen in this sample.
	changes int
	// due are the tracks with spans or a gone state to expire, by when.
	due dueHeap
	// pieces cuts Sample's work (prepare's diffs, then under mu) into
	// pieces.
	pieces piece.Slicer
	// pre holds the changes prepare kept (was, now), Sample's own.
	pre [][2]*handlespace.Element
	// walks are the full walks prepare made, by pool name, Sample's own.
	walks map[string]*prewalk
	// loud: every change is looked at in full (quiet says no). Testing.
	loud bool
}

// New returns a Recorder of in, bounded by cfg.
func New(cfg Config, in Inputs) *Recorder {
	cfg.fill()
	r := &Recorder{cfg: cfg, in: in, pieces: piece.Slicer{Turn: in.Turn, Budget: pieceBudget}, pools: map[string]*poolState{}, withSeries: map[string]*poolState{}, homes: map[uint32]int{}, peerEvents: map[uint32]event{},
		events: make([]event, cfg.MaxEvents), handovers: make([]event, maxHandovers)}
	r.global = r.newSet(globalSeries)
	return r
}

// slot is the sample slot of t.
func (r *Recorder) slot(t time.Time) int64 { return floorDiv(t.UnixNano(), int64(r.cfg.Period)) }

// Sample takes one sample at now: it walks the pools whose view changed,
// updates the timelines and adds a point to every series.
//
// With Inputs.Changed it looks only at the pools named changed and at the
// pools with series (at most MaxPools): its cost does not grow with the
// number of pools. It looks at every pool (in name order, which decides
// which pools get series) at the first sample, after a zone reload, and
// while a pool without series could get one.
func (r *Recorder) Sample(now time.Time) {
	var names []string
	all := true
	if r.in.Changed != nil {
		names, all = r.in.Changed() // before the view: a later change is named again
	}
	var v *handlespace.View
	if r.in.View != nil {
		v = r.in.View()
	}
	var peers []Peer
	if r.in.Peers != nil {
		peers = r.in.Peers()
	}
	var cnt Counters
	if r.in.Counters != nil {
		cnt = r.in.Counters()
	}
	r.sampling.Lock()
	defer r.sampling.Unlock()
	r.pieces.Start()
	if r.nSeries < r.cfg.MaxPools && len(r.pools) > r.nSeries {
		all = true // a pool without series may get one: in name order
	}
	r.prepare(v, names, all)
	defer func() { clear(r.pre); r.pre = r.pre[:0]; clear(r.walks) }()
	r.mu.Lock()
	defer r.mu.Unlock()
	slot := r.slot(now)
	r.changes = 0
	if all {
		r.sampleAll(v, now)
	} else {
		r.sampleChanged(v, names, now)
	}
	for _, ps := range r.withSeries {
		r.pieces.Tick()
		if !ps.goneAt.IsZero() {
			continue // below
		}
		for i := range 4 {
			ps.series.s[i].add(slot, ps.counts[i])
		}
		changes := float32(0)
		if ps.sampled == r.samples {
			changes = float32(ps.changes)
		}
		ps.series.s[4].add(slot, changes)
		rate, lat := r.answers(ps, ps.pv, now)
		ps.series.s[5].add(slot, rate)
		ps.series.s[6].add(slot, lat)
	}
	for name, ps := range r.withSeries {
		r.pieces.Tick()
		if ps.goneAt.IsZero() {
			continue
		}
		if now.Sub(ps.goneAt) > r.longWindow() {
			r.dropTracks(ps)
			r.nSeries--
			delete(r.withSeries, name)
			delete(r.pools, name)
			continue
		}
		for i := range 4 {
			ps.series.s[i].add(slot, 0)
		}
		ps.series.s[4].add(slot, 0)
		ps.series.s[5].add(slot, 0)
		ps.series.s[6].add(slot, nan)
		ps.ansHave = false
	}
	r.expire(now)

	// The registrar's own series.
	g := r.global.s
	qps, lat := nan, nan
	if r.in.Counters != nil && r.haveCount && now.After(r.last) && cnt.Queries >= r.lastCount.Queries {
		qps = float32(float64(cnt.Queries-r.lastCount.Queries) / now.Sub(r.last).Seconds())
		if dn := cnt.Timed - r.lastCount.Timed; dn > 0 && cnt.TimedSum >= r.lastCount.TimedSum {
			lat = float32(float64(cnt.TimedSum-r.lastCount.TimedSum) / float64(dn) / float64(time.Microsecond))
		}
	}
	g[0].add(slot, qps)
	g[1].add(slot, lat)
	g[2].add(slot, float32(r.changes))
	up := nan
	if r.in.Peers != nil {
		up = 0
		for _, p := range peers {
			if p.State == PeerUp {
				up++
			}
		}
	}
	g[3].add(slot, up)
	g[4].add(slot, float32(r.total[1]))
	g[5].add(slot, float32(r.total[0]))
	r.peers = peers
	r.last, r.lastSlot, r.lastCount, r.haveCount = now, slot, cnt, r.in.Counters != nil
	r.samples++
	if r.in.Answers != nil && r.samples%retainEvery == 0 {
		pool := func(name string) *handlespace.PoolView {
			if v == nil {
				return nil
			}
			return v.Pool(name)
		}
		r.in.Answers.retain(func(name string) bool { return pool(name) != nil },
			func(name string, id uint32) bool { return pool(name).Element(id) != nil })
	}
}

// prepare diffs, before Sample takes the lock, each pool the sample will
// look at that walkChanges will take from its view walked last to its
// view in v, keeping the changes that are not quiet (ps.pre), and walks
// each pool that walk will take in full (prewalk). It reads the state
// without mu: only Sample, holding sampling, writes it. Quiet here is
// quiet when walkChanges comes to the change: what the sample does to
// other pools before only adds timelines (r.tracked), never one of this
// pool's elements; and walkChanges looks at what it is given in full,
// which for a quiet change changes nothing.
//
// It goes through the pools in the sample's order (by name) to know
// which get series (samplePool gives them in that order while there is
// room) and how many timelines the sample can still make when it comes
// to each pool walked in full: at most what is left when prepare came to
// it, as the pools before (walked in full or by their changes) only make
// timelines.
func (r *Recorder) prepare(v *handlespace.View, names []string, all bool) {
	if v == nil {
		return
	}
	var pvs []*handlespace.PoolView
	if all {
		for _, z := range v.Zones() {
			for _, h := range z.PoolHandles() {
				if pv := z.Pool(h); pv != nil {
					pvs = append(pvs, pv)
				}
			}
		}
		slices.SortFunc(pvs, func(a, b *handlespace.PoolView) int { return strings.Compare(a.Name, b.Name) })
	} else {
		slices.Sort(names) // as sampleChanged does
		for i, name := range names {
			if i > 0 && name == names[i-1] {
				continue // looked at once: the second finds it walked
			}
			if pv := v.Pool(name); pv != nil {
				pvs = append(pvs, pv)
			}
		}
	}
	seriesLeft := r.cfg.MaxPools - r.nSeries
	budget := r.cfg.MaxElements - r.tracked
	for _, pv := range pvs {
		r.pieces.Tick()
		ps := r.pools[pv.Name]
		gets := (ps == nil || ps.series == nil) && seriesLeft > 0 // series, and a walk for its timelines
		if gets {
			seriesLeft--
		}
		switch {
		case ps == nil || gets || ps.pv != pv && (ps.pv == nil || ps.homes == nil):
			if !r.loud {
				budget = r.prewalk(ps, pv, gets || ps != nil && ps.tracks != nil, budget)
			}
		case ps.pv != pv:
			lo := len(r.pre)
			handlespace.DiffElements(ps.pv, pv, func(was, e *handlespace.Element) {
				r.pieces.Tick()
				if !r.quiet(ps, was, e) {
					r.pre = append(r.pre, [2]*handlespace.Element{was, e})
				}
			})
			ps.pre = prepared{from: ps.pv, to: pv, sample: r.samples, lo: lo, hi: len(r.pre)}
		}
	}
}

// prewalk walks pool pv in full for walk, before the lock (ps, its state,
// may be nil): its counts and homes and, if it has timelines, the
// elements walk will look at (see prewalk), of which those without a
// timeline at most budget, which it returns less what it took.
func (r *Recorder) prewalk(ps *poolState, pv *handlespace.PoolView, tracks bool, budget int) int {
	pw := &prewalk{pv: pv, counts: poolCounts(pv), homes: map[uint32]int{}, tracks: tracks}
	var old map[uint32]*track
	if ps != nil {
		old = ps.tracks
	}
	for e := range pv.Range() {
		r.pieces.Tick()
		countElement(&pw.counts, pw.homes, e)
		if !tracks {
			continue
		}
		if old[e.ID] == nil {
			if budget <= 0 {
				pw.rest++
				continue
			}
			budget--
		}
		st, why := r.stateOf(pv.Name, e)
		pw.cands = append(pw.cands, walked{e, st, why})
	}
	if r.walks == nil {
		r.walks = map[string]*prewalk{}
	}
	r.walks[pv.Name] = pw
	return budget
}

// poolCounts is the counts of pv (elements, served, up, down) before its
// elements are walked: the first two, which pv knows.
func poolCounts(pv *handlespace.PoolView) [4]float32 {
	return [4]float32{float32(pv.Len()), float32(pv.All.Len())}
}

// countElement adds e to a walk's counts (up, down) and homes.
func countElement(counts *[4]float32, homes map[uint32]int, e *handlespace.Element) {
	switch e.Health {
	case handlespace.HealthUp:
		counts[2]++
	case handlespace.HealthDown:
		counts[3]++
	}
	homes[e.Home]++
}

// sampleAll is Sample's look at every pool of v, in name order.
func (r *Recorder) sampleAll(v *handlespace.View, now time.Time) {
	seen := map[string]bool{}
	var pvs []*handlespace.PoolView
	if v != nil {
		for _, z := range v.Zones() {
			for _, h := range z.PoolHandles() {
				if pv := z.Pool(h); pv != nil {
					pvs = append(pvs, pv)
				}
			}
		}
		slices.SortFunc(pvs, func(a, b *handlespace.PoolView) int { return strings.Compare(a.Name, b.Name) })
	}
	for _, pv := range pvs {
		r.pieces.Tick()
		seen[pv.Name] = true
		r.samplePool(pv.Name, pv, now)
	}
	for name, ps := range r.pools {
		r.pieces.Tick()
		if !seen[name] && ps.goneAt.IsZero() {
			r.samplePool(name, nil, now)
		}
	}
}

// sampleChanged is Sample's look at the pools named, in name order.
func (r *Recorder) sampleChanged(v *handlespace.View, names []string, now time.Time) {
	slices.Sort(names)
	for _, name := range names {
		r.pieces.Tick()
		var pv *handlespace.PoolView
		if v != nil {
			pv = v.Pool(name)
		}
		if pv != nil {
			r.samplePool(pv.Name, pv, now)
		} else if ps := r.pools[name]; ps != nil && ps.goneAt.IsZero() {
			r.samplePool(name, nil, now)
		}
	}
}

// samplePool takes pool name's view pv (nil: the pool is gone from the
// view) into its state, giving it series if there is room, and counts
// its changes.
func (r *Recorder) samplePool(name string, pv *handlespace.PoolView, now time.Time) {
	ps := r.pools[name]
	if pv == nil {
		ps.goneAt = now
		ps.changes, ps.sampled = 0, r.samples
		r.walkCounted(ps, nil, now)
		r.changes += ps.changes
		if ps.series == nil {
			r.dropTracks(ps)
			delete(r.pools, name)
		}
		return
	}
	if ps == nil {
		ps = &poolState{}
		r.pools[name] = ps
	}
	ps.goneAt = time.Time{}
	if ps.series == nil && r.nSeries < r.cfg.MaxPools {
		ps.series = r.newSet(poolSeries)
		ps.tracks = map[uint32]*track{}
		ps.pv = nil // walk it for its timelines
		r.nSeries++
		r.withSeries[name] = ps
	}
	ps.changes, ps.sampled = 0, r.samples
	if ps.pv != pv {
		r.walkCounted(ps, pv, now)
	}
	r.changes += ps.changes
}

// walkCounted is walk, keeping the totals of the counts and homes of all
// pools (O(registrars) for the homes).
func (r *Recorder) walkCounted(ps *poolState, pv *handlespace.PoolView, now time.Time) {
	for i, c := range ps.counts {
		r.total[i] -= float64(c)
	}
	for id, n := range ps.homes {
		if r.homes[id] -= n; r.homes[id] == 0 {
			delete(r.homes, id)
		}
	}
	r.walk(ps, pv, now)
	for i, c := range ps.counts {
		r.total[i] += float64(c)
	}
	for id, n := range ps.homes {
		r.homes[id] += n
	}
}

// answers returns a tracked pool's answers per second and the mean
// latency of its timed answers (µs) since the last sample (NaN without
// counts or timed answers) and takes its snapshot when it is due.
func (r *Recorder) answers(ps *poolState, pv *handlespace.PoolView, now time.Time) (rate, lat float32) {
	if r.in.Answers == nil {
		return nan, nan
	}
	snap := r.samples%shareEvery == 0
	var first map[uint32]uint64
	if snap {
		first = map[uint32]uint64{}
	}
	total, _ := r.in.Answers.read(pv.Name, first)
	rate, lat = nan, nan
	if ps.ansHave && now.After(r.last) {
		prev := ps.ansTotal
		if total.Answers < prev.Answers { // forgotten (cannot happen while the pool stays): start again
			prev = tally.Counts{}
		}
		rate = float32(float64(total.Answers-prev.Answers) / now.Sub(r.last).Seconds())
		if dn := total.Timed - prev.Timed; total.Timed > prev.Timed && total.TimedNS >= prev.TimedNS {
			lat = float32(float64(total.TimedNS-prev.TimedNS) / float64(dn) / float64(time.Microsecond))
		}
	}
	ps.ansTotal, ps.ansHave = total, true
	if snap {
		ps.snaps = append(ps.snaps, ansSnap{info: pv.PoolInfo, at: now, total: total.Answers, first: first})
		if len(ps.snaps) > shareSnaps {
			ps.snaps = append(ps.snaps[:0], ps.snaps[len(ps.snaps)-shareSnaps:]...)
		}
	}
	return rate, lat
}

func (r *Recorder) shortWindow() time.Duration { return time.Duration(r.cfg.Points) * r.cfg.Period }
func (r *Recorder) longWindow() time.Duration {
	return time.Duration(r.cfg.CoarsePoints*r.cfg.CoarseEvery) * r.cfg.Period
}

// walk takes pv's counts and, for a tracked pool, the states of its
// elements; pv nil: the pool is gone. A walk in full takes what prepare
// walked (prewalk), if it did: then it looks at the pool's timelines
// only, not at every element.
func (r *Recorder) walk(ps *poolState, pv *handlespace.PoolView, now time.Time) {
	if ps.pv != nil && pv != nil && ps.homes != nil {
		r.walkChanges(ps, pv, now)
		return
	}
	ps.noReason, ps.pre = nil, prepared{}
	ps.pv = pv
	ps.counts = [4]float32{}
	ps.homes = map[uint32]int{}
	ps.untracked = 0
	var seen map[uint32]bool
	if ps.tracks != nil {
		seen = make(map[uint32]bool, len(ps.tracks))
	}
	if pv != nil {
		ps.policy = pv.Spec.Policy
		if pw := r.walks[pv.Name]; pw != nil && pw.pv == pv && (pw.tracks || ps.tracks == nil) {
			ps.counts, ps.homes = pw.counts, pw.homes
			if ps.tracks != nil {
				for _, c := range pw.cands {
					r.pieces.Tick()
					seen[c.e.ID] = true
					r.walked(ps, c.e, c.st, c.why, now)
				}
				ps.untracked += pw.rest
			}
		} else {
			ps.counts = poolCounts(pv)
			for e := range pv.Range() {
				r.pieces.Tick()
				countElement(&ps.counts, ps.homes, e)
				if ps.tracks == nil {
					continue
				}
				seen[e.ID] = true
				st, why := r.stateOf(pv.Name, e)
				r.walked(ps, e, st, why, now)
			}
		}
	}
	for id, t := range ps.tracks {
		r.pieces.Tick()
		if !seen[id] && t.state != StateGone {
			r.change(ps, id, t, StateGone, "no longer in the pool (deregistered, expired or removed from its zone file)", now)
			ps.changes++
		}
	}
}

// walked takes element e of a tracked pool, in state st for reason why,
// into its timeline in a walk in full: a new timeline if it has none and
// there is room, else a change if its state changed.
func (r *Recorder) walked(ps *poolState, e *handlespace.Element, st, why string, now time.Time) {
	t := ps.tracks[e.ID]
	if t == nil {
		if r.tracked >= r.cfg.MaxElements {
			ps.untracked++
			return
		}
		r.tracked++
		ps.tracks[e.ID] = &track{label: strings.Clone(e.Label.String()), state: st, reason: clip(why), since: now}
		ps.awaitReason(e.ID, st, why)
		return
	}
	if t.label != e.Label.String() {
		t.label = strings.Clone(e.Label.String())
	}
	if t.state == st {
		if why != "" && t.reason == "" {
			t.reason = clip(why) // the probe's error came after the change
		}
		ps.awaitReason(e.ID, st, t.reason)
		return
	}
	r.change(ps, e.ID, t, st, why, now)
	ps.awaitReason(e.ID, st, why)
	ps.changes++
}

// walkChanges is walk from the view walked last to pv, reading only the
// elements that differ (handlespace.DiffElements): O(d log n) for d
// changes in a pool of n, so that a registration in a pool of a million
// does not cost the sampler a walk of the million. A change the history
// cannot see (a refresh: a new lease end, load or RTT) costs the
// comparison of the element's two versions (quiet), and nothing else.
func (r *Recorder) walkChanges(ps *poolState, pv *handlespace.PoolView, now time.Time) {
	old := ps.pv
	ps.pv = pv
	ps.policy = pv.Spec.Policy
	ps.counts[0] = float32(pv.Len())
	ps.counts[1] = float32(pv.All.Len())
	count := func(e *handlespace.Element, d int) {
		switch e.Health {
		case handlespace.HealthUp:
			ps.counts[2] += float32(d)
		case handlespace.HealthDown:
			ps.counts[3] += float32(d)
		}
		if ps.homes[e.Home] += d; ps.homes[e.Home] == 0 {
			delete(ps.homes, e.Home)
		}
	}
	change := func(was, e *handlespace.Element) {
		r.pieces.Tick()
		if r.quiet(ps, was, e) {
			return
		}
		if was != nil {
			count(was, -1)
		}
		if e != nil {
			count(e, 1)
		}
		if ps.tracks == nil {
			return
		}
		if e == nil {
			t := ps.tracks[was.ID]
			switch {
			case t == nil:
				ps.untracked-- // (an element of the last walk without a track was counted)
			case t.state != StateGone:
				r.change(ps, was.ID, t, StateGone, "no longer in the pool (deregistered, expired or removed from its zone file)", now)
				ps.changes++
			}
			delete(ps.noReason, was.ID)
			return
		}
		st, why := r.stateOf(pv.Name, e)
		if was != nil && ps.tracks[e.ID] == nil {
			ps.untracked-- // counted at the last walk; walked counts it again if there is still no room
		}
		r.walked(ps, e, st, why, now)
	}
	if p := ps.pre; p.from == old && p.to == pv && p.sample == r.samples {
		for _, c := range r.pre[p.lo:p.hi] {
			change(c[0], c[1])
		}
	} else {
		handlespace.DiffElements(old, pv, change)
	}
	ps.pre = prepared{}
	// The elements down without a reason yet: the probe's error may have
	// come after the change.
	for id := range ps.noReason {
		r.pieces.Tick()
		t, e := ps.tracks[id], pv.Element(id)
		if t == nil || e == nil {
			delete(ps.noReason, id)
			continue
		}
		if st, why := r.stateOf(pv.Name, e); st == t.state && why != "" && t.reason == "" {
			t.reason = clip(why)
		}
		ps.awaitReason(id, t.state, t.reason)
	}
}

// quiet reports whether the change of an element of ps from was to e
// (both there) changes nothing the history keeps: its counts and home,
// and, where it has a timeline, its state and label (what stateOf reads
// besides Reason, which a down element without a reason has read again
// each sample through noReason). An element without a timeline that
// could get one now (tracked under MaxElements) is not quiet: a change
// gives it one, as a full walk would.
func (r *Recorder) quiet(ps *poolState, was, e *handlespace.Element) bool {
	if r.loud || was == nil || e == nil || was.Health != e.Health || was.Home != e.Home {
		return false
	}
	if ps.tracks == nil {
		return true
	}
	if was.Admin != e.Admin || was.Reported != e.Reported || disputed(was) != disputed(e) || was.Label.String() != e.Label.String() {
		return false
	}
	return r.tracked >= r.cfg.MaxElements || ps.tracks[e.ID] != nil
}

// awaitReason notes whether element id's track, in state st with reason
// why, waits for a reason that may come later (walkChanges looks again).
func (ps *poolState) awaitReason(id uint32, st, why string) {
	if st == StateDown && why == "" {
		if ps.noReason == nil {
			ps.noReason = map[uint32]struct{}{}
		}
		ps.noReason[id] = struct{}{}
	} else if ps.noReason != nil {
		delete(ps.noReason, id)
	}
}

// maxReason is the longest reason kept (a probe's error can quote a
// body).
const maxReason = 200

// change ends t's current span at now and starts one in state st; t is
// element id's track in ps.
func (r *Recorder) change(ps *poolState, id uint32, t *track, st, why string, now time.Time) {
	why = clip(why)
	t.past = append(t.past, span{from: t.since, to: now, state: t.state, reason: t.reason})
	if len(t.past) > r.cfg.MaxSpans {
		t.past = append(t.past[:0], t.past[len(t.past)-r.cfg.MaxSpans:]...)
	}
	t.state, t.reason, t.since = st, why, now
	r.schedule(ps, id, t)
}

// expire drops spans older than the short window and gone elements whose
// last change is. It looks only at the tracks that have something to
// drop (r.due): O(log n) for each, however many tracks there are.
func (r *Recorder) expire(now time.Time) {
	cut := now.Add(-r.shortWindow())
	for len(r.due) > 0 && r.due[0].at.Before(cut) {
		r.pieces.Tick()
		d := heap.Pop(&r.due).(due)
		t := d.t
		if d.ps.tracks[d.id] != t {
			continue // dropped since
		}
		t.queued = false
		i := 0
		for i < len(t.past) && t.past[i].to.Before(cut) {
			i++
		}
		if i > 0 {
			t.past = append(t.past[:0], t.past[i:]...)
		}
		if t.state == StateGone && t.since.Before(cut) {
			delete(d.ps.tracks, d.id)
			r.tracked--
			continue
		}
		r.schedule(d.ps, d.id, t)
	}
}

// schedule puts t (element id's track in ps) in r.due if it has a span,
// or is gone, and is not there yet: at the end of its oldest span, or
// when it went. (Spans end in the order of the samples, so the oldest
// span's end is the first thing of t that expires.)
func (r *Recorder) schedule(ps *poolState, id uint32, t *track) {
	if t.queued {
		return
	}
	var at time.Time
	switch {
	case len(t.past) > 0:
		at = t.past[0].to
	case t.state == StateGone:
		at = t.since
	default:
		return
	}
	t.queued = true
	heap.Push(&r.due, due{at: at, ps: ps, id: id, t: t})
}

// due is a track with something to expire at at.
type due struct {
	at time.Time
	ps *poolState
	id uint32
	t  *track
}

// dueHeap is a min-heap of dues by at (container/heap).
type dueHeap []due

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(due)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = due{}
	*h = old[:len(old)-1]
	return x
}

func (r *Recorder) dropTracks(ps *poolState) {
	r.tracked -= len(ps.tracks)
	ps.tracks = nil
}

// stateOf is an element's timeline state and its reason.
func (r *Recorder) stateOf(pool string, e *handlespace.Element) (string, string) {
	switch {
	case e.Admin == handlespace.AdminForceDown:
		return StateForcedDown, "forced down by an operator"
	case disputed(e):
		return StateDisputed, "the registrars' vantage points disagree on its health (it stays in the answers)"
	case e.Health == handlespace.HealthDown:
		why := ""
		if r.in.Reason != nil {
			why = r.in.Reason(pool, e.ID)
		}
		if why == "" && r.in.Self != nil && e.Home != r.in.Self() {
			why = "down at its home registrar " + handlespace.IDString(e.Home)
		}
		return StateDown, why
	case e.Admin == handlespace.AdminDrain:
		return StateDrained, "drained by an operator"
	case e.Reported:
		return StateReported, "reported unreachable by pool users (max_bad_reports)"
	case e.Health == handlespace.HealthUnknown:
		return StateUnknown, "not probed yet"
	}
	return StateUp, ""
}

// Event records a peering event at at: its kind (takeover-done,
// sync-done, …), the peer it concerns, its target (a registrar taken
// over), a count of elements and a detail.
func (r *Recorder) Event(at time.Time, kind string, peer, target uint32, count int, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := event{at: at, kind: kind, peer: peer, target: target, count: count, detail: detail}
	r.events[r.evHead] = ev
	r.evHead = (r.evHead + 1) % len(r.events)
	r.evN = min(r.evN+1, len(r.events))
	switch kind {
	case "sync-done", "sync-abort", "resync":
		if peer != 0 {
			r.peerEvents[peer] = ev
		}
	}
	if handoverKinds[kind] {
		r.handovers[r.hoHead] = ev
		r.hoHead = (r.hoHead + 1) % len(r.handovers)
		r.hoN = min(r.hoN+1, len(r.handovers))
	}
	if len(r.peerEvents) > 4*r.cfg.MaxEvents { // peers come and go: forget the oldest
		var oldest uint32
		var t time.Time
		for id, e := range r.peerEvents {
			if t.IsZero() || e.at.Before(t) {
				oldest, t = id, e.at
			}
		}
		delete(r.peerEvents, oldest)
	}
}

// maxHandovers is how many takeovers and hand-offs are kept.
const maxHandovers = 64

// handoverKinds are the events of elements changing home: takeovers
// (a peer died) and planned hand-offs (a peer left, on SIGTERM), with
// their ends.
var handoverKinds = map[string]bool{
	"takeover-start": true, "takeover-abort": true, "takeover-done": true, "taken-over": true,
	"ownership-lost": true, "reclaimed": true,
	"handoff-start": true, "handoff-done": true, "handoff-in": true, "handback": true,
}

// recentHandovers returns the takeovers and hand-offs kept, newest first.
func (r *Recorder) recentHandovers() []event {
	out := make([]event, 0, r.hoN)
	for i := 1; i <= r.hoN; i++ {
		out = append(out, r.handovers[mod(int64(r.hoHead-i), int64(len(r.handovers)))])
	}
	return out
}

// recentEvents returns the events kept, newest first.
func (r *Recorder) recentEvents() []event {
	out := make([]event, 0, r.evN)
	for i := 1; i <= r.evN; i++ {
		out = append(out, r.events[mod(int64(r.evHead-i), int64(len(r.events)))])
	}
	return out
}

// seriesNames returns the names of the pools with series (at most
// MaxPools, gone ones included), sorted.
func (r *Recorder) seriesNames() []string {
	out := make([]string, 0, len(r.withSeries))
	for n := range r.withSeries {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// clip shortens a reason to maxReason bytes, at a rune boundary.
func clip(s string) string {
	if len(s) <= maxReason {
		return s
	}
	i := maxReason
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// disputed reports whether the element's vantage points disagree, when
// the handlespace knows of vantage points (an Element with a Disputed
// method); false when it does not.
func disputed(e *handlespace.Element) bool {
	d, ok := any(e).(interface{ Disputed() bool })
	return ok && d.Disputed()
}
