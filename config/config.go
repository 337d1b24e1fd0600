package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	_ "github.com/poolnsd/poolnsd/handlespace/policy" // the policies register themselves
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Config is the runtime configuration: plain values, passed by value and
// replaced whole. The mapstructure tags are the keys of Options.
type Config struct {
	DNS          DNS          `mapstructure:"dns"`
	Zones        string       `mapstructure:"zones"`
	ZonesWatch   bool         `mapstructure:"zones_watch"`
	Data         string       `mapstructure:"data"`
	Store        Store        `mapstructure:"store"`
	Log          Log          `mapstructure:"log"`
	HTTP         HTTP         `mapstructure:"http"`
	Probe        Probe        `mapstructure:"probe"`
	Nearest      Nearest      `mapstructure:"nearest"`
	Reports      Reports      `mapstructure:"reports"`
	PoolDefaults PoolDefaults `mapstructure:"pool_defaults"`
	Registration Registration `mapstructure:"registration"`
	ENRP         ENRP         `mapstructure:"enrp"`
	Health       Health       `mapstructure:"health"`
	DNSSEC       DNSSEC       `mapstructure:"dnssec"`

	// TSIG are the keys of DNS UPDATE: the config file's "tsig" list
	// (see TSIGKey). Not in the table of keys.
	TSIG []TSIGKey `mapstructure:"-"`

	// Sites is the site map of the nearest policy: the config file's
	// "sites" map of site names to prefixes, as written (see SiteMap).
	// Not in the table of keys.
	Sites map[string][]string `mapstructure:"-"`
	// SiteGeo is what the "sites" map says of sites besides their
	// prefixes, for sites_mmdb (see sites_geo.go). Not in the table of
	// keys.
	SiteGeo map[string]SiteGeo `mapstructure:"-"`
	// SitesMMDB is the MaxMind DB of sites_mmdb ("" none).
	SitesMMDB string `mapstructure:"sites_mmdb"`

	// File is the config file that Load read, "" if none. Not a key.
	File string `mapstructure:"-"`
}

// Store is the section "store": the store of registrations.
type Store struct {
	LogCompact int `mapstructure:"log_compact"` // MiB
}

// DNS is the section "dns": the DNS front.
type DNS struct {
	Listen     []string `mapstructure:"listen"`
	UDPSize    int      `mapstructure:"udp_size"`
	UDPSockets int      `mapstructure:"udp_sockets"`
	UDPWait    string   `mapstructure:"udp_wait"`
	UDPNice    int      `mapstructure:"udp_nice"`
	UDPSojourn bool     `mapstructure:"udp_sojourn"`

	// The protections of protect.go.
	Cookies              bool     `mapstructure:"cookies"`
	CookieSecret         string   `mapstructure:"cookie_secret"`
	CookieSecretPrevious string   `mapstructure:"cookie_secret_previous"`
	AllowQuery           []string `mapstructure:"allow_query"`
	NSID                 string   `mapstructure:"nsid"`
	Version              string   `mapstructure:"version"`
	RRL                  RRL      `mapstructure:"rrl"`
	TLS                  DNSTLS   `mapstructure:"tls"`
}

// HTTP is the section "http": the JSON API.
type HTTP struct {
	Listen      string `mapstructure:"listen"`
	Token       string `mapstructure:"token"`
	ReportToken string `mapstructure:"report_token"`
}

// Probe is the section "probe": the prober.
type Probe struct {
	Workers int    `mapstructure:"workers"`
	Source  string `mapstructure:"source"`
	Start   string `mapstructure:"start"`
}

// ProbeSource returns probe.source as an address, invalid when "".
func (c Config) ProbeSource() netip.Addr {
	a, _ := netip.ParseAddr(c.Probe.Source)
	return a
}

// ProbeStarts are the values of probe.start.
var ProbeStarts = []string{"last", "unknown", "up"}

// Nearest is the section "nearest": the nearest policy.
type Nearest struct {
	RTTInterval string `mapstructure:"rtt_interval"`
}

