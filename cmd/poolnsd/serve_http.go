package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/poolnsd/poolnsd/admin"
	"github.com/poolnsd/poolnsd/config"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/metrics"
	"github.com/poolnsd/poolnsd/metrics/metered"
	"github.com/poolnsd/poolnsd/monitor"
	"github.com/poolnsd/poolnsd/probe"
)

// The monitor (probes of the elements homed here, failure reports, admin
// states) and the HTTP API (http.listen) over it and the registrar.

// startHTTP starts the monitor, homed at this registrar, and when
// http.listen is set the API. It returns exitOK or the exit code of the
// failure, which it has logged.
func (d *daemon) startHTTP() int {
	mcfg := monitor.Config{
		Self:          d.store.RegistrarID(),
		MaxBadReports: d.cfg.Reports.MaxBad,
		ReportWindow:  d.cfg.ReportWindow(),
		ReportRate:    float64(d.cfg.Reports.Rate),
		ReportBurst:   d.cfg.Reports.Burst,
		Probe:         probe.Config{Workers: d.cfg.Probe.Workers, Checkers: d.ops.metrics.InstrumentCheckers(nil)},
		RTTInterval:   d.cfg.RTTInterval(),
		Logger:        d.log,
		OnHealthChange: func(_ string, _ uint32, _, to handlespace.Health) {
			d.ops.metrics.HealthChange(to)
		},
		Provisional: d.givenHealth(),
		Source:      d.cfg.ProbeSource(),
		Turn:        d.reg.Pacer().Turn, // as the history's (serve_history.go)
	}
	if d.peering != nil && d.cfg.Health.Confirm > 0 {
		mcfg.Confirmer = d.peering.drv
	}
	d.mon = monitor.New(d.hs, mcfg)
	if d.vantage != nil {
		d.vantage.mon.Store(d.mon)
	}
	d.admin.SetMonitor(d.mon)
	d.ops.metrics.SetProbeStats(d.mon.Stats)
	ctx, cancel := context.WithCancel(context.Background())
	d.monDone = make(chan error, 1)
	d.monStop = cancel
	go func() { d.monDone <- d.mon.Run(ctx) }()
	d.log.Info("probing", "elements", d.mon.Stats().Targets, "workers", d.cfg.Probe.Workers, "reports", d.mon.String(),
		"rtt_samples", d.mon.SampleStats().Targets, "rtt_interval", d.cfg.RTTInterval().String())
	if d.cfg.HTTP.Listen == "" {
		return exitOK
	}
	// The listener serves since the start (listenHTTP, serve_ops.go): the
	// API joins the status page, /metrics and /readyz on it now, counted in
	// the metrics. SIGHUP rebuilds it when http.token, http.report_token or
	// reports.allow changes.
	backend := metered.Backend{Backend: admin.NewBackend(d.hs, d.mon, d.cfg.Reports.Rate, d.admin), M: d.ops.metrics, ID: d.hs.RegistrarID()}
	reg := metered.Registrar{Committer: d.reg, M: d.ops.metrics}
	d.setAPI(func(cfg config.Config) http.Handler {
		return httpapi.NewHandler(backend, httpapi.Config{Token: cfg.HTTP.Token, ReportToken: cfg.HTTP.ReportToken,
			ReportAllow: cfg.ReportAllow(), AllowLoopback: d.cfg.Registration.AllowLoopback, Logger: d.log, Registrar: reg,
			History: d.historySource(),
			AuthRefused: func(registration bool) {
				if registration {
					d.ops.metrics.Rejected(metrics.SourceHTTP, metrics.CauseAuth)
				}
			}})
	})
	switch {
	case d.cfg.HTTP.Token == "" && d.cfg.HTTP.ReportToken == "" && len(d.cfg.Reports.Allow) == 0:
		d.log.Warn("http.token is empty: the HTTP API's write endpoints are refused")
	case d.cfg.HTTP.Token == "":
		d.log.Warn("http.token is empty: the HTTP API's write endpoints are refused, but for failure reports (http.report_token, reports.allow)")
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

// stopHTTP stops the HTTP listener (letting its requests finish until ctx
// ends) and the monitor (the probes in flight end at their timeouts), and
// waits for both; later calls do nothing.
func (d *daemon) stopHTTP(ctx context.Context) {
	if d.api != nil {
		if err := d.api.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			d.log.Warn("HTTP API shutdown", "err", err.Error())
		}
		d.api = nil
	}
	if d.monStop != nil {
		d.monStop()
		if err := <-d.monDone; err != nil {
			d.log.Warn("prober", "err", err.Error())
		}
		d.monStop = nil
	}
}
