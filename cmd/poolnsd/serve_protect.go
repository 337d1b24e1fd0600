package main

import (
	"fmt"
	"path/filepath"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/cookie"
	"github.com/poolnsd/poolnsd/internal/identity"
	"github.com/poolnsd/poolnsd/internal/prefixset"
	"github.com/poolnsd/poolnsd/internal/rrl"
)

// protections are the DNS front's protections as the configuration asks
// for them (docs/protect-notes.md): what the DNS front calls per query.
type protections struct {
	jar      *cookie.Jar        // DNS Cookies; nil when dns.cookies is off
	limiter  *rrl.Limiter       // response rate limit; nil when off
	identity *identity.Identity // NSID and CHAOS names (tells nothing when off)
	allow    *prefixset.Set     // dns.allow_query
}

// loadProtections builds the protections, once the store is open: the
// cookie secret generated when none is configured is kept in the data
// directory, which the store's lock makes this process's own.
func (d *daemon) loadProtections() (protections, error) {
	var p protections
	c := d.cfg
	secret := "off"
	if c.DNS.Cookies {
		s, generated, err := cookie.LoadSecrets(c.DNS.CookieSecret, c.DNS.CookieSecretPrevious, c.Data)
		if err != nil {
			return p, err
		}
		p.jar = cookie.NewJar(s)
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
		var err error
		if p.limiter, err = rrl.New(rc); err != nil {
			return p, fmt.Errorf("dns.rrl: %v", err)
		}
		limit = fmt.Sprintf("%d/s per /%d and /%d, slip %d, window %v", rc.ResponsesPerSecond, rc.IPv4Prefix, rc.IPv6Prefix, rc.Slip, rc.Window)
		if rc.DryRun {
			limit += ", dry run"
		}
	}
	var err error
	if p.identity, err = identity.New(identity.Config{NSID: c.DNS.NSID, Version: c.DNS.Version,
		AutoID: handlespace.IDString(d.store.RegistrarID())}); err != nil {
		return p, err
	}
	p.allow = c.AllowQuery()
	allow := "any"
	if !p.allow.All() {
		allow = fmt.Sprintf("%d prefixes", p.allow.Len())
	}
	nsid := "off"
	if b := p.identity.NSID(); b != nil {
		nsid = fmt.Sprintf("%q", b)
	}
	d.log.Info("DNS protections", "cookie_secret", secret, "rrl", limit, "nsid", nsid,
		"version", c.DNS.Version != "", "allow_query", allow)
	return p, nil
}
