package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/poolnsd/poolnsd/config"
	"github.com/poolnsd/poolnsd/geosite/geositetest"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

// writeSitesDB writes a MaxMind DB with one network in country cc to
// dir/name through a temporary file and a rename, as geoipupdate does.
func writeSitesDB(t *testing.T, dir, name, cc string) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "poolnsd-Test-City", RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	_, n, _ := net.ParseCIDR("198.51.100.0/24")
	if err := tree.Insert(n, mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(cc)}}); err != nil {
		t.Fatal(err)
	}
	geositetest.Write(t, tree, filepath.Join(dir, name))
}

// TestSitesWatchedFromStart: a sites database replaced after the daemon
// said it is ready but before its loop runs is loaded. The watch starts
// with the server; it used to start with the loop, and a process test
// (TestSitesMMDB) on a loaded machine replaced the file in between: the
// change was never loaded.
func TestSitesWatchedFromStart(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "zones/pool.example.zone", goodZone)
	writeSitesDB(t, dir, "geo.mmdb", "DE")
	cfg := config.Defaults()
	cfg.DNS.Listen = []string{"127.0.0.1:0"}
	cfg.DNS.UDPSockets = 1
	cfg.Zones = filepath.Join(dir, "zones")
	cfg.Data = filepath.Join(dir, "data")
	cfg.ZonesWatch = false
	cfg.HTTP.Listen = ""
	cfg.Sites = map[string][]string{"fra": nil, "ams": nil}
	cfg.SiteGeo = map[string]config.SiteGeo{"fra": {Countries: []string{"DE"}}, "ams": {Countries: []string{"NL"}}}
	cfg.SitesMMDB = filepath.Join(dir, "geo.mmdb")
	buf := &proctest.Buffer{}
	log, level, logLimit := newLiveLogger(cfg, buf)
	t.Cleanup(logLimit.Close)
	d := &daemon{cfg: cfg, log: log, ops: newOperator(nil, level, log)}
	if code := d.start(); code != exitOK {
		t.Fatalf("start: exit %d; log:\n%s", code, buf.String())
	}
	writeSitesDB(t, dir, "geo.mmdb", "NL") // after the ready line, before the loop
	sigc, done := make(chan os.Signal, 1), make(chan int, 1)
	go func() { done <- d.loop(sigc) }()
	defer func() {
		sigc <- syscall.SIGTERM
		<-done
	}()
	for deadline := time.Now().Add(waitLimit); !strings.Contains(buf.String(), "sites reloaded"); {
		if time.Now().After(deadline) {
			t.Fatalf("the database replaced before the loop was not reloaded within %v; log:\n%s", waitLimit, buf.String())
		}
		time.Sleep(20 * time.Millisecond) // polls the log
	}
}
