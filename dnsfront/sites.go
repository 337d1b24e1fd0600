package dnsfront

import "github.com/poolnsd/poolnsd/handlespace"

// SiteFinder finds a client's site for the nearest policy:
// handlespace.SiteMap (prefixes) or geosite.Map (a MaxMind DB). It must be
// safe for concurrent use; Lookup is on the query path.
type SiteFinder interface {
	// Lookup returns the client's site (0: none) and the ECS scope: the
	// length of the prefix of its address over which the site is the
	// same.
	Lookup(c *handlespace.Client) (handlespace.Site, int)
	// Len is 0 when the finder finds no site for anyone (a nil map).
	Len() int
}

var _ SiteFinder = (*handlespace.SiteMap)(nil)

// siteBox holds the handler's SiteFinder for an atomic pointer.
type siteBox struct{ f SiteFinder }
