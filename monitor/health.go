package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/probe"
	"github.com/poolnsd/poolnsd/store"
)

// The last known health of elements, kept in the store and given back at
// a start (probe.start), so that a restarted registrar serves at once what
// it served before rather than nothing until its probes pass.

// StartMode says what health a probed element has at a start, before its
// first probe (the setting probe.start).
type StartMode uint8

const (
	// StartLast: the last known health from the store, provisionally; an
	// element the store has nothing for starts unknown. The default.
	StartLast StartMode = iota
	// StartUnknown: unknown, not served until a probe passes.
	StartUnknown
	// StartUp: up, provisionally: served until probes say otherwise.
	StartUp
)

func (m StartMode) String() string {
	switch m {
	case StartUnknown:
		return "unknown"
	case StartUp:
		return "up"
	default:
		return "last"
	}
}

// ParseStartMode parses "last", "unknown" or "up".
func ParseStartMode(s string) (StartMode, error) {
	switch s {
	case "last":
		return StartLast, nil
	case "unknown":
		return StartUnknown, nil
	case "up":
		return StartUp, nil
	}
	return 0, fmt.Errorf("unknown value %q, want last, unknown or up", s)
}

// StartHealth is the health a probed element starts with under mode,
// given what the store holds for it (stored, when has), and whether that
// health is provisional: kept only until the element's probes decide, as
// for an unknown element (probe.Tracker.Observe): the first pass makes it
// up, fall failures in a row make it down.
func StartHealth(mode StartMode, stored handlespace.Health, has bool) (h handlespace.Health, provisional bool) {
	switch {
	case mode == StartUp:
		return handlespace.HealthUp, true
	case mode == StartLast && has && (stored == handlespace.HealthUp || stored == handlespace.HealthDown):
		return stored, true
	}
	return handlespace.HealthUnknown, false
}

// RestoreHealth gives each probed element of hs that is unknown the health
// StartHealth says, one new view per pool. stored has the store's healths
// by Key. It returns the healths it gave, by Key, for Config.Provisional,
// and how many elements it made up and down.
func RestoreHealth(hs *handlespace.Handlespace, mode StartMode, stored map[string]handlespace.Health) (given map[string]handlespace.Health, up, down int, err error) {
	if mode == StartUnknown {
		return nil, 0, 0, nil
	}
	given = map[string]handlespace.Health{}
	for _, z := range hs.View().Zones() {
		for _, handle := range z.PoolHandles() {
			pv := z.Pool(handle)
			if pv == nil {
				continue
			}
			fs := map[uint32]func(*handlespace.Element){}
			for e := range pv.Range() {
				if e.Health != handlespace.HealthUnknown || !pv.ProbeSpec(e).Probed() {
					continue
				}
				k := Key(pv.Name, e.ID)
				s, has := stored[k]
				h, _ := StartHealth(mode, s, has)
				if h == handlespace.HealthUnknown {
					continue
				}
				given[k] = h
				if h == handlespace.HealthUp {
					up++
				} else {
					down++
				}
				fs[e.ID] = func(e *handlespace.Element) {
					if e.Health == handlespace.HealthUnknown {
						e.Health = h
					}
				}
			}
			if len(fs) == 0 {
				continue
			}
			if err := hs.UpdateMany(pv.Name, fs); err != nil {
				return given, up, down, fmt.Errorf("restore the health of %d elements of %s: %w", len(fs), pv.Name, err)
			}
		}
	}
	return given, up, down, nil
}

// HealthStore is where a Keeper writes: a batch of healths in one
// transaction (store.Store).
type HealthStore interface {
	PutHealth(ws []store.HealthWrite, at time.Time) error
}

var _ HealthStore = (*store.Store)(nil)

// KeeperConfig configures a Keeper. Zero values have defaults.
type KeeperConfig struct {
	// Every is how often the changes are written (default DefaultKeepEvery).
	Every time.Duration
	// Stored is what the store holds, by Key, for the first write to
	// leave out what is already there (nil: the first write has every
	// element's health).
	Stored map[string]handlespace.Health
	// Clock is the source of time (default probe.SystemClock()).
	Clock probe.Clock
	// Logger gets a line when a write fails, and a debug line per write
	// (default slog.Default()).
	Logger *slog.Logger
}

// DefaultKeepEvery is how often a Keeper writes by default: a crash loses
// at most the last second of health changes, and a flapping handlespace
// costs one transaction a second, not one per probe.
const DefaultKeepEvery = time.Second

// Keeper keeps the last known health of the handlespace's elements in a
// store, in batches: every KeeperConfig.Every it compares the pools that
// have a new view with the ones it wrote last (handlespace.DiffElements,
// which skips what a change did not touch) and writes what changed in one
// transaction. Many health changes between two writes cost one write, and
// probe results that change nothing cost nothing.
//
// What it keeps of each element is what the view says: up or down, from
// this registrar's probes or its peers'. An unknown element keeps what was
// last known (a start or a new home is not news of its health); an element
// that leaves the view, or whose pool no longer probes it, is removed.
// Keeper's methods are for one goroutine (Run's, or the caller's).
type Keeper struct {
	hs    *handlespace.Handlespace
	store HealthStore
	cfg   KeeperConfig
	// last is the pool views of the last write, by name.
	last map[string]*handlespace.PoolView
	// watch names the pools changed since the last write (nil after Run:
	// every Flush looks at every pool).
	watch *handlespace.Watch
}

