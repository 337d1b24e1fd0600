package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/poolnsd/poolnsd/admin"
	"github.com/poolnsd/poolnsd/config"
	"github.com/poolnsd/poolnsd/dnsfront"
	"github.com/poolnsd/poolnsd/dnsfront/dnsserve"
	"github.com/poolnsd/poolnsd/dnssec"
	"github.com/poolnsd/poolnsd/handlespace"
	_ "github.com/poolnsd/poolnsd/handlespace/policy" // the selection policies register themselves
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/internal/loglimit"
	"github.com/poolnsd/poolnsd/internal/rrl"
	"github.com/poolnsd/poolnsd/internal/sdnotify"
	"github.com/poolnsd/poolnsd/metrics"
	"github.com/poolnsd/poolnsd/metrics/metered"
	"github.com/poolnsd/poolnsd/monitor"
	"github.com/poolnsd/poolnsd/regcommit"
	"github.com/poolnsd/poolnsd/store"
	"github.com/poolnsd/poolnsd/zones"
	"github.com/spf13/pflag"
)

const (
	// reloadDebounce is how long the zones directory must be quiet after a
	// change before the zones are reloaded: an editor's save or a copy is
	// several events. A zone file written in place is reloaded once its
	// writer has closed it too (zones.Watch, on Linux).
	reloadDebounce = 200 * time.Millisecond
	// expireEvery is the period of the lease-expiry sweep: the slot of the
	// registrar's lease wheel, so a sweep walks one slot.
	expireEvery = 100 * time.Millisecond
	// shutdownGrace is how long queries in flight may take at shutdown.
	shutdownGrace = 5 * time.Second
)

// daemon is a running poolnsd: what serve wires together.
type daemon struct {
	cfg   config.Config
	log   *slog.Logger
	store *store.Store
	hs    *handlespace.Handlespace
	dns   *dnsfront.Server
	ops   *operator // serve_ops.go: metrics, readiness, operator endpoints

	reg     *regcommit.Committer // registrations (serve_register.go)
	mon     *monitor.Monitor     // probes and failure reports (serve_http.go)
	monStop context.CancelFunc
	monDone chan error
	api     *httpapi.Server // nil when http.listen is ""

	peering *peering // serve_enrp.go; nil without peering
	// vantage joins peering's confirmations and hand-offs to the monitor
	// (serve_vantage.go).
	vantage *vantageLink
	// health keeps the elements' last known health in the store
	// (serve_health.go).
	health *healthKeeper
	// admin makes administrative changes and takes failure reports:
	// locally or at the element's home.
	admin *admin.Router
	sites siteState // serve_sites.go
	// protect are the DNS front's protections (serve_protect.go), which
	// SIGHUP replaces.
	protect *dnsfront.Protections
	// rrlRetired are the counts of rate limiters a reload replaced, for
	// the metrics (serve_protect.go).
	rrlRetired rrl.Totals
	// logLimit limits repeated log lines; the metrics read its counts.
	logLimit *loglimit.Handler
	// watch tells of changes in the zones directory (nil when zones_watch
	// is off or the directory cannot be watched).
	watch *zones.Watcher
	// hist is the status page's history (serve_history.go).
	hist *historyRun

	dnssec *dnssec.Keeper // dnssec.go: the signer and its keys
	// cds is the CDS mode of each zone (dnssec.cds_off, cds_delete),
	// which a reload replaces (dnssec.go).
	cds atomic.Pointer[func(zone string) dnssec.CDSMode]
	// signalOff is dnssec.signal_off's set of zones, which a reload
	// replaces (dnssec.go).
	signalOff atomic.Pointer[map[string]bool]

	// cleanup is what start made that must be stopped or closed, last
	// first: a failed start unwinds it, and so does stop.
	cleanup cleanupStack
}

// cleanupStack is the daemon's teardown: each step of the start that
// makes something to stop or close pushes how, at the place in the stack
// where stopping it belongs (a step that finds nothing to stop does
// nothing, so a stop may be pushed before what it stops is started).
type cleanupStack []func(ctx context.Context) error

// push adds a step, to run before those pushed earlier.
func (s *cleanupStack) push(f func(ctx context.Context) error) { *s = append(*s, f) }

