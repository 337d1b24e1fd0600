package main

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/monitor"
	"github.com/poolnsd/poolnsd/probe"
)

// probing is the part of a running poolnsd that watches the elements: the
// monitor (prober, failure reports, admin states) and the HTTP API over it.
type probing struct {
	mon    *monitor.Monitor
	api    *httpapi.Server // nil when http.listen is ""
	cancel context.CancelFunc
	done   chan error // Run's result
}

// startProbing starts the monitor over the handlespace, homed at this
// registrar, and the HTTP API. It returns exitOK or the exit code of the
// failure, which it has logged.
func (d *daemon) startProbing() int {
	cfg := d.cfg
	mon := monitor.New(d.hs, monitor.Config{
		Self:          d.store.RegistrarID(),
		MaxBadReports: cfg.Reports.MaxBad,
		ReportWindow:  cfg.ReportWindow(),
		ReportRate:    float64(cfg.Reports.Rate),
		ReportBurst:   cfg.Reports.Burst,
		Probe:         probe.Config{Workers: cfg.Probe.Workers},
		Logger:        d.log,
	})
	p := &probing{mon: mon, done: make(chan error, 1)}
	if cfg.HTTP.Listen != "" {
		h := httpapi.NewHandler(apiBackend{d.hs, mon, cfg.Reports.Rate}, httpapi.Config{Token: cfg.HTTP.Token, Logger: d.log})
		api, err := httpapi.Start(cfg.HTTP.Listen, h, d.log)
		if err != nil {
			d.log.Error("cannot serve the HTTP API", "err", err.Error())
			return exitRuntime
		}
		if cfg.HTTP.Token == "" {
			d.log.Warn("http.token is empty: the HTTP API's write endpoints (failure reports, admin states) are refused")
		}
		p.api = api
		go func() {
			if err := <-api.Err(); err != nil {
				d.log.Error("HTTP API failed; DNS goes on", "err", err.Error())
			}
		}()
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() { p.done <- mon.Run(ctx) }()
	d.probing = p
	d.log.Info("probing", "elements", mon.Stats().Targets, "workers", cfg.Probe.Workers, "reports", mon.String())
	return exitOK
}

// stopProbing stops the HTTP API (letting its requests finish) and the
// prober (cancelling its probes), and waits for both.
func (d *daemon) stopProbing(ctx context.Context) {
	p := d.probing
	if p == nil {
		return
	}
	if p.api != nil {
		if err := p.api.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			d.log.Warn("HTTP API shutdown", "err", err.Error())
		}
	}
	p.cancel()
	if err := <-p.done; err != nil {
		d.log.Warn("prober", "err", err.Error())
	}
	d.probing = nil
}

// apiBackend serves the HTTP API from the handlespace and the monitor.
type apiBackend struct {
	hs   *handlespace.Handlespace
	mon  *monitor.Monitor
	rate int // reports.rate, for Retry-After
}

var _ httpapi.Backend = apiBackend{}

func (b apiBackend) View() *handlespace.View { return b.hs.View() }

func (b apiBackend) ProbeStatus(pool string, id uint32) (httpapi.ProbeStatus, bool) {
	st, ok := b.mon.Status(pool, id)
	if !ok {
		return httpapi.ProbeStatus{}, false
	}
	r := st.Last
	return httpapi.ProbeStatus{At: r.At.Add(r.RTT), OK: r.OK, Err: r.Err, RTT: r.RTT, SRTT: st.SRTT}, true
}

func (b apiBackend) Report(pool string, id uint32, from netip.Addr) (httpapi.ReportOutcome, error) {
	out, err := b.mon.Report(pool, id, from)
	if errors.Is(err, monitor.ErrRateLimited) {
		return httpapi.ReportOutcome{}, &httpapi.RateLimitError{RetryAfter: time.Second / time.Duration(max(b.rate, 1))}
	}
	return httpapi.ReportOutcome{Reports: out.Reports, Removed: out.Removed}, err
}

func (b apiBackend) SetAdmin(pool string, id uint32, a handlespace.Admin) error {
	return b.mon.SetAdmin(pool, id, a)
}
