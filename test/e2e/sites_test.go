package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// nearZone is goodZone plus a nearest pool with one element per site (no
// probes: every RTT is unknown, so without a site they take turns).
const nearZone = goodZone + `
$POOL near policy=nearest ttl=5 answers=1 probe=none
near   PE 10.7.0.1:80 site=fra
near   PE 10.7.0.2:80 site=ams
near   PE 10.7.0.3:80
`

// TestSitesConfig: the "sites" key of poolnsd.yaml puts the queries from
// 127.0.0.1 (no ECS) at a site, whose element the nearest pool answers
// first; SIGHUP applies a changed map live and says so; a map with an
// error is refused at start with the key named, and at a reload keeps the
// running map.
func TestSitesConfig(t *testing.T) {
	t.Parallel()
	dir := daemonDir(t, nearZone, `sites:`, `  fra: ["127.0.0.0/8", "2001:db8:1::/48"]`, `  ams: ["10.2.0.0/16"]`)
	p := startDaemon(t, dir)
	addr, _ := p.ready()
	answers := func() map[string]int {
		t.Helper()
		got := map[string]int{}
		for range 6 {
			r := query(t, addr, "near.pool.example.", dns.TypeA)
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
				t.Fatalf("near A: %v", r)
			}
			got[r.Answer[0].(*dns.A).A.String()]++
		}
		return got
	}
	if got := answers(); got["10.7.0.1"] != 6 {
		t.Errorf("from 127.0.0.1 at fra: answers %v, want 10.7.0.1 each time", got)
	}
	base := strings.Join([]string{`dns:`, `  listen: ["127.0.0.1:0"]`, `  udp_sockets: 2`, `http:`, `  listen: "127.0.0.1:0"`,
		`zones: zones`, `data: data`, `log:`, `  level: debug`, `  format: json`}, "\n") + "\n"
	writeAtomic(t, dir, "poolnsd.yaml", base+"sites:\n  fra: [\"10.1.0.0/16\"]\n  ams: [\"127.0.0.0/8\"]\n")
	r := p.hup("configuration reloaded", msgIs("configuration reloaded"))
	if got := fmt.Sprint(r["applied"]); got != "[sites]" {
		t.Errorf("applied %s, want [sites]", got)
	}
	if got := answers(); got["10.7.0.2"] != 6 {
		t.Errorf("from 127.0.0.1 at ams: answers %v, want 10.7.0.2 each time", got)
	}
	// A bad map at a reload: refused, the running map stays.
	writeAtomic(t, dir, "poolnsd.yaml", base+"sites:\n  ams: [\"127.0.0.0/33\"]\n")
	r = p.hup("not reloaded", msgIs("configuration not reloaded; keeping the running one"))
	if !strings.Contains(r.Str("err"), "sites.ams[0]: not a prefix") {
		t.Errorf("error %q does not name the key", r.Str("err"))
	}
	if got := answers(); got["10.7.0.2"] != 6 {
		t.Errorf("after a bad reload: answers %v, want 10.7.0.2 each time", got)
	}
	// No map: no site; the three take turns.
	writeAtomic(t, dir, "poolnsd.yaml", base)
	p.hup("configuration reloaded", msgIs("configuration reloaded"))
	if got := answers(); len(got) != 3 {
		t.Errorf("without a site map: answers %v, want all three in turn", got)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.waitExit(10 * time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}

	// A bad map at start: exit 2, the key named.
	bad := daemonDir(t, nearZone, `sites:`, `  fra: ["10.1.0.0/16"]`, `  ams: ["10.1.0.0/16"]`)
	_, stderr, code := runPoolnsd(t, bad, "serve", "--config", filepath.Join(bad, "poolnsd.yaml"))
	if code != 2 || !strings.Contains(stderr, "sites.fra[0]: 10.1.0.0/16 is also sites.ams[0]") {
		t.Errorf("serve with a prefix at two sites: exit %d, stderr %s", code, stderr)
	}
}