// unwind runs the steps, last pushed first, once each, and returns their
// errors joined.
func (s *cleanupStack) unwind(ctx context.Context) error {
	var errs []error
	for len(*s) > 0 {
		f := (*s)[len(*s)-1]
		*s = (*s)[:len(*s)-1]
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}

// logErrors logs each line of err as one error line.
func logErrors(log *slog.Logger, msg string, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		log.Error(msg, "err", line)
	}
}

func serve(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	config.RegisterFlags(fs)
	if code, ok := parseFlags(fs, "serve", args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "poolnsd serve: unexpected argument %q; see poolnsd help\n", fs.Arg(0))
		return exitUsage
	}
	cfg, warns, ok := loadConfig(fs, stderr)
	if !ok {
		return exitUsage
	}
	return runServe(fs, cfg, warns, stderr, nil)
}

// runServe runs a daemon on cfg until a signal stops it and returns the
// exit code. prepare, if not nil, gets the daemon before it starts (the
// demo uses it).
func runServe(fs *pflag.FlagSet, cfg config.Config, warns []string, stderr io.Writer, prepare func(*daemon) error) int {
	log, level, logLimit := newLiveLogger(cfg, stderr)
	defer logLimit.Close()
	for _, w := range warns {
		log.Warn(w)
	}
	file := cfg.File
	if file == "" {
		file = "none"
	}
	gogc, memLimit := gcDefaults()
	log.Info("starting", "version", versionString(), "config", file, "gogc", gogc, "gomemlimit", memLimit)

	// Take the signals before anything is served, so that a SIGTERM during
	// start-up is not lost.
	sigc := make(chan os.Signal, 4)
	signal.Notify(sigc, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigc)

	d := &daemon{cfg: cfg, log: log, ops: newOperator(fs, level, log), logLimit: logLimit}
	if prepare != nil {
		if err := prepare(d); err != nil {
			log.Error("cannot start", "err", err.Error())
			return exitRuntime
		}
	}
	if code := d.start(); code != exitOK {
		return code
	}
	return d.loop(sigc)
}

// start opens the store, loads the zones and the registrations, and starts
// the DNS front. It returns exitOK or the exit code of the failure, which
// it has logged, after undoing what it had started.
//
// What it starts is pushed on d.cleanup in the order that stop undoes it
// (last pushed, first undone): the DNS front, then the HTTP API and the
// monitor, the history, peering, the registrar, the DNSSEC keys' timer,
// the zones' watch, the health keeper (after the monitor and peering: the
// last health they set), and the store last.
func (d *daemon) start() int {
	code := d.startSteps()
	if code != exitOK {
		d.cleanup.unwind(context.Background())
	}
	return code
}