// NewKeeper returns a Keeper of hs writing to store.
func NewKeeper(hs *handlespace.Handlespace, store HealthStore, cfg KeeperConfig) *Keeper {
	if cfg.Every <= 0 {
		cfg.Every = DefaultKeepEvery
	}
	if cfg.Clock == nil {
		cfg.Clock = probe.SystemClock()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Keeper{hs: hs, store: store, cfg: cfg, last: map[string]*handlespace.PoolView{}, watch: hs.Watch()}
}

// Run writes every Every until ctx ends, then writes once more (so that a
// clean stop keeps the latest) and returns. (It then stops following the
// handlespace's changes: a Flush after Run looks at every pool.)
func (k *Keeper) Run(ctx context.Context) {
	t := k.cfg.Clock.NewTimer(k.cfg.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			k.Flush()
			if k.watch != nil {
				k.watch.Close()
				k.watch = nil
			}
			return
		case <-t.C():
			k.Flush()
			t.Reset(k.cfg.Every)
		}
	}
}

// keptHealth is what the store should have for e of pv: its health when
// up or down, HealthUnknown (nothing) when its pool does not probe it;
// keep is false for an unknown element, whose last known health stays.
func keptHealth(pv *handlespace.PoolView, e *handlespace.Element) (h handlespace.Health, keep bool) {
	if !pv.ProbeSpec(e).Probed() {
		return handlespace.HealthUnknown, true
	}
	return e.Health, e.Health != handlespace.HealthUnknown
}

// Flush writes what changed since the last write, in one transaction, and
// returns how many elements it wrote. If the write fails it is logged and
// tried again at the next Flush. It looks only at the pools that changed
// since the last Flush (a handlespace.Watch), so that with nothing
// changed it costs nothing, however many pools there are.
func (k *Keeper) Flush() int {
	var names []string
	all := true
	if k.watch != nil {
		names, all = k.watch.Changed()
	}
	var ws []store.HealthWrite
	v := k.hs.View()
	var next map[string]*handlespace.PoolView // all: every pool's view; else the changed ones' (nil: gone)
	if all {
		next = make(map[string]*handlespace.PoolView, len(k.last))
		for _, z := range v.Zones() {
			for _, handle := range z.PoolHandles() {
				if pv := z.Pool(handle); pv != nil {
					next[pv.Name] = pv
					ws = k.diff(ws, k.last[pv.Name], pv)
				}
			}
		}
		for name, old := range k.last {
			if next[name] == nil {
				ws = k.diff(ws, old, nil)
			}
		}
	} else {
		next = make(map[string]*handlespace.PoolView, len(names))
		for _, name := range names {
			pv := v.Pool(name)
			next[name] = pv
			ws = k.diff(ws, k.last[name], pv)
		}
	}
	if err := k.store.PutHealth(ws, k.cfg.Clock.Now()); err != nil {
		k.cfg.Logger.Error("cannot keep the elements' health in the store; trying again", "elements", len(ws), "err", err.Error())
		if k.watch != nil {
			k.watch.Requeue(names, all)
		}
		return 0
	}
	if all {
		k.last = next
	} else {
		for name, pv := range next {
			if pv == nil {
				delete(k.last, name)
			} else {
				k.last[name] = pv
			}
		}
	}
	k.cfg.Stored = nil
	if len(ws) > 0 {
		k.cfg.Logger.Debug("health kept", "elements", len(ws))
	}
	return len(ws)
}

// diff appends to ws what the store needs to go from pool view old (the
// last write's; nil: none) to pv (nil: the pool is gone).
func (k *Keeper) diff(ws []store.HealthWrite, old, pv *handlespace.PoolView) []store.HealthWrite {
	if old == pv {
		return ws
	}
	if pv == nil {
		for e := range old.Range() {
			ws = append(ws, store.HealthWrite{Pool: old.Name, ID: e.ID})
		}
		return ws
	}
	handlespace.DiffElements(old, pv, func(was, now *handlespace.Element) {
		if now == nil {
			ws = append(ws, store.HealthWrite{Pool: pv.Name, ID: was.ID})
			return
		}
		h, keep := keptHealth(pv, now)
		if !keep {
			return
		}
		// What the store has: the last write's view says, or at the
		// first write the baseline, or (without one) nobody knows.
		had, known := handlespace.HealthUnknown, false
		switch {
		case old != nil && was != nil:
			had, known = keptHealth(old, was)
		case old != nil:
			known = true // added since the last write: nothing stored
		case k.cfg.Stored != nil:
			had, known = k.cfg.Stored[Key(pv.Name, now.ID)], true
		}
		if known && had == h {
			return
		}
		ws = append(ws, store.HealthWrite{Pool: pv.Name, ID: now.ID, Health: h})
	})
	return ws
}
