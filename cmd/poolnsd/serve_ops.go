package main

// The operator side of serve: metrics, readiness (and systemd's
// notifications of it), the operator endpoints beside the JSON API (the
// status page at /, /metrics, /readyz), and the reload of the
// configuration's live keys.

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/poolnsd/poolnsd/config"
	"github.com/poolnsd/poolnsd/config/reload"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/internal/loglimit"
	"github.com/poolnsd/poolnsd/internal/sdnotify"
	"github.com/poolnsd/poolnsd/metrics"
	"github.com/poolnsd/poolnsd/webui"
	"github.com/spf13/pflag"
)

// operator is the operator side of a daemon: metrics, readiness, the
// operator endpoints, the keys SIGHUP changes.
type operator struct {
	metrics *metrics.Metrics
	level   *slog.LevelVar
	// flags are the parsed flags of serve, to load the configuration again
	// on SIGHUP with the same flags over it.
	flags *pflag.FlagSet
	// hs is the handlespace once the store is open, for the gauges and the
	// API gate (the HTTP listener may serve before there is one).
	hs atomic.Pointer[handlespace.Handlespace]

	ready atomic.Bool
	phase atomic.Pointer[string] // why not ready: "starting: loading zones", "stopping"

	// newAPI builds the JSON API's handler with the credentials of cfg
	// (reload.API); whoever wires the API sets it (setAPI), and SIGHUP
	// rebuilds the handler when one of them changes.
	newAPI func(cfg config.Config) http.Handler
	api    atomic.Pointer[http.Handler]

	// httpAddr is the HTTP listener's bound address, once it serves.
	httpAddr atomic.Pointer[string]

	// routes adds handlers to the HTTP listener's mux (the demo's); onReady
	// runs once the server is ready. Set before start.
	routes  func(mux *http.ServeMux)
	onReady func()
}

func newOperator(flags *pflag.FlagSet, level *slog.LevelVar, log *slog.Logger) *operator {
	o := &operator{flags: flags, level: level}
	o.metrics = metrics.New(metrics.Options{
		Version: versionString(),
		View: func() *handlespace.View {
			if hs := o.hs.Load(); hs != nil {
				return hs.View()
			}
			return nil
		},
		Logger: log,
	})
	o.setPhase("starting")
	return o
}

// newLiveLogger returns the logger that log.level and log.format ask for,
// with its level in a LevelVar that SIGHUP can change, and the limit of
// repeated lines (log.repeat_limit: a flood of refused updates or
// unauthenticated HTTP writes writes a summary, not a line each), which
// the caller closes last to write its pending summaries.
func newLiveLogger(cfg config.Config, w io.Writer) (*slog.Logger, *slog.LevelVar, *loglimit.Handler) {
	level := new(slog.LevelVar)
	level.Set(cfg.LogLevel())
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.Log.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	lim := loglimit.New(h, loglimit.Options{
		Limit:    cfg.Log.RepeatLimit,
		Interval: cfg.LogRepeatInterval(),
		Exempt:   []string{"query"}, // log.queries: every line, as asked
	})
	return slog.New(lim), level, lim
}

// httpURL is the base URL of the HTTP listener: its bound address if it
// serves, else http.listen.
func (o *operator) httpURL(cfg config.Config) string {
	addr := cfg.HTTP.Listen
	if a := o.httpAddr.Load(); a != nil {
		addr = *a
	}
	u, err := serverURL(addr)
	if err != nil {
		return "http://" + addr
	}
	return u.String()
}

// setPhase marks the server not ready, saying why.
func (o *operator) setPhase(why string) {
	o.phase.Store(&why)
	o.ready.Store(false)
	o.metrics.SetReady(false)
}

// setReady marks the server ready: zones loaded, store open, DNS served.
func (o *operator) setReady() {
	o.ready.Store(true)
	o.metrics.SetReady(true)
	sdnotify.Notify("READY=1\nSTATUS=serving")
}

// setAPI installs the JSON API: newAPI builds its handler with the
// credentials of a configuration (reload.API).
func (d *daemon) setAPI(newAPI func(cfg config.Config) http.Handler) {
	d.ops.newAPI = newAPI
	h := newAPI(d.cfg)
	d.ops.api.Store(&h)
}

// httpHandler is the handler of the HTTP listener: the status page (GET /
// and /ui/), GET /metrics, GET /readyz, and the JSON API (set with setAPI)
// for everything else. Until the handlespace exists the API answers 503.
func (d *daemon) httpHandler() http.Handler {
	mux := http.NewServeMux()
	ui := webui.Handler()
	mux.Handle("GET /{$}", ui)
	mux.Handle("GET /ui/", ui)
	mux.Handle("GET /metrics", d.ops.metrics.Handler())
	mux.HandleFunc("GET /readyz", d.readyz)
	if d.ops.routes != nil {
		d.ops.routes(mux)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h := d.ops.api.Load()
		if h == nil || d.ops.hs.Load() == nil {
			httpapi.WriteJSON(w, r, http.StatusServiceUnavailable, map[string]any{"error": "the server is " + *d.ops.phase.Load()})
			return
		}
		(*h).ServeHTTP(w, r)
	})
	return mux
}