func (d *daemon) startSteps() int {
	var err error
	if code := d.listenHTTP(); code != exitOK {
		return code
	}
	d.cleanup.push(func(ctx context.Context) error { d.stopHTTP(ctx); return nil }) // a failed start's
	d.ops.setPhase("starting: opening the store")
	if d.store, err = store.OpenWith(d.cfg.Data, store.Options{Logger: d.log, LogCompact: int64(d.cfg.Store.LogCompact) << 20}); err != nil {
		d.log.Error("cannot open the store", "err", err.Error())
		return exitRuntime
	}
	d.cleanup.push(func(context.Context) error {
		if err := d.store.Close(); err != nil {
			d.log.Error("closing the store", "err", err.Error())
			return err
		}
		return nil
	})
	d.cleanup.push(func(context.Context) error { d.stopKeeper(); return nil })
	if d.protect, err = d.loadProtections(d.cfg, nil); err != nil {
		d.log.Error("cannot set up the DNS protections", "err", err.Error())
		return exitRuntime
	}
	d.hs = handlespace.New(handlespace.Options{
		RegistrarID: d.store.RegistrarID(),
		DefaultSpec: d.cfg.PoolSpec(),
		Probing:     true, // probed elements start unknown; restoreHealth (serve_health.go) gives them probe.start's health
	})
	watchErr := d.watchZones()
	d.cleanup.push(func(context.Context) error { d.stopWatch(); return nil })
	d.ops.setPhase("starting: loading the zones")
	defs, err := zones.LoadDir(d.cfg.Zones)
	if err == nil {
		err = d.hs.ApplyZones(defs)
	}
	d.ops.metrics.ZonesLoaded(err == nil, time.Now())
	if err != nil {
		logErrors(d.log, "cannot load the zones", err)
		return exitRuntime
	}
	if watchErr != nil {
		// Serving goes on; SIGHUP still reloads.
		d.log.Error("cannot watch the zones directory; reload with SIGHUP", "dir", d.cfg.Zones, "err", watchErr.Error())
	}
	regs, err := d.loadRegistrations()
	d.admin = admin.New(admin.Config{Handlespace: d.hs, Store: d.store, Self: d.store.RegistrarID(), Metrics: d.ops.metrics})
	if err == nil {
		err = d.restoreAdmin()
	}
	if err == nil {
		err = d.restoreHealth()
	}
	if err != nil {
		logErrors(d.log, "cannot load the registrations", err)
		return exitRuntime
	}
	releaseLoad(regs)
	if code := d.startDNSSEC(); code != exitOK {
		return code
	}
	d.cleanup.push(func(context.Context) error { d.dnssec.Close(); return nil })
	d.startRegistrar()
	d.cleanup.push(func(context.Context) error { d.reg.Close(); return nil })
	d.newHistory()
	if code := d.startPeering(); code != exitOK {
		return code
	}
	d.cleanup.push(func(context.Context) error { d.stopPeering(); return nil })
	d.cleanup.push(func(context.Context) error { d.stopHistory(); return nil })
	d.cleanup.push(func(ctx context.Context) error { d.stopHTTP(ctx); return nil })
	d.waitSynced()
	sites := d.startSites()
	d.cleanup.push(func(context.Context) error { d.stopSitesWatch(); return nil })
	d.dns, err = dnsfront.Start(dnsfront.Config{
		Listen:     d.cfg.DNS.Listen,
		UDPSize:    d.cfg.DNS.UDPSize,
		UDPSockets: d.cfg.DNS.UDPSockets,
		UDPPoller:  d.cfg.DNS.UDPWait == "poller",
		UDPNice:    d.cfg.DNS.UDPNice,
		UDPSojourn: d.cfg.DNS.UDPSojourn,
		Logger:     d.log,
		Metrics:    d.ops.metrics.DNS(),
		Answers:    d.historyAnswers(),
		QueryLog:   d.cfg.Log.Queries,
		Updates:    metered.Registrar{Committer: d.reg, M: d.ops.metrics},
		Pacer:      d.reg.Pacer(),
		TSIG:       d.tsigKeys(),
		Sites:      sites,
		Protect:    d.protect,
		Signer:     d.dnssec.Signer(),
		TLS:        dnsserve.TLSConfig{Listen: d.cfg.DNS.TLS.Listen, CertFile: d.cfg.DNS.TLS.Cert, KeyFile: d.cfg.DNS.TLS.Key},
		Current:    d.dnsCurrent(),
	}, d.hs)
	if err != nil {
		d.logListenError("cannot serve DNS", "dns.listen", err)
		return exitRuntime
	}
	d.cleanup.push(func(ctx context.Context) error {
		if err := d.dns.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			d.log.Warn("DNS shutdown", "err", err.Error())
		}
		return nil
	})
	d.ops.metrics.SetProtectStats(d.protectStats)
	d.ops.metrics.SetDNSSECStats(func() metrics.DNSSECStats {
		c, k := d.dns.Handler().ColdStats(), d.dnssec.Signer().CacheStats()
		s := metrics.DNSSECStats{Hits: k.Hits, Misses: k.Misses, Refreshes: k.Refreshes,
			Evictions: k.Evictions, Entries: k.Entries, Bytes: k.Bytes}
		s.ColdQueued, s.ColdAnswered, s.ColdTruncated, s.ColdDropped = c.Queued, c.Answered, c.Truncated, c.Dropped
		return s
	})
	d.ops.metrics.SetStoreStats(func() metrics.StoreStats {
		s := d.store.LogStats()
		return metrics.StoreStats{Batches: s.Batches, Compactions: s.Compactions, Compacted: s.Compacted,
			Bytes: s.Bytes, Segments: s.Segments, Failing: s.LastError != ""}
	})
	if d.hist != nil {
		d.ops.metrics.SetAnswerSlots(d.hist.ans.Table().InUse)
	}
	if code := d.startHTTP(); code != exitOK {
		return code
	}
	d.startKeeper()
	d.startHistory()
	addrs := make([]string, 0, len(d.dns.Addrs()))
	for _, a := range d.dns.Addrs() {
		addrs = append(addrs, a.String())
	}
	n := countView(d.hs.View())
	d.ops.hs.Store(d.hs)
	d.ops.setReady()
	d.log.Info("ready", "dns", addrs, "zones", n.zones, "pools", n.pools, "elements", n.elements,
		"registrations", regs, "registrar", handlespace.IDString(d.store.RegistrarID()))
	if d.ops.onReady != nil {
		d.ops.onReady()
	}
	return exitOK
}

