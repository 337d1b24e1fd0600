package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/poolnsd/poolnsd/enrp"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/metrics"
	"github.com/poolnsd/poolnsd/monitor"
	"github.com/poolnsd/poolnsd/store"
)

// Administrative states (drain, force-down) are kept in the store, so that
// an element drained for maintenance stays out of the answers across a
// restart: written before the change is acknowledged, put back at start
// after the zones and the registrations are loaded.

//
// With peering, a change is made at the element's home only: the home
// keeps it in its store and sends it to every peer in its HANDLE_UPDATE.
// A change asked for at another registrar goes to the home as a request
// (enrp.Driver.RequestAdmin), and the API call returns when this
// registrar's view shows the home's update (adminWait at most).

// adminWait bounds how long a change sent to the element's home may take
// to come back.
const adminWait = 2 * time.Second

// adminKeeper sets administrative states through the monitor and keeps
// them in the store. mu orders the changes so that the store and the
// handlespace end in the same state. mon and drv are set as the daemon
// starts the monitor and peering (under mu).
type adminKeeper struct {
	mu    sync.Mutex
	hs    *handlespace.Handlespace
	mon   *monitor.Monitor
	store *store.Store
	drv   *enrp.Driver // nil without peering
	self  uint32
	wait  time.Duration
	// metrics counts the failure reports that peers pass on (nil: none).
	metrics *metrics.Metrics
}

func (k *adminKeeper) setMonitor(m *monitor.Monitor) {
	k.mu.Lock()
	k.mon = m
	k.mu.Unlock()
}

func (k *adminKeeper) setDriver(d *enrp.Driver) {
	k.mu.Lock()
	k.drv = d
	k.mu.Unlock()
}

// set makes the change: here if the element is homed here (or there is no
// peering), else at its home.
func (k *adminKeeper) set(pool string, id uint32, a handlespace.Admin) error {
	k.mu.Lock()
	drv := k.drv
	k.mu.Unlock()
	if drv != nil {
		if e := lookupElement(k.hs.View(), pool, id); e != nil && e.Home != k.self {
			return k.setAtHome(drv, pool, id, a)
		}
	}
	return k.setLocal(pool, id, a)
}

// setAtHome asks the element's home for the change and waits until this
// registrar's view shows it.
func (k *adminKeeper) setAtHome(drv *enrp.Driver, pool string, id uint32, a handlespace.Admin) error {
	changed := k.hs.Subscribe()
	defer k.hs.Unsubscribe(changed)
	refused, stop := drv.WatchRefusals(pool, id)
	defer stop()
	home, err := drv.RequestAdmin(pool, id, a)
	var hu *enrp.HomeUnavailableError
	switch {
	case errors.Is(err, enrp.ErrHomeHere):
		// The peering table has it homed here already (a move on its way
		// to the handlespace).
		return k.setLocal(pool, id, a)
	case errors.As(err, &hu):
		return &httpapi.HomeError{Status: http.StatusServiceUnavailable, Home: hu.Home, Msg: hu.Error()}
	case errors.Is(err, enrp.ErrNoSuchElement):
		return &httpapi.HomeError{Status: http.StatusServiceUnavailable, Home: home,
			Msg: "peering does not know this element yet; the change was not made (try again)"}
	case err != nil:
		return &httpapi.HomeError{Status: http.StatusServiceUnavailable, Home: home, Msg: err.Error() + "; the change was not made"}
	}
	wait := k.wait
	if wait <= 0 {
		wait = adminWait
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		e := lookupElement(k.hs.View(), pool, id)
		switch {
		case e == nil:
			return fmt.Errorf("element %s of %s: %w (gone while its home made the change)", handlespace.IDString(id), pool, handlespace.ErrNoElement)
		case e.Admin == a:
			return nil
		}
		select {
		case <-changed:
		case re := <-refused:
			if re.Request != enrp.ParamXAdminReq {
				continue // a refused failure report of the element
			}
			return refusedError(re, "the change was not made")
		case <-deadline.C:
			return &httpapi.HomeError{Status: http.StatusGatewayTimeout, Home: home,
				Msg: fmt.Sprintf("the change was sent to the element's home registrar %s, which did not confirm it within %v (see its log; a poolnsd older than this one ignores such requests); it may still take effect",
					handlespace.IDString(home), wait)}
		}
	}
}

