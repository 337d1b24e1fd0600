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
		{func(c *Config) { c.DNSSEC.CDSOff = []string{"ok.example.", "bad..example"} }, `dnssec.cds_off: item 2 "bad..example" is not a zone name`},
		{func(c *Config) { c.DNSSEC.CDSDelete = []string{""} }, `dnssec.cds_delete: item 1 "" is not a zone name`},
		{func(c *Config) { c.DNSSEC.SignalOff = []string{"x..example"} }, `dnssec.signal_off: item 1 "x..example" is not a zone name`},
		{func(c *Config) {
			c.DNSSEC.CDSOff, c.DNSSEC.CDSDelete = []string{"Pool.Example"}, []string{"pool.example."}
		}, "dnssec.cds_delete: pool.example. is in dnssec.cds_off too"},
	} {
		c := Defaults()
		bad.set(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("error %v; want %q", err, bad.want)
		}
	}
}

// TestCDSZones: the zones of dnssec.cds_off and dnssec.cds_delete, by
// their names in lower case with the final dot.
func TestCDSZones(t *testing.T) {
	c := Defaults()
	c.DNSSEC.CDSOff = []string{"Pool.Example", "b.example."}
	c.DNSSEC.CDSDelete = []string{"gone.example"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	off, del := c.CDSZones()
	if !off["pool.example."] || !off["b.example."] || len(off) != 2 || !del["gone.example."] || len(del) != 1 {
		t.Errorf("CDSZones() = %v, %v", off, del)
	}
	c.DNSSEC.SignalOff = []string{"Child.Example"}
	if s := c.SignalOffZones(); !s["child.example."] || len(s) != 1 {
		t.Errorf("SignalOffZones() = %v", s)
	}
}