// MinRTTInterval is the shortest nearest.rtt_interval (other than 0).
const MinRTTInterval = 100 * time.Millisecond

// RTTInterval returns nearest.rtt_interval as a duration, 0 when off
// (Validate checked it).
func (c Config) RTTInterval() time.Duration {
	d, _ := time.ParseDuration(c.Nearest.RTTInterval)
	return d
}

// Reports is the section "reports": pool users' failure reports.
type Reports struct {
	Allow  []string `mapstructure:"allow"`
	MaxBad int      `mapstructure:"max_bad"`
	Window string   `mapstructure:"window"`
	Rate   int      `mapstructure:"rate"`
	Burst  int      `mapstructure:"burst"`
}

// Registration is the section "registration": leases, quotas and rate
// limits of dynamic registrations.
type Registration struct {
	LeaseDefault  string `mapstructure:"lease_default"`
	LeaseMin      string `mapstructure:"lease_min"`
	LeaseMax      string `mapstructure:"lease_max"`
	MaxPerKey     int    `mapstructure:"max_per_key"`
	MaxPerPool    int    `mapstructure:"max_per_pool"`
	Rate          int    `mapstructure:"rate"`
	Burst         int    `mapstructure:"burst"`
	AllowLoopback bool   `mapstructure:"allow_loopback"`
}

// Leases returns registration.lease_default, lease_min and lease_max as
// durations (Validate checked them).
func (c Config) Leases() (def, lo, hi time.Duration) {
	def, _ = time.ParseDuration(c.Registration.LeaseDefault)
	lo, _ = time.ParseDuration(c.Registration.LeaseMin)
	hi, _ = time.ParseDuration(c.Registration.LeaseMax)
	return def, lo, hi
}

