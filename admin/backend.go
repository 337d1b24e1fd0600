package admin

import (
	"errors"
	"net/netip"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/monitor"
)

// Backend serves the HTTP API from the handlespace, the monitor (probe
// status, failure reports) and a Router (changes at the element's home).
type Backend struct {
	hs     *handlespace.Handlespace
	mon    *monitor.Monitor
	rate   int // reports.rate, for Retry-After
	router *Router
}

var _ httpapi.Backend = Backend{}

// NewBackend returns the API's backend: rate is the failure reports a
// client may make a second (reports.rate), which sets the Retry-After of a
// refused one.
func NewBackend(hs *handlespace.Handlespace, mon *monitor.Monitor, rate int, r *Router) Backend {
	return Backend{hs: hs, mon: mon, rate: rate, router: r}
}

// View is the handlespace's current view.
func (b Backend) View() *handlespace.View { return b.hs.View() }

// ProbeStatus is the monitor's last probe of the element (ok false if it
// is not probed here).
func (b Backend) ProbeStatus(pool string, id uint32) (httpapi.ProbeStatus, bool) {
	return ProbeStatus(b.mon, pool, id)
}

// ProbeStatus is mon's last probe of element id of pool as the API shows
// it: ok false if mon does not probe it.
func ProbeStatus(mon *monitor.Monitor, pool string, id uint32) (httpapi.ProbeStatus, bool) {
	st, ok := mon.Status(pool, id)
	if !ok {
		return httpapi.ProbeStatus{}, false
	}
	r := st.Last
	return httpapi.ProbeStatus{At: r.At.Add(r.RTT), OK: r.OK, Err: r.Err, RTT: r.RTT, SRTT: st.SRTT}, true
}

// Report takes a failure report (Router.Report); one over the client's
// rate is an *httpapi.RateLimitError with the wait.
func (b Backend) Report(pool string, id uint32, from netip.Addr) (httpapi.ReportOutcome, error) {
	out, home, err := b.router.Report(pool, id, from)
	if errors.Is(err, monitor.ErrRateLimited) {
		return httpapi.ReportOutcome{}, &httpapi.RateLimitError{RetryAfter: time.Second / time.Duration(max(b.rate, 1))}
	}
	return httpapi.ReportOutcome{Reports: out.Reports, Removed: out.Removed, Forwarded: home}, err
}

// SetAdmin makes an administrative change (Router.Set).
func (b Backend) SetAdmin(pool string, id uint32, a handlespace.Admin) error {
	return b.router.Set(pool, id, a)
}
