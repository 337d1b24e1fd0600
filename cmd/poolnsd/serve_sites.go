package main

// The site map of the nearest policy: the "sites" prefixes and, with
// sites_mmdb, a MaxMind DB (geosite), loaded at start, on SIGHUP and when
// the database file changes; a load that fails keeps the last good map.

import (
	"time"

	"github.com/poolnsd/poolnsd/config"
	"github.com/poolnsd/poolnsd/config/reload"
	"github.com/poolnsd/poolnsd/dnsfront"
	"github.com/poolnsd/poolnsd/geosite"
)

// sitesDebounce is how long the database file must be quiet after a change
// before it is loaded again.
const sitesDebounce = 200 * time.Millisecond

// siteState is the daemon's site map and the watch of its database.
type siteState struct {
	watch *geosite.Watcher // nil without sites_mmdb or when it cannot watch
	path  string           // of the watch
}

// loadSites builds the site finder of cfg: the prefix map, with
// sites_mmdb's database when set; nil when there are no sites.
func loadSites(cfg config.Config) (dnsfront.SiteFinder, error) {
	prefixes := cfg.SiteMap()
	if cfg.SitesMMDB == "" {
		if prefixes == nil {
			return nil, nil
		}
		return prefixes, nil
	}
	sites := make(map[string]geosite.Site, len(cfg.Sites))
	for name := range cfg.Sites {
		g := cfg.SiteGeo[name]
		s := geosite.Site{Countries: g.Countries, Continents: g.Continents, ASNs: g.ASNs}
		if len(g.Location) == 2 {
			s.Lat, s.Lon, s.HasLocation = g.Location[0], g.Location[1], true
		}
		sites[name] = s
	}
	m, err := geosite.Load(cfg.SitesMMDB, sites, prefixes)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// startSites returns the site finder to start serving with: when the
// database cannot be loaded, it logs the path and the cause and serves
// with the prefix map alone until a reload succeeds. The watch of the
// database starts first, as the zones' does, so that a file renamed over
// it while the server starts, or just after it says it is ready, is seen
// and loaded (started after the load, such a change went unseen until a
// SIGHUP).
func (d *daemon) startSites() dnsfront.SiteFinder {
	d.watchSites()
	f, err := loadSites(d.cfg)
	if err != nil {
		d.log.Error("sites database not loaded; serving with the prefix map alone until it loads", "path", d.cfg.SitesMMDB, "err", err.Error())
		if m := d.cfg.SiteMap(); m != nil {
			return m
		}
		return nil
	}
	d.logSites("sites loaded", "start", f)
	return f
}

// logSites logs what a site finder holds.
func (d *daemon) logSites(msg, trigger string, f dnsfront.SiteFinder) {
	if m, ok := f.(*geosite.Map); ok {
		records, mapped := m.Records()
		d.log.Info(msg, "trigger", trigger, "path", m.Path(), "records", records, "mapped", mapped)
	}
}

// reloadSites loads the database again (SIGHUP, a change of the file);
// on error the last good map keeps serving.
func (d *daemon) reloadSites(trigger string) {
	if d.cfg.SitesMMDB == "" {
		return
	}
	f, err := loadSites(d.cfg)
	if err != nil {
		d.log.Error("sites database not reloaded; serving the last good map", "trigger", trigger, "path", d.cfg.SitesMMDB, "err", err.Error())
		return
	}
	d.dns.Handler().SetSites(f)
	d.logSites("sites reloaded", trigger, f)
}

// applySitesConfig applies a reloaded configuration's sites, sites_mmdb
// and the sites' geography, which changed: it reports whether they were
// applied (when the new database does not load, the running map stays,
// and so do the running keys).
func (d *daemon) applySitesConfig(cfg config.Config) bool {
	f, err := loadSites(cfg)
	if err != nil {
		d.log.Error("sites not reloaded; serving the last good map", "path", cfg.SitesMMDB, "err", err.Error())
		return false
	}
	reload.Carry(&d.cfg, cfg, reload.Sites)
	if d.dns != nil {
		d.dns.Handler().SetSites(f)
	}
	d.logSites("sites reloaded", "SIGHUP", f)
	d.watchSites()
	return true
}

// watchSites (re)starts the watch of the database file, if there is one.
func (d *daemon) watchSites() {
	if d.sites.watch != nil && d.sites.path == d.cfg.SitesMMDB {
		return
	}
	d.stopSitesWatch()
	if d.cfg.SitesMMDB == "" {
		return
	}
	w, err := geosite.Watch(d.cfg.SitesMMDB, sitesDebounce)
	if err != nil {
		d.log.Error("cannot watch the sites database; reload with SIGHUP", "path", d.cfg.SitesMMDB, "err", err.Error())
		return
	}
	d.sites.watch, d.sites.path = w, d.cfg.SitesMMDB
}

func (d *daemon) stopSitesWatch() {
	if d.sites.watch != nil {
		d.sites.watch.Close()
		d.sites.watch = nil
	}
}

// sitesChanged is the channel of the database file's changes (nil: none).
func (d *daemon) sitesChanged() <-chan struct{} {
	if d.sites.watch == nil {
		return nil
	}
	return d.sites.watch.Changed()
}
