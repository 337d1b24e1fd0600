package reload

import (
	"reflect"
	"slices"

	"github.com/poolnsd/poolnsd/config"
)

// Part is a part of a running server that a reload can change live.
type Part int

// The parts, in the order a reload applies them.
const (
	// LogLevel is log.level.
	LogLevel Part = iota
	// QueryLog is log.queries.
	QueryLog
	// API is the JSON API's credentials: http.token, http.report_token,
	// reports.allow.
	API
	// TSIG is the TSIG keys (the "tsig" list).
	TSIG
	// Protections are the DNS front's: dns.cookies, the cookie secrets,
	// dns.nsid, dns.version, dns.allow_query, dns.rrl.*.
	Protections
	// Sites is the site map: the "sites" map, its geography and
	// sites_mmdb.
	Sites
	// CDS is what the signed zones publish as CDS and CDNSKEY records:
	// dnssec.cds_off, dnssec.cds_delete, and their signals,
	// dnssec.signal_off.
	CDS

	numParts
)

var partNames = [numParts]string{"log level", "query log", "API", "tsig", "protections", "sites", "cds"}

func (p Part) String() string {
	if p < 0 || p >= numParts {
		return "unknown"
	}
	return partNames[p]
}

// keys are the keys of config.Options of each part.
var keys = [numParts][]string{
	LogLevel: {"log.level"},
	QueryLog: {"log.queries"},
	API:      {"http.token", "http.report_token", "reports.allow"},
	Protections: {"dns.cookies", "dns.cookie_secret", "dns.cookie_secret_previous",
		"dns.nsid", "dns.version", "dns.allow_query",
		"dns.rrl.responses_per_second", "dns.rrl.window", "dns.rrl.slip", "dns.rrl.ipv4_prefix",
		"dns.rrl.ipv6_prefix", "dns.rrl.exempt", "dns.rrl.table_size", "dns.rrl.dry_run"},
	Sites: {"sites_mmdb"},
	CDS:   {"dnssec.cds_off", "dnssec.cds_delete", "dnssec.signal_off"},
}

// partOf returns the part of key k, false if it is in none.
func partOf(k string) (Part, bool) {
	for p := range numParts {
		if slices.Contains(keys[p], k) {
			return p, true
		}
	}
	return 0, false
}

// Plan is what a reload changes.
type Plan struct {
	// Restart are the changed keys that keep their running values until a
	// restart, in the order of config.Options.
	Restart []string
	// TSIGAdded, TSIGRemoved and TSIGChanged are config.TSIGChanges of the
	// running and the loaded keys: names, never secrets.
	TSIGAdded, TSIGRemoved, TSIGChanged []string

	changed [numParts]bool
	failed  [numParts]bool
	keys    []string // the changed keys of the live parts, in the order of config.Options
	parts   []Part   // the part of each of keys
}

// New plans the reload from running to loaded. live reports whether the
// server can change a part live (nil: every part); the changed keys of a
// part it cannot are in Restart.
func New(running, loaded config.Config, live func(Part) bool) Plan {
	var p Plan
	for _, k := range config.Changed(running, loaded) {
		part, ok := partOf(k)
		if !ok || (live != nil && !live(part)) {
			p.Restart = append(p.Restart, k)
			continue
		}
		p.changed[part] = true
		p.keys = append(p.keys, k)
		p.parts = append(p.parts, part)
	}
	p.TSIGAdded, p.TSIGRemoved, p.TSIGChanged = config.TSIGChanges(running.TSIG, loaded.TSIG)
	if len(p.TSIGAdded)+len(p.TSIGRemoved)+len(p.TSIGChanged) > 0 {
		p.changed[TSIG] = true
	}
	if !reflect.DeepEqual(running.Sites, loaded.Sites) || !reflect.DeepEqual(running.SiteGeo, loaded.SiteGeo) {
		p.changed[Sites] = true
	}
	return p
}

// Changed reports whether the reload changes part.
func (p *Plan) Changed(part Part) bool { return p.changed[part] }

// Failed takes part out of what the reload applied: it could not be
// applied, and the running values stay.
func (p *Plan) Failed(part Part) { p.failed[part] = true }

// Applied returns what the reload applied: the changed keys of the parts
// applied, in the order of config.Options, then "tsig" and "sites" for
// the TSIG keys and the site map (whose sites_mmdb key it does not list
// apart).
func (p *Plan) Applied() []string {
	var out []string
	for i, k := range p.keys {
		if part := p.parts[i]; part != Sites && !p.failed[part] {
			out = append(out, k)
		}
	}
	for _, part := range []Part{TSIG, Sites} {
		if p.changed[part] && !p.failed[part] {
			out = append(out, part.String())
		}
	}
	return out
}

// Carry copies the values of part from loaded into running: what applying
// it changed.
func Carry(running *config.Config, loaded config.Config, part Part) {
	switch part {
	case LogLevel:
		running.Log.Level = loaded.Log.Level
	case QueryLog:
		running.Log.Queries = loaded.Log.Queries
	case API:
		running.HTTP.Token, running.HTTP.ReportToken = loaded.HTTP.Token, loaded.HTTP.ReportToken
		running.Reports.Allow = loaded.Reports.Allow
	case TSIG:
		running.TSIG = loaded.TSIG
	case Protections:
		d, l := &running.DNS, &loaded.DNS
		d.Cookies, d.CookieSecret, d.CookieSecretPrevious = l.Cookies, l.CookieSecret, l.CookieSecretPrevious
		d.NSID, d.Version, d.AllowQuery, d.RRL = l.NSID, l.Version, l.AllowQuery, l.RRL
	case Sites:
		running.Sites, running.SiteGeo, running.SitesMMDB = loaded.Sites, loaded.SiteGeo, loaded.SitesMMDB
	case CDS:
		running.DNSSEC.CDSOff, running.DNSSEC.CDSDelete = loaded.DNSSEC.CDSOff, loaded.DNSSEC.CDSDelete
		running.DNSSEC.SignalOff = loaded.DNSSEC.SignalOff
	}
}

// An Applier changes its part of a running server to the values of the
// configuration loaded, or returns why it could not (the part's running
// values stay).
type Applier func(loaded config.Config) error

// Apply applies the changed parts, in the order of Part, each with its
// applier in apply (a part without one is left alone: not applied, not
// carried, not failed): the parts applied
// are carried from loaded into running (Carry), those whose applier
// failed are taken out of Applied (Failed) and keep their running
// values. It returns the appliers' errors, by part.
func (p *Plan) Apply(running *config.Config, loaded config.Config, apply map[Part]Applier) map[Part]error {
	var errs map[Part]error
	for part := range numParts {
		f := apply[part]
		if !p.changed[part] || f == nil {
			continue
		}
		if err := f(loaded); err != nil {
			p.Failed(part)
			if errs == nil {
				errs = map[Part]error{}
			}
			errs[part] = err
			continue
		}
		Carry(running, loaded, part)
	}
	return errs
}
