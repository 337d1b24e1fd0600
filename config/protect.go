package config

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/poolnsd/poolnsd/internal/cookie"
	"github.com/poolnsd/poolnsd/internal/identity"
	"github.com/poolnsd/poolnsd/internal/prefixset"
	"github.com/poolnsd/poolnsd/internal/rrl"
)

// The keys of the DNS front's protections (DNS Cookies, response rate
// limiting, identity, query ACL, DNS over TLS) and of the log's repeat
// limit, inserted into the table beside their sections' other keys.
func init() {
	insertAfter("dns.", []Option{
		{"dns.cookies", true, "",
			"DNS Cookies (RFC 7873) with server cookies that every registrar sharing dns.cookie_secret accepts (RFC 9018): a reply to a query with a client cookie carries a server cookie; a stale server cookie over UDP gets BADCOOKIE"},
		{"dns.cookie_secret", "", "",
			"the server cookie secret, 32 hex digits in quotes (16 bytes; openssl rand -hex 16); set the same on every registrar of a cluster; \"\" uses a random one kept in the data directory (cookie_secret, mode 0600)"},
		{"dns.cookie_secret_previous", "", "",
			"a second accepted secret for a rotation, 32 hex digits: cookies made with it stay valid (and are replaced); \"\" none (see the documentation for the order of a cluster's rotation)"},
		{"dns.allow_query", []string{"0.0.0.0/0", "::/0"}, "",
			"prefixes (or addresses) of the clients whose queries are answered; others get REFUSED with Extended DNS Error 18 (Prohibited)"},
		{"dns.nsid", "", "",
			"the NSID (RFC 5001) sent to clients that ask, and the CHAOS TXT of id.server. and hostname.bind.: \"auto\" is this registrar's ID, \"0x\" and hex digits are bytes, other text is itself; \"\" publishes nothing"},
		{"dns.version", "", "",
			"the CHAOS TXT of version.bind. and version.server.; \"\" publishes none (REFUSED)"},
		{"dns.rrl.responses_per_second", 0, "per second",
			"response rate limit: replies per second to one client prefix for one name and kind of reply (a burst of as many); 0 turns it off; 20 is a start for a public server (with dns.rrl.slip 2)"},
		{"dns.rrl.window", "15s", "",
			"how long a flood is remembered: a prefix that stops is answered again within it, a duration of 1s..1h"},
		{"dns.rrl.slip", 2, "",
			"every Nth reply cut by the rate limit goes out truncated (TC=1, or BADCOOKIE with a cookie) so that real clients retry over TCP; 0 never, 1 always, up to 10"},
		{"dns.rrl.ipv4_prefix", 24, "bits",
			"length of the IPv4 client prefixes that share a rate, 8..32"},
		{"dns.rrl.ipv6_prefix", 56, "bits",
			"length of the IPv6 client prefixes that share a rate, 16..128"},
		{"dns.rrl.exempt", []string{}, "",
			"prefixes (or addresses) never rate limited (replies over TCP and to a valid server cookie never are)"},
		{"dns.rrl.table_size", 65536, "",
			"rate buckets kept (24 bytes each), 1024..67108864, rounded up to a power of two; the least indebted is replaced when full"},
		{"dns.rrl.dry_run", false, "",
			"count what the rate limit would cut (metrics) but send every reply, to try a rate on real traffic"},
		{"dns.tls.listen", []string{}, "",
			"addresses (host:port) to serve DNS over TLS on (RFC 7858; 853 is its port); needs dns.tls.cert and dns.tls.key; [] turns it off"},
		{"dns.tls.cert", "", "",
			"the TLS certificate chain of DNS over TLS (PEM file); re-read on SIGHUP"},
		{"dns.tls.key", "", "",
			"the private key of dns.tls.cert (PEM file); re-read on SIGHUP"},
	})
	insertAfter("log.", []Option{
		{"log.repeat_limit", 20, "",
			"most log lines with the same message and level written per log.repeat_interval; the rest are counted and summed up in one line per interval (the query log is exempt); 0 writes every line"},
		{"log.repeat_interval", "10s", "",
			"the window of log.repeat_limit, a duration of 1s..1h"},
	})
}

// insertAfter inserts opts after the last key of the table that starts
// with prefix (at the end if none does).
func insertAfter(prefix string, opts []Option) {
	i := len(options)
	for j, o := range options {
		if strings.HasPrefix(o.Key, prefix) {
			i = j + 1
		}
	}
	options = slices.Insert(options, i, opts...)
}

// RRL is the section "dns.rrl": response rate limiting.
type RRL struct {
	ResponsesPerSecond int      `mapstructure:"responses_per_second"`
	Window             string   `mapstructure:"window"`
	Slip               int      `mapstructure:"slip"`
	IPv4Prefix         int      `mapstructure:"ipv4_prefix"`
	IPv6Prefix         int      `mapstructure:"ipv6_prefix"`
	Exempt             []string `mapstructure:"exempt"`
	TableSize          int      `mapstructure:"table_size"`
	DryRun             bool     `mapstructure:"dry_run"`
}