// loop serves until a signal to stop, reloading the zones on SIGHUP and
// changes, and expiring leases. It returns the exit code.
func (d *daemon) loop(sigc <-chan os.Signal) int {
	var changes <-chan struct{}
	var watchErrs <-chan error
	if d.watch != nil {
		changes, watchErrs = d.watch.Changed(), d.watch.Errors()
	}
	expire := time.NewTicker(expireEvery)
	defer expire.Stop()

	for {
		select {
		case sig := <-sigc:
			if sig == syscall.SIGHUP {
				sdnotify.Reloading()
				d.reload("SIGHUP")
				d.dnssec.Reload("SIGHUP")
				d.reloadConfig()
				d.reloadTLS()
				sdnotify.Notify("READY=1")
				continue
			}
			d.log.Info("stopping", "signal", sig.String())
			return d.stop(exitOK)
		case <-changes:
			d.reload("change")
		case <-d.sitesChanged():
			d.reloadSites("change")
		case err := <-watchErrs:
			d.log.Error("watching the zones directory", "dir", d.cfg.Zones, "err", err.Error())
		case now := <-expire.C:
			d.expire(now)
		case err := <-d.dns.Err():
			d.log.Error("DNS server failed", "err", err.Error())
			return d.stop(exitRuntime)
		case err := <-d.httpErr():
			d.log.Error("HTTP API failed", "err", err.Error())
			return d.stop(exitRuntime)
		}
	}
}

// watchZones starts watching the zones directory when zones_watch is on:
// before the zones are loaded, so that a change made while the server
// starts, or just after it says it is ready, is seen and reloaded. An
// error is for the caller to log once the zones have loaded (a directory
// that cannot be read fails the start with its own message).
func (d *daemon) watchZones() error {
	if !d.cfg.ZonesWatch {
		return nil
	}
	w, err := zones.Watch(d.cfg.Zones, zones.WatchConfig{Quiet: reloadDebounce, Logger: d.log})
	if err != nil {
		return err
	}
	d.watch = w
	return nil
}

// stopWatch stops watching the zones directory; later calls do nothing.
func (d *daemon) stopWatch() {
	if d.watch != nil {
		d.watch.Close()
		d.watch = nil
	}
}

// reload loads the zones again and applies them. On error it logs one line
// per error and the last good zones keep serving.
func (d *daemon) reload(trigger string) {
	defs, err := zones.LoadDir(d.cfg.Zones)
	if err == nil {
		err = d.hs.ApplyZones(defs)
	}
	d.ops.metrics.ZonesLoaded(err == nil, time.Now())
	if err != nil {
		logErrors(d.log, "zones not reloaded; serving the last good ones", err)
		return
	}
	d.reg.Resync()
	if _, err := d.admin.Prune(); err != nil {
		d.log.Warn("stored admin states not pruned after the reload", "err", err.Error())
	}
	n := countView(d.hs.View())
	d.log.Info("zones reloaded", "trigger", trigger, "zones", n.zones, "pools", n.pools, "elements", n.elements)
}

// stop stops taking queries, lets those in flight finish, closes the store
// and returns code (or exitRuntime if stopping failed).
func (d *daemon) stop(code int) int {
	d.ops.setPhase("stopping")
	sdnotify.Notify("STOPPING=1")
	d.stopWatch()
	d.handOff()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := d.cleanup.unwind(ctx); err != nil {
		code = exitRuntime
	}
	d.log.Info("registrations", "stats", d.registrarStats())
	d.log.Info("stopped")
	return code
}
