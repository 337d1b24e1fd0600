package main

import (
	"context"
	"errors"
	"net/netip"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/monitor"
	"github.com/poolnsd/poolnsd/probe"
)

// The HTTP API (http.listen): the pools, failure reports, admin states and
// the registration endpoints, over the monitor (probes and reports).
//
// Merge note: issue 3 wires the monitor and the API too; one wiring is to
// stay, with httpapi.Config.Registrar set to the registrar.

// monitorBackend serves the API from the monitor and the handlespace.
type monitorBackend struct {
	hs  *handlespace.Handlespace
	mon *monitor.Monitor
}

var _ httpapi.Backend = monitorBackend{}

func (b monitorBackend) View() *handlespace.View { return b.hs.View() }

func (b monitorBackend) ProbeStatus(pool string, id uint32) (httpapi.ProbeStatus, bool) {
	r, ok := b.mon.Status(pool, id)
	if !ok {
		return httpapi.ProbeStatus{}, false
	}
	return httpapi.ProbeStatus{At: r.At, OK: r.OK, Err: r.Err, RTT: r.RTT}, true
}

func (b monitorBackend) Report(pool string, id uint32, from netip.Addr) (httpapi.ReportOutcome, error) {
	out, err := b.mon.Report(pool, id, from)
	if errors.Is(err, monitor.ErrRateLimited) {
		return httpapi.ReportOutcome{}, httpapi.ErrRateLimited
	}
	return httpapi.ReportOutcome{Reports: out.Reports, Removed: out.Removed}, err
}

func (b monitorBackend) SetAdmin(pool string, id uint32, a handlespace.Admin) error {
	return b.mon.SetAdmin(pool, id, a)
}

// startHTTP starts the monitor and, when http.listen is set, the API. It
// returns exitOK or the exit code of the failure, which it has logged.
func (d *daemon) startHTTP() int {
	d.mon = monitor.New(d.hs, monitor.Config{
		Self:          d.store.RegistrarID(),
		MaxBadReports: d.cfg.Reports.MaxBad,
		ReportWindow:  d.cfg.ReportWindow(),
		ReportRate:    float64(d.cfg.Reports.Rate),
		ReportBurst:   d.cfg.Reports.Burst,
		Probe:         probe.Config{Workers: d.cfg.Probe.Workers},
		Logger:        d.log,
	})
	ctx, cancel := context.WithCancel(context.Background())
	d.monDone = make(chan error, 1)
	d.monStop = cancel
	go func() { d.monDone <- d.mon.Run(ctx) }()
	if d.cfg.HTTP.Listen == "" {
		return exitOK
	}
	h := httpapi.NewHandler(monitorBackend{d.hs, d.mon}, httpapi.Config{
		Token:     d.cfg.HTTP.Token,
		Logger:    d.log,
		Registrar: d.reg,
	})
	var err error
	if d.api, err = httpapi.Start(d.cfg.HTTP.Listen, h, d.log); err != nil {
		d.log.Error("cannot serve the HTTP API", "err", err.Error())
		return exitRuntime
	}
	return exitOK
}

// httpErr is the API's serving-loop error channel (nil without an API).
func (d *daemon) httpErr() <-chan error {
	if d.api == nil {
		return nil
	}
	return d.api.Err()
}

// stopHTTP stops the API and the monitor.
func (d *daemon) stopHTTP(ctx context.Context) {
	if d.api != nil {
		if err := d.api.Shutdown(ctx); err != nil {
			d.log.Warn("HTTP API shutdown", "err", err.Error())
		}
	}
	if d.monStop != nil {
		d.monStop()
		<-d.monDone
	}
}