// ReportAllow returns reports.allow as prefixes (Validate checked them): a
// single address is its own /32 or /128.
func (c Config) ReportAllow() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(c.Reports.Allow))
	for _, s := range c.Reports.Allow {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// parsePrefix parses a prefix (10.1.0.0/16) or an address (one host).
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("%q is an IPv4-mapped IPv6 prefix; write it as IPv4", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q has a zone", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ReportWindow returns reports.window as a duration (Validate checked it).
func (c Config) ReportWindow() time.Duration {
	d, _ := time.ParseDuration(c.Reports.Window)
	return d
}

// Log is the section "log".
type Log struct {
	Level   string `mapstructure:"level"`
	Format  string `mapstructure:"format"`
	Queries bool   `mapstructure:"queries"`
	// RepeatLimit and RepeatInterval: see protect.go.
	RepeatLimit    int    `mapstructure:"repeat_limit"`
	RepeatInterval string `mapstructure:"repeat_interval"`
}

// PoolDefaults is the section "pool_defaults": the settings of pools that
// registrations create.
type PoolDefaults struct {
	Policy  string `mapstructure:"policy"`
	TTL     int    `mapstructure:"ttl"`
	Answers int    `mapstructure:"answers"`
	AllDown string `mapstructure:"alldown"`
}

// PoolSpec returns the spec of pools that registrations create.
func (c Config) PoolSpec() handlespace.PoolSpec {
	s := handlespace.DefaultPoolSpec()
	s.Policy = c.PoolDefaults.Policy
	s.TTL = uint32(c.PoolDefaults.TTL)
	s.Answers = c.PoolDefaults.Answers
	s.AllDown = handlespace.AllDownNone
	if c.PoolDefaults.AllDown == "all" {
		s.AllDown = handlespace.AllDownAll
	}
	return s
}

var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
}

// LogLevel returns log.level as a slog level.
func (c Config) LogLevel() slog.Level { return logLevels[c.Log.Level] }

// Defaults returns the configuration with every key at its default.
func Defaults() Config {
	values := map[string]any{}
	for _, o := range Options() {
		values[o.Key] = o.Default
	}
	c, err := build(values)
	if err != nil {
		panic("config: the defaults do not fit Config: " + err.Error())
	}
	return c
}

// build fills a Config from values (key → value of the key's type). A key
// without a field is an error (and TestTableMatchesConfig checks that every
// field has a key).
func build(values map[string]any) (Config, error) {
	out := viper.New()
	for k, v := range values {
		out.Set(k, v)
	}
	var c Config
	err := out.UnmarshalExact(&c)
	return c, err
}

// LoadOptions say where Load finds the configuration.
type LoadOptions struct {
	// ConfigFile is the config file to read. If empty, the --config flag
	// in Flags names it, else DefaultFile in Dir is read if it exists.
	ConfigFile string
	// Dir is where DefaultFile is looked for; "" is the working directory.
	Dir string
	// Flags holds parsed flags made by RegisterFlags (nil: none). Flags
	// that were set win over every other source.
	Flags *pflag.FlagSet
}

// Load merges the defaults, the config file, the environment and the flags
// (each over the ones before), checks the result and returns it with
// warnings (unknown POOLNSD_ environment variables). Its error holds one
// line per problem, each naming the key and, for the file, the file.
func Load(opts LoadOptions) (Config, []string, error) {
	v := viper.New()
	for _, o := range options {
		v.SetDefault(o.Key, o.Default)
	}

	file := opts.ConfigFile
	if file == "" && opts.Flags != nil {
		if f := opts.Flags.Lookup(ConfigFlag); f != nil && f.Changed {
			file = f.Value.String()
			if file == "" {
				return Config{}, nil, errors.New("--config: empty file name")
			}
		}
	}
	if file == "" {
		p := DefaultFile
		if opts.Dir != "" {
			p = filepath.Join(opts.Dir, DefaultFile)
		}
		if _, err := os.Stat(p); err == nil {
			file = p
		}
	}
	var tsig []TSIGKey
	var sites map[string][]string
	var siteGeo map[string]SiteGeo
	if file != "" {
		settings, err := readFile(file)
		if err != nil {
			return Config{}, nil, err
		}
		if tsig, err = decodeTSIG(file, settings["tsig"]); err != nil {
			return Config{}, nil, err
		}
		delete(settings, "tsig")
		if sites, siteGeo, err = decodeSites(file, settings["sites"]); err != nil {
			return Config{}, nil, err
		}
		delete(settings, "sites")
		if err := v.MergeConfigMap(settings); err != nil {
			return Config{}, nil, fmt.Errorf("%s: %v", file, err)
		}
	}

	// Each setting reads its own variable. (viper's AutomaticEnv would
	// also let a variable named after a section, POOLNSD_HEALTH, hide
	// every setting of that section: envWarnings names it instead.)
	for _, o := range options {
		if err := v.BindEnv(o.Key, EnvName(o.Key)); err != nil {
			return Config{}, nil, fmt.Errorf("%s: %v", EnvName(o.Key), err)
		}
	}

	if opts.Flags != nil {
		for _, o := range options {
			if f := opts.Flags.Lookup(FlagName(o.Key)); f != nil {
				if err := v.BindPFlag(o.Key, f); err != nil {
					return Config{}, nil, fmt.Errorf("--%s: %v", f.Name, err)
				}
			}
		}
	}

	values := map[string]any{}
	var errs []error
	for _, o := range options {
		val, err := decodeValue(o, v.Get(o.Key))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", o.Key, err))
			continue
		}
		values[o.Key] = val
	}
	if len(errs) > 0 {
		return Config{}, nil, errors.Join(errs...)
	}
	c, err := build(values)
	if err != nil {
		return Config{}, nil, fmt.Errorf("config: %v", err) // the table and Config disagree: a bug
	}
	c.File = file
	c.TSIG = tsig
	c.Sites = sites
	c.SiteGeo = siteGeo
	if err := c.Validate(); err != nil {
		return Config{}, nil, err
	}
	return c, envWarnings(os.Environ()), nil
}

