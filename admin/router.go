package admin

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/enrp/enrpnet"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/metrics"
	"github.com/poolnsd/poolnsd/metrics/metered"
	"github.com/poolnsd/poolnsd/monitor"
	"github.com/poolnsd/poolnsd/store"
)

// DefaultWait bounds how long a change sent to the element's home may take
// to come back (Config.Wait's default).
const DefaultWait = 2 * time.Second

// errNoMonitor is the error of a change or report before SetMonitor.
var errNoMonitor = errors.New("the monitor is not started yet")

// Peering is what the Router asks of registrar peering to reach the home
// of an element homed elsewhere; *enrpnet.Driver is one.
type Peering interface {
	// RequestAdmin asks the element's home to set its administrative
	// state, and returns the home.
	RequestAdmin(pool string, id uint32, a handlespace.Admin) (uint32, error)
	// RequestReport passes a failure report on to the element's home, and
	// returns the home.
	RequestReport(pool string, id uint32, from netip.Addr) (uint32, error)
	// WatchRefusals returns the refusals of this registrar's requests for
	// the element that come back from its home, until stop is called.
	WatchRefusals(pool string, id uint32) (refused <-chan *enrp.RefusedError, stop func())
}

var _ Peering = (*enrpnet.Driver)(nil)

// Config is what a Router works on.
type Config struct {
	// Handlespace is the registrar's handlespace: where the elements and
	// their homes are looked up, and whose changes a change sent to the
	// home waits for.
	Handlespace *handlespace.Handlespace
	// Store keeps the administrative states of the elements homed here.
	Store *store.Store
	// Self is this registrar's identifier.
	Self uint32
	// Wait bounds how long a change sent to the element's home may take
	// to show here; 0 is DefaultWait.
	Wait time.Duration
	// Metrics counts the failure reports that peers pass on (nil: none).
	Metrics *metrics.Metrics
}

// Router sets administrative states and takes failure reports, here or at
// the element's home. Its methods are safe for concurrent use.
type Router struct {
	hs      *handlespace.Handlespace
	store   *store.Store
	self    uint32
	wait    time.Duration
	metrics *metrics.Metrics

	// mu orders the local changes, so that the store and the handlespace
	// end in the same state, and guards mon and peers.
	mu    sync.Mutex
	mon   *monitor.Monitor
	peers Peering // nil without peering
}

// New returns a Router on cfg, without a monitor (SetMonitor) or peering
// (SetPeering) yet.
func New(cfg Config) *Router {
	if cfg.Wait <= 0 {
		cfg.Wait = DefaultWait
	}
	return &Router{hs: cfg.Handlespace, store: cfg.Store, self: cfg.Self, wait: cfg.Wait, metrics: cfg.Metrics}
}

// SetMonitor gives the Router the monitor, which applies the changes and
// counts the reports of the elements homed here.
func (r *Router) SetMonitor(m *monitor.Monitor) {
	r.mu.Lock()
	r.mon = m
	r.mu.Unlock()
}

// SetPeering gives the Router the way to the homes of the elements homed
// elsewhere.
func (r *Router) SetPeering(p Peering) {
	r.mu.Lock()
	r.peers = p
	r.mu.Unlock()
}

// Set makes the change: here if the element is homed here (or there is no
// peering), else at its home.
func (r *Router) Set(pool string, id uint32, a handlespace.Admin) error {
	r.mu.Lock()
	peers := r.peers
	r.mu.Unlock()
	if peers != nil {
		if e := lookupElement(r.hs.View(), pool, id); e != nil && e.Home != r.self {
			return r.setAtHome(peers, pool, id, a)
		}
	}
	return r.SetLocal(pool, id, a)
}

// setAtHome asks the element's home for the change and waits until this
// registrar's view shows it.
func (r *Router) setAtHome(peers Peering, pool string, id uint32, a handlespace.Admin) error {
	changed := r.hs.Subscribe()
	defer r.hs.Unsubscribe(changed)
	refused, stop := peers.WatchRefusals(pool, id)
	defer stop()
	home, err := peers.RequestAdmin(pool, id, a)
	var hu *enrp.HomeUnavailableError
	switch {
	case errors.Is(err, enrp.ErrHomeHere):
		// The peering table has it homed here already (a move on its way
		// to the handlespace).
		return r.SetLocal(pool, id, a)
	case errors.As(err, &hu):
		return &httpapi.HomeError{Status: http.StatusServiceUnavailable, Home: hu.Home, Msg: hu.Error()}
	case errors.Is(err, enrp.ErrNoSuchElement):
		return &httpapi.HomeError{Status: http.StatusServiceUnavailable, Home: home,
			Msg: "peering does not know this element yet; the change was not made (try again)"}
	case err != nil:
		return &httpapi.HomeError{Status: http.StatusServiceUnavailable, Home: home, Msg: err.Error() + "; the change was not made"}
	}
	deadline := time.NewTimer(r.wait)
	defer deadline.Stop()
	for {
		e := lookupElement(r.hs.View(), pool, id)
		switch {
		case e == nil:
			return fmt.Errorf("element %s of %s: %w (gone while its home made the change)", handlespace.IDString(id), pool, handlespace.ErrNoElement)
		case e.Admin == a:
			return nil
		}
		select {
		case <-changed:
		case re := <-refused:
			if re.Request != wire.ParamXAdminReq {
				continue // a refused failure report of the element
			}
			return refusedError(re, "the change was not made")
		case <-deadline.C:
			return &httpapi.HomeError{Status: http.StatusGatewayTimeout, Home: home,
				Msg: fmt.Sprintf("the change was sent to the element's home registrar %s, which did not confirm it within %v (see its log; a poolnsd older than this one ignores such requests); it may still take effect",
					handlespace.IDString(home), r.wait)}
		}
	}
}

