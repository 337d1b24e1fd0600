package config

import (
	"strings"
	"testing"
	"time"
)

func TestDNSSECKeys(t *testing.T) {
	c := Defaults()
	if c.SignatureValidity() != 7*24*time.Hour || c.SignatureCacheBytes() != 64<<20 || c.KeysDir() != "data/keys" {
		t.Errorf("defaults: %v %v %v", c.SignatureValidity(), c.SignatureCacheBytes(), c.KeysDir())
	}
	for _, bad := range []struct {
		set  func(*Config)
		want string
	}{
		{func(c *Config) { c.DNSSEC.Validity = "1h" }, "dnssec.validity: 1h0m0s is below 2h"},
		{func(c *Config) { c.DNSSEC.Validity = "week" }, `dnssec.validity: "week" is not a duration`},
		{func(c *Config) { c.DNSSEC.CacheSize = 0 }, "dnssec.cache_size: 0 is outside"},
		{func(c *Config) { c.DNSSEC.DNSKEYTTL = -1 }, "dnssec.dnskey_ttl: -1 is outside"},
	} {
		c := Defaults()
		bad.set(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("error %v; want %q", err, bad.want)
		}
	}
}