// yamlLine finds the line number in the YAML parser's messages.
var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// readFile reads a config file and checks that it has only known keys.
func readFile(file string) (map[string]any, error) {
	fv := viper.New()
	fv.SetConfigFile(file)
	if ext := strings.TrimPrefix(filepath.Ext(file), "."); !slices.Contains(viper.SupportedExts, ext) {
		fv.SetConfigType("yaml")
	}
	if err := fv.ReadInConfig(); err != nil {
		var pe *fs.PathError
		var ce viper.ConfigParseError
		switch {
		case errors.As(err, &pe):
			return nil, fmt.Errorf("%s: cannot read: %v", file, pe.Err)
		case errors.As(err, &ce):
			msg := strings.TrimSpace(errors.Unwrap(ce).Error())
			if m := yamlLine.FindStringSubmatch(msg); m != nil {
				if m[1] != "" {
					return nil, fmt.Errorf("%s:%s: %s", file, m[1], m[2])
				}
				msg = m[2]
			}
			return nil, fmt.Errorf("%s: %s", file, strings.ReplaceAll(msg, "\n", "; "))
		}
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	settings := fv.AllSettings()
	var errs []error
	checkKeys(file, "", settings, &errs)
	return settings, errors.Join(errs...)
}

// checkKeys reports the keys of m (under prefix) that are not keys of
// Options, in sorted order.
func checkKeys(file, prefix string, m map[string]any, errs *[]error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if _, ok := lookupOption(key); ok || key == "tsig" || key == "sites" {
			continue
		}
		if sub := sectionKeys(key); len(sub) > 0 {
			switch val := m[k].(type) {
			case nil:
			case map[string]any:
				checkKeys(file, key, val, errs)
			default:
				*errs = append(*errs, fmt.Errorf("%s: %q is a section of keys (%s), not a value", file, key, strings.Join(sub, ", ")))
			}
			continue
		}
		msg := fmt.Sprintf("%s: unknown key %q", file, key)
		if s := suggest(key, allKeys()); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		*errs = append(*errs, errors.New(msg))
	}
}

// sectionKeys returns the keys in section sec ("dns"), none if sec is not
// a section.
func sectionKeys(sec string) []string {
	var out []string
	for _, o := range options {
		if strings.HasPrefix(o.Key, sec+".") {
			out = append(out, o.Key)
		}
	}
	return out
}

func allKeys() []string {
	out := make([]string, len(options))
	for i, o := range options {
		out[i] = o.Key
	}
	return out
}

// envWarnings names the POOLNSD_ variables of environ that are no key's.
func envWarnings(environ []string) []string {
	known := map[string]bool{}
	sections := map[string]string{} // POOLNSD_HEALTH: one of its settings
	var names []string
	for _, o := range options {
		known[EnvName(o.Key)] = true
		names = append(names, EnvName(o.Key))
		for i := range len(o.Key) {
			if sec := EnvName(o.Key[:i]); o.Key[i] == '.' && sections[sec] == "" {
				sections[sec] = EnvName(o.Key)
			}
		}
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || known[name] {
			continue
		}
		if ex := sections[name]; ex != "" {
			out = append(out, fmt.Sprintf("environment variable %s names a section, not a setting; ignored (set one setting, e.g. %s)", name, ex))
			continue
		}
		msg := fmt.Sprintf("environment variable %s is not a poolnsd setting; ignored", name)
		if s := suggest(name, names); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		out = append(out, msg)
	}
	sort.Strings(out)
	return out
}

// suggest returns the candidate nearest to s if it is near enough to be a
// typo of it (edit distance at most 2, or the same last part), else "".
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	last := func(x string) string { return x[strings.LastIndexAny(x, "._")+1:] }
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" {
		return best
	}
	for _, c := range candidates {
		if strings.Contains(c, ".") && !strings.Contains(s, ".") && s == c[strings.LastIndex(c, ".")+1:] {
			return c
		}
		if strings.Contains(s, ".") && last(s) == last(c) && strings.HasSuffix(c, "."+last(s)) {
			return c
		}
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// show formats a value from a source for a message.
func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	switch v.(type) {
	case []any, []string:
		return "a list"
	case map[string]any, map[any]any:
		return "a section"
	}
	return fmt.Sprint(v)
}

