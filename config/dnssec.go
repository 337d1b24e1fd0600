package config

import (
	"fmt"
	"math"
	"path/filepath"
	"time"
)

// DNSSEC is the section "dnssec": online signing of the zones that have
// keys in <data>/keys.
type DNSSEC struct {
	Validity  string `mapstructure:"validity"`
	CacheSize int    `mapstructure:"cache_size"`
	DNSKEYTTL int    `mapstructure:"dnskey_ttl"`
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
	return errs
}
