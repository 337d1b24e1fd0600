package reload_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/poolnsd/poolnsd/config"
	"github.com/poolnsd/poolnsd/config/reload"
	"github.com/spf13/pflag"
)

// load loads the configuration of flags (key, value, ...) over the
// defaults, in an empty directory.
func load(t *testing.T, kv ...string) config.Config {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	config.RegisterFlags(fs)
	for i := 0; i+1 < len(kv); i += 2 {
		if err := fs.Set(kv[i], kv[i+1]); err != nil {
			t.Fatalf("--%s %s: %v", kv[i], kv[i+1], err)
		}
	}
	cfg, _, err := config.Load(config.LoadOptions{Flags: fs, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("load %q: %v", kv, err)
	}
	return cfg
}

const secret = "0123456789abcdef0123456789abcdef"

// changes gives, for every key of every live part, flags that change it
// (and only keys of its part).
var changes = map[string][]string{
	"log.level":                    {"log.level", "debug"},
	"log.queries":                  {"log.queries", "true"},
	"http.token":                   {"http.token", "t0ken"},
	"http.report_token":            {"http.report_token", "r3port"},
	"reports.allow":                {"reports.allow", "192.0.2.0/24"},
	"dns.cookies":                  {"dns.cookies", "false"},
	"dns.cookie_secret":            {"dns.cookie_secret", secret},
	"dns.cookie_secret_previous":   {"dns.cookie_secret", secret, "dns.cookie_secret_previous", "fedcba9876543210fedcba9876543210"},
	"dns.nsid":                     {"dns.nsid", "ns1"},
	"dns.version":                  {"dns.version", "x"},
	"dns.allow_query":              {"dns.allow_query", "127.0.0.0/8"},
	"dns.rrl.responses_per_second": {"dns.rrl.responses_per_second", "20"},
	"dns.rrl.window":               {"dns.rrl.window", "5s"},
	"dns.rrl.slip":                 {"dns.rrl.slip", "1"},
	"dns.rrl.ipv4_prefix":          {"dns.rrl.ipv4_prefix", "16"},
	"dns.rrl.ipv6_prefix":          {"dns.rrl.ipv6_prefix", "48"},
	"dns.rrl.exempt":               {"dns.rrl.exempt", "127.0.0.1/32"},
	"dns.rrl.table_size":           {"dns.rrl.table_size", "1024"},
	"dns.rrl.dry_run":              {"dns.rrl.dry_run", "true"},
	"sites_mmdb":                   {"sites_mmdb", "/nonexistent/sites.mmdb"},
	"dnssec.cds_off":               {"dnssec.cds_off", "pool.example."},
	"dnssec.signal_off":            {"dnssec.signal_off", "pool.example."},
	"dnssec.cds_delete":            {"dnssec.cds_delete", "pool.example."},
}

// TestEveryLiveKey: a change of any one key of a live part changes that
// part alone and nothing that waits for a restart; Applied names it (the
// site map as "sites"); Carry of the part makes the running configuration
// the loaded one. So a key added to a part without being carried fails
// here.
func TestEveryLiveKey(t *testing.T) {
	running := load(t)
	known := map[string]bool{}
	for _, o := range config.Options() {
		known[o.Key] = true
	}
	for part := reload.LogLevel; part <= reload.CDS; part++ {
		for _, k := range reload.Keys(part) {
			if !known[k] {
				t.Errorf("part %v: %q is not a configuration key", part, k)
				continue
			}
			kv, ok := changes[k]
			if !ok {
				t.Errorf("part %v: no change of %q in the test's table", part, k)
				continue
			}
			loaded := load(t, kv...)
			p := reload.New(running, loaded, nil)
			for q := reload.LogLevel; q <= reload.CDS; q++ {
				if p.Changed(q) != (q == part) {
					t.Errorf("%s changed: part %v changed %v", k, q, p.Changed(q))
				}
			}
			if len(p.Restart) != 0 {
				t.Errorf("%s changed: restart %q", k, p.Restart)
			}
			applied := p.Applied()
			switch {
			case part == reload.Sites:
				if !slices.Equal(applied, []string{"sites"}) {
					t.Errorf("%s changed: applied %q, want [sites]", k, applied)
				}
			case !slices.Contains(applied, k):
				t.Errorf("%s changed: applied %q", k, applied)
			}
			got := running
			reload.Carry(&got, loaded, part)
			if ch := config.Changed(got, loaded); len(ch) != 0 {
				t.Errorf("%s changed: after Carry(%v) still differ: %q", k, part, ch)
			}
			if c := config.Changed(running, load(t)); len(c) != 0 {
				t.Fatalf("Carry changed the running configuration: %q", c)
			}
		}
	}
}

// TestRestartAndFailed: keys of no live part, and of a part the server
// cannot change live, wait for a restart; a part that failed is not in
// Applied; TSIG keys are compared by name and never print a secret.
func TestRestartAndFailed(t *testing.T) {
	running := load(t)
	loaded := load(t, "dns.listen", "127.0.0.1:5399", "http.token", "t0ken", "log.level", "debug",
		"dns.nsid", "ns1", "dns.rrl.slip", "1")
	loaded.TSIG = []config.TSIGKey{{Name: "k1.", Algorithm: "hmac-sha256", Secret: "c2VjcmV0c2VjcmV0c2VjcmV0"}}
	p := reload.New(running, loaded, func(part reload.Part) bool { return part != reload.API })
	if !slices.Equal(p.Restart, []string{"dns.listen", "http.token"}) {
		t.Errorf("restart %q, want [dns.listen http.token]", p.Restart)
	}
	if p.Changed(reload.API) || !p.Changed(reload.TSIG) || !p.Changed(reload.Protections) {
		t.Errorf("changed: API %v, TSIG %v, protections %v", p.Changed(reload.API), p.Changed(reload.TSIG), p.Changed(reload.Protections))
	}
	if !slices.Equal(p.TSIGAdded, []string{"k1."}) || len(p.TSIGRemoved)+len(p.TSIGChanged) != 0 {
		t.Errorf("tsig added %q removed %q changed %q", p.TSIGAdded, p.TSIGRemoved, p.TSIGChanged)
	}
	if got, want := p.Applied(), []string{"dns.nsid", "dns.rrl.slip", "log.level", "tsig"}; !slices.Equal(got, want) {
		t.Errorf("applied %q, want %q", got, want)
	}
	p.Failed(reload.Protections)
	p.Failed(reload.TSIG)
	if got, want := p.Applied(), []string{"log.level"}; !slices.Equal(got, want) {
		t.Errorf("applied after failures %q, want %q", got, want)
	}

	// The "sites" map is not a key: compared apart.
	loaded = running
	loaded.Sites = map[string][]string{"s1": {"192.0.2.0/24"}}
	p = reload.New(running, loaded, nil)
	if !p.Changed(reload.Sites) || !slices.Equal(p.Applied(), []string{"sites"}) {
		t.Errorf("sites map changed: changed %v, applied %q", p.Changed(reload.Sites), p.Applied())
	}
	if p = reload.New(running, running, nil); len(p.Applied())+len(p.Restart) != 0 {
		t.Errorf("nothing changed: applied %q, restart %q", p.Applied(), p.Restart)
	}
}

// TestApply: the changed parts are applied in order, each with its
// applier; an applied part is carried into the running configuration, a
// failed one is not and leaves Applied; a part without an applier, or
// unchanged, is not applied.
func TestApply(t *testing.T) {
	running := load(t)
	loaded := load(t, "log.level", "debug", "log.queries", "true", "dns.nsid", "ns1", "http.token", "t0ken")
	p := reload.New(running, loaded, nil)
	var order []reload.Part
	ok := func(part reload.Part) reload.Applier {
		return func(c config.Config) error {
			if c.Log.Level != "debug" {
				t.Errorf("%v: applier given %q, not the loaded configuration", part, c.Log.Level)
			}
			order = append(order, part)
			return nil
		}
	}
	failed := errors.New("cannot")
	errs := p.Apply(&running, loaded, map[reload.Part]reload.Applier{
		reload.Protections: func(config.Config) error { order = append(order, reload.Protections); return failed },
		reload.LogLevel:    ok(reload.LogLevel),
		reload.TSIG:        ok(reload.TSIG), // unchanged: not applied
		reload.API:         ok(reload.API),
		// QueryLog: no applier
	})
	if want := []reload.Part{reload.LogLevel, reload.API, reload.Protections}; !slices.Equal(order, want) {
		t.Errorf("applied %v, want %v", order, want)
	}
	if len(errs) != 1 || errs[reload.Protections] != failed {
		t.Errorf("errors %v, want protections' alone", errs)
	}
	if got, want := config.Changed(running, loaded), []string{"dns.nsid", "log.queries"}; !slices.Equal(got, want) {
		t.Errorf("running differs from loaded in %q, want %q (the part without an applier, the failed one)", got, want)
	}
	if got, want := p.Applied(), []string{"log.level", "log.queries", "http.token"}; !slices.Equal(got, want) {
		t.Errorf("applied %q, want %q", got, want)
	}
}