// decodeValue turns what a source gave for key o into the Go type of o's
// default. Strings from the environment and flags are parsed: "1232",
// "true", and for lists "a:1,b:2".
func decodeValue(o Option, raw any) (any, error) {
	switch o.Default.(type) {
	case []string:
		switch v := raw.(type) {
		case nil:
			return []string{}, nil
		case string:
			var out []string
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
			return out, nil
		case []string:
			return slices.Clone(v), nil
		case []any:
			out := make([]string, 0, len(v))
			for _, e := range v {
				switch e.(type) {
				case string, int, int64, uint64, float64, bool:
					out = append(out, fmt.Sprint(e))
				default:
					return nil, fmt.Errorf("want a list of strings, item %d is %s", len(out)+1, show(e))
				}
			}
			return out, nil
		}
		return nil, fmt.Errorf("want a list of strings, not %s", show(raw))
	case int:
		switch v := raw.(type) {
		case int:
			return v, nil
		case int64:
			return int(v), nil
		case uint64:
			if v <= math.MaxInt64 {
				return int(v), nil
			}
		case float64:
			if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
				return int(v), nil
			}
		case string:
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				return n, nil
			}
		}
		return nil, fmt.Errorf("%s is not an integer", show(raw))
	case bool:
		switch v := raw.(type) {
		case bool:
			return v, nil
		case string:
			if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
				return b, nil
			}
		}
		return nil, fmt.Errorf("%s is not true or false", show(raw))
	case string:
		switch v := raw.(type) {
		case string:
			return v, nil
		case int, int64, uint64, float64, bool:
			return fmt.Sprint(v), nil
		}
		return nil, fmt.Errorf("want a string, not %s", show(raw))
	}
	return nil, fmt.Errorf("unsupported type %T", o.Default)
}