// readyz answers 200 {"ready": true} once the zones are loaded, the store
// is open and DNS is served, and 503 with the reason before that and from
// the moment the server begins to stop.
func (d *daemon) readyz(w http.ResponseWriter, r *http.Request) {
	if d.ops.ready.Load() {
		httpapi.WriteJSON(w, r, http.StatusOK, map[string]any{"ready": true})
		return
	}
	httpapi.WriteJSON(w, r, http.StatusServiceUnavailable, map[string]any{"ready": false, "reason": *d.ops.phase.Load()})
}

// errNotReloaded is a part of the configuration that was not reloaded
// (its applier has logged why).
var errNotReloaded = errors.New("not reloaded")

// reloadConfig loads the configuration again (file, environment, the same
// flags) and applies the live parts (config/reload plans which); it logs
// the other keys that changed, which keep their running values until a
// restart. A configuration with errors changes nothing.
func (d *daemon) reloadConfig() {
	if d.ops.flags == nil {
		return
	}
	cfg, warns, err := config.Load(config.LoadOptions{Flags: d.ops.flags})
	if err != nil {
		logErrors(d.log, "configuration not reloaded; keeping the running one", err)
		return
	}
	for _, w := range warns {
		d.log.Warn(w)
	}
	plan := reload.New(d.cfg, cfg, func(p reload.Part) bool { return p != reload.API || d.ops.newAPI != nil })
	apply := map[reload.Part]reload.Applier{
		reload.LogLevel: func(c config.Config) error { d.ops.level.Set(c.LogLevel()); return nil },
		reload.QueryLog: func(c config.Config) error {
			if d.dns != nil {
				d.dns.Handler().SetQueryLog(c.Log.Queries)
			}
			return nil
		},
		reload.API: func(c config.Config) error { // newAPI reads only the part's keys of c
			h := d.ops.newAPI(c)
			d.ops.api.Store(&h)
			return nil
		},
		reload.TSIG: func(c config.Config) error {
			if err := d.dns.Handler().SetTSIG(tsigKeys(c.TSIG)); err != nil {
				// Load checked the keys as the DNS front does: not expected.
				d.log.Error("TSIG keys not reloaded; keeping the running ones", "err", err.Error())
				return err
			}
			// Names and what changed, never a secret.
			d.log.Info("TSIG keys reloaded", "added", plan.TSIGAdded, "removed", plan.TSIGRemoved, "changed", plan.TSIGChanged, "keys", len(c.TSIG))
			return nil
		},
		reload.CDS: d.applyCDS, // dnssec.go
		reload.Sites: func(c config.Config) error {
			if !d.applySitesConfig(c) { // serve_sites.go; it has logged why
				return errNotReloaded
			}
			return nil
		},
	}
	if d.dns != nil {
		apply[reload.Protections] = func(c config.Config) error {
			p, err := d.loadProtections(c, d.protect)
			if err != nil {
				d.log.Error("DNS protections not reloaded; keeping the running ones", "err", err.Error())
				return err
			}
			old := d.protect
			d.protect = p
			d.dns.Handler().SetProtections(p)
			if old.RRL != p.RRL {
				d.rrlRetired.Retire(old.RRL)
			}
			return nil
		}
	}
	plan.Apply(&d.cfg, cfg, apply)
	if !plan.Changed(reload.Sites) {
		d.reloadSites("SIGHUP") // the same database, read again
	}
	applied := plan.Applied()
	if len(applied) > 0 {
		d.log.Info("configuration reloaded", "applied", applied)
	}
	if len(applied)+len(plan.Restart) == 0 {
		d.log.Debug("configuration reloaded; nothing changed")
	}
	if len(plan.Restart) > 0 {
		d.log.Warn("configuration keys changed that apply only at a restart; they keep their running values", "keys", plan.Restart)
	}
}

// listenHTTP binds http.listen and serves httpHandler on it: first thing at
// the start, so that /readyz says why the server is not ready while it
// opens the store and loads the zones (the API joins with startHTTP). It
// returns exitOK or the exit code of the failure, which it has logged.
func (d *daemon) listenHTTP() int {
	if d.cfg.HTTP.Listen == "" {
		return exitOK
	}
	srv, err := httpapi.Start(d.cfg.HTTP.Listen, d.httpHandler(), d.log)
	if err != nil {
		d.logListenError("cannot serve HTTP", "http.listen", err)
		return exitRuntime
	}
	d.api = srv
	addr := srv.Addr().String()
	d.ops.httpAddr.Store(&addr)
	return exitOK
}