// Report takes a pool user's failure report: counted here by the monitor
// if the element is homed here (or there is no peering), else passed on
// to its home (after this registrar's own per-client rate limit, so that
// a flood here is not multiplied there), which counts it by the
// reporter's address and announces what comes of it. A report passed on
// returns the home, and an outcome with no count: the home keeps it.
func (r *Router) Report(pool string, id uint32, from netip.Addr) (monitor.ReportOutcome, uint32, error) {
	r.mu.Lock()
	peers, mon := r.peers, r.mon
	r.mu.Unlock()
	if mon == nil {
		return monitor.ReportOutcome{}, 0, errNoMonitor
	}
	e := lookupElement(r.hs.View(), pool, id)
	if peers == nil || e == nil || e.Home == r.self || e.Home == 0 {
		out, err := mon.Report(pool, id, from)
		return out, 0, err
	}
	if err := mon.AllowReport(from); err != nil {
		return monitor.ReportOutcome{}, 0, err
	}
	home, err := peers.RequestReport(pool, id, from)
	var hu *enrp.HomeUnavailableError
	switch {
	case err == nil:
		return monitor.ReportOutcome{Removed: e.Reported}, home, nil
	case errors.Is(err, enrp.ErrHomeHere):
		out, err := mon.ReportAllowed(pool, id, from)
		return out, 0, err
	case errors.As(err, &hu):
		return monitor.ReportOutcome{}, 0, &httpapi.HomeError{Status: http.StatusServiceUnavailable, Home: hu.Home,
			Msg: strings.Replace(hu.Error(), "the change was not made", "the report was not passed on", 1)}
	case errors.Is(err, enrp.ErrNoSuchElement):
		return monitor.ReportOutcome{}, 0, &httpapi.HomeError{Status: http.StatusServiceUnavailable, Home: e.Home,
			Msg: "peering does not know this element yet; the report was not passed on to its home (try again)"}
	default:
		return monitor.ReportOutcome{}, 0, &httpapi.HomeError{Status: http.StatusServiceUnavailable, Home: e.Home,
			Msg: err.Error() + "; the report was not passed on to the element's home"}
	}
}

// ReportLocal counts a failure report that a peer passed on for an
// element homed here, by the reporter's address, and in the metrics
// (via=peer) as a report made here is.
func (r *Router) ReportLocal(req enrp.ReportRequest) error {
	r.mu.Lock()
	mon := r.mon
	r.mu.Unlock()
	if mon == nil {
		return errNoMonitor
	}
	out, err := mon.Report(req.Pool, req.ID, req.Reporter)
	if o := metered.ReportOutcome(out.Removed, false, err); o != "" {
		r.metrics.FailureReport(metrics.ReportViaPeer, o)
	}
	if errors.Is(err, monitor.ErrRateLimited) {
		return fmt.Errorf("too many failure reports from %s", req.Reporter)
	}
	return err
}

// refusedError is the API's error for a request that the element's home
// refused: 409 when the home's view of the element is not this
// registrar's (it is homed elsewhere now, or gone there: try again once
// the views agree), 503 when the home could not carry it out.
func refusedError(re *enrp.RefusedError, outcome string) error {
	status := http.StatusServiceUnavailable
	if re.Stale() {
		status = http.StatusConflict
	}
	return &httpapi.HomeError{Status: status, Home: re.Home, Msg: re.Error() + "; " + outcome}
}

// SetLocal stores a, then applies it. An element that does not exist is
// the monitor's error and nothing is stored. It is how a peer's request for
// an element homed here is applied too.
func (r *Router) SetLocal(pool string, id uint32, a handlespace.Admin) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mon == nil {
		return errNoMonitor
	}
	if !Exists(r.hs.View(), pool, id) {
		return r.mon.SetAdmin(pool, id, a) // its error names what is missing
	}
	if err := r.store.PutAdmin(pool, id, a); err != nil {
		return fmt.Errorf("administrative state not changed: %w", err)
	}
	return r.mon.SetAdmin(pool, id, a)
}

// Exists reports whether view v has element id of pool.
func Exists(v *handlespace.View, pool string, id uint32) bool {
	return lookupElement(v, pool, id) != nil
}

func lookupElement(v *handlespace.View, pool string, id uint32) *handlespace.Element {
	pv := v.Pool(pool)
	if pv == nil {
		return nil
	}
	return pv.Element(id)
}
