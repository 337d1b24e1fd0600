package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/geosite/geositetest"
)

// writeMMDB writes a MaxMind DB of networks → (country, latitude,
// longitude) to dir/name through a temporary file and a rename, as
// geoipupdate replaces its databases.
func writeMMDB(t *testing.T, dir, name string, nets map[string][3]any) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "poolnsd-Test-City", RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for network, r := range nets {
		_, n, err := net.ParseCIDR(network)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{"location": mmdbtype.Map{"latitude": mmdbtype.Float64(r[1].(float64)), "longitude": mmdbtype.Float64(r[2].(float64))}}
		if cc := r[0].(string); cc != "" {
			rec["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(cc)}
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	geositetest.Write(t, tree, filepath.Join(dir, name))
}

// nearFrom asks near.pool.example. A for a client in subnet (EDNS Client
// Subnet) and returns the address answered and the scope.
func nearFrom(t *testing.T, addr, subnet string) (string, int) {
	t.Helper()
	_, n, err := net.ParseCIDR(subnet)
	if err != nil {
		t.Fatal(err)
	}
	ones, _ := n.Mask.Size()
	m := new(dns.Msg)
	m.SetQuestion("near.pool.example.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(ones), Address: n.IP.To4()})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	r, _, err := (&dns.Client{}).ExchangeContext(ctx, m, addr)
	if err != nil {
		t.Fatalf("near A from %s: %v", subnet, err)
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("near A from %s: %v", subnet, r)
	}
	scope := -1
	for _, o := range r.IsEdns0().Option {
		if s, ok := o.(*dns.EDNS0_SUBNET); ok {
			scope = int(s.SourceScope)
		}
	}
	return r.Answer[0].(*dns.A).A.String(), scope
}

// TestSitesMMDB: with sites_mmdb, the nearest pool answers a client's
// site's element first: its country's site, else the site nearest to its
// location, with the record's network as ECS scope. A new database file
// (renamed over the old) is loaded on its own; a damaged one is not, and
// the last good map keeps serving, with the path and the cause logged;
// SIGHUP loads the file again.
func TestSitesMMDB(t *testing.T) {
	t.Parallel()
	dir := daemonDir(t, nearZone, `sites_mmdb: geo.mmdb`, `sites:`,
		`  fra:`, `    countries: [DE]`, `    location: [50.11, 8.68]`,
		`  ams:`, `    countries: [NL]`, `    location: [52.37, 4.9]`)
	first := map[string][3]any{
		"198.51.100.0/24": {"DE", 50.11, 8.68},
		"203.0.113.0/25":  {"FR", 48.86, 2.35}, // Paris: nearer to Amsterdam than to Frankfurt
		"192.0.2.0/24":    {"NL", 52.37, 4.9},
	}
	writeMMDB(t, dir, "geo.mmdb", first)
	p := startDaemon(t, dir, "--config", filepath.Join(dir, "poolnsd.yaml"))
	addr, _ := p.ready()
	fra, ams := "10.7.0.1", "10.7.0.2"
	check := func(when string, want map[string][2]any) {
		t.Helper()
		for subnet, w := range want {
			got, scope := nearFrom(t, addr, subnet)
			if got != w[0] || scope != w[1] {
				t.Errorf("%s: from %s: %s scope %d, want %s scope %d", when, subnet, got, scope, w[0], w[1])
			}
		}
	}
	check("first database", map[string][2]any{
		"198.51.100.0/24": {fra, 24}, "203.0.113.0/24": {ams, 24}, "192.0.2.0/24": {ams, 24},
	})

	// A new file, renamed over the old one: loaded without a signal.
	from := p.cursor()
	writeMMDB(t, dir, "geo.mmdb", map[string][3]any{"198.51.100.0/24": {"NL", 52.37, 4.9}, "203.0.113.0/25": {"", 49.0, 8.4}})
	p.waitLog(from, "sites reloaded", func(r logRec) bool { return r.Str("msg") == "sites reloaded" })
	check("second database", map[string][2]any{"198.51.100.0/24": {ams, 24}, "203.0.113.0/24": {fra, 24}})

	// A damaged file: not loaded, the path and the cause logged.
	from = p.cursor()
	if err := os.WriteFile(filepath.Join(dir, "geo.mmdb"), []byte("this is not a MaxMind DB"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ := p.waitLog(from, "not reloaded", func(r logRec) bool {
		return r.Str("msg") == "sites database not reloaded; serving the last good map"
	})
	if !strings.HasSuffix(r.Str("path"), "geo.mmdb") || !strings.Contains(r.Str("err"), "not a MaxMind DB") {
		t.Errorf("log: path %q err %q; want the path and the cause", r.Str("path"), r.Str("err"))
	}
	check("damaged database", map[string][2]any{"198.51.100.0/24": {ams, 24}, "203.0.113.0/24": {fra, 24}})

	// SIGHUP loads the file again (the watch may load the new file first;
	// the SIGHUP's own load is waited for).
	writeMMDB(t, dir, "geo.mmdb", first)
	p.hup("sites reloaded on SIGHUP", func(r logRec) bool { return r.Str("msg") == "sites reloaded" && r.Str("trigger") == "SIGHUP" })
	check("after SIGHUP", map[string][2]any{"198.51.100.0/24": {fra, 24}, "203.0.113.0/24": {ams, 24}})
}
