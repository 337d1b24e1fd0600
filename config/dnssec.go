package config

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNSSEC is the section "dnssec": online signing of the zones that have
// keys in <data>/keys.
type DNSSEC struct {
	Validity  string `mapstructure:"validity"`
	CacheSize int    `mapstructure:"cache_size"`
	DNSKEYTTL int    `mapstructure:"dnskey_ttl"`
	// CDSOff and CDSDelete are zones whose apex publishes no CDS and
	// CDNSKEY records, and zones whose CDS and CDNSKEY ask the parent to
	// delete the DS RRset (RFC 8078 §4); the other signed zones publish
	// those of their keys (RFC 7344). A reload applies them (part CDS of
	// config/reload).
	CDSOff    []string `mapstructure:"cds_off"`
	CDSDelete []string `mapstructure:"cds_delete"`
	// SignalOff are zones whose CDS and CDNSKEY records are not published
	// as RFC 9615 signals under their name servers' names (the other
	// signed zones that publish those of their keys are, where the name
	// servers' zones are signed and served here). A reload applies it
	// (part CDS).
	SignalOff []string `mapstructure:"signal_off"`
}

// SignalOffZones returns dnssec.signal_off as a set of zone names, lower
// case with the final dot (Validate checked them).
func (c Config) SignalOffZones() map[string]bool { return zoneSet(c.DNSSEC.SignalOff) }

// zoneSet returns names as a set of zone names, lower case with the final
// dot.
func zoneSet(names []string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[strings.ToLower(dns.Fqdn(n))] = true
	}
	return m
}

// CDSZones returns dnssec.cds_off and dnssec.cds_delete as sets of zone
// names, lower case with the final dot (Validate checked them).
func (c Config) CDSZones() (off, del map[string]bool) {
	return zoneSet(c.DNSSEC.CDSOff), zoneSet(c.DNSSEC.CDSDelete)
}

// KeysDir returns the directory of the DNSSEC key files: <data>/keys.
func (c Config) KeysDir() string { return filepath.Join(c.Data, "keys") }

// SignatureValidity returns dnssec.validity as a duration (Validate
// checked it).
func (c Config) SignatureValidity() time.Duration {
	d, _ := time.ParseDuration(c.DNSSEC.Validity)
	return d
}

// SignatureCacheBytes returns dnssec.cache_size in bytes.
func (c Config) SignatureCacheBytes() int64 { return int64(c.DNSSEC.CacheSize) << 20 }

func (c Config) validateDNSSEC() []error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...)))
	}
	d, err := time.ParseDuration(c.DNSSEC.Validity)
	switch {
	case err != nil:
		bad("dnssec.validity", "%q is not a duration, want e.g. 168h", c.DNSSEC.Validity)
	case d < 2*time.Hour:
		bad("dnssec.validity", "%s is below 2h", d)
	case d > 90*24*time.Hour:
		bad("dnssec.validity", "%s is above 90 days (2160h)", d)
	}
	if c.DNSSEC.CacheSize < 1 || c.DNSSEC.CacheSize > 1<<20 {
		bad("dnssec.cache_size", "%d is outside 1..1048576 (MiB)", c.DNSSEC.CacheSize)
	}
	if c.DNSSEC.DNSKEYTTL < 0 || c.DNSSEC.DNSKEYTTL > math.MaxInt32 {
		bad("dnssec.dnskey_ttl", "%d is outside 0..2147483647", c.DNSSEC.DNSKEYTTL)
	}
	for _, l := range []struct {
		key   string
		names []string
	}{{"dnssec.cds_off", c.DNSSEC.CDSOff}, {"dnssec.cds_delete", c.DNSSEC.CDSDelete}, {"dnssec.signal_off", c.DNSSEC.SignalOff}} {
		for i, n := range l.names {
			if _, ok := dns.IsDomainName(n); !ok || n == "" {
				bad(l.key, "item %d %q is not a zone name, want e.g. pool.example.", i+1, n)
			}
		}
	}
	off, _ := c.CDSZones()
	for _, n := range c.DNSSEC.CDSDelete {
		if off[strings.ToLower(dns.Fqdn(n))] {
			bad("dnssec.cds_delete", "%s is in dnssec.cds_off too; want it in one of them", n)
		}
	}
	return errs
}
