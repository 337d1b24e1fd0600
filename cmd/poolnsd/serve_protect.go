package main

import (
	"fmt"
	"path/filepath"
	"reflect"

	"github.com/poolnsd/poolnsd/config"
	"github.com/poolnsd/poolnsd/dnsfront"
	"github.com/poolnsd/poolnsd/dnsfront/dnsserve"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/cookie"
	"github.com/poolnsd/poolnsd/internal/identity"
	"github.com/poolnsd/poolnsd/internal/rrl"
	"github.com/poolnsd/poolnsd/metrics"
)

// loadProtections builds the DNS front's protections as c asks for them
// (docs/public-internet.md), once the store is open: the cookie secret
// generated when none is configured is kept in the data directory, which
// the store's lock makes this process's own. old, when not nil, are the
// running protections: their rate limiter is kept (with its buckets) when
// its configuration did not change.
func (d *daemon) loadProtections(c config.Config, old *dnsfront.Protections) (*dnsfront.Protections, error) {
	p := &dnsfront.Protections{}
	secret := "off"
	if c.DNS.Cookies {
		s, generated, err := cookie.LoadSecrets(c.DNS.CookieSecret, c.DNS.CookieSecretPrevious, c.Data)
		if err != nil {
			return nil, err
		}
		p.Cookies = cookie.NewJar(s)
		switch {
		case c.DNS.CookieSecret != "":
			secret = "dns.cookie_secret"
		case generated:
			secret = "generated into " + filepath.Join(c.Data, cookie.SecretFile)
		default:
			secret = filepath.Join(c.Data, cookie.SecretFile)
		}
		if s.Previous != nil {
			secret += ", and dns.cookie_secret_previous"
		}
	}
	rc, on := c.RRLConfig()
	limit := "off"
	if on {
		if old != nil && old.RRL != nil && reflect.DeepEqual(c.DNS.RRL, d.cfg.DNS.RRL) {
			p.RRL = old.RRL
		} else {
			var err error
			if p.RRL, err = rrl.New(rc); err != nil {
				return nil, fmt.Errorf("dns.rrl: %v", err)
			}
		}
		limit = fmt.Sprintf("%d/s per /%d and /%d, slip %d, window %v", rc.ResponsesPerSecond, rc.IPv4Prefix, rc.IPv6Prefix, rc.Slip, rc.Window)
		if rc.DryRun {
			limit += ", dry run"
		}
	}
	var err error
	if p.Identity, err = identity.New(identity.Config{NSID: c.DNS.NSID, Version: c.DNS.Version,
		AutoID: handlespace.IDString(d.store.RegistrarID())}); err != nil {
		return nil, err
	}
	p.Allow = c.AllowQuery()
	allow := "any"
	if !p.Allow.All() {
		allow = fmt.Sprintf("%d prefixes", p.Allow.Len())
	}
	nsid := "off"
	if b := p.Identity.NSID(); b != nil {
		nsid = fmt.Sprintf("%q", b)
	}
	d.log.Info("DNS protections", "cookie_secret", secret, "rrl", limit, "nsid", nsid,
		"version", c.DNS.Version != "", "allow_query", allow)
	return p, nil
}

// protectStats are the counts of the DNS protections and UDP loops, read
// by the metrics at each scrape.
func (d *daemon) protectStats() metrics.ProtectStats {
	h := d.dns.Handler()
	var s metrics.ProtectStats
	if rs, ok := d.rrlRetired.With(h.Protections().RRL); ok {
		for c := range rrl.NumClasses {
			s.RRL = append(s.RRL, metrics.RRLClassStats{Class: c.String(), Counted: rs.Counted[c], Dropped: rs.Dropped[c], Slipped: rs.Slipped[c]})
		}
		s.RRLEvicted = rs.Evicted
	}
	s.Cookies = h.CookieCounts()
	if d.logLimit != nil {
		ls := d.logLimit.Stats()
		s.LogSuppressed, s.LogSummaries = ls.Suppressed, ls.Summaries
	}
	us := d.dns.UDPStats()
	s.UDPReadCalls, s.UDPReadMsgs, s.UDPWriteCalls, s.UDPWriteMsgs = us.ReadCalls+us.EmptyReads, us.ReadMsgs, us.WriteCalls, us.WriteMsgs
	s.UDPRealtimeFallbacks = dnsserve.RealtimeSwitches()
	s.UDPQuietSwitches = dnsserve.QuietSwitches()
	s.UDPNicedLoops, s.UDPNiceFailures = dnsserve.NicedLoops(), dnsserve.NiceFailures()
	return s
}
