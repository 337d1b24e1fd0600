package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/spf13/pflag"
)

// load runs Load in a fresh directory holding file (as poolnsd.yaml, unless
// empty) with env set and the flags args parsed.
func load(t *testing.T, file string, env map[string]string, args ...string) (Config, []string, error) {
	t.Helper()
	dir := t.TempDir()
	if file != "" {
		if err := os.WriteFile(filepath.Join(dir, DefaultFile), []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return Load(LoadOptions{Dir: dir, Flags: fs})
}

// loadErrors loads the config file text, which must fail, and returns the
// error's lines with the temporary file's path written as F.
func loadErrors(t *testing.T, file string) []string {
	t.Helper()
	_, _, err := load(t, file, nil)
	if err == nil {
		t.Fatal("no error")
	}
	got := strings.Split(err.Error(), "\n")
	for i := range got {
		if j := strings.Index(got[i], DefaultFile); j >= 0 {
			got[i] = "F" + got[i][j+len(DefaultFile):]
		}
	}
	return got
}

func TestDefaults(t *testing.T) {
	want := Config{
		DNS: DNS{Listen: []string{"127.0.0.1:5300"}, UDPSize: 1232, UDPSockets: 0, UDPWait: "thread", UDPNice: -10,
			Cookies: true, AllowQuery: []string{"0.0.0.0/0", "::/0"},
			RRL: RRL{Window: "15s", Slip: 2, IPv4Prefix: 24, IPv6Prefix: 56, Exempt: []string{}, TableSize: 65536},
			TLS: DNSTLS{Listen: []string{}}},
		Zones:        "./zones",
		ZonesWatch:   true,
		Data:         "./data",
		Store:        Store{LogCompact: 32},
		Log:          Log{Level: "info", Format: "text", RepeatLimit: 20, RepeatInterval: "10s"},
		HTTP:         HTTP{Listen: "127.0.0.1:8053"},
		Probe:        Probe{Workers: 64, Start: "last"},
		Nearest:      Nearest{RTTInterval: "10s"},
		Reports:      Reports{Allow: []string{}, MaxBad: 3, Window: "30s", Rate: 5, Burst: 10},
		PoolDefaults: PoolDefaults{Policy: "rr", TTL: 5, Answers: 3, AllDown: "none"},
		Registration: Registration{LeaseDefault: "60s", LeaseMin: "5s", LeaseMax: "24h",
			MaxPerKey: 10000, MaxPerPool: 100000, Rate: 20, Burst: 100, AllowLoopback: false},
		ENRP: ENRP{Peers: []string{}, PresenceInterval: "1s", MaxTimeLastHeard: "3s", MaxTimeNoResponse: "1s",
			PageSize: 128, HandoffTimeout: "2s", SyncWait: "3s"},
		Health: Health{Confirm: 2},
		DNSSEC: DNSSEC{Validity: "168h", CacheSize: 64, DNSKEYTTL: 3600, CDSOff: []string{}, CDSDelete: []string{}, SignalOff: []string{}},
	}
	if got := Defaults(); !reflect.DeepEqual(got, want) {
		t.Errorf("Defaults() =\n%+v\nwant\n%+v", got, want)
	}
	got, warns, err := load(t, "", nil)
	if err != nil || len(warns) > 0 {
		t.Fatalf("Load with no sources: %v %q", err, warns)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load with no sources =\n%+v\nwant\n%+v", got, want)
	}
	if err := want.Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}

// TestTableMatchesConfig checks that every field of Config has a key in
// the table and the other way round.
func TestTableMatchesConfig(t *testing.T) {
	var fieldKeys func(prefix string, typ reflect.Type) []string
	fieldKeys = func(prefix string, typ reflect.Type) []string {
		var out []string
		for f := range typ.Fields() {
			tag := f.Tag.Get("mapstructure")
			if tag == "-" {
				continue
			}
			if tag == "" {
				t.Errorf("field %s%s has no mapstructure tag", prefix, f.Name)
				continue
			}
			if f.Type.Kind() == reflect.Struct {
				out = append(out, fieldKeys(prefix+tag+".", f.Type)...)
			} else {
				out = append(out, prefix+tag)
			}
		}
		return out
	}
	fields := fieldKeys("", reflect.TypeFor[Config]())
	keys := allKeys()
	slices.Sort(fields)
	slices.Sort(keys)
	if !slices.Equal(fields, keys) {
		t.Errorf("Config fields %q\ntable keys %q", fields, keys)
	}
	// Keys of one section are adjacent, as WriteYAML needs.
	done := map[string]bool{}
	prev := ""
	for _, k := range allKeys() {
		sec, _, _ := strings.Cut(k, ".")
		if sec != prev && done[sec] {
			t.Errorf("key %s is apart from the rest of section %s", k, sec)
		}
		done[sec], prev = true, sec
	}
}

func TestWriteYAMLRoundTrip(t *testing.T) {
	var b strings.Builder
	if err := WriteYAML(&b); err != nil {
		t.Fatal(err)
	}
	for _, o := range options {
		if !strings.Contains(b.String(), o.Doc) || !strings.Contains(b.String(), EnvName(o.Key)) {
			t.Errorf("YAML lacks the doc or environment variable of %s", o.Key)
		}
	}
	got, _, err := load(t, b.String(), nil)
	if err != nil {
		t.Fatalf("Load of WriteYAML's output: %v\n%s", err, b.String())
	}
	if got.File == "" {
		t.Error("Load did not read the file")
	}
	got.File = ""
	if want := Defaults(); !reflect.DeepEqual(got, want) {
		t.Errorf("WriteYAML's output loads as\n%+v\nwant\n%+v", got, want)
	}
	// The commented-out examples of sites and tsig, uncommented (with a
	// secret), load as written.
	var ex string
	for _, l := range strings.SplitAfter(sitesExample+tsigExample, "\n") {
		ex += strings.TrimPrefix(l, "# ")
	}
	ex = strings.Replace(ex, `"SECRET"`, `"`+strings.Repeat("c2VjcmV0", 4)+`"`, 1)
	ex = "sites_mmdb: GeoLite2-City.mmdb\n" + ex // the long form's countries need one
	if !strings.Contains(b.String(), sitesExample) || !strings.Contains(b.String(), tsigExample) ||
		!strings.Contains(b.String(), SitesDoc) || !strings.Contains(b.String(), TSIGKeyDoc) {
		t.Errorf("YAML lacks the examples or docs of sites and tsig:\n%s", b.String())
	}
	got, _, err = load(t, ex, nil)
	if err != nil {
		t.Fatalf("the examples of sites and tsig, uncommented: %v\n%s", err, ex)
	}
	if len(got.Sites["fra"]) != 2 || len(got.Sites["ams"]) != 1 || len(got.TSIG) != 1 ||
		got.TSIG[0].Name != "pe-key." || got.TSIG[0].Algorithm != "hmac-sha256" || !slices.Equal(got.TSIG[0].Pools, []string{"web"}) {
		t.Errorf("the examples load as sites %v, tsig %+v", got.Sites, got.TSIG)
	}
	var md strings.Builder
	if err := WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(md.String(), "\n"); n != len(options)+2 {
		t.Errorf("Markdown table has %d lines, want %d", n, len(options)+2)
	}
}

func TestPrecedence(t *testing.T) {
	const file = `
dns:
  listen: ["10.0.0.1:53", "10.0.0.2:53"]
  udp_size: 4096
zones: /etc/poolnsd/zones
log:
  level: debug
pool_defaults:
  policy: rr
  ttl: 30
`
	for _, c := range []struct {
		name string
		file string
		env  map[string]string
		args []string
		want func(*Config)
	}{
		{name: "defaults", want: func(*Config) {}},
		{name: "file over defaults", file: file, want: func(c *Config) {
			c.DNS.Listen = []string{"10.0.0.1:53", "10.0.0.2:53"}
			c.DNS.UDPSize = 4096
			c.Zones = "/etc/poolnsd/zones"
			c.Log.Level = "debug"
			c.PoolDefaults.TTL = 30
		}},
		{name: "env over file", file: file,
			env: map[string]string{"POOLNSD_DNS_UDP_SIZE": "1400", "POOLNSD_DNS_LISTEN": "127.0.0.2:53, [::1]:53", "POOLNSD_ZONES_WATCH": "false", "POOLNSD_POOL_DEFAULTS_ALLDOWN": "all", "POOLNSD_DNS_UDP_NICE": "-5"},
			want: func(c *Config) {
				c.DNS.Listen = []string{"127.0.0.2:53", "[::1]:53"}
				c.DNS.UDPSize = 1400
				c.DNS.UDPNice = -5
				c.Zones = "/etc/poolnsd/zones"
				c.ZonesWatch = false
				c.Log.Level = "debug"
				c.PoolDefaults.TTL = 30
				c.PoolDefaults.AllDown = "all"
			}},
		{name: "flags over env", file: file,
			env:  map[string]string{"POOLNSD_DNS_UDP_SIZE": "1400", "POOLNSD_LOG_LEVEL": "warn"},
			args: []string{"--dns.udp_size=2048", "--dns.listen", "127.0.0.3:53", "--dns.listen", "127.0.0.4:53", "--zones_watch=false", "--pool_defaults.ttl", "0"},
			want: func(c *Config) {
				c.DNS.Listen = []string{"127.0.0.3:53", "127.0.0.4:53"}
				c.DNS.UDPSize = 2048
				c.Zones = "/etc/poolnsd/zones"
				c.ZonesWatch = false
				c.Log.Level = "warn"
				c.PoolDefaults.TTL = 0
			}},
		{name: "flag list with commas", args: []string{"--dns.listen=127.0.0.3:53,127.0.0.4:53"}, want: func(c *Config) {
			c.DNS.Listen = []string{"127.0.0.3:53", "127.0.0.4:53"}
		}},
		{name: "unset flags keep the file's values", file: file, args: []string{"--data", "/var/lib/poolnsd"}, want: func(c *Config) {
			c.DNS.Listen = []string{"10.0.0.1:53", "10.0.0.2:53"}
			c.DNS.UDPSize = 4096
			c.Zones = "/etc/poolnsd/zones"
			c.Data = "/var/lib/poolnsd"
			c.Log.Level = "debug"
			c.PoolDefaults.TTL = 30
		}},
		{name: "empty sections and null values are the defaults", file: "dns:\nlog: {}\nzones:\n", want: func(*Config) {}},
		{name: "upper-case keys", file: "DNS:\n  UDP_Size: 600\n", want: func(c *Config) { c.DNS.UDPSize = 600 }},
		{name: "number as a string", file: "zones: 2024\ndata: true\n", want: func(c *Config) { c.Zones, c.Data = "2024", "true" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, warns, err := load(t, c.file, c.env, c.args...)
			if err != nil {
				t.Fatal(err)
			}
			if len(warns) > 0 {
				t.Errorf("warnings %q", warns)
			}
			want := Defaults()
			c.want(&want)
			got.File = ""
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestConfigFileChoice(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, DefaultFile), []byte("data: from-default-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.yml")
	if err := os.WriteFile(other, []byte("data: from-other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noExt := filepath.Join(dir, "conf")
	if err := os.WriteFile(noExt, []byte("data: from-conf\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		opts     LoadOptions
		args     []string
		wantData string
		wantFile string
	}{
		{"poolnsd.yaml in the directory", LoadOptions{Dir: dir}, nil, "from-default-file", filepath.Join(dir, DefaultFile)},
		{"--config wins", LoadOptions{Dir: dir}, []string{"--config", other}, "from-other", other},
		{"ConfigFile wins", LoadOptions{Dir: dir, ConfigFile: other}, nil, "from-other", other},
		{"no extension is YAML", LoadOptions{Dir: dir, ConfigFile: noExt}, nil, "from-conf", noExt},
		{"no file at all", LoadOptions{Dir: t.TempDir()}, nil, "./data", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			RegisterFlags(fs)
			if err := fs.Parse(c.args); err != nil {
				t.Fatal(err)
			}
			c.opts.Flags = fs
			got, _, err := Load(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got.Data != c.wantData || got.File != c.wantFile {
				t.Errorf("data %q from %q, want %q from %q", got.Data, got.File, c.wantData, c.wantFile)
			}
		})
	}
}

func TestFileErrors(t *testing.T) {
	for _, c := range []struct {
		name, file string
		want       []string // lines, "F" stands for the file's path
	}{
		{"typo in a section", "dns:\n  lisen: [\"127.0.0.1:53\"]\n",
			[]string{`F: unknown key "dns.lisen"; did you mean "dns.listen"?`}},
		{"key outside its section", "listen: [\"127.0.0.1:53\"]\n",
			[]string{`F: unknown key "listen"; did you mean "dns.listen"?`}},
		{"unknown section reported once", "tsigs:\n  name: k\n  secret: x\n",
			[]string{`F: unknown key "tsigs"`}},
		{"several, sorted", "zones_wtach: false\ndns:\n  udp_sockest: 2\n  foo: 1\n",
			[]string{
				`F: unknown key "dns.foo"`,
				`F: unknown key "dns.udp_sockest"; did you mean "dns.udp_sockets"?`,
				`F: unknown key "zones_wtach"; did you mean "zones_watch"?`,
			}},
		{"section given a value", "log: debug\n",
			[]string{`F: "log" is a section of keys (log.level, log.format, log.queries, log.repeat_limit, log.repeat_interval), not a value`}},
		{"YAML syntax", "dns:\n  listen: [\n",
			[]string{`F:2: did not find expected node content`}},
		{"wrong type", "dns:\n  udp_size: big\n",
			[]string{`dns.udp_size: "big" is not an integer`}},
		{"list wanted", "dns:\n  listen: {a: b}\n",
			[]string{`dns.listen: want a list of strings, not a section`}},
		{"string wanted", "zones: [a, b]\n",
			[]string{`zones: want a string, not a list`}},
		{"list of lists", "dns:\n  listen: [[a]]\n",
			[]string{`dns.listen: want a list of strings, item 1 is a list`}},
		{"bool wanted", "zones_watch: sometimes\n",
			[]string{`zones_watch: "sometimes" is not true or false`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := loadErrors(t, c.file); !slices.Equal(got, c.want) {
				t.Errorf("errors\n got %q\nwant %q", got, c.want)
			}
		})
	}
	t.Run("missing --config file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing.yaml")
		_, _, err := Load(LoadOptions{ConfigFile: path})
		want := path + ": cannot read: no such file or directory"
		if err == nil || err.Error() != want {
			t.Errorf("error\n got %v\nwant %s", err, want)
		}
	})
	t.Run("file name as given", func(t *testing.T) {
		dir := t.TempDir()
		t.Chdir(dir)
		if err := os.WriteFile(DefaultFile, []byte("dns:\n  lisen: x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := Load(LoadOptions{})
		want := `poolnsd.yaml: unknown key "dns.lisen"; did you mean "dns.listen"?`
		if err == nil || err.Error() != want {
			t.Errorf("error\n got %v\nwant %s", err, want)
		}
	})
}

func TestValidation(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"udp_size low", []string{"--dns.udp_size=100"}, nil, []string{"dns.udp_size: 100 is below 512"}},
		{"udp_size high", []string{"--dns.udp_size=70000"}, nil, []string{"dns.udp_size: 70000 is above 65535"}},
		{"udp_sockets", []string{"--dns.udp_sockets=-1"}, nil, []string{"dns.udp_sockets: -1 is below 0"}},
		{"udp_wait", []string{"--dns.udp_wait=spin"}, nil, []string{`dns.udp_wait: unknown value "spin", want thread or poller`}},
		{"udp_nice positive", []string{"--dns.udp_nice=5"}, nil, []string{"dns.udp_nice: 5 is above 0"}},
		{"udp_nice low", nil, map[string]string{"POOLNSD_DNS_UDP_NICE": "-21"}, []string{"dns.udp_nice: -21 is below -20"}},
		{"listen not host:port", []string{"--dns.listen=foo"}, nil, []string{`dns.listen: "foo" is not host:port`}},
		{"listen bad port", []string{"--dns.listen=127.0.0.1:99999"}, nil, []string{`dns.listen: "127.0.0.1:99999" has a bad port "99999", want 0..65535`}},
		{"listen twice", []string{"--dns.listen=127.0.0.1:53,127.0.0.1:53"}, nil, []string{`dns.listen: "127.0.0.1:53" is listed twice`}},
		{"listen empty", nil, map[string]string{"POOLNSD_DNS_LISTEN": " , "}, []string{"dns.listen: no address; want at least one host:port"}},
		{"zones empty", []string{"--zones="}, nil, []string{"zones: empty; want a directory"}},
		{"log level", []string{"--log.level=verbose"}, nil, []string{`log.level: unknown level "verbose", want debug, info, warn or error`}},
		{"log format", []string{"--log.format=xml"}, nil, []string{`log.format: unknown format "xml", want text or json`}},
		{"policy", []string{"--pool_defaults.policy=x"}, nil, []string{`pool_defaults.policy: unknown policy "x"; want one of ` + strings.Join(handlespace.PolicyNames(), ", ")}},
		{"ttl", []string{"--pool_defaults.ttl=-5"}, nil, []string{"pool_defaults.ttl: -5 is below 0"}},
		{"answers", []string{"--pool_defaults.answers=0"}, nil, []string{"pool_defaults.answers: 0 is below 1"}},
		{"alldown", []string{"--pool_defaults.alldown=some"}, nil, []string{`pool_defaults.alldown: unknown value "some", want none or all`}},
		{"probe.source", []string{"--probe.source=host.example"}, nil, []string{`probe.source: "host.example" is not a unicast IP address of this host`}},
		{"probe.source unspecified", []string{"--probe.source=0.0.0.0"}, nil, []string{`probe.source: "0.0.0.0" is not a unicast IP address of this host`}},
		{"probe.start", []string{"--probe.start=down"}, nil, []string{`probe.start: unknown value "down", want last, unknown or up`}},
		{"rtt_interval short", []string{"--nearest.rtt_interval=50ms"}, nil, []string{`nearest.rtt_interval: "50ms" is not 0 or a duration of at least 100ms, want e.g. 10s`}},
		{"rtt_interval negative", nil, map[string]string{"POOLNSD_NEAREST_RTT_INTERVAL": "-1s"}, []string{`nearest.rtt_interval: "-1s" is not 0 or a duration of at least 100ms, want e.g. 10s`}},
		{"rtt_interval not a duration", []string{"--nearest.rtt_interval=often"}, nil, []string{`nearest.rtt_interval: "often" is not 0 or a duration of at least 100ms, want e.g. 10s`}},
		{"report token as the admin token", []string{"--http.token=t1", "--http.report_token=t1"}, nil, []string{
			"http.report_token: the same as http.token; want another token (the report token lets pool users report, and nothing else)"}},
		{"reports.allow", []string{"--reports.allow=10.0.0.0/8,10.1.2.3,fe80::1%eth0,10.0.0.0/33,::ffff:10.0.0.0/104,web"}, nil, []string{
			`reports.allow: item 3 "fe80::1%eth0" is not a prefix or an address, want e.g. 10.1.0.0/16 or 2001:db8::/32 ("fe80::1%eth0" has a zone)`,
			`reports.allow: item 4 "10.0.0.0/33" is not a prefix or an address, want e.g. 10.1.0.0/16 or 2001:db8::/32 (netip.ParsePrefix("10.0.0.0/33"): prefix length out of range)`,
			`reports.allow: item 5 "::ffff:10.0.0.0/104" is not a prefix or an address, want e.g. 10.1.0.0/16 or 2001:db8::/32 ("::ffff:10.0.0.0/104" is an IPv4-mapped IPv6 prefix; write it as IPv4)`,
			`reports.allow: item 6 "web" is not a prefix or an address, want e.g. 10.1.0.0/16 or 2001:db8::/32 (ParseAddr("web"): unable to parse IP)`}},
		{"env not an integer", nil, map[string]string{"POOLNSD_DNS_UDP_SIZE": "lots"}, []string{`dns.udp_size: "lots" is not an integer`}},
		{"env not a bool", nil, map[string]string{"POOLNSD_ZONES_WATCH": "perhaps"}, []string{`zones_watch: "perhaps" is not true or false`}},
		{"several at once, in table order", []string{"--dns.udp_size=1", "--log.format=xml"}, nil, []string{
			"dns.udp_size: 1 is below 512", `log.format: unknown format "xml", want text or json`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := load(t, "", c.env, c.args...)
			if err == nil {
				t.Fatal("no error")
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, c.want) {
				t.Errorf("errors\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestReportAllow(t *testing.T) {
	c, _, err := load(t, "", nil, "--reports.allow=10.1.2.3/16, 2001:db8::/32,192.0.2.7,::ffff:192.0.2.8")
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(c.ReportAllow())
	if want := "[10.1.0.0/16 2001:db8::/32 192.0.2.7/32 192.0.2.8/32]"; got != want {
		t.Errorf("ReportAllow() = %s, want %s", got, want)
	}
}

func TestEnvWarnings(t *testing.T) {
	_, warns, err := load(t, "", map[string]string{
		"POOLNSD_DNS_LISEN":   "127.0.0.1:53",
		"POOLNSD_TSIG_SECRET": "x",
		"POOLNSD_LOG_LEVEL":   "debug",
		"POOLNSD_HEALTH":      "no", // a section: it used to hide health.* (health.confirm: <nil> is not an integer)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"environment variable POOLNSD_DNS_LISEN is not a poolnsd setting; ignored (did you mean POOLNSD_DNS_LISTEN?)",
		"environment variable POOLNSD_HEALTH names a section, not a setting; ignored (set one setting, e.g. POOLNSD_HEALTH_CONFIRM)",
		"environment variable POOLNSD_TSIG_SECRET is not a poolnsd setting; ignored",
	}
	if !slices.Equal(warns, want) {
		t.Errorf("warnings\n got %q\nwant %q", warns, want)
	}
}

func TestPoolSpecAndLogLevel(t *testing.T) {
	c := Defaults()
	c.PoolDefaults = PoolDefaults{Policy: "rr", TTL: 0, Answers: 1, AllDown: "all"}
	s := c.PoolSpec()
	if s.Policy != "rr" || s.TTL != 0 || s.Answers != 1 || s.AllDown.String() != "all" {
		t.Errorf("PoolSpec() = %+v", s)
	}
	c.Log.Level = "warn"
	if c.LogLevel().String() != "WARN" {
		t.Errorf("LogLevel() = %v", c.LogLevel())
	}
}

func TestFlagsFromTable(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(fs)
	for _, o := range options {
		f := fs.Lookup(FlagName(o.Key))
		if f == nil {
			t.Errorf("no flag for %s", o.Key)
			continue
		}
		if !strings.HasPrefix(f.Usage, o.Doc) {
			t.Errorf("flag --%s usage %q does not start with the key's doc", f.Name, f.Usage)
		}
	}
	if fs.Lookup(ConfigFlag) == nil {
		t.Error("no --config flag")
	}
}

// TestRTTInterval: nearest.rtt_interval from a file, 0 (off) included.
func TestRTTInterval(t *testing.T) {
	for _, tt := range []struct {
		file string
		want time.Duration
	}{
		{"", 10 * time.Second},
		{"nearest:\n  rtt_interval: 0\n", 0},
		{"nearest:\n  rtt_interval: 250ms\n", 250 * time.Millisecond},
		{"probe:\n  start: up\n  source: 127.0.0.2\n", 10 * time.Second},
	} {
		c, _, err := load(t, tt.file, nil)
		if err != nil {
			t.Fatalf("%q: %v", tt.file, err)
		}
		if got := c.RTTInterval(); got != tt.want {
			t.Errorf("%q: RTTInterval() = %v, want %v", tt.file, got, tt.want)
		}
	}
}