// DNSTLS is the section "dns.tls": DNS over TLS.
type DNSTLS struct {
	Listen []string `mapstructure:"listen"`
	Cert   string   `mapstructure:"cert"`
	Key    string   `mapstructure:"key"`
}

// RRLConfig returns the rate limiter's configuration and whether the
// limit is on (Validate checked the values).
func (c Config) RRLConfig() (rrl.Config, bool) {
	r := c.DNS.RRL
	window, _ := time.ParseDuration(r.Window)
	exempt, _ := prefixset.Parse(r.Exempt)
	return rrl.Config{
		ResponsesPerSecond: r.ResponsesPerSecond,
		Window:             window,
		Slip:               r.Slip,
		SlipSet:            true,
		IPv4Prefix:         r.IPv4Prefix,
		IPv6Prefix:         r.IPv6Prefix,
		Exempt:             exempt,
		TableSize:          r.TableSize,
		DryRun:             r.DryRun,
	}, r.ResponsesPerSecond > 0
}

// AllowQuery returns dns.allow_query as a prefix set (Validate checked
// it).
func (c Config) AllowQuery() *prefixset.Set {
	s, _ := prefixset.Parse(c.DNS.AllowQuery)
	return s
}

// LogRepeatInterval returns log.repeat_interval as a duration (Validate
// checked it).
func (c Config) LogRepeatInterval() time.Duration {
	d, _ := time.ParseDuration(c.Log.RepeatInterval)
	return d
}

// validateProtect checks the keys of this file; each error starts with
// its key.
func (c Config) validateProtect() []error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...)))
	}
	inRange := func(key string, v, lo, hi int) {
		if v < lo || v > hi {
			bad(key, "%d is outside %d..%d", v, lo, hi)
		}
	}
	duration := func(key, v string, lo, hi time.Duration) {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			bad(key, "%q is not a duration, want e.g. 15s or 1m", v)
		case d < lo || d > hi:
			bad(key, "%v is outside %v..%v", d, lo, hi)
		}
	}
	prefixes := func(key string, list []string) {
		if _, err := prefixset.Parse(list); err != nil {
			bad(key, "%v", err)
		}
	}
	secret := func(key, v string) (cookie.Secret, bool) {
		s, err := cookie.ParseSecret(v)
		if err != nil {
			hint := ""
			if strings.Trim(v, "0123456789.e+-") == "" {
				hint = "; quote it in YAML (\"...\"), or it is read as a number"
			}
			bad(key, "%s%s", strings.TrimPrefix(err.Error(), "cookie: "), hint)
			return s, false
		}
		return s, true
	}
	d := c.DNS
	var cur, prev cookie.Secret
	if d.CookieSecret != "" {
		cur, _ = secret("dns.cookie_secret", d.CookieSecret)
	}
	if d.CookieSecretPrevious != "" {
		var ok bool
		if prev, ok = secret("dns.cookie_secret_previous", d.CookieSecretPrevious); ok && prev == cur {
			bad("dns.cookie_secret_previous", "the same as dns.cookie_secret; a rotation keeps the old secret here")
		}
	}
	if len(d.AllowQuery) == 0 {
		bad("dns.allow_query", "no prefix: every query would be refused; want e.g. [\"0.0.0.0/0\", \"::/0\"] (any)")
	}
	prefixes("dns.allow_query", d.AllowQuery)
	if err := identity.Validate("dns.nsid", d.NSID); err != nil {
		bad("dns.nsid", "%v", err)
	}
	if err := identity.Validate("dns.version", d.Version); err != nil {
		bad("dns.version", "%v", err)
	}
	r := d.RRL
	inRange("dns.rrl.responses_per_second", r.ResponsesPerSecond, 0, 1000000)
	duration("dns.rrl.window", r.Window, time.Second, time.Hour)
	inRange("dns.rrl.slip", r.Slip, 0, 10)
	inRange("dns.rrl.ipv4_prefix", r.IPv4Prefix, 8, 32)
	inRange("dns.rrl.ipv6_prefix", r.IPv6Prefix, 16, 128)
	prefixes("dns.rrl.exempt", r.Exempt)
	inRange("dns.rrl.table_size", r.TableSize, 1024, 1<<26)
	seen := map[string]bool{}
	for _, a := range d.TLS.Listen {
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			bad("dns.tls.listen", "%q is not host:port", a)
			continue
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			bad("dns.tls.listen", "%q has a bad port %q, want 0..65535", a, port)
			continue
		}
		if seen[a] {
			bad("dns.tls.listen", "%q is listed twice", a)
		}
		seen[a] = true
	}
	if len(d.TLS.Listen) > 0 {
		if d.TLS.Cert == "" {
			bad("dns.tls.cert", "empty, but dns.tls.listen is set; want the PEM file of the certificate")
		}
		if d.TLS.Key == "" {
			bad("dns.tls.key", "empty, but dns.tls.listen is set; want the PEM file of the private key")
		}
	}
	inRange("log.repeat_limit", c.Log.RepeatLimit, 0, 1000000)
	duration("log.repeat_interval", c.Log.RepeatInterval, time.Second, time.Hour)
	return errs
}