// Validate checks the values of c. Its error has one line per problem, each
// starting with the key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...)))
	}
	inRange := func(key string, v, lo, hi int) {
		if v < lo {
			bad(key, "%d is below %d", v, lo)
		} else if v > hi {
			bad(key, "%d is above %d", v, hi)
		}
	}

	if len(c.DNS.Listen) == 0 {
		bad("dns.listen", "no address; want at least one host:port")
	}
	seen := map[string]bool{}
	for _, a := range c.DNS.Listen {
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			bad("dns.listen", "%q is not host:port", a)
			continue
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			bad("dns.listen", "%q has a bad port %q, want 0..65535", a, port)
			continue
		}
		if seen[a] {
			bad("dns.listen", "%q is listed twice", a)
		}
		seen[a] = true
	}
	inRange("dns.udp_size", c.DNS.UDPSize, 512, 65535)
	inRange("dns.udp_sockets", c.DNS.UDPSockets, 0, 1024)
	if c.DNS.UDPWait != "thread" && c.DNS.UDPWait != "poller" {
		bad("dns.udp_wait", "unknown value %q, want thread or poller", c.DNS.UDPWait)
	}
	inRange("dns.udp_nice", c.DNS.UDPNice, -20, 0)
	inRange("store.log_compact", c.Store.LogCompact, 1, 65536)
	if c.Zones == "" {
		bad("zones", "empty; want a directory")
	}
	if c.Data == "" {
		bad("data", "empty; want a directory")
	}
	if _, ok := logLevels[c.Log.Level]; !ok {
		bad("log.level", "unknown level %q, want debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "unknown format %q, want text or json", c.Log.Format)
	}
	if _, err := handlespace.NewPolicy(c.PoolDefaults.Policy, nil); err != nil {
		bad("pool_defaults.policy", "%v", err)
	}
	if c.HTTP.Listen != "" {
		if _, port, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
			bad("http.listen", "%q is not host:port", c.HTTP.Listen)
		} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			bad("http.listen", "%q has a bad port %q, want 0..65535", c.HTTP.Listen, port)
		}
	}
	if c.HTTP.ReportToken != "" && c.HTTP.ReportToken == c.HTTP.Token {
		bad("http.report_token", "the same as http.token; want another token (the report token lets pool users report, and nothing else)")
	}
	for i, s := range c.Reports.Allow {
		if _, err := parsePrefix(s); err != nil {
			bad("reports.allow", "item %d %q is not a prefix or an address, want e.g. 10.1.0.0/16 or 2001:db8::/32 (%v)", i+1, s, err)
		}
	}
	inRange("probe.workers", c.Probe.Workers, 1, 100000)
	if s := c.Probe.Source; s != "" {
		if a, err := netip.ParseAddr(s); err != nil || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() {
			bad("probe.source", "%q is not a unicast IP address of this host", s)
		}
	}
	if !slices.Contains(ProbeStarts, c.Probe.Start) {
		bad("probe.start", "unknown value %q, want last, unknown or up", c.Probe.Start)
	}
	if d, err := time.ParseDuration(c.Nearest.RTTInterval); err != nil || d < 0 || (d > 0 && d < MinRTTInterval) {
		bad("nearest.rtt_interval", "%q is not 0 or a duration of at least %v, want e.g. 10s", c.Nearest.RTTInterval, MinRTTInterval)
	}
	inRange("reports.max_bad", c.Reports.MaxBad, 1, 1000000)
	if d, err := time.ParseDuration(c.Reports.Window); err != nil || d <= 0 {
		bad("reports.window", "%q is not a positive duration, want e.g. 10s", c.Reports.Window)
	}
	inRange("reports.rate", c.Reports.Rate, 1, 1000000)
	inRange("reports.burst", c.Reports.Burst, 1, 1000000)
	inRange("pool_defaults.ttl", c.PoolDefaults.TTL, 0, math.MaxInt32)
	inRange("pool_defaults.answers", c.PoolDefaults.Answers, 1, 1000) // as the zone files allow
	if c.PoolDefaults.AllDown != "none" && c.PoolDefaults.AllDown != "all" {
		bad("pool_defaults.alldown", "unknown value %q, want none or all", c.PoolDefaults.AllDown)
	}
	def, errDef := time.ParseDuration(c.Registration.LeaseDefault)
	lo, errLo := time.ParseDuration(c.Registration.LeaseMin)
	hi, errHi := time.ParseDuration(c.Registration.LeaseMax)
	for _, d := range []struct {
		key string
		v   string
		d   time.Duration
		err error
	}{
		{"registration.lease_default", c.Registration.LeaseDefault, def, errDef},
		{"registration.lease_min", c.Registration.LeaseMin, lo, errLo},
		{"registration.lease_max", c.Registration.LeaseMax, hi, errHi},
	} {
		switch {
		case d.err != nil:
			bad(d.key, "%q is not a duration, want e.g. 60s, 5m or 24h", d.v)
		case d.d < time.Second:
			bad(d.key, "%s is below 1s", d.d)
		case d.d > 365*24*time.Hour:
			bad(d.key, "%s is above a year (8760h)", d.d)
		}
	}
	if errDef == nil && errLo == nil && errHi == nil {
		if lo > hi {
			bad("registration.lease_min", "%s is above registration.lease_max (%s)", lo, hi)
		} else if def < lo || def > hi {
			bad("registration.lease_default", "%s is outside registration.lease_min..lease_max (%s..%s)", def, lo, hi)
		}
	}
	inRange("registration.max_per_key", c.Registration.MaxPerKey, 0, math.MaxInt32)
	inRange("registration.max_per_pool", c.Registration.MaxPerPool, 0, math.MaxInt32)
	inRange("registration.rate", c.Registration.Rate, 1, 1000000)
	inRange("registration.burst", c.Registration.Burst, 1, 1000000)
	validateTSIG(c.TSIG, bad)
	validateSites(c.Sites, bad)
	validateSiteGeo(c.SiteGeo, c.SitesMMDB, bad)
	errs = append(errs, c.validateENRP()...)
	errs = append(errs, c.validateHealth()...)
	errs = append(errs, c.validateProtect()...)
	errs = append(errs, c.validateDNSSEC()...)
	return errors.Join(errs...)
}