// report takes a pool user's failure report: counted here by the monitor
// if the element is homed here (or there is no peering), else passed on
// to its home (after this registrar's own per-client rate limit, so that
// a flood here is not multiplied there), which counts it by the
// reporter's address and announces what comes of it. The outcome of a
// report passed on names the home (Forwarded) and has no count: the home
// keeps it.
func (k *adminKeeper) report(pool string, id uint32, from netip.Addr) (monitor.ReportOutcome, uint32, error) {
	k.mu.Lock()
	drv, mon := k.drv, k.mon
	k.mu.Unlock()
	if mon == nil {
		return monitor.ReportOutcome{}, 0, errors.New("the monitor is not started yet")
	}
	e := lookupElement(k.hs.View(), pool, id)
	if drv == nil || e == nil || e.Home == k.self || e.Home == 0 {
		out, err := mon.Report(pool, id, from)
		return out, 0, err
	}
	if err := mon.AllowReport(from); err != nil {
		return monitor.ReportOutcome{}, 0, err
	}
	home, err := drv.RequestReport(pool, id, from)
	var hu *enrp.HomeUnavailableError
	switch {
	case err == nil:
		return monitor.ReportOutcome{Removed: e.Reported}, home, nil
	case errors.Is(err, enrp.ErrHomeHere):
		out, err := mon.Report(pool, id, from)
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

// reportLocal counts a failure report that a peer passed on for an
// element homed here, by the reporter's address, and in the metrics
// (via=peer) as a report made here is.
func (k *adminKeeper) reportLocal(r enrp.ReportRequest) error {
	k.mu.Lock()
	mon := k.mon
	k.mu.Unlock()
	if mon == nil {
		return errors.New("the monitor is not started yet")
	}
	out, err := mon.Report(r.Pool, r.ID, r.Reporter)
	if o := reportOutcome(out.Removed, false, err); o != "" {
		k.metrics.FailureReport(metrics.ReportViaPeer, o)
	}
	if errors.Is(err, monitor.ErrRateLimited) {
		return fmt.Errorf("too many failure reports from %s", r.Reporter)
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

// setLocal stores a, then applies it. An element that does not exist is
// the monitor's error and nothing is stored. It is how a peer's request for
// an element homed here is applied too.
func (k *adminKeeper) setLocal(pool string, id uint32, a handlespace.Admin) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.mon == nil {
		return errors.New("the monitor is not started yet")
	}
	if !elementExists(k.hs.View(), pool, id) {
		return k.mon.SetAdmin(pool, id, a) // its error names what is missing
	}
	if err := k.store.PutAdmin(pool, id, a); err != nil {
		return fmt.Errorf("administrative state not changed: %w", err)
	}
	return k.mon.SetAdmin(pool, id, a)
}

func elementExists(v *handlespace.View, pool string, id uint32) bool {
	return lookupElement(v, pool, id) != nil
}

func lookupElement(v *handlespace.View, pool string, id uint32) *handlespace.Element {
	pv := v.Pool(pool)
	if pv == nil {
		return nil
	}
	return pv.Element(id)
}

// keepHomedAdmin keeps the store's administrative states of zone-file
// elements in step with where they are homed, after the live set moved
// them: the home keeps the states of the elements homed here (one that it
// took over keeps the drain its old home announced, across a restart), and
// forgets those of the elements homed elsewhere (their home keeps them).
// Registered elements go with their registrations (peering's keepStore).
func (k *adminKeeper) keepHomedAdmin() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	v := k.hs.View()
	stored := map[string]handlespace.Admin{}
	if err := k.store.Admins(func(pool string, id uint32, a handlespace.Admin) {
		stored[pool+" "+handlespace.IDString(id)] = a
	}); err != nil {
		return err
	}
	for _, z := range v.Zones() {
		for _, h := range z.PoolHandles() {
			pv := z.Pool(h)
			if pv == nil {
				continue
			}
			for e := range pv.Range() {
				if !e.Static {
					continue
				}
				want := handlespace.AdminAuto
				if e.Home == k.self {
					want = e.Admin
				}
				if stored[pv.Name+" "+handlespace.IDString(e.ID)] == want {
					continue
				}
				if err := k.store.PutAdmin(pv.Name, e.ID, want); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// restoreAdmin puts the stored administrative states back on the elements
// that exist, and drops the stored states of elements that do not (an
// element a zone file no longer has). One log line per restored element.
func (d *daemon) restoreAdmin() error {
	v := d.hs.View()
	type stored struct {
		pool  string
		id    uint32
		a     handlespace.Admin
		label string
	}
	var states []*stored
	byPool := map[string]map[uint32]func(*handlespace.Element){}
	if err := d.store.Admins(func(pool string, id uint32, a handlespace.Admin) {
		if !elementExists(v, pool, id) {
			return // pruneAdmin drops it
		}
		st := &stored{pool: pool, id: id, a: a}
		states = append(states, st)
		if byPool[pool] == nil {
			byPool[pool] = map[uint32]func(*handlespace.Element){}
		}
		byPool[pool][id] = func(e *handlespace.Element) { e.Admin, st.label = a, e.Label }
	}); err != nil {
		return err
	}
	// One new view per pool, not per element.
	for pool, fs := range byPool {
		if err := d.hs.UpdateMany(pool, fs); err != nil {
			return fmt.Errorf("restore the administrative states of %d elements of %s: %w", len(fs), pool, err)
		}
	}
	for _, st := range states {
		d.log.Info("admin state restored", "pool", st.pool, "element", handlespace.IDString(st.id), "name", st.label, "state", st.a.String())
	}
	dropped, err := d.pruneAdmin()
	if err != nil {
		return err
	}
	if len(states) > 0 || dropped > 0 {
		d.log.Info("admin states", "restored", len(states), "dropped", dropped)
	}
	return nil
}

// pruneAdmin drops the stored administrative states of elements that the
// handlespace does not have (after a reload removed them from a zone
// file), so that an element of the same ID added later starts in auto.
func (d *daemon) pruneAdmin() (int, error) {
	v := d.hs.View()
	return d.store.PruneAdmins(func(pool string, id uint32) bool { return elementExists(v, pool, id) })
}
