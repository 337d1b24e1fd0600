package lookup

import (
	"strings"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
)

// The names of a pool's HTTPS/SVCB records (RFC 9460): the pool's own name
// (type HTTPS, with https=), and with a service the attrleaf names below it
// (RFC 9460 §2.3, Port Prefix Naming): for the http or https scheme,
// _<port>._https.<pool> HTTPS (§9.1, §9.5: the name an https or http URI
// with a port other than the default asks); for another scheme S, _S.<pool>
// SVCB (the scheme's default port) and _<port>._S.<pool> SVCB. <port> is
// any decimal port 1–65535 without leading zeros: the pool's elements
// serve on their own ports, which every record at these names carries, so
// the answer is the same for every port label. What the records hold is
// the renderers' (dnsfront's answer_svcb.go).

// svcbScheme returns the scheme of a pool's SVCB names (its service's
// first label without the underscore; "https" for http too), "" when the
// pool has none.
func svcbScheme(pv *handlespace.PoolView) string {
	s := pv.Spec.Service
	if pv.Spec.HTTPS == "" || s == "" {
		return ""
	}
	scheme := s[1:strings.IndexByte(s, '.')]
	if scheme == "http" {
		scheme = "https"
	}
	return scheme
}

// svcbName says whether prefix (the labels before the pool's name, each
// with its dot) names one of the pool's SVCB names: NameSVCB or NameNone.
func svcbName(pv *handlespace.PoolView, prefix string) NameKind {
	scheme := svcbScheme(pv)
	if scheme == "" || len(prefix) < len(scheme)+2 {
		return NameNone
	}
	tail := prefix[len(prefix)-len(scheme)-2:]
	if tail[0] != '_' || tail[len(tail)-1] != '.' || tail[1:len(tail)-1] != scheme {
		return NameNone
	}
	port := prefix[:len(prefix)-len(tail)]
	switch {
	case port == "":
		if scheme == "https" {
			// The default port's records are at the pool's own name, but
			// _https.<pool> has the _<port>._https names below it: an
			// empty non-terminal, NODATA (RFC 8020: never NXDOMAIN above
			// a name that exists).
			return NamePoolENT
		}
		return NameSVCB
	case len(port) < 3 || len(port) > 7 || port[0] != '_' || port[len(port)-1] != '.' || port[1] == '0':
		return NameNone
	}
	n := 0
	for _, c := range port[1 : len(port)-1] {
		if c < '0' || c > '9' {
			return NameNone
		}
		n = n*10 + int(c-'0')
	}
	if n > 0xFFFF {
		return NameNone
	}
	return NameSVCB
}

// svcSet returns the set and the number of elements (0: all) of an
// answer of type qt at a name of kind k of the pool, or nil when the name
// has no records of the type.
func svcSet(pv *handlespace.PoolView, k NameKind, qt uint16) (*handlespace.ElementSet, int) {
	switch {
	case k == NamePool && qt == dns.TypeHTTPS && pv.Spec.HTTPS != "":
		return &pv.All, pv.Spec.Answers
	case k == NamePool && qt == dns.TypeNAPTR && pv.Spec.NAPTR != "":
		return &pv.All, 0
	case k == NameSVCB && qt == SVCBType(pv):
		return &pv.All, pv.Spec.Answers
	}
	return nil, 0
}

// SVCBType is the type of the records at a pool's SVCB names: HTTPS for
// the https scheme, else SVCB.
func SVCBType(pv *handlespace.PoolView) uint16 {
	if svcbScheme(pv) == "https" {
		return dns.TypeHTTPS
	}
	return dns.TypeSVCB
}
